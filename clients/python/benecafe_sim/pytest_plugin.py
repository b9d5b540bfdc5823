"""The pytest plugin (entry point ``pytest11``): fixtures ``benecafe_sim`` and ``sim_sandbox``.

Why this exists: a test asks for ``sim_sandbox`` and gets a fresh sandbox of one simulator,
removed after the test, so tests run in parallel (``pytest -n``) without seeing each other.

- ``benecafe_sim`` (session): ``$BENECAFE_SIM_URL`` set: that running simulator; else one
  started from the wheel's binary (flags from the ini option ``benecafe_sim_args``) and stopped
  at the end. Under pytest-xdist the controller starts that one simulator for all its workers
  when they start (whether or not a test asks for it: a worker cannot tell the controller
  later), and stops it at the end.
- ``sim_sandbox`` (function): a fresh sandbox of it, closed after the test.
"""

from __future__ import annotations

import os
import shlex
from typing import Any, Iterator, List, Optional

import pytest

from .sandbox import Sandbox, SimError
from .simulator import Simulator

_WORKER_KEY = "benecafe_sim"


def pytest_addoption(parser: Any) -> None:
    parser.addini(
        "benecafe_sim_args",
        "flags for a simulator the benecafe_sim fixture starts (e.g. --force-member-fields)",
        default="",
    )


def _args(config: Any) -> List[str]:
    return shlex.split(config.getini("benecafe_sim_args") or "")


class _Shared:
    """The simulator the xdist controller started for its workers, or why it could not."""

    sim: Optional[Simulator] = None
    failed: Optional[str] = None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist, on the controller: one simulator for every worker, unless one is named. A start
    that fails is told to the workers: the tests that use the fixture fail with the reason,
    the others run."""
    if os.environ.get("BENECAFE_SIM_URL"):
        return
    if _Shared.sim is None and _Shared.failed is None:
        try:
            _Shared.sim = Simulator.start(*_args(node.config))
        except SimError as e:
            _Shared.failed = str(e)
    if _Shared.sim is not None:
        node.workerinput[_WORKER_KEY] = {"url": _Shared.sim.http_url, "token": _Shared.sim.control_token}
    else:
        node.workerinput[_WORKER_KEY] = {"failed": _Shared.failed}


def pytest_unconfigure(config: Any) -> None:
    if _Shared.sim is not None:
        _Shared.sim.stop()
        _Shared.sim = None


@pytest.fixture(scope="session")
def benecafe_sim(request: Any) -> Iterator[Simulator]:
    """The simulator of this test session."""
    shared = getattr(request.config, "workerinput", {}).get(_WORKER_KEY)
    if shared and shared.get("failed"):
        raise SimError(0, f"the simulator the xdist controller started: {shared['failed']}")
    if shared:
        sim = Simulator.connect(shared["url"], control_token=shared["token"] or "")
    else:
        sim = Simulator.from_environment(*_args(request.config))
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def sim_sandbox(benecafe_sim: Simulator, request: Any) -> Iterator[Sandbox]:
    """A fresh sandbox of the session's simulator, named after the test, removed after it."""
    with benecafe_sim.sandbox(name=request.node.nodeid[-64:]) as sandbox:
        yield sandbox
