"""The Python reference partner's own tests, through the ``benecafe_sim`` pytest plugin: a first
visit, a later visit, the reuse ``404`` and the conformance kit, each in a sandbox of its own.

This is how a partner's suite looks: the plugin gives the simulator and a sandbox per test; the
test plays the member's browser against the partner. Run (the wheel installed, or the package on
``PYTHONPATH`` with ``-p benecafe_sim.pytest_plugin``): ``pytest examples/python/test_partner.py``.
"""

from __future__ import annotations

import http.cookiejar
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

VENDOR = "VR000301"
MEMBER = "J01A00038745"
KEY = "62656e65636166652d73696d2d6b6579"  # the shipped VR000301's AES-128 key (hex)


@pytest.fixture(scope="module")
def partner(benecafe_sim, tmp_path_factory):
    """The reference partner on a free port, trusting the simulator's CA: its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PORT": str(port), "VNDR_NO": VENDOR, "SIM_CA": benecafe_sim.ca_path,
           "PARAM_ENC_SCHEME": "AES-128-CBC", "PARAM_ENC_KEY": KEY}
    log = tmp_path_factory.mktemp("partner") / "partner.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("partner.py"))], env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    base = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{base}/whoami", timeout=1).close()
                break
            except OSError:
                said = log.read_text(errors="replace")
                assert process.poll() is None, f"the partner exited:\n{said}"
                assert time.monotonic() < deadline, f"the partner did not answer:\n{said}"
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(10)


# ANCHOR: sandbox
@pytest.fixture
def sandbox(sim_sandbox, partner):
    """This test's sandbox, with vendor VR000301 sending its GATE to the partner's port."""
    sim_sandbox.put_vendor(vndrNo=VENDOR, vndrItwkInfoNo="415", name="reference partner (Python)",
                           gateUrl=f"{partner}/gate", directUrlBase=partner, whoamiUrl=f"{partner}/whoami",
                           allowedIps=["127.0.0.1", "::1"], tokenTtlSeconds=600,
                           paramEncryption={"scheme": "AES-128-CBC", "key": KEY})
    return sim_sandbox
# ANCHOR_END: sandbox


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """The member's browser: keeps the partner's cookies, follows no redirect."""

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect)

    def post_gate(self, gate: dict) -> int:
        body = urllib.parse.urlencode(gate["fields"]).encode("utf-8")
        request = urllib.request.Request(gate["gateUrl"], data=body, method="POST",
                                         headers={"content-type": "application/x-www-form-urlencoded"})
        try:
            with self.opener.open(request, timeout=20) as answer:
                return answer.status
        except urllib.error.HTTPError as e:
            return e.code

    def whoami(self, partner: str) -> str:
        with self.opener.open(f"{partner}/whoami", timeout=5) as answer:
            return answer.read().decode("utf-8")


def cert_codes(sandbox, token: str) -> list:
    return [e["resultCode"] for e in sandbox.journal(endpoint="cert", token=token)]


# ANCHOR: first_visit
def test_first_visit_logs_the_member_in(sandbox, partner) -> None:
    browser = Browser()
    gate = sandbox.gate(MEMBER, VENDOR, consent="agree", forceMemberFields=True)
    assert browser.post_gate(gate) == 303
    assert cert_codes(sandbox, gate["otpToken"]) == ["OK"]
    assert browser.whoami(partner) == MEMBER
# ANCHOR_END: first_visit


def test_a_later_visit_without_member_fields_logs_the_member_in(sandbox, partner) -> None:
    browser = Browser()
    assert browser.post_gate(sandbox.gate(MEMBER, VENDOR, consent="agree")) == 303
    later = sandbox.gate(MEMBER, VENDOR, consent="keep")
    assert "CFM_CUS_ID" not in later["plainFields"]
    assert browser.post_gate(later) == 303
    assert cert_codes(sandbox, later["otpToken"]) == ["OK"]
    assert browser.whoami(partner) == MEMBER


def test_the_same_gate_posted_twice_meets_the_404_and_logs_nobody_in(sandbox, partner) -> None:
    browser = Browser()
    gate = sandbox.gate(MEMBER, VENDOR, consent="agree")
    assert browser.post_gate(gate) == 303
    assert browser.post_gate(gate) < 500
    assert cert_codes(sandbox, gate["otpToken"]) == ["OK", "404"]
    assert browser.whoami(partner) == ""


def test_the_partner_passes_the_conformance_kit(sandbox) -> None:
    report = sandbox.conform(VENDOR)
    failed = [c["id"] for c in report["cases"] if c["status"] == "fail"]
    assert failed == [] and report["failed"] == 0 and report["passed"] > 0, report
