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
KINDS = ("equals", "matches", "length", "absent", "includes", "excludes")


def resolve(value: Any, path: str) -> Any:
    """The value at ``path`` (keys joined by '.', a number indexes a list, '*' takes the rest of
    the path of every item and leaves out those where it leads nowhere, '' the whole);
    ``MISSING`` when it leads nowhere."""
    if path == "":
        return value
    head, _, rest = path.partition(".")
    if head == "*":
        if not isinstance(value, list):
            return MISSING
        found = (resolve(item, rest) for item in value)
        return [f for f in found if f is not MISSING]
    if isinstance(value, list) and head.isdigit():
        index = int(head)
        return resolve(value[index], rest) if index < len(value) else MISSING
    if isinstance(value, dict) and head in value:
        return resolve(value[head], rest)
    return MISSING


def same(a: Any, b: Any) -> bool:
    """Strict JSON equality: true is not 1; 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def substitute(value: Any, saved: Dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = re.fullmatch(r"\$\{([A-Za-z0-9_]+)(?:\.(.*))?\}", value)
        if whole:
            if whole.group(1) not in saved:
                raise ValueError(f"{value}: nothing saved as {whole.group(1)}")
            found = resolve(saved[whole.group(1)], whole.group(2) or "")
            if found is MISSING:
                raise ValueError(f"{value} names nothing")
            return found
        return value
    if isinstance(value, list):
        return [substitute(v, saved) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, saved) for k, v in value.items()}
    return value


def holds(answer: Any, rule: Dict[str, Any]) -> bool:
    """Whether the check holds; a malformed check (no "at", not exactly one kind) is a
    ValueError."""
    kinds = [k for k in KINDS if k in rule]
    if "at" not in rule or len(kinds) != 1:
        raise ValueError(f"a check needs \"at\" and exactly one of {KINDS}: {rule}")
    kind, want = kinds[0], rule[kinds[0]]
    malformed = (
        not isinstance(rule["at"], str)
        or (kind == "absent" and not isinstance(want, bool))
        or (kind == "length" and (isinstance(want, bool) or not isinstance(want, int)))
        or (kind == "matches" and not isinstance(want, str))
    )
    if malformed:
        raise ValueError(f"a check's at, absent, length or matches of the wrong type: {rule}")
    got = resolve(answer, rule["at"])
    if kind == "absent":
        return (got is MISSING) == want
    if got is MISSING:
        return False
    if kind == "equals":
        return same(got, want)
    if kind == "matches":
        return isinstance(got, str) and re.search(want, got) is not None
    if kind == "length":
        return isinstance(got, (list, str, dict)) and len(got) == want
    if not isinstance(got, list):
        return False
    found = any(same(item, want) for item in got)
    return found if kind == "includes" else not found


def check(answer: Any, rule: Dict[str, Any], saved: Dict[str, Any], where: str) -> None:
    rule = substitute(rule, saved)
    got = resolve(answer, rule.get("at", ""))
    assert holds(answer, rule), f"{where}: {rule} does not hold: at {rule.get('at')!r} got {'nothing' if got is MISSING else repr(got)}"


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
            place = step.get("in", "main")
            if place == "other":
                if not others:
                    others.append(benecafe_sim.sandbox())
                sandbox = others[0]
            elif place == "main":
                sandbox = sim_sandbox
            else:
                raise ValueError(f"{case['id']} step {number}: no sandbox {place!r}")
            answer = run(sandbox, substitute(step.get("args", {}), saved), step["op"])
            if "save" in step:
                saved[step["save"]] = answer
            for rule in step.get("expect", []):
                check(answer, rule, saved, f"{case['id']} step {number} ({step['op']})")
    finally:
        for other in others:
            other.close()


@pytest.mark.parametrize("number", range(len(CASES["grammar"][0]["checks"])))
def test_the_grammar_reads_as_the_table_says(number: int) -> None:
    block = CASES["grammar"][0]
    item = block["checks"][number]
    if item.get("error"):
        with pytest.raises(ValueError):
            holds(block["answer"], item["rule"])
    else:
        assert holds(block["answer"], item["rule"]) == item["holds"], item


def test_a_saved_name_or_path_that_leads_nowhere_is_an_error() -> None:
    saved = {"g2": {"otpToken": "t"}}
    assert substitute("${g2.otpToken}", saved) == "t"
    assert substitute({"x": ["${g2}"]}, saved) == {"x": [{"otpToken": "t"}]}
    assert substitute("a ${g2.otpToken}", saved) == "a ${g2.otpToken}"
    for wrong in ("${g3.otpToken}", "${g2.nothing}"):
        with pytest.raises(ValueError):
            substitute(wrong, saved)
