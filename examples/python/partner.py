"""Reference partner (제휴사) for benecafe-sim, STEP1 "서비스바로가기 및 회원연동" — Python 3.11, standard library.

Run: python3 examples/python/partner.py      (--self-test checks the decryption)
`cryptography` (requirements.txt) is needed only when PARAM_ENC_SCHEME is set.
"""
import base64
import html
import http.client
import json
import os
import re
import secrets
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

# ---- settings (the same environment variables in the Java and Node partners) ----
env = os.environ
PORT = int(env.get("PORT", "3000"))
VNDR_NO = env.get("VNDR_NO", "VR000301")
MALL_HOSTS = [h.strip().lower() for h in env.get(
    "MALL_HOSTS", "localhost,127.0.0.1,.benecafe.localhost,cert.benecafe.co.kr").split(",") if h.strip()]
FALLBACK_CUS_URL = env.get("FALLBACK_CUS_URL", "https://cert.benecafe.co.kr")  # the guide: "해당 값이 없는 경우"
KEY_BYTES = {"AES-128-CBC": 16, "AES-256-CBC": 32, "ARIA-128-CBC": 16}


def ca_file():
    """The simulator's CA: SIM_CA, else its data folder (ca.pem, or cert.pem of older versions), else
    None for the system roots (what a partner talking to the real mall uses). Verification stays on."""
    if env.get("SIM_CA"):
        return env["SIM_CA"]
    data = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "benecafe-sim"
    return next((str(p) for p in (data / "ca.pem", data / "cert.pem") if p.exists()), None)


CA_FILE = ca_file()
TLS = ssl.create_default_context(cafile=CA_FILE)  # checks the chain and the host name


# ---- parameter encryption (ranNum): Base64(CIPHER(key, IV = the 16 ASCII bytes of ranNum, PKCS#7)) ----
def make_decrypter(scheme, key_hex):
    if not scheme:
        return None
    if scheme not in KEY_BYTES:
        sys.exit(f"PARAM_ENC_SCHEME: unknown scheme {scheme} ({', '.join(KEY_BYTES)})")
    key = bytes.fromhex(key_hex or "")
    if len(key) != KEY_BYTES[scheme]:
        sys.exit(f"PARAM_ENC_KEY: {scheme} needs {KEY_BYTES[scheme] * 2} hex digits")
    from cryptography.hazmat.primitives import padding  # imported here: only needed with encryption on
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    if scheme.startswith("ARIA") and not hasattr(algorithms, "ARIA"):
        raise NotImplementedError("this version of `cryptography` has no ARIA (only AES-128/256-CBC here)")
    algorithm = algorithms.ARIA if scheme.startswith("ARIA") else algorithms.AES

    def decrypt(value, ran_num):
        if not re.fullmatch(r"\d{16}", ran_num or ""):
            raise ValueError("ranNum is not 16 digits")
        d = Cipher(algorithm(key), modes.CBC(ran_num.encode("ascii"))).decryptor()
        u = padding.PKCS7(128).unpadder()
        padded = d.update(base64.b64decode(value, validate=True)) + d.finalize()
        return (u.update(padded) + u.finalize()).decode("utf-8")
    return decrypt


ENCRYPTED_FIELDS = ("OTP_TOKEN", "cmpy_cd", "CFM_CUS_ID", "USER_NAME")


def self_test():
    k16 = "000102030405060708090a0b0c0d0e0f"
    k32 = k16 + "101112131415161718191a1b1c1d1e1f"
    failed = 0
    for scheme, key, cipher_text, plain in [
            ("AES-128-CBC", k16, "zq3jqBoVu/c5lRJ2/aRLXw==", "J01"), ("AES-256-CBC", k32, "Ok/31/Oh6XrHNhC5HQlQZg==", "J01"),
            ("ARIA-128-CBC", k16, "um8zAsYsnvR35gfmPGiI9A==", "J01"), ("ARIA-128-CBC", k16, "bsXzd2N5QR+F+8mZNPtAnw==", "차세대테")]:
        try:
            got = make_decrypter(scheme, key)(cipher_text, "1234567890123456")
            failed += got != plain
            print(f"{'ok  ' if got == plain else 'FAIL'} {scheme} {cipher_text} -> {got}")
        except NotImplementedError as e:
            print(f"skip {scheme} {cipher_text}: {e}")
        except ImportError:
            sys.exit("the self-test needs the `cryptography` package: pip install -r requirements.txt")
    sys.exit(1 if failed else 0)


if "--self-test" in sys.argv:
    self_test()
try:
    DECRYPT = make_decrypter(env.get("PARAM_ENC_SCHEME"), env.get("PARAM_ENC_KEY"))
except ImportError as e:
    sys.exit(f"PARAM_ENC_SCHEME needs the `cryptography` package: pip install -r requirements.txt ({e})")
