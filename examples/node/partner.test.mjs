// The reference partner (partner.mjs) tested the way a partner tests its own app: the Node helper
// gives a simulator and a sandbox per test, the test acts as the member's browser (posts the GATE's
// fields to the partner, keeps its cookie) and reads the journal to see what the partner's server did.
// Run: node --test examples/node/partner.test.mjs   (BENECAFE_SIM_BIN or BENECAFE_SIM_URL as in clients/node;
// name test files, not a folder: Node 21+ takes no folder argument)
import { after, afterEach, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { fromEnvironment } from '../../clients/node/index.mjs';

const MEMBER = 'J01A00038745';
const VENDOR = 'VR000301';
const KEY = '62656e65636166652d73696d2d6b6579'; // the 16 ASCII bytes "benecafe-sim-key"

let sim, partner, port, base, sb;
let partnerOutput = '';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port: p } = s.address(); s.close(() => resolve(p)); });
  });
}

before(async () => {
  sim = await fromEnvironment();
  port = await freePort();
  base = `http://localhost:${port}`;
  partner = spawn(process.execPath, [fileURLToPath(new URL('./partner.mjs', import.meta.url))], {
    env: { ...process.env, PORT: String(port), VNDR_NO: VENDOR, SIM_CA: sim.caPath, PARAM_ENC_SCHEME: 'AES-128-CBC', PARAM_ENC_KEY: KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  partner.stdout.on('data', (c) => { partnerOutput += c; });
  partner.stderr.on('data', (c) => { partnerOutput += c; });
  process.on('exit', () => partner.kill());
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (partner.exitCode !== null) throw new Error(`the partner exited (${partner.exitCode}):\n${partnerOutput}`);
    try { if ((await fetch(`http://127.0.0.1:${port}/whoami`)).ok) break; } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`the partner did not answer on port ${port}:\n${partnerOutput}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

after(async () => {
  if (partner && partner.exitCode === null) {
    const gone = new Promise((r) => partner.once('exit', r));
    partner.kill();
    await gone;
  }
  await sim?.stop();
});

// ANCHOR: sandbox
// Each test: a sandbox of its own where VR000301 sends its GATE to this partner.
beforeEach(async () => {
  sb = await sim.sandbox();
  await sb.putVendor({
    vndrNo: VENDOR, vndrItwkInfoNo: '415', name: 'reference partner (Node)',
    gateUrl: `${base}/gate`, directUrlBase: base, whoamiUrl: `${base}/whoami`,
    allowedIps: ['127.0.0.1', '::1'], tokenTtlSeconds: 600,
    paramEncryption: { scheme: 'AES-128-CBC', key: KEY },
  });
});
afterEach(async () => { await sb?.close(); });
// ANCHOR_END: sandbox

// The member's browser: keeps the partner's cookies, follows no redirect.
class Browser {
  cookies = new Map();

  async request(url, init = {}) {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers, ...(cookie ? { cookie } : {}) } });
    const setCookies = typeof res.headers.getSetCookie === 'function'
      ? res.headers.getSetCookie() : [res.headers.get('set-cookie')].filter(Boolean);
    for (const sc of setCookies) {
      const [pair] = sc.split(';');
      const eq = pair.indexOf('=');
      if (eq > 0) this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    return res;
  }

  /** Posts a GATE answer's fields to its gateUrl, form-urlencoded, as the mall's page does. */
  async postGate(g) {
    const res = await this.request(g.gateUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(g.fields).toString(),
    });
    await res.arrayBuffer();
    return res;
  }

  async whoami() {
    const res = await this.request(`${base}/whoami`);
    assert.equal(res.status, 200);
    return res.text();
  }
}

const certCodes = async (token) => (await sb.journal({ endpoint: 'cert', token })).map((e) => e.resultCode);
const why = () => `partner output:\n${partnerOutput.split('\n').slice(-10).join('\n')}`;

// ANCHOR: first_visit
test('first visit: the member fields and a token log the member in', async () => {
  const browser = new Browser();
  const g = await sb.gate({ member: MEMBER, vendor: VENDOR, consent: 'agree', forceMemberFields: true });
  assert.equal(g.plainFields.CFM_CUS_ID, MEMBER);
  assert.equal(g.gateUrl, `${base}/gate`);
  const res = await browser.postGate(g);
  assert.equal(res.status, 303, why());
  assert.deepEqual(await certCodes(g.otpToken), ['OK']);
  assert.equal(await browser.whoami(), MEMBER);
});
// ANCHOR_END: first_visit

test('later visit: no member fields, the token still logs the member in', async () => {
  const browser = new Browser();
  const first = await sb.gate({ member: MEMBER, vendor: VENDOR, consent: 'agree' });
  assert.equal((await browser.postGate(first)).status, 303, why());
  const g = await sb.gate({ member: MEMBER, vendor: VENDOR, consent: 'agree' });
  assert.equal(g.plainFields.CFM_CUS_ID, undefined, 'a later GATE carries no member fields');
  const res = await browser.postGate(g);
  assert.equal(res.status, 303, why());
  assert.deepEqual(await certCodes(g.otpToken), ['OK']);
  assert.equal(await browser.whoami(), MEMBER);
});

test('the same GATE posted twice: the second call gets 404, nobody logged in', async () => {
  const browser = new Browser();
  const g = await sb.gate({ member: MEMBER, vendor: VENDOR, consent: 'agree' });
  assert.equal((await browser.postGate(g)).status, 303, why());
  const again = await browser.postGate(g);
  assert.ok(again.status < 500, `the second post answered ${again.status}`);
  assert.deepEqual(await certCodes(g.otpToken), ['OK', '404']);
  assert.equal(await browser.whoami(), '');
});

test('the conformance kit passes', async () => {
  const report = await sb.conform({ vendor: VENDOR });
  const failed = report.cases.filter((c) => c.status === 'fail').map((c) => `${c.id}: ${c.happened}`);
  assert.equal(report.failed, 0, `${failed.join('\n')}\n${why()}`);
  assert.ok(report.passed > 0);
});
