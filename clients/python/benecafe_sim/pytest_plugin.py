"""The pytest plugin (entry point ``pytest11``): fixtures ``benecafe_sim`` and ``sim_sandbox``.

Why this exists: a test asks for ``sim_sandbox`` and gets a fresh sandbox of one simulator,
removed after the test, so tests run in parallel (``pytest -n``) without seeing each other.

- ``benecafe_sim`` (session): ``$BENECAFE_SIM_URL`` set: that running simulator; else one
  started from the wheel's binary (flags from the ini option ``benecafe_sim_args``) and stopped
  at the end. Under pytest-xdist the controller starts that one simulator for all its workers.
- ``sim_sandbox`` (function): a fresh sandbox of it, closed after the test.
"""

from __future__ import annotations

import os
import shlex
from typing import Any, Iterator, List, Optional

import pytest

from .sandbox import Sandbox
from .simulator import Simulator

_WORKER_KEY = "benecafe_sim_url"


def pytest_addoption(parser: Any) -> None:
    parser.addini(
        "benecafe_sim_args",
        "flags for a simulator the benecafe_sim fixture starts (e.g. --force-member-fields)",
        default="",
    )


def _args(config: Any) -> List[str]:
    return shlex.split(config.getini("benecafe_sim_args") or "")


class _Shared:
    """The simulator the xdist controller started for its workers."""

    sim: Optional[Simulator] = None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist, on the controller: one simulator for every worker, unless one is named."""
    if os.environ.get("BENECAFE_SIM_URL"):
        return
    if _Shared.sim is None:
        _Shared.sim = Simulator.start(*_args(node.config))
    node.workerinput[_WORKER_KEY] = _Shared.sim.http_url


def pytest_unconfigure(config: Any) -> None:
    if _Shared.sim is not None:
        _Shared.sim.stop()
        _Shared.sim = None


@pytest.fixture(scope="session")
def benecafe_sim(request: Any) -> Iterator[Simulator]:
    """The simulator of this test session."""
    shared = getattr(request.config, "workerinput", {}).get(_WORKER_KEY)
    if shared:
        sim = Simulator.connect(shared)
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
