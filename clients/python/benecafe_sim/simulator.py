"""A simulator for a test: started from the binary the wheel carries, or a running one connected.

Why this exists: a partner's test should say "give me a simulator" and get one, without a Rust
toolchain, free ports picked by hand, or URLs and a CA path copied into its settings. A started
simulator listens on port 0 and says where in its ready file (``--ready-file``); a connected one
is asked (``GET /_sim/version``, ``GET /_sim/ca.pem``).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import ssl
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from .sandbox import Sandbox, SimError, _Control

BINARY = "benecafe-sim"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0


def find_binary() -> str:
    """The binary to start: ``$BENECAFE_SIM_BIN``, else the one this wheel installed, else
    ``benecafe-sim`` on ``PATH``."""
    given = os.environ.get("BENECAFE_SIM_BIN")
    if given:
        return given
    name = BINARY + (".exe" if os.name == "nt" else "")
    schemes = [None, f"{os.name}_user"]
    for scheme in schemes:
        try:
            scripts = sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts")
        except KeyError:
            continue
        candidate = Path(scripts) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(BINARY)
    if found:
        return found
    raise SimError(
        0,
        "no benecafe-sim binary: install the benecafe-sim wheel, put benecafe-sim on PATH, "
        "or set BENECAFE_SIM_BIN (or connect to a running one with BENECAFE_SIM_URL)",
    )


class Simulator:
    """One simulator: ``cus_url`` (the mall's ``CUS_URL``), ``http_url`` (pages and control API),
    ``ca_path`` (the CA to trust), and sandboxes made in it."""

    def __init__(
        self,
        cus_url: str,
        http_url: str,
        ca_path: str,
        control_token: Optional[str] = None,
        process: Optional[subprocess.Popen] = None,
        workdir: Optional[str] = None,
    ) -> None:
        self.cus_url = cus_url.rstrip("/")
        self.http_url = http_url.rstrip("/")
        self.ca_path = ca_path
        self.process = process
        #: The control API's bearer token, when the simulator needs one.
        self.control_token = control_token or None
        self._workdir = workdir
        self._control = _Control(self.http_url, control_token)
        self._ssl: Optional[ssl.SSLContext] = None

    @classmethod
    def start(cls, *args: str, **flags: Any) -> "Simulator":
        """Starts the binary on free loopback ports with a data folder of its own and waits until
        it is ready. ``flags`` become ``--flag-name value`` (``True``: the bare flag); ``args``
        are passed as they are. The process is stopped by :meth:`stop`, or at exit."""
        binary = find_binary()
        workdir = tempfile.mkdtemp(prefix="benecafe-sim-")
        try:
            process, command, ready = _launch(binary, workdir, list(args) + _flags(flags))
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        where = json.loads(ready.read_text(encoding="utf-8"))
        token = _control_token(command)
        sim = cls(where["cusUrl"], where["httpUrl"], where["caPath"], token, process, workdir)
        atexit.register(sim.stop)
        return sim

    @classmethod
    def connect(cls, url: str, control_token: Optional[str] = None) -> "Simulator":
        """Uses a running simulator, given its plain-HTTP base URL (where the control API
        answers). The control token is the argument, else ``$SIM_CONTROL_TOKEN``."""
        token = control_token if control_token is not None else os.environ.get("SIM_CONTROL_TOKEN") or None
        control = _Control(url.rstrip("/"), token)
        about = control.call("GET", "/_sim/version")
        pem = control.raw("GET", "/_sim/ca.pem")
        workdir = tempfile.mkdtemp(prefix="benecafe-sim-")
        ca_path = Path(workdir) / "ca.pem"
        ca_path.write_bytes(pem)
        sim = cls(about["cusUrl"], url, str(ca_path), token, None, workdir)
        atexit.register(sim.stop)
        return sim

    @classmethod
    def from_environment(cls, *args: str, **flags: Any) -> "Simulator":
        """``$BENECAFE_SIM_URL`` set: connect to it; else start one with these flags."""
        url = os.environ.get("BENECAFE_SIM_URL")
        if url:
            return cls.connect(url)
        return cls.start(*args, **flags)

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts the simulator's CA only (host names checked)."""
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=self.ca_path)
        return self._ssl

    def sandbox(self, **opts: Any) -> Sandbox:
        """A fresh sandbox (``POST /_sim/api/sandboxes``; ``ttlSeconds`` 600 unless given, and
        ``name``)."""
        body = {"ttlSeconds": 600}
        body.update(opts)
        made = self._control.call("POST", "/_sim/api/sandboxes", body)
        return Sandbox(made["id"], self, self._control.inside(made["id"]))

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Any control API call on the base (outside every sandbox)."""
        return self._control.call(method, path, body)

    def stop(self) -> None:
        """Stops a started simulator (SIGTERM, then SIGKILL after 10 s) and removes its
        folder; a connected one is only forgotten. May be called twice."""
        if self.process is not None:
            _stop(self.process)
            self.process = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> "Simulator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Simulator(cus_url={self.cus_url!r}, http_url={self.http_url!r})"


def _launch(binary: str, workdir: str, given: List[str]):
    """Runs the binary with the defaults the caller did not give and waits for its ready file:
    the process, the command (for messages) and the ready file's path."""
    ready = Path(_flag_value(given, "--ready-file") or Path(workdir) / "ready.json")
    log_path = Path(workdir) / "simulator.log"
    defaults = {
        "--data-dir": str(Path(workdir) / "data"),
        "--https-addr": "127.0.0.1:0",
        "--http-addr": "127.0.0.1:0",
        "--ready-file": str(ready),
        "--log": "warn",
    }
    # The simulator takes each flag once: a default the caller gives is left out.
    command = [binary]
    for flag, value in defaults.items():
        if _flag_value(given, flag) is None:
            command += [flag, value]
    # It stops when its standard input, a pipe only this process holds, closes: when this
    # process ends, however it ends (killed too, when no exit handler runs).
    if "--stop-when-stdin-closes" not in given:
        command.append("--stop-when-stdin-closes")
    command += given
    if ready.exists():
        ready.unlink()  # a stale file must not pass for this process's
    # Without this process's SIM_* settings: a started simulator is what its flags say, even
    # where SIM_CONTROL_TOKEN is set for connecting to a shared one.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIM_")}
    try:
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=env
            )
    except OSError as e:
        raise SimError(0, f"cannot run {binary}: {e} (set BENECAFE_SIM_BIN, or put benecafe-sim on PATH)") from None
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not ready.exists():
        failed = None
        if process.poll() is not None:
            failed = f"benecafe-sim exited with status {process.returncode} before it was ready"
        elif time.monotonic() > deadline:
            _stop(process)
            failed = f"benecafe-sim was not ready within {START_TIMEOUT_SECONDS:.0f} s"
        if failed:
            raise SimError(0, f"{failed} ({_shown(command)}); its last output:\n{_tail(log_path)}")
        time.sleep(0.02)
    return process, command, ready


def _shown(command: List[str]) -> str:
    """The command line for a message, its control token masked."""
    shown, hide = [], False
    for arg in command:
        if hide:
            shown.append("***")
        elif arg.startswith("--control-token="):
            shown.append("--control-token=***")
        else:
            shown.append(arg)
        hide = arg == "--control-token"
    return " ".join(shown)


def _flags(flags: Dict[str, Any]) -> List[str]:
    out: List[str] = []
    for name, value in flags.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            out.append(flag)
        elif value is False or value is None:
            continue
        else:
            out += [flag, str(value)]
    return out


def _flag_value(command: List[str], flag: str) -> Optional[str]:
    """The value given to ``flag`` (``--flag value`` or ``--flag=value``), if it is given."""
    for i, arg in enumerate(command):
        if arg == flag and i + 1 < len(command):
            return command[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def _control_token(command: List[str]) -> Optional[str]:
    """The ``--control-token`` a started simulator was given, if any."""
    return _flag_value(command, "--control-token") or None


def _stop(process: subprocess.Popen) -> None:
    if process.stdin is not None and not process.stdin.closed:
        process.stdin.close()
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


__all__ = ["Simulator", "find_binary"]
