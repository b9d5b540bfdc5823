"""The package's own behaviour: starting, connecting, sandboxes, errors. Uses only the plugin's
fixtures and the package's public names."""

from __future__ import annotations

import os
import ssl
import urllib.request

import pytest

from benecafe_sim import Simulator, SimError


def test_two_sandboxes_have_their_own_ids_and_journals(benecafe_sim) -> None:
    with benecafe_sim.sandbox() as one, benecafe_sim.sandbox() as two:
        assert one.id != two.id
        token = one.gate("J01A00038745", "VR000216")["otpToken"]
        assert token.startswith(one.id[:1])
        assert one.cert(token)["resultCode"] == "OK"
        assert [e["resultCode"] for e in one.journal(endpoint="cert")] == ["OK"]
        assert two.journal(endpoint="cert") == []


def test_a_closed_sandbox_is_gone_and_closing_twice_is_fine(benecafe_sim) -> None:
    sandbox = benecafe_sim.sandbox(ttlSeconds=60)
    assert benecafe_sim.request("GET", f"/_sim/api/sandboxes/{sandbox.id}")["id"] == sandbox.id
    sandbox.close()
    sandbox.close()
    with pytest.raises(SimError) as gone:
        benecafe_sim.request("GET", f"/_sim/api/sandboxes/{sandbox.id}")
    assert gone.value.status == 404 and sandbox.id in gone.value.error
    with pytest.raises(SimError) as inside:
        sandbox.members()
    assert inside.value.status == 404


def test_the_sandbox_fixture_is_named_after_the_test(benecafe_sim, sim_sandbox) -> None:
    about = benecafe_sim.request("GET", f"/_sim/api/sandboxes/{sim_sandbox.id}")
    assert about["name"].endswith("test_the_sandbox_fixture_is_named_after_the_test")


def test_connect_learns_the_cus_url_and_a_ca_that_verifies_the_cert_call(benecafe_sim) -> None:
    connected = Simulator.connect(benecafe_sim.http_url)
    try:
        assert connected.cus_url == benecafe_sim.cus_url
        assert connected.ca_path != benecafe_sim.ca_path or os.environ.get("BENECAFE_SIM_URL")
        with connected.sandbox() as sandbox:
            token = sandbox.gate("J01A00038745", "VR000216")["otpToken"]
            assert sandbox.cert(token)["resultCode"] == "OK"
            assert sandbox.cert(token)["resultCode"] == "404"
        # The context trusts that CA only: the system's roots are not in it.
        with urllib.request.urlopen(benecafe_sim.cus_url + "/_sim/healthz", context=connected.ssl_context()) as answer:
            assert answer.status == 200
    finally:
        connected.stop()


def test_the_cert_call_refuses_a_ca_it_was_not_given(benecafe_sim, sim_sandbox) -> None:
    # Another simulator's CA: a real CA, but not the one that signed this simulator's certificate.
    with Simulator.start() as other:
        wrong = Simulator(benecafe_sim.cus_url, benecafe_sim.http_url, other.ca_path)
        with wrong.sandbox() as sandbox:
            token = sandbox.gate("J01A00038745", "VR000216")["otpToken"]
            with pytest.raises(ssl.SSLCertVerificationError):
                sandbox.cert(token)
            # The refused handshake changed nothing: the token is still there for a verified
            # call (the cert endpoint finds a token's sandbox from the token alone).
            assert sim_sandbox.cert(token)["resultCode"] == "OK"


def test_a_control_api_refusal_is_an_error_with_status_and_reason(sim_sandbox) -> None:
    with pytest.raises(SimError) as refused:
        sim_sandbox.request("GET", "/_sim/api/tokens/not-a-token")
    assert refused.value.status == 400
    with pytest.raises(SimError) as unknown:
        sim_sandbox.gate("NOBODY", "VR000216")
    assert unknown.value.status == 404


def test_a_start_that_fails_says_why_with_the_process_output_and_never_the_token() -> None:
    with pytest.raises(SimError) as failed:
        Simulator.start("--no-such-flag", control_token="a-secret-control-token-0123456789")
    said = str(failed.value)
    assert "exited with status" in said
    # What the simulator itself said about the flag, not only the command line echoed.
    output = said.split("its last output:", 1)[1]
    assert "--no-such-flag" in output, said
    assert "a-secret-control-token" not in said and "--control-token ***" in said


