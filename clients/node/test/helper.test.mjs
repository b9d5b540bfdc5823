// The helper's own behaviour: sandboxes apart, closing, connecting, a failed start, stopping (also
// when the test process is killed), the cert call's CA, errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { SimError, Simulator, connect, fromEnvironment, startSimulator } from '../index.mjs';

let sim;
before(async () => { sim = await fromEnvironment(); });
after(async () => { await sim?.stop(); });

const MEMBER = 'J01A00038745';
const VENDOR = 'VR000216';
const NO_BINARY = 'no benecafe-sim binary (BENECAFE_SIM_BIN)';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Is there a binary startSimulator can run? (BENECAFE_SIM_BIN, else benecafe-sim on PATH)
function haveBinary() {
  if (process.env.BENECAFE_SIM_BIN) return true;
  return (process.env.PATH || '').split(path.delimiter).some((d) => {
    try { fs.accessSync(path.join(d, 'benecafe-sim'), fs.constants.X_OK); return true; } catch { return false; }
  });
}
const skip = !haveBinary() && NO_BINARY;

// Is the process gone? No such process, or a zombie no one has reaped yet (it runs no more).
function gone(pid) {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (e.code === 'ESRCH') return true;
    throw e;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false; // no /proc: it is there
  }
}

async function waitGone(pid, ms) {
  const deadline = Date.now() + ms;
  while (!gone(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

// A child `node` process running `body` (an ES module that may import the helper as HELPER): its
// first line of output, parsed as JSON, and the child.
function runChild(body) {
  const helper = new URL('../index.mjs', import.meta.url).href;
  const script = `import * as HELPER from ${JSON.stringify(helper)};\n${body}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (c) => { err += c; });
  const first = new Promise((resolve, reject) => {
    child.stdout.on('data', (c) => {
      out += c;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)));
    });
    child.on('exit', (code, signal) => reject(new Error(`the child ended (${signal || code}) before it said anything: ${err}`)));
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, first, exited, stderr: () => err };
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
  const other = await connect(`${sim.httpUrl}/`, { controlToken: sim.controlToken ?? undefined });
  assert.equal(other.cusUrl, sim.cusUrl);
  assert.equal(other.httpUrl, sim.httpUrl, 'the URL given, its trailing slash trimmed');
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

test('connect: httpUrl is the URL given, not the one the simulator names', { skip }, async () => {
  // A simulator that names a public URL this process cannot reach (as behind a proxy).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'benecafe-sim-test-'));
  const readyFile = path.join(dir, 'ready.json');
  const token = 'a-token-of-this-test-0123456789';
  const own = await startSimulator({ args: ['--public-http-url', 'http://sim.example.invalid:1234', '--control-token', token, '--ready-file', readyFile] });
  try {
    const url = `http://${JSON.parse(fs.readFileSync(readyFile, 'utf8')).httpAddr}`;
    assert.equal(own.httpUrl, 'http://sim.example.invalid:1234');
    const reached = await connect(`${url}/`, { controlToken: token });
    assert.equal(reached.httpUrl, url);
    const sb = await reached.sandbox();
    assert.ok((await sb.members()).length > 0);
    await sb.close();
  } finally {
    await own.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a simulator that cannot start rejects with its output and the command line, never the token', { skip }, async () => {
  const secret = 'a-secret-control-token-0123456789';
  for (const args of [['--no-such-flag', '--control-token', secret], ['--no-such-flag', `--control-token=${secret}`]]) {
    await assert.rejects(startSimulator({ args }), (e) => {
      assert.match(e.message, /before it was ready/);
      const [said, output = ''] = e.message.split('Its last output:\n');
      assert.match(output, /no-such-flag/, 'what the simulator itself said about the flag');
      assert.match(said, /--stop-when-stdin-closes/);
      assert.match(said, /--control-token( |=)\*\*\*/);
      assert.ok(!e.message.includes(secret), e.message);
      return true;
    });
  }
});

test('a default flag the caller gives is taken once, and SIM_* of this process is not passed on', { skip }, async () => {
  const saved = process.env.SIM_CONTROL_TOKEN;
  process.env.SIM_CONTROL_TOKEN = 'meant-for-a-shared-simulator-elsewhere';
  let own;
  try {
    own = await startSimulator({ args: ['--log', 'info', '--https-addr', '127.0.0.1:0', '--stop-when-stdin-closes'] });
    const sb = await own.sandbox();
    assert.ok((await sb.members()).length > 0);
    await sb.close();
  } finally {
    if (saved === undefined) delete process.env.SIM_CONTROL_TOKEN; else process.env.SIM_CONTROL_TOKEN = saved;
    await own?.stop();
  }
});

test('stop() ends a started simulator and removes its folder; twice is fine', { skip }, async () => {
  const own = await startSimulator();
  const { pid } = own._child;
  const dataDir = own._dataDir;
  assert.ok(!gone(pid));
  await own.stop();
  await own.stop();
  assert.ok(gone(pid), 'the process is gone once stop() resolves');
  assert.equal(fs.existsSync(dataDir), false);
  await assert.rejects(connect(own.httpUrl));
});

test('a simulator whose test process is killed stops with it', { skip }, async () => {
  // A child node process starts a simulator and is killed (no exit handler runs): the simulator's
  // standard input, the pipe that process held, closes and it stops by itself.
  const run = runChild(`
    const sim = await HELPER.startSimulator();
    console.log(JSON.stringify({ pid: sim._child.pid, httpUrl: sim.httpUrl, dataDir: sim._dataDir }));
    setInterval(() => {}, 60_000);
  `);
  let started = null;
  try {
    started = await run.first;
    assert.equal((await fetch(`${started.httpUrl}/_sim/version`)).status, 200);
    run.child.kill('SIGKILL');
    assert.equal((await run.exited).signal, 'SIGKILL');
    assert.ok(await waitGone(started.pid, 15_000), `the simulator (pid ${started.pid}) outlived its test process`);
  } finally {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    if (started && !gone(started.pid)) process.kill(started.pid, 'SIGKILL');
    if (started) fs.rmSync(started.dataDir, { recursive: true, force: true });
  }
});

test('a test process that forgets stop() still ends, and so does its simulator', { skip }, async () => {
  const run = runChild(`
    const sim = await HELPER.startSimulator();
    const sb = await sim.sandbox();
    await sb.members();
    console.log(JSON.stringify({ pid: sim._child.pid, dataDir: sim._dataDir }));
  `);
  let started = null;
  try {
    started = await run.first;
    let timer;
    const late = new Promise((resolve) => { timer = setTimeout(() => resolve(null), 20_000); });
    const ended = await Promise.race([run.exited, late]);
    clearTimeout(timer);
    assert.ok(ended, 'the test process did not end by itself');
    assert.equal(ended.code, 0, run.stderr());
    assert.ok(await waitGone(started.pid, 15_000), `the simulator (pid ${started.pid}) outlived its test process`);
    assert.equal(fs.existsSync(started.dataDir), false, 'its folder is removed at exit');
  } finally {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    if (started && !gone(started.pid)) process.kill(started.pid, 'SIGKILL');
    if (started) fs.rmSync(started.dataDir, { recursive: true, force: true });
  }
});

test('the cert call refuses a CA it was not given', { skip }, async () => {
  // Another simulator's CA: a real CA, but not the one that signed this simulator's certificate.
  const other = await startSimulator();
  try {
    const wrong = new Simulator({ cusUrl: sim.cusUrl, httpUrl: sim.httpUrl, caPath: other.caPath, controlToken: sim.controlToken });
    assert.equal(wrong.ca, other.ca);
    assert.notEqual(wrong.ca, sim.ca);
    const sb = await wrong.sandbox();
    const right = await sim.sandbox();
    try {
      const g = await sb.gate({ member: MEMBER, vendor: VENDOR });
      await assert.rejects(sb.cert(g.otpToken), (e) => {
        assert.match(String(e.code), /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_SIGNATURE_FAILURE)$/, e.message);
        return true;
      });
      // The refused handshake changed nothing: the token is still there for a verified call (the
      // cert endpoint finds a token's sandbox from the token alone).
      assert.equal((await right.cert(g.otpToken)).resultCode, 'OK');
    } finally {
      await sb.close();
      await right.close();
    }
  } finally {
    await other.stop();
  }
});

test('no control call follows a redirect (the bearer token goes where it was sent only)', async () => {
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url, authorization: req.headers.authorization });
    if (req.url.startsWith('/elsewhere')) { res.setHeader('content-type', 'application/json'); res.end('{"id":"x"}'); return; }
    res.writeHead(307, { location: `/elsewhere${req.url}` });
    res.end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  try {
    const redirected = new Simulator({ cusUrl: sim.cusUrl, httpUrl: url, caPath: sim.caPath, ca: sim.ca, controlToken: 'a-token' });
    await assert.rejects(redirected.sandbox(), /redirect/);
    await assert.rejects(connect(url, { controlToken: 'a-token' }), /redirect/);
    assert.deepEqual(seen.filter((r) => r.url.startsWith('/elsewhere')), []);
    assert.ok(seen.length >= 2 && seen.every((r) => r.authorization === 'Bearer a-token'));
  } finally {
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
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
    // The path is the control API's own, used unchanged: '/faults' is not '/_sim/api/faults'.
    await assert.rejects(sb.request('POST', '/faults', { endpoint: 'cert', kind: 'resultCode', resultCode: '403' }),
      (e) => e instanceof SimError && e.status === 404);
    assert.deepEqual(await sb.request('GET', '/_sim/api/faults'), []);
  } finally {
    await sb.close();
  }
});
