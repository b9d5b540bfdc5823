"""Two tests at once, on two pytest-xdist workers, on one simulator, each in its own sandbox.

Run on its own, by path, with two workers: ``pytest -n 2 tests/parallel_check.py`` (two tests on
two workers: xdist gives one to each). Each test makes its cert call in its sandbox, says so in a
folder both workers share, and waits for the other: it passes only if the other ran at the same
time, on the same simulator, in another sandbox, and its own journal holds only its own call.
"""

from __future__ import annotations

import json
import os
import time

import pytest

WAIT_SECONDS = 30.0


def meet(tmp_path_factory, me: str, other: str, said: dict) -> dict:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.fail("run this file with two xdist workers: pytest -n 2 tests/parallel_check.py")
    shared = tmp_path_factory.getbasetemp().parent
    (shared / f"{me}.partial").write_text(json.dumps(said), encoding="utf-8")
    (shared / f"{me}.partial").rename(shared / f"{me}.json")
    deadline = time.monotonic() + WAIT_SECONDS
    while not (shared / f"{other}.json").exists():
        assert time.monotonic() < deadline, f"{other} did not run at the same time as {me}"
        time.sleep(0.05)
    return json.loads((shared / f"{other}.json").read_text(encoding="utf-8"))


def run(me: str, other: str, benecafe_sim, sim_sandbox, tmp_path_factory) -> None:
    token = sim_sandbox.gate("J01A00038745", "VR000216")["otpToken"]
    assert sim_sandbox.cert(token)["resultCode"] == "OK"
    mine = {"sim": benecafe_sim.http_url, "sandbox": sim_sandbox.id,
            "worker": os.environ["PYTEST_XDIST_WORKER"], "token": token}
    theirs = meet(tmp_path_factory, me, other, mine)
    assert theirs["sim"] == mine["sim"], "both workers use one simulator"
    assert theirs["worker"] != mine["worker"]
    assert theirs["sandbox"] != mine["sandbox"]
    # The other's cert call was made before it said so: it is not in this sandbox's journal.
    assert [e["otpToken"] for e in sim_sandbox.journal(endpoint="cert")] == [token]


def test_one(benecafe_sim, sim_sandbox, tmp_path_factory) -> None:
    run("one", "two", benecafe_sim, sim_sandbox, tmp_path_factory)


def test_two(benecafe_sim, sim_sandbox, tmp_path_factory) -> None:
    run("two", "one", benecafe_sim, sim_sandbox, tmp_path_factory)