def test_a_binary_that_cannot_run_is_an_error_that_leaves_no_folder(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("BENECAFE_SIM_BIN", str(tmp_path / "no-such-binary"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    with pytest.raises(SimError) as failed:
        Simulator.start()
    assert "cannot run" in str(failed.value)
    assert [p.name for p in tmp_path.iterdir()] == []


def test_a_simulator_whose_test_process_dies_stops_with_it(tmp_path) -> None:
    # A child Python process starts a simulator and is killed (no exit handler runs): the
    # simulator's standard input, the pipe that process held, closes and it stops.
    import subprocess
    import sys
    import signal as signals
    script = (
        "import sys, time\n"
        "from benecafe_sim import Simulator\n"
        "sim = Simulator.start()\n"
        "print(sim.process.pid, sim.http_url, flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env, text=True)
    pid, url = child.stdout.readline().split()
    assert Simulator.connect(url).sandbox().members()
    child.send_signal(signals.SIGKILL)
    child.wait()
    import time
    deadline = time.monotonic() + 15
    while os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split()[2] != "Z":
        assert time.monotonic() < deadline, "the simulator outlived its test process"
        time.sleep(0.05)


def test_a_started_simulator_stops(benecafe_sim) -> None:
    sim = Simulator.start(force_member_fields=True)
    process = sim.process
    assert process is not None and process.poll() is None
    with sim.sandbox() as sandbox:
        first = sandbox.gate("J01A00038745", "VR000216")
        assert sandbox.cert(first["otpToken"])["resultCode"] == "OK"
        # A later visit carries no member fields, unless --force-member-fields (the flag given).
        later = sandbox.gate("J01A00038745", "VR000216")
        assert later["plainFields"]["CFM_CUS_ID"] == "J01A00038745"
    sim.stop()
    sim.stop()
    assert process.poll() is not None
    with pytest.raises(SimError):
        Simulator.connect(sim.http_url)


def test_a_started_simulator_ignores_sim_settings_meant_for_another_and_takes_its_token(monkeypatch) -> None:
    monkeypatch.setenv("SIM_CONTROL_TOKEN", "meant-for-a-shared-simulator-elsewhere")
    with Simulator.start() as sim:
        with sim.sandbox() as sandbox:
            assert sandbox.members()
    with Simulator.start(control_token="a-token-of-this-test-0123456789") as sim:
        with sim.sandbox() as sandbox:
            assert sandbox.members()
        with pytest.raises(SimError) as refused:
            Simulator.connect(sim.http_url, control_token="wrong").sandbox()
        assert refused.value.status == 401


def test_a_default_flag_the_caller_gives_is_taken_once(tmp_path) -> None:
    with Simulator.start("--log", "info", http_addr="127.0.0.1:0", data_dir=str(tmp_path)) as sim:
        assert (tmp_path / "ca.pem").read_bytes() == open(sim.ca_path, "rb").read()
        with sim.sandbox() as sandbox:
            assert sandbox.members()


def test_xdist_workers_share_the_controllers_simulator_with_its_control_token(tmp_path) -> None:
    # A suite of its own, run by a nested pytest with two workers and a simulator that needs a
    # control token (given through the ini option): each worker reaches it, in a sandbox.
    pytest.importorskip("xdist")
    import subprocess
    import sys
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nbenecafe_sim_args = --control-token a-token-for-the-workers-0123456789\n"
    )
    (tmp_path / "test_two.py").write_text(
        "def test_a(sim_sandbox):\n    assert sim_sandbox.members()\n\n"
        "def test_b(sim_sandbox):\n    assert sim_sandbox.members()\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("BENECAFE_SIM_URL", None)
    # The installed wheel registers the plugin itself; from a source folder it is named.
    from importlib.metadata import entry_points
    installed = any(e.name == "benecafe_sim" for e in entry_points().select(group="pytest11"))
    plugin = [] if installed else ["-p", "benecafe_sim.pytest_plugin"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider", *plugin],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout, run.stdout
