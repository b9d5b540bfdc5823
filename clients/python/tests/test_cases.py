"""The shared case table (``clients/cases.json``) through this package: the same cases the Java and
Node helpers run, so the three cannot drift apart. Uses only the plugin's fixtures."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List

import pytest

CASES = json.loads((Path(__file__).resolve().parents[2] / "cases.json").read_text(encoding="utf-8"))
MISSING = object()


def resolve(value: Any, path: str) -> Any:
    """The value at ``path`` (keys joined by '.', a number indexes a list, '*' maps over a list,
    '' the whole); ``MISSING`` when it leads nowhere."""
    if path == "":
        return value
    head, _, rest = path.partition(".")
    if head == "*":
        if not isinstance(value, list):
            return MISSING
        return [resolve(item, rest) for item in value]
    if isinstance(value, list) and head.isdigit():
        index = int(head)
        return resolve(value[index], rest) if index < len(value) else MISSING
    if isinstance(value, dict) and head in value:
        return resolve(value[head], rest)
    return MISSING


def substitute(value: Any, saved: Dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = re.fullmatch(r"\$\{([A-Za-z_]+)\.(.*)\}", value)
        if whole:
            found = resolve(saved[whole.group(1)], whole.group(2))
            assert found is not MISSING, f"{value} names nothing"
            return found
        return value
    if isinstance(value, list):
        return [substitute(v, saved) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, saved) for k, v in value.items()}
    return value


def check(answer: Any, rule: Dict[str, Any], saved: Dict[str, Any], where: str) -> None:
    rule = substitute(rule, saved)
    got = resolve(answer, rule["at"])
    said = f"{where}: at {rule['at']!r} got {got!r}"
    if "absent" in rule:
        assert (got is MISSING) == rule["absent"], said
        return
    assert got is not MISSING, said
    if "equals" in rule:
        assert got == rule["equals"], f"{said}, expected {rule['equals']!r}"
    elif "matches" in rule:
        assert isinstance(got, str) and re.search(rule["matches"], got), f"{said}, expected to match {rule['matches']}"
    elif "length" in rule:
        assert len(got) == rule["length"], f"{said}, expected length {rule['length']}"
    elif "includes" in rule:
        assert rule["includes"] in got, f"{said}, expected to include {rule['includes']!r}"
    elif "excludes" in rule:
        assert rule["excludes"] not in got, f"{said}, expected not to include {rule['excludes']!r}"
    else:
        raise AssertionError(f"{where}: no check in {rule}")


def run(sandbox, args: Dict[str, Any], op: str) -> Any:
    if op == "gate":
        return sandbox.gate(args["member"], args["vendor"], args.get("consent", "agree"), **args.get("opts", {}))
    if op == "cert":
        return sandbox.cert(args["token"])
    if op == "journal":
        return sandbox.journal(**args.get("filters", {}))
    if op == "fault":
        return sandbox.fault(**args["spec"])
    if op == "members":
        return sandbox.members()
    if op == "put_member":
        return sandbox.put_member(args["record"])
    raise AssertionError(f"unknown op {op}")


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["id"] for c in CASES["cases"]])
def test_shared_case(case: Dict[str, Any], benecafe_sim, sim_sandbox) -> None:
    saved: Dict[str, Any] = {"sim": {"cusUrl": benecafe_sim.cus_url, "httpUrl": benecafe_sim.http_url}}
    others: List[Any] = []
    try:
        for number, step in enumerate(case["steps"], 1):
            if step.get("in", "main") == "other":
                if not others:
                    others.append(benecafe_sim.sandbox())
                sandbox = others[0]
            else:
                sandbox = sim_sandbox
            answer = run(sandbox, substitute(step.get("args", {}), saved), step["op"])
            if "save" in step:
                saved[step["save"]] = answer
            for rule in step.get("expect", []):
                check(answer, rule, saved, f"{case['id']} step {number} ({step['op']})")
    finally:
        for other in others:
            other.close()


def test_the_path_grammar_and_checks_fail_when_they_should() -> None:
    answer = {"a": [{"b": 1}, {"b": 2}], "s": "abc"}
    assert resolve(answer, "a.*.b") == [1, 2]
    assert resolve(answer, "a.1.b") == 2
    assert resolve(answer, "a.5.b") is MISSING
    assert resolve(answer, "x") is MISSING
    check(answer, {"at": "s", "matches": "^a"}, {}, "t")
    check(answer, {"at": "x", "absent": True}, {}, "t")
    for wrong in ({"at": "s", "equals": "abd"}, {"at": "a", "length": 3}, {"at": "a.*.b", "includes": 3},
                  {"at": "a.*.b", "excludes": 1}, {"at": "s", "absent": True}, {"at": "x", "equals": None}):
        with pytest.raises(AssertionError):
            check(answer, wrong, {}, "t")