except NotImplementedError as e:
    sys.exit(f"PARAM_ENC_SCHEME={env['PARAM_ENC_SCHEME']}: {e}")


# ---- trusted mall domains ----
def trusted_mall(cus_url):
    """(host, port) when CUS_URL is an HTTPS URL of a known mall, else None. CUS_URL comes from the member's
    browser: calling any host it names would hand that host a live token and let it answer any member."""
    try:
        u = urlsplit(cus_url)
        host, port = (u.hostname or "").lower(), u.port or 443
    except ValueError:
        return None
    ok = any(host == h[1:] or host.endswith(h) if h.startswith(".") else host == h for h in MALL_HOSTS)
    return (host, port) if ok and u.scheme == "https" else None  # the cert endpoint is HTTPS only


# ---- the cert call: CUS_URL + /sso/vendorUserCertTonken?otpTokenp=TOKEN, server to server ----
def cert_call(host, port, token):
    """The mall's JSON answer, or raises OSError/ValueError (refused, TLS, 5 s timeout, not JSON).
    http.client rather than urllib: it follows no redirects, so the token goes nowhere else."""
    conn = http.client.HTTPSConnection(host, port, context=TLS, timeout=5)
    try:
        conn.request("GET", "/sso/vendorUserCertTonken?" + urlencode({"otpTokenp": token}))
        res = conn.getresponse()
        body = res.read(1 << 20)
        try:
            return json.loads(body.decode("utf-8"))
        except ValueError:
            raise ValueError(f"HTTP {res.status}, not JSON") from None
    finally:
        conn.close()


REFUSALS = {
    "400": "OTP 토큰이 전달되지 않았습니다.",
    "401": "유효하지 않거나 만료된 토큰입니다. 복리후생관에서 다시 들어와 주세요.",
    "403": "이 제휴사 서버의 IP가 복리후생관에 허용되어 있지 않습니다.",
    "404": "이미 사용된 토큰입니다. 복리후생관에서 다시 들어와 주세요.",
}

# ---- sessions: a random id in a cookie, the data in memory (a real app uses its framework's store) ----
sessions = {}  # id -> {"member", "point_name", "popup_url"}
members = {}  # custId -> the member fields the mall sent (only on the first visit and after a change)
lock = threading.Lock()  # the server is threaded


