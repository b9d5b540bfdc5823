// The helper's own behaviour: sandboxes apart, closing, connecting, a failed start, errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SimError, connect, fromEnvironment, startSimulator } from '../index.mjs';

let sim;
before(async () => { sim = await fromEnvironment(); });
after(async () => { await sim?.stop(); });

const MEMBER = 'J01A00038745';
const VENDOR = 'VR000216';

// Is there a binary startSimulator can run? (BENECAFE_SIM_BIN, else benecafe-sim on PATH)
function haveBinary() {
  if (process.env.BENECAFE_SIM_BIN) return true;
  return (process.env.PATH || '').split(path.delimiter).some((d) => {
    try { fs.accessSync(path.join(d, 'benecafe-sim'), fs.constants.X_OK); return true; } catch { return false; }
  });
}

test('two sandboxes get different ids and do not see each other\'s journal', async () => {
  const a = await sim.sandbox();
  const b = await sim.sandbox();
  try {
    assert.notEqual(a.id, b.id);
    const g = await a.gate({ member: MEMBER, vendor: VENDOR });
    assert.ok(g.otpToken.startsWith(a.id), 'a sandbox\'s token begins with its id');
    assert.equal((await a.cert(g.otpToken)).resultCode, 'OK');
    assert.deepEqual((await a.journal({ endpoint: 'cert' })).map((e) => e.resultCode), ['OK']);
    assert.deepEqual(await b.journal(), []);
    assert.deepEqual(await b.journal({ token: g.otpToken }), []);
  } finally {
    await a.close();
    await b.close();
  }
});

test('a closed sandbox\'s id answers 404', async () => {
  const sb = await sim.sandbox({ ttlSeconds: 60 });
  const url = `${sim.httpUrl}/_sim/api/sandboxes/${sb.id}`;
  const headers = sim.controlToken ? { authorization: `Bearer ${sim.controlToken}` } : {};
  assert.equal((await fetch(url, { headers })).status, 200);
  await sb.close();
  const res = await fetch(url, { headers });
  assert.equal(res.status, 404);
  assert.match((await res.json()).error, new RegExp(sb.id));
  await assert.rejects(sb.members(), (e) => e instanceof SimError && e.status === 404 && e.error.includes(sb.id));
});

test('close() twice does not throw', async () => {
  const sb = await sim.sandbox();
  await sb.close();
  await sb.close();
});

test('connect(httpUrl) learns the same cusUrl and a CA that verifies a cert call', async () => {
  const other = await connect(sim.httpUrl, { controlToken: sim.controlToken ?? undefined });
  assert.equal(other.cusUrl, sim.cusUrl);
  assert.equal(other.httpUrl, sim.httpUrl);
  assert.equal(fs.readFileSync(other.caPath, 'utf8'), other.ca);
  assert.match(other.ca, /-----BEGIN CERTIFICATE-----/);
  const sb = await other.sandbox();
  try {
    const g = await sb.gate({ member: MEMBER, vendor: VENDOR, consent: 'agree' });
    const answer = await sb.cert(g.otpToken);
    assert.equal(answer.resultCode, 'OK');
    assert.equal(answer.resultMap.user.custId, MEMBER);
  } finally {
    await sb.close();
  }
  await other.stop(); // a connected one: nothing happens, the simulator still answers
  assert.equal((await fetch(`${sim.httpUrl}/_sim/version`)).status, 200);
});

test('a simulator that cannot start rejects with its output', { skip: !haveBinary() && 'no benecafe-sim binary (BENECAFE_SIM_BIN)' }, async () => {
  await assert.rejects(startSimulator({ args: ['--no-such-flag'] }), (e) => {
    assert.match(e.message, /before it was ready/);
    assert.match(e.message, /no-such-flag/);
    return true;
  });
});

test('a default flag the caller gives is taken once, and SIM_* of this process is not passed on', { skip: !haveBinary() && 'no benecafe-sim binary (BENECAFE_SIM_BIN)' }, async () => {
  const saved = process.env.SIM_CONTROL_TOKEN;
  process.env.SIM_CONTROL_TOKEN = 'meant-for-a-shared-simulator-elsewhere';
  let own;
  try {
    own = await startSimulator({ args: ['--log', 'info', '--https-addr', '127.0.0.1:0'] });
    const sb = await own.sandbox();
    assert.ok((await sb.members()).length > 0);
    await sb.close();
  } finally {
    if (saved === undefined) delete process.env.SIM_CONTROL_TOKEN; else process.env.SIM_CONTROL_TOKEN = saved;
    await own?.stop();
  }
});

test('a control API answer outside 2xx rejects with a SimError carrying status and error', async () => {
  const sb = await sim.sandbox();
  try {
    await assert.rejects(sb.fault({ endpoint: 'cert', kind: 'no-such-kind' }), (e) => {
      assert.ok(e instanceof SimError);
      assert.equal(e.status, 400);
      assert.equal(typeof e.error, 'string');
      assert.match(e.error, /kind/);
      return true;
    });
    await assert.rejects(sb.gate({ member: 'J01A99999999', vendor: VENDOR }), (e) => e instanceof SimError && e.status === 404);
    assert.equal(await sb.request('DELETE', '/_sim/api/faults'), null);
  } finally {
    await sb.close();
  }
});
