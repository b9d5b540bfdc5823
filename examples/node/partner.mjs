// Reference partner (제휴사) for benecafe-sim, STEP1 "서비스바로가기 및 회원연동" — Node 20, no dependencies.
// Run: node examples/node/partner.mjs            (node partner.mjs --self-test checks the decryption)
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// ---- settings (the same environment variables in the Java and Python partners) ----
const env = process.env;
const PORT = Number(env.PORT || 3000);
const VNDR_NO = env.VNDR_NO || 'VR000301';
const MALL_HOSTS = (env.MALL_HOSTS || 'localhost,127.0.0.1,.benecafe.localhost,cert.benecafe.co.kr')
  .split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
const FALLBACK_CUS_URL = env.FALLBACK_CUS_URL || 'https://cert.benecafe.co.kr'; // the guide: "해당 값이 없는 경우"
const CIPHERS = { 'AES-128-CBC': ['aes-128-cbc', 16], 'AES-256-CBC': ['aes-256-cbc', 32], 'ARIA-128-CBC': ['aria-128-cbc', 16] };

// The simulator's CA: SIM_CA, else its data folder (ca.pem, or cert.pem of older versions), else the
// system roots (what a partner talking to the real mall uses). Verification is never turned off.
function caPath() {
  if (env.SIM_CA) return env.SIM_CA;
  const dir = path.join(env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share'), 'benecafe-sim');
  return ['ca.pem', 'cert.pem'].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
}
const CA_FILE = caPath();
const CA = CA_FILE ? fs.readFileSync(CA_FILE) : undefined; // undefined: Node's built-in roots

// ---- parameter encryption (ranNum): Base64(CIPHER(key, IV = the 16 ASCII bytes of ranNum, PKCS#7)) ----
function makeDecrypter(scheme, keyHex) {
  if (!scheme) return null;
  const [name, keyLen] = CIPHERS[scheme] || [];
  if (!name) throw new Error(`PARAM_ENC_SCHEME: unknown scheme ${scheme} (${Object.keys(CIPHERS).join(', ')})`);
  const key = Buffer.from(keyHex || '', 'hex');
  if (key.length !== keyLen) throw new Error(`PARAM_ENC_KEY: ${scheme} needs ${keyLen * 2} hex digits`);
  return (value, ranNum) => {
    if (!/^\d{16}$/.test(ranNum || '')) throw new Error('ranNum is not 16 digits');
    const d = crypto.createDecipheriv(name, key, Buffer.from(ranNum, 'ascii'));
    return Buffer.concat([d.update(Buffer.from(value, 'base64')), d.final()]).toString('utf8');
  };
}
const ENCRYPTED_FIELDS = ['OTP_TOKEN', 'cmpy_cd', 'CFM_CUS_ID', 'USER_NAME'];

function selfTest() {
  const k16 = '000102030405060708090a0b0c0d0e0f';
  const k32 = k16 + '101112131415161718191a1b1c1d1e1f';
  const vectors = [['AES-128-CBC', k16, 'zq3jqBoVu/c5lRJ2/aRLXw==', 'J01'], ['AES-256-CBC', k32, 'Ok/31/Oh6XrHNhC5HQlQZg==', 'J01'],
    ['ARIA-128-CBC', k16, 'um8zAsYsnvR35gfmPGiI9A==', 'J01'], ['ARIA-128-CBC', k16, 'bsXzd2N5QR+F+8mZNPtAnw==', '차세대테']];
  let failed = 0;
  for (const [scheme, key, cipherText, plain] of vectors) {
    let got; try { got = makeDecrypter(scheme, key)(cipherText, '1234567890123456'); } catch (e) { got = `error: ${e.message}`; }
    if (got !== plain) failed++;
    console.log(`${got === plain ? 'ok  ' : 'FAIL'} ${scheme} ${cipherText} -> ${got}`);
  }
  process.exit(failed ? 1 : 0);
}
if (process.argv.includes('--self-test')) selfTest();
const decrypt = makeDecrypter(env.PARAM_ENC_SCHEME, env.PARAM_ENC_KEY);

// ---- trusted mall domains ----
// CUS_URL comes from the member's browser, so anyone can post a GATE naming their own server. Calling
// it would hand them a live token and let them answer with any member they like: only known malls.
function trustedMallOrigin(cusUrl) {
  let u; try { u = new URL(cusUrl); } catch { return null; }
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const ok = MALL_HOSTS.some((h) => (h.startsWith('.') ? host === h.slice(1) || host.endsWith(h) : host === h));
  return u.protocol === 'https:' && ok ? u.origin : null; // the cert endpoint is HTTPS only
}

// ---- the cert call: CUS_URL + /sso/vendorUserCertTonken?otpTokenp=TOKEN, server to server ----
function certCall(origin, token) {
  return new Promise((resolve) => {
    const url = new URL('/sso/vendorUserCertTonken', origin);
    url.searchParams.set('otpTokenp', token);
    const req = https.get(url, { ca: CA, signal: AbortSignal.timeout(5000) }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', (e) => resolve({ error: e.message }));
      res.on('end', () => {
        try { resolve({ json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }); }
        catch { resolve({ error: `HTTP ${res.statusCode}, not JSON` }); }
      });
    });
    req.on('error', (e) => resolve({ error: e.code || e.message })); // refused, TLS, timeout (ABORT_ERR)
  });
}
const REFUSALS = {
  400: 'OTP 토큰이 전달되지 않았습니다.',
  401: '유효하지 않거나 만료된 토큰입니다. 복리후생관에서 다시 들어와 주세요.',
  403: '이 제휴사 서버의 IP가 복리후생관에 허용되어 있지 않습니다.',
  404: '이미 사용된 토큰입니다. 복리후생관에서 다시 들어와 주세요.',
};