class Partner(BaseHTTPRequestHandler):
    def session_id(self):
        m = re.search(r"(?:^|;\s*)psid=([\w-]+)", self.headers.get("Cookie", ""))
        return m and m.group(1)

    def current(self):
        with lock:
            return sessions.get(self.session_id()) or {"member": None}

    def send(self, status, body, content_type="text/html; charset=utf-8", headers=()):
        if content_type.startswith("text/html"):
            body = f'<!doctype html><html lang="ko"><meta charset="utf-8"><title>제휴사 {esc(VNDR_NO)}</title><body>{body}</body></html>'
        data = body.encode("utf-8")
        self.send_response(status)
        for k, v in [("Content-Type", content_type), ("Content-Length", str(len(data))), *headers]:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def problem(self, status, why, headers=()):
        self.send(status, f'<h1>로그인하지 못했습니다</h1><p>{esc(why)}</p><p><a href="/">비회원으로 둘러보기</a></p>',
                  headers=headers)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        s = self.current()
        if path == "/whoami":  # the vendor's whoamiUrl: exactly the custId, an empty body when anonymous
            member = s["member"]
            return self.send(200, member["custId"] if member else "", "text/plain; charset=utf-8", [("Cache-Control", "no-store")])
        product = re.fullmatch(r"/product/([^/]+)", path)
        where = (f"<p>상품 {esc(unquote(product.group(1)))} 상세</p>" if product
                 else "" if path == "/" else f"<p>페이지 {esc(self.path)}</p>")
        m = s["member"]
        who = (f"<p><b>{esc(m['mbrNm'])}</b> 님 ({esc(m['custId'])}, 사번 {esc(m.get('empen'))}) 로그인됨. "
               f"현금영수증 신청: {esc(members.get(m['custId'], {}).get('ReceiptYN') or '-')}</p>"
               if m else "<p>비회원(익명)으로 이용 중입니다.</p>")
        popup = s.get("popup_url") or ""
        point = (f'<p><a href="{esc(popup)}" target="_blank">{esc(s["point_name"])} 조회</a></p>'
                 if s.get("point_name") and re.match(r"https?:", popup) else "")
        self.send(200, f"<h1>제휴사 {esc(VNDR_NO)}</h1>{where}{who}{point}")

    def do_POST(self):
        if self.path.split("?", 1)[0] != "/gate":
            return self.send(405, "<p>허용되지 않는 요청입니다.</p>", headers=[("Allow", "GET")])
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit() or int(length) > 65536:
            return self.problem(413, "요청이 너무 크거나 길이를 알 수 없습니다.")
        form = dict(parse_qsl(self.rfile.read(int(length)).decode("utf-8", "replace"), keep_blank_values=True))
        self.gate(form)

    def do_PUT(self):  # and any other method: 405, not http.server's 501
        self.send(405, "<p>허용되지 않는 요청입니다.</p>", headers=[("Allow", "GET, POST")])
    do_DELETE = do_PATCH = do_OPTIONS = do_PUT

    def gate(self, form):
        # "요청시마다 세션정보 삭제후 재세팅": every GATE starts a new session, so the member of an earlier
        # visit (maybe someone else on a shared PC) never survives a GATE that fails or carries no token.
        sid = secrets.token_urlsafe(24)
        point_name = form.get("pointname")
        try:  # pointnameBase64 is sent for partners whose decoding garbles Korean
            point_name = base64.b64decode(form.get("pointnameBase64", "")).decode("utf-8") or point_name
        except ValueError:
            pass
        session = {"member": None, "point_name": point_name, "popup_url": form.get("POPUPURL")}
        with lock:
            sessions.pop(self.session_id(), None)
            sessions[sid] = session
        cookie = [("Set-Cookie", f"psid={sid}; Path=/; HttpOnly; SameSite=Lax")]
        problem = lambda status, why: self.problem(status, why, cookie)
        if DECRYPT and form.get("OTP_TOKEN"):
            try:
                for f in ENCRYPTED_FIELDS:
                    if form.get(f):
                        form[f] = DECRYPT(form[f], form.get("ranNum"))
            except ValueError as e:  # also bad padding, bad Base64, not UTF-8
                print(f"gate: cannot decrypt: {e}", flush=True)
                return problem(400, "암호화된 파라미터를 풀 수 없습니다.")
        if form.get("OTP_TOKEN"):  # no token: the member did not consent, so the visitor stays anonymous
            cus_url = form.get("CUS_URL") or FALLBACK_CUS_URL
            mall = trusted_mall(cus_url)
            if not mall:
                print(f"gate: CUS_URL {cus_url} is not a trusted mall domain; no cert call", flush=True)
                return problem(403, f"신뢰하는 복리후생관 도메인이 아닙니다: {cus_url}")
            try:
                answer = cert_call(*mall, form["OTP_TOKEN"])
            except (OSError, ValueError, http.client.HTTPException) as e:
                print(f"gate: cert call to {mall}: {e!r}", flush=True)
                return problem(200, "복리후생관 인증 서버에 연결하지 못했습니다. 비회원으로 이용할 수 있습니다.")  # detail: the log
            code = str(answer.get("resultCode")) if isinstance(answer, dict) else "?"
            result = answer.get("resultMap") if code == "OK" else None
            user = result.get("user") if isinstance(result, dict) else None
            user = user if isinstance(user, dict) else {}
            print(f"gate: cert call to {mall}: {code} {user.get('custId', '')} {user.get('vndrNo', '')}", flush=True)
            if not isinstance(user.get("custId"), str):
                return problem(403, REFUSALS.get(code, f"인증 실패 ({code})"))
            # A token issued for another vendor is a real, valid token: the mall answers OK with that vendor's
            # number. Accepting it would let anyone who got a token at some other partner log in here.
            if user.get("vndrNo") != VNDR_NO:
                return problem(403, f"다른 제휴사({user.get('vndrNo')})용 토큰입니다.")
            session["member"] = user  # the cert answer is the truth; the form's member fields are only hints
            if form.get("CFM_CUS_ID") == user["custId"]:  # sent on the first visit and after a change: keep them
                with lock:
                    members[user["custId"]] = {k: form.get(k) for k in ("cmpy_cd", "USER_NAME", "ReceiptYN")}
        # Post/Redirect/Get: a refresh must not post the one-time token again.
        self.send(303, "", "text/plain", [*cookie, ("Location", self.landing(form))])

    def landing(self, form):
        """BaroItem opens that product; DirectFlag=Y opens DirectURL, but only a page of this partner."""
        if form.get("BaroItem"):
            return "/product/" + quote(form["BaroItem"], safe="")
        if form.get("DirectFlag") == "Y" and form.get("DirectURL"):
            u = urlsplit(form["DirectURL"])
            target = u.path + ("?" + u.query if u.query else "")
            # Our own host only, and a plain ASCII path: "//x" or "/\x" would leave the site, CR LF split the header.
            if u.netloc in ("", self.headers.get("Host")) and re.fullmatch(r"/(?![/\\])[!-\[\]-~]*", target):
                return target
        return "/"


def esc(s):
    return html.escape(str(s if s is not None else ""))


if __name__ == "__main__":
    print(f"partner {VNDR_NO} on http://localhost:{PORT}/gate; trusts {','.join(MALL_HOSTS)}; "
          f"CA {CA_FILE or '(system roots)'}; parameter encryption {env.get('PARAM_ENC_SCHEME') or 'off'}", flush=True)
    ThreadingHTTPServer(("", PORT), Partner).serve_forever()
