"""A sandbox: one test's own copy of the mall, and the calls a test makes in it.

Why this exists: tests that run in parallel on one simulator must not see each other's tokens,
faults or journal. Every call here carries the sandbox's ``X-Sim-Sandbox`` header; the cert call
goes to the mall's ``CUS_URL`` over verified HTTPS, exactly as the partner's server makes it.
Only the standard library: ``urllib`` for the control API, ``http.client`` for the cert call
(it follows no redirects).
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any, Dict, List, Optional

if TYPE_CHECKING:  # pragma: no cover
    from .simulator import Simulator

CERT_PATH = "/sso/vendorUserCertTonken"
# A control API call; a conformance run (its cases wait for the partner, up to a minute each);
# the cert call (an injected delay may hold it up to 120 s).
CONTROL_TIMEOUT = 60.0
CONFORM_TIMEOUT = 300.0
CERT_TIMEOUT = 150.0


class SimError(Exception):
    """A control API answer outside 2xx (``status``, the body's ``error``), or a simulator that
    could not be started or reached (``status`` 0)."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(f"{status}: {error}" if status else error)
        self.status = status
        self.error = error


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


class _Control:
    """Calls of the control API at one base URL, with the bearer token and the sandbox header."""

    def __init__(self, base: str, token: Optional[str], sandbox: Optional[str] = None) -> None:
        self.base = base
        self.token = token
        self.sandbox = sandbox

    def inside(self, sandbox: str) -> "_Control":
        return _Control(self.base, self.token, sandbox)

    def raw(self, method: str, path: str, body: Any = None, timeout: float = CONTROL_TIMEOUT) -> bytes:
        return self.send(method, path, body, timeout)[0]

    def send(self, method: str, path: str, body: Any = None, timeout: float = CONTROL_TIMEOUT):
        """The answer's body and content type."""
        headers = {"accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["content-type"] = "application/json"
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        if self.sandbox:
            headers["x-sim-sandbox"] = self.sandbox
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with _OPENER.open(request, timeout=timeout) as answer:
                return answer.read(), answer.headers.get("content-type", "")
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            try:
                said = json.loads(text).get("error", text)
            except (ValueError, AttributeError):
                said = text
            raise SimError(e.code, f"{method} {path}: {said}") from None
        except urllib.error.URLError as e:
            raise SimError(0, f"{method} {self.base}{path}: {e.reason}") from None
        except TimeoutError:
            raise SimError(0, f"{method} {self.base}{path}: no answer in {timeout:.0f} s") from None

    def call(self, method: str, path: str, body: Any = None, timeout: float = CONTROL_TIMEOUT) -> Any:
        """The JSON answer parsed; ``None`` when empty; text when it is not JSON (a JUnit or
        HTML report)."""
        text, kind = self.send(method, path, body, timeout)
        if not text.strip():
            return None
        if "json" not in kind.lower():
            return text.decode("utf-8", "replace")
        return json.loads(text)


class Sandbox:
    """A sandbox of one simulator. Use it as a context manager, or call :meth:`close`."""

    def __init__(self, sandbox_id: str, sim: "Simulator", control: _Control) -> None:
        self.id = sandbox_id
        self.sim = sim
        self._control = control
        self._closed = False

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Any control API call inside this sandbox (``path`` as the API names it,
        ``/_sim/api/...``): the parsed JSON answer (``None`` for an empty one, text for one that
        is not JSON). Outside 2xx: :class:`SimError`."""
        return self._control.call(method, path, body)

    def members(self) -> List[Dict[str, Any]]:
        """Every member (``GET /_sim/api/members``)."""
        return self.request("GET", "/_sim/api/members")

    def put_member(self, record: Optional[Dict[str, Any]] = None, **fields: Any) -> Dict[str, Any]:
        """Creates or replaces a member, whole (``PUT /_sim/api/members/{custId}``)."""
        record = {**(record or {}), **fields}
        return self.request("PUT", "/_sim/api/members/" + _segment(record["custId"]), record)

    def put_vendor(self, record: Optional[Dict[str, Any]] = None, **fields: Any) -> Dict[str, Any]:
        """Creates or replaces a vendor, whole (``PUT /_sim/api/vendors/{vndrNo}``)."""
        record = {**(record or {}), **fields}
        return self.request("PUT", "/_sim/api/vendors/" + _segment(record["vndrNo"]), record)

    def gate(self, member: str, vendor: str, consent: Optional[str] = "agree", **opts: Any) -> Dict[str, Any]:
        """Issues a GATE for the member (by ``custId``; its company is looked up) at the vendor:
        the ``/_sim/api/gate`` answer (``fields``, ``plainFields``, ``otpToken``, ...). ``opts``
        are the control API's own field names (``directUrl``, ``baroItem``,
        ``forceMemberFields``, ``ttlSeconds``, ``receiptYn``, ``deliver``)."""
        company = next((m["cmpyCd"] for m in self.members() if m.get("custId") == member), None)
        if company is None:
            raise SimError(404, f"no member {member} in this sandbox")
        body = {"cmpyCd": company, "custId": member, "vndrNo": vendor}
        if consent is not None:
            body["consent"] = consent
        body.update(opts)
        return self.request("POST", "/_sim/api/gate", body)

    def cert(self, token: str) -> Dict[str, Any]:
        """The partner's cert call, ``GET CUS_URL/sso/vendorUserCertTonken?otpTokenp=TOKEN``, over
        HTTPS verified against the simulator's CA: the JSON body (HTTP 200 with the outcome in
        ``resultCode``, as the mall answers)."""
        url = urllib.parse.urlsplit(self.sim.cus_url)
        connection = http.client.HTTPSConnection(
            url.hostname, url.port or 443, timeout=CERT_TIMEOUT, context=self.sim.ssl_context()
        )
        try:
            connection.request("GET", f"{url.path.rstrip('/')}{CERT_PATH}?otpTokenp={urllib.parse.quote(token)}")
            answer = connection.getresponse()
            body = answer.read()
        finally:
            connection.close()
        try:
            return json.loads(body)
        except ValueError:
            raise SimError(answer.status, f"the cert endpoint answered HTTP {answer.status} with no JSON: {body[:200]!r}") from None

    def journal(self, **filters: Any) -> List[Dict[str, Any]]:
        """Journal events of this sandbox, oldest first (``GET /_sim/api/journal``, filtered:
        ``endpoint``, ``token``, ``vndrNo``, ...)."""
        query = urllib.parse.urlencode({k: v for k, v in filters.items() if v is not None})
        return self.request("GET", "/_sim/api/journal" + (f"?{query}" if query else ""))

    def fault(self, **spec: Any) -> Dict[str, Any]:
        """Injects a fault (``POST /_sim/api/faults``, the control API's field names:
        ``endpoint``, ``vndrNo``, ``count``, ``kind``, ``resultCode``, ``delayMs``, ...)."""
        return self.request("POST", "/_sim/api/faults", spec)

    def conform(self, vendor: str, **opts: Any) -> Dict[str, Any]:
        """Runs the conformance kit against the vendor's GATE, inside this sandbox: the report."""
        return self._control.call("POST", "/_sim/api/conform", {"vndrNo": vendor, **opts}, CONFORM_TIMEOUT)

    def close(self) -> None:
        """Removes the sandbox with everything in it. May be called twice."""
        if self._closed:
            return
        try:
            self.sim.request("DELETE", "/_sim/api/sandboxes/" + _segment(self.id))
        except SimError as e:
            if e.status != 404:
                raise  # not closed: a later close() tries again
        self._closed = True

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Sandbox({self.id!r})"


def _segment(value: str) -> str:
    return urllib.parse.quote(str(value), safe="")