// ---- sessions: a random id in a cookie, the data in memory (a real app uses its framework's store) ----
const sessions = new Map(); // id -> { member, pointName, popupUrl }
const members = new Map(); // custId -> the member fields the mall sent (only on the first visit and after a change)
const sessionId = (req) => /(?:^|;\s*)psid=([\w-]+)/.exec(req.headers.cookie || '')?.[1];
const current = (req) => sessions.get(sessionId(req)) || { member: null };

// ---- pages ----
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
function send(res, status, html, headers = {}) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
  res.end(`<!doctype html><html lang="ko"><meta charset="utf-8"><title>제휴사 ${esc(VNDR_NO)}</title><body>${html}</body></html>`);
}
const problem = (res, status, why) =>
  send(res, status, `<h1>로그인하지 못했습니다</h1><p>${esc(why)}</p><p><a href="/">비회원으로 둘러보기</a></p>`);

function home(req, res, where) {
  const s = current(req), m = s.member;
  const who = m ? `<p><b>${esc(m.mbrNm)}</b> 님 (${esc(m.custId)}, 사번 ${esc(m.empen)}) 로그인됨.
    현금영수증 신청: ${esc(members.get(m.custId)?.ReceiptYN ?? '-')}</p>` : '<p>비회원(익명)으로 이용 중입니다.</p>';
  const point = s.pointName && /^https?:/.test(s.popupUrl || '')
    ? `<p><a href="${esc(s.popupUrl)}" target="_blank">${esc(s.pointName)} 조회</a></p>` : '';
  send(res, 200, `<h1>제휴사 ${esc(VNDR_NO)}</h1>${where}${who}${point}`);
}

// ---- the GATE ----
async function gate(req, res, form) {
  // "요청시마다 세션정보 삭제후 재세팅": every GATE starts a new session, so the member of an earlier
  // visit (maybe someone else on a shared PC) never survives a GATE that fails or carries no token.
  sessions.delete(sessionId(req));
  const id = crypto.randomBytes(24).toString('base64url');
  const session = { member: null, popupUrl: form.POPUPURL,
    pointName: form.pointnameBase64 ? Buffer.from(form.pointnameBase64, 'base64').toString('utf8') : form.pointname };
  sessions.set(id, session);
  res.setHeader('set-cookie', `psid=${id}; Path=/; HttpOnly; SameSite=Lax`);

  if (decrypt && form.OTP_TOKEN) {
    try { for (const f of ENCRYPTED_FIELDS) if (form[f]) form[f] = decrypt(form[f], form.ranNum); }
    catch (e) { console.log(`gate: cannot decrypt: ${e.message}`); return problem(res, 400, '암호화된 파라미터를 풀 수 없습니다.'); }
  }
  if (form.OTP_TOKEN) { // no token: the member did not consent, so the visitor stays anonymous
    const cusUrl = form.CUS_URL || FALLBACK_CUS_URL;
    const origin = trustedMallOrigin(cusUrl);
    if (!origin) {
      console.log(`gate: CUS_URL ${cusUrl} is not a trusted mall domain; no cert call`);
      return problem(res, 403, `신뢰하는 복리후생관 도메인이 아닙니다: ${cusUrl}`);
    }
    const r = await certCall(origin, form.OTP_TOKEN);
    const code = r.json?.resultCode, user = r.json?.resultMap?.user;
    console.log(`gate: cert call to ${origin}: ${r.error || code} ${user ? user.custId + ' ' + user.vndrNo : ''}`);
    if (r.error) return problem(res, 200, '복리후생관 인증 서버에 연결하지 못했습니다. 비회원으로 이용할 수 있습니다.'); // detail: the log
    if (code !== 'OK' || typeof user?.custId !== 'string') return problem(res, 403, REFUSALS[code] || `인증 실패 (${code})`);
    // A token issued for another vendor is a real, valid token: the mall answers OK with that vendor's
    // number. Accepting it would let anyone who got a token at some other partner log in here.
    if (user.vndrNo !== VNDR_NO) return problem(res, 403, `다른 제휴사(${user.vndrNo})용 토큰입니다.`);
    session.member = user; // the cert answer is the truth; the form's member fields are only hints
    if (form.CFM_CUS_ID === user.custId) // member fields come on the first visit and after a change: keep them
      members.set(user.custId, { cmpy_cd: form.cmpy_cd, USER_NAME: form.USER_NAME, ReceiptYN: form.ReceiptYN });
  }
  // Post/Redirect/Get: a refresh must not post the one-time token again.
  res.writeHead(303, { location: landing(req, form) }).end();
}

// BaroItem opens that product; DirectFlag=Y opens DirectURL, but only a page of this partner (no open redirect).
function landing(req, form) {
  if (form.BaroItem) return `/product/${encodeURIComponent(form.BaroItem)}`;
  if (form.DirectFlag === 'Y' && form.DirectURL) {
    try {
      const u = new URL(form.DirectURL, `http://${req.headers.host}`);
      if (u.host === req.headers.host && !u.pathname.startsWith('//')) return u.pathname + u.search;
    } catch { /* not a URL: the main page */ }
  }
  return '/';
}

// ---- routes ----
http.createServer((req, res) => {
  const url = URL.canParse(req.url, 'http://partner') ? new URL(req.url, 'http://partner') : null;
  if (!url) return send(res, 400, '<p>잘못된 요청입니다.</p>');
  if (req.method === 'POST' && url.pathname === '/gate') {
    const chunks = []; let size = 0;
    req.on('data', (c) => { size += c.length; if (size <= 65536) chunks.push(c); });
    req.on('end', () => {
      if (size > 65536) return problem(res, 413, '요청이 너무 큽니다.');
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      gate(req, res, form).catch((e) => { console.error(e); if (!res.headersSent) problem(res, 400, '요청을 처리하지 못했습니다.'); });
    });
  } else if (req.method === 'GET' && url.pathname === '/whoami') {
    // The vendor's whoamiUrl: exactly the logged-in member's custId, an empty body when anonymous.
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(current(req).member?.custId ?? '');
  } else if (req.method === 'GET') {
    const product = /^\/product\/([^/]+)$/.exec(url.pathname);
    let code = product?.[1]; try { code = code && decodeURIComponent(code); } catch { /* shown as sent */ }
    home(req, res, product ? `<p>상품 ${esc(code)} 상세</p>`
      : url.pathname === '/' ? '' : `<p>페이지 ${esc(url.pathname + url.search)}</p>`);
  } else {
    send(res, 405, '<p>허용되지 않는 요청입니다.</p>', { allow: 'GET, POST' });
  }
}).listen(PORT, () => console.log(`partner ${VNDR_NO} on http://localhost:${PORT}/gate; trusts ${MALL_HOSTS.join(',')}; `
  + `CA ${CA_FILE || '(system roots)'}; parameter encryption ${env.PARAM_ENC_SCHEME || 'off'}`));
