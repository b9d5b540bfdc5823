// benecafe-sim for a partner's own Node tests (Node 18+, no dependencies).
//
// Why this exists: a partner's test should say "give me a simulator" and "give me a sandbox" and
// get them, without copying URLs, ports or CA paths by hand. `startSimulator` runs the
// `benecafe-sim` binary on free loopback ports with a data folder of its own and stops it at the
// end; `connect` uses one that is already running (a shared QA simulator); `fromEnvironment`
// picks between the two from BENECAFE_SIM_URL. Each test then takes a sandbox of its own, so tests
// run in parallel on one simulator. The interface is the one the Python and Java helpers share
// (clients/README.md), and clients/cases.json is run by all three so they cannot drift apart.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

const READY_TIMEOUT_MS = 60_000;
const POLL_MS = 50;
const STOP_GRACE_MS = 10_000;
const TAIL_LINES = 20;
// How long a call may take: a control API call; a conformance run (its cases wait for the partner,
// up to a minute each); the cert call (an injected delay may hold it 120 s).
const CONTROL_TIMEOUT_MS = 60_000;
const CONFORM_TIMEOUT_MS = 300_000;
const CERT_TIMEOUT_MS = 150_000;
const STOP_FLAG = '--stop-when-stdin-closes';

/**
 * A control API answer outside 2xx. `status` is the HTTP status, `error` the body's `error`
 * (null when the body had none), `body` the body as text.
 */
export class SimError extends Error {
  /**
   * @param {string} message
   * @param {{status: number, error: (string|null), body?: string}} details
   */
  constructor(message, { status, error, body = '' }) {
    super(message);
    this.name = 'SimError';
    /** @type {number} the HTTP status */
    this.status = status;
    /** @type {string|null} the `error` of the JSON body */
    this.error = error;
    /** @type {string} the body as it came */
    this.body = body;
  }
}

const trimSlash = (u) => String(u).replace(/\/+$/, '');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One HTTP call of the control API: the answer and its body as text. No redirect is followed (the
// bearer token must not travel to wherever a Location points); no answer within `timeoutMs`, or no
// answer at all, rejects with an Error naming the call; an answer outside 2xx with a SimError.
async function send(base, token, sandboxId, method, apiPath, body, { timeoutMs = CONTROL_TIMEOUT_MS, accept = 'application/json' } = {}) {
  const headers = { accept };
  if (token) headers.authorization = `Bearer ${token}`;
  if (sandboxId) headers['x-sim-sandbox'] = sandboxId;
  const init = { method, headers, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) };
  if (body !== undefined && body !== null) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res, text;
  try {
    res = await fetch(base + apiPath, init);
    text = await res.text();
  } catch (e) {
    const why = e?.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : (e.cause?.code || e.cause?.message || e.message);
    throw new Error(`${method} ${base}${apiPath}: ${why}`, { cause: e });
  }
  if (!res.ok) {
    let error = null;
    try { error = JSON.parse(text)?.error ?? null; } catch { /* not JSON */ }
    throw new SimError(`${method} ${apiPath} answered ${res.status}: ${error ?? text.slice(0, 200)}`,
      { status: res.status, error, body: text });
  }
  return { res, text };
}

// A control API call, JSON in and out: the parsed answer, null for an empty one, the text for one
// that is not JSON (?format=html, junit).
async function control(base, token, sandboxId, method, apiPath, body, options) {
  const { res, text } = await send(base, token, sandboxId, method, apiPath, body, options);
  if (res.status === 204 || text === '') return null;
  if (!/json/i.test(res.headers.get('content-type') || '')) return text;
  return JSON.parse(text);
}

// The last lines of a file (the simulator's output), or a note that there is none.
function tail(file, lines = TAIL_LINES) {
  let text = '';
  try { text = fs.readFileSync(file, 'utf8'); } catch { /* never written */ }
  const all = text.trimEnd().split('\n');
  return text.trim() ? all.slice(-lines).join('\n') : '(no output)';
}

// The control token a started simulator will require: its --control-token flag (it is started
// without this process's SIM_* variables, so a SIM_CONTROL_TOKEN meant for a shared simulator
// does not reach it).
function tokenFromArgs(args) {
  return flagValue(args.map(String), '--control-token') || null;
}

// The value given to `flag` (`--flag value` or `--flag=value`), or null when it is not given.
function flagValue(args, flag) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === flag && i + 1 < args.length) return args[i + 1];
    if (args[i].startsWith(`${flag}=`)) return args[i].slice(flag.length + 1);
  }
  return null;
}

// The command line for a message: the control token never shows.
function shown(argv) {
  const out = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = String(argv[i]);
    if (i > 0 && String(argv[i - 1]) === '--control-token') out.push('***');
    else if (arg.startsWith('--control-token=')) out.push('--control-token=***');
    else out.push(arg);
  }
  return out.join(' ');
}

// This process's environment without the simulator's own SIM_* settings: a started simulator is
// what its flags say, whatever the shell that runs the tests has set for another one.
function childEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SIM_')));
}

/**
 * A simulator, started by `startSimulator` or reached by `connect`. It may also be made directly
 * for one known by hand: `new Simulator({cusUrl, httpUrl, caPath, ca, controlToken})` (`ca`, the
 * PEM text, is read from `caPath` when not given); `stop()` of such a one does nothing.
 */
export class Simulator {
  /**
   * @param {{cusUrl: string, httpUrl: string, caPath: string, ca?: string, controlToken?: (string|null)}} o
   *   (a started one also carries its process, data folder and log: internal)
   */
  constructor({ cusUrl, httpUrl, caPath, ca, controlToken, child = null, dataDir = null, logPath = null }) {
    /** @type {string} the mall's CUS_URL (HTTPS): where a partner makes its cert call */
    this.cusUrl = trimSlash(cusUrl);
    /** @type {string} the plain-HTTP URL of the pages and the control API */
    this.httpUrl = trimSlash(httpUrl);
    /** @type {string} a PEM file of the CA to trust for `cusUrl` (give it to the partner, e.g. SIM_CA) */
    this.caPath = caPath;
    /** @type {string} the same CA as PEM text, for `https`' `ca` option */
    this.ca = ca ?? fs.readFileSync(caPath, 'utf8');
    /** @type {string|null} the bearer token sent on control API calls, null when none */
    this.controlToken = controlToken || null;
    /** @type {string|null} the simulator's output (a started one; removed with its folder at stop) */
    this.logPath = logPath;
    this._child = child;
    // The write end of the simulator's standard input (started with --stop-when-stdin-closes).
    // Held here, never written: it closes when this process ends, however it ends, and then the
    // simulator stops by itself; stop() closes it first.
    this._stdin = child?.stdin ?? null;
    this._dataDir = dataDir;
    this._stopped = null;
    this._onExit = null;
    if (child) {
      // At exit (a test run that never called stop, or an error) the process must not outlive us.
      this._onExit = () => {
        try { this._stdin?.destroy(); } catch { /* closed */ }
        if (child.exitCode === null && child.signalCode === null) { try { child.kill('SIGTERM'); } catch { /* gone */ } }
        try { fs.rmSync(dataDir, { recursive: true, force: true }); } catch { /* best effort */ }
      };
      process.on('exit', this._onExit);
    }
  }

  /**
   * Makes a fresh sandbox: `POST /_sim/api/sandboxes`. `opts` are the API's own fields (`name`,
   * `ttlSeconds`); `ttlSeconds` is 600 unless given.
   * @param {{ttlSeconds?: number, name?: string}} [opts]
   * @returns {Promise<Sandbox>}
   */
  async sandbox(opts = { ttlSeconds: 600 }) {
    const made = await control(this.httpUrl, this.controlToken, null, 'POST', '/_sim/api/sandboxes', { ttlSeconds: 600, ...opts });
    return new Sandbox(this, made);
  }

  /**
   * Stops a started simulator: closes its standard input, SIGTERM, SIGKILL after 10 s, then
   * removes its data folder. For a connected one it does nothing. Calling it again does nothing.
   * @returns {Promise<void>}
   */
  stop() {
    if (!this._child) return Promise.resolve();
    if (!this._stopped) {
      const child = this._child;
      this._stopped = (async () => {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        const alive = () => child.exitCode === null && child.signalCode === null;
        try { this._stdin?.end(); } catch { /* closed */ }
        if (alive()) {
          child.ref();
          child.kill('SIGTERM');
          let timer;
          const late = new Promise((resolve) => { timer = setTimeout(() => resolve('late'), STOP_GRACE_MS); });
          if (await Promise.race([exited, late]) === 'late' && alive()) {
            child.kill('SIGKILL');
            await exited;
          }
          clearTimeout(timer);
        }
        this._stdin?.destroy();
        process.removeListener('exit', this._onExit);
        await fsp.rm(this._dataDir, { recursive: true, force: true });
      })();
    }
    return this._stopped;
  }
}

/**
 * One sandbox of a simulator: an isolated copy of the mall (members, vendors, tokens, faults,
 * journal). Every call carries `X-Sim-Sandbox: <id>`. Made by `Simulator#sandbox`.
 */
export class Sandbox {
  /** @param {Simulator} sim @param {object} made the API's answer @internal */
  constructor(sim, made) {
    /** @type {Simulator} the simulator it lives in */
    this.sim = sim;
    /** @type {string} the sandbox id (its tokens begin with it) */
    this.id = made.id;
    /** @type {object} the API's answer when it was made (`name`, `ttlSeconds`, `expiresAt`, ...) */
    this.info = made;
    this._closed = false;
  }

  /**
   * Any control API call in this sandbox. `path` is the path as the control API names it
   * (`/_sim/api/tokens/…`), used unchanged. Resolves the parsed JSON, null for an empty answer,
   * the text for an answer that is not JSON; a non-2xx answer rejects with a SimError. Waits up to
   * 60 s.
   * @param {string} method
   * @param {string} apiPath
   * @param {any} [body] sent as JSON when given
   * @returns {Promise<any>}
   */
  request(method, apiPath, body) {
    return control(this.sim.httpUrl, this.sim.controlToken, this.id, method.toUpperCase(), apiPath, body);
  }

  /**
   * Issues a GATE: looks the member's `cmpyCd` up in this sandbox's members, then
   * `POST /_sim/api/gate {cmpyCd, custId, vndrNo, consent, ...opts}`. `opts` are the API's own
   * fields: `directUrl`, `baroItem`, `forceMemberFields`, `ttlSeconds`, `receiptYn`, `deliver`.
   * Resolves `{gateUrl, method, fields, plainFields, ranNum, omitted, otpToken, expiresAt, ...}`.
   * A member not in the sandbox rejects with a SimError of status 404.
   * @param {{member: string, vendor: string, consent?: ('agree'|'decline'|'keep'), [opt: string]: any}} args
   * @returns {Promise<object>}
   */
  async gate({ member, vendor, consent = 'agree', ...opts }) {
    const found = (await this.members()).find((m) => m.custId === member);
    if (!found) {
      throw new SimError(`gate: no member ${member} in sandbox ${this.id} (GET /_sim/api/members)`,
        { status: 404, error: `no member ${member}` });
    }
    return this.request('POST', '/_sim/api/gate', { cmpyCd: found.cmpyCd, custId: member, vndrNo: vendor, consent, ...opts });
  }

  /**
   * The partner's cert call: `GET <cusUrl>/sso/vendorUserCertTonken?otpTokenp=<token>` over
   * HTTPS, the certificate verified against the simulator's CA (`sim.ca`) only, no redirects
   * followed. Resolves the JSON body (the mall answers HTTP 200 with the outcome in `resultCode`);
   * a body that is not JSON rejects with an Error naming the HTTP status. A refused certificate
   * rejects with an Error whose `code` is Node's (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`, ...). Waits
   * up to 150 s (an injected delay may hold it 120 s).
   * @param {string} token
   * @returns {Promise<object>}
   */
  cert(token) {
    const url = `${this.sim.cusUrl}/sso/vendorUserCertTonken?otpTokenp=${encodeURIComponent(token)}`;
    const where = `cert call to ${this.sim.cusUrl}`;
    return new Promise((resolve, reject) => {
      const fail = (e) => {
        const err = new Error(`${where}: ${e.code || e.message}`, { cause: e });
        if (e.code) err.code = e.code;
        reject(err);
      };
      const req = https.get(url, {
        ca: this.sim.ca, rejectUnauthorized: true, agent: false, autoSelectFamily: true, timeout: CERT_TIMEOUT_MS,
      }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', fail);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try { resolve(JSON.parse(text)); } catch {
            reject(new Error(`${where}: HTTP ${res.statusCode}, the body is not JSON: ${text.slice(0, 200)}`));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${CERT_TIMEOUT_MS / 1000} s`)));
      req.on('error', fail);
    });
  }

  /**
   * The journal, oldest first: `GET /_sim/api/journal` with the filters as the query string
   * (`endpoint`, `vndrNo`, `token`, `resultCode`, `since`, `until`, `limit`).
   * @param {Record<string, string|number|boolean|null|undefined>} [filters]
   * @returns {Promise<object[]>}
   */
  journal(filters = {}) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v !== undefined && v !== null) q.append(k, String(v));
    const qs = q.toString();
    return this.request('GET', `/_sim/api/journal${qs ? `?${qs}` : ''}`);
  }

  /**
   * Injects a fault: `POST /_sim/api/faults` with `spec` (`{endpoint, vndrNo?, count?, kind, ...}`).
   * Resolves the fault with its `id` and `remaining`.
   * @param {object} spec
   * @returns {Promise<object>}
   */
  fault(spec) {
    return this.request('POST', '/_sim/api/faults', spec);
  }

  /**
   * The sandbox's members: `GET /_sim/api/members`.
   * @returns {Promise<object[]>}
   */
  members() {
    return this.request('GET', '/_sim/api/members');
  }

  /**
   * Creates or replaces a whole member: `PUT /_sim/api/members/{custId}`.
   * @param {{custId: string, [field: string]: any}} record
   * @returns {Promise<object>} the record as stored
   */
  putMember(record) {
    if (!record?.custId) throw new TypeError('putMember: the record needs a custId');
    return this.request('PUT', `/_sim/api/members/${encodeURIComponent(record.custId)}`, record);
  }

  /**
   * Creates or replaces a whole vendor: `PUT /_sim/api/vendors/{vndrNo}`.
   * @param {{vndrNo: string, [field: string]: any}} record
   * @returns {Promise<object>} the record as stored
   */
  putVendor(record) {
    if (!record?.vndrNo) throw new TypeError('putVendor: the record needs a vndrNo');
    return this.request('PUT', `/_sim/api/vendors/${encodeURIComponent(record.vndrNo)}`, record);
  }

  /**
   * Runs the conformance kit against a vendor's GATE (in a copy of this sandbox):
   * `POST /_sim/api/conform {vndrNo, ...opts}` (`custId`, `timeoutSeconds`, `skip`, `decoyPort`).
   * Resolves the JSON report (`passed`, `failed`, `skipped`, `cases`). Waits up to 300 s.
   * @param {{vendor: string, [opt: string]: any}} args
   * @returns {Promise<object>}
   */
  conform({ vendor, ...opts }) {
    return control(this.sim.httpUrl, this.sim.controlToken, this.id, 'POST', '/_sim/api/conform',
      { vndrNo: vendor, ...opts }, { timeoutMs: CONFORM_TIMEOUT_MS });
  }

  /**
   * Removes the sandbox with everything in it: `DELETE /_sim/api/sandboxes/{id}`. Calling it
   * again, or after the sandbox expired, does nothing.
   * @returns {Promise<void>}
   */
  async close() {
    if (this._closed) return;
    this._closed = true;
    try {
      await control(this.sim.httpUrl, this.sim.controlToken, null, 'DELETE', `/_sim/api/sandboxes/${encodeURIComponent(this.id)}`);
    } catch (e) {
      if (!(e instanceof SimError && e.status === 404)) { this._closed = false; throw e; }
    }
  }
}

/**
 * Starts a simulator of this test run's own: `<bin> --data-dir <new temp folder> --https-addr
 * 127.0.0.1:0 --http-addr 127.0.0.1:0 --ready-file <folder>/ready.json --log warn
 * --stop-when-stdin-closes ...args` (a default given in `args` is left out), its output in
 * `<folder>/simulator.log`. The binary is `bin`, else BENECAFE_SIM_BIN, else `benecafe-sim` on
 * PATH. Waits up to 60 s for the ready file; if the process ends first (or never gets ready) it
 * rejects with an Error carrying the command line (the control token masked) and the last lines
 * of its output. Its standard input is a pipe this process holds and never writes: when this
 * process ends, however it ends, the simulator stops by itself. `sim.stop()` (and this process's
 * exit) closes it, sends SIGTERM, and SIGKILL after 10 s. A forgotten `stop()` does not keep the
 * test process running.
 * @param {{args?: string[], bin?: string}} [options]
 * @returns {Promise<Simulator>}
 */
export async function startSimulator({ args = [], bin } = {}) {
  const exe = bin || process.env.BENECAFE_SIM_BIN || 'benecafe-sim';
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'benecafe-sim-'));
  const given = args.map(String);
  const readyFile = flagValue(given, '--ready-file') ?? path.join(dir, 'ready.json');
  const logPath = path.join(dir, 'simulator.log');
  // The simulator takes each flag once: a default the caller gives is left out.
  const defaults = [['--data-dir', dir], ['--https-addr', '127.0.0.1:0'], ['--http-addr', '127.0.0.1:0'],
    ['--ready-file', readyFile], ['--log', 'warn']];
  const argv = defaults.filter(([flag]) => flagValue(given, flag) === null).flat();
  // It stops when its standard input, a pipe only this process holds, closes.
  if (!given.some((a) => a === STOP_FLAG || a.startsWith(`${STOP_FLAG}=`))) argv.push(STOP_FLAG);
  argv.push(...given);
  const command = shown([exe, ...argv]);
  await fsp.rm(readyFile, { force: true }); // a stale file must not pass for this process's
  const out = fs.openSync(logPath, 'w');
  let child;
  try {
    child = spawn(exe, argv, { stdio: ['pipe', out, out], env: childEnv() });
  } finally {
    fs.closeSync(out);
  }
  // Never written; an error on it (the simulator gone) is no one's business.
  child.stdin?.on('error', () => {});
  let ended = null; // why the process is gone, once it is
  child.on('error', (e) => { ended ??= `could not run ${exe}: ${e.code || e.message} (set BENECAFE_SIM_BIN or put benecafe-sim on PATH)`; });
  child.on('exit', (code, signal) => { ended ??= `${exe} exited (${signal ? `signal ${signal}` : `code ${code}`}) before it was ready`; });
  const cleanup = async () => {
    child.stdin?.destroy();
    if (child.exitCode === null && child.signalCode === null && child.pid) { try { child.kill('SIGKILL'); } catch { /* gone */ } }
    await fsp.rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let ready = null;
  while (!ready) {
    try { ready = JSON.parse(await fsp.readFile(readyFile, 'utf8')); } catch { /* not yet */ }
    if (ready) break;
    if (ended) {
      await sleep(POLL_MS); // the last output may still be on its way to the file
      const output = tail(logPath);
      const msg = output === '(no output)'
        ? `${ended} (${command}); it wrote nothing`
        : `${ended} (${command}). Its last output:\n${output}`;
      await cleanup();
      throw new Error(msg);
    }
    if (Date.now() > deadline) {
      const msg = `${exe} was not ready within ${READY_TIMEOUT_MS / 1000} s (${command}; no ${readyFile}). Its last output:\n${tail(logPath)}`;
      await cleanup();
      throw new Error(msg);
    }
    await sleep(POLL_MS);
  }
  // A test run that forgets stop() still ends: neither the process nor its stdin pipe keeps this
  // one running (the pipe stays open, held by the Simulator, until stop() or exit).
  child.unref();
  child.stdin?.unref?.();
  const caPath = ready.caPath || path.join(dir, 'ca.pem');
  return new Simulator({
    cusUrl: ready.cusUrl, httpUrl: ready.httpUrl, caPath, ca: await fsp.readFile(caPath, 'utf8'),
    controlToken: tokenFromArgs(args), child, dataDir: dir, logPath,
  });
}

/**
 * Uses a running simulator at `url` (its plain-HTTP URL, e.g. `http://127.0.0.1:8080`): `httpUrl`
 * is that URL (the one known to reach it; behind a proxy or in a container the simulator's own
 * may not). Learns `cusUrl` from `GET /_sim/version` and the CA from `GET /_sim/ca.pem` (saved to
 * a temp file for `caPath`, removed at exit). Control calls go to `url`, with
 * `Authorization: Bearer <controlToken>` (default SIM_CONTROL_TOKEN) when there is a token.
 * `stop()` of a connected simulator does nothing.
 * @param {string} url
 * @param {{controlToken?: string}} [options]
 * @returns {Promise<Simulator>}
 */
export async function connect(url, { controlToken } = {}) {
  const base = trimSlash(url);
  const token = controlToken ?? (process.env.SIM_CONTROL_TOKEN || null);
  const version = JSON.parse((await send(base, token, null, 'GET', '/_sim/version')).text);
  const { text: ca } = await send(base, token, null, 'GET', '/_sim/ca.pem', undefined, { accept: '*/*' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'benecafe-sim-ca-'));
  const caPath = path.join(dir, 'ca.pem');
  fs.writeFileSync(caPath, ca);
  process.on('exit', () => { try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ } });
  return new Simulator({ cusUrl: version.cusUrl, httpUrl: base, caPath, ca, controlToken: token });
}

/**
 * The simulator the environment asks for: BENECAFE_SIM_URL set, `connect` to it (with
 * `opts.controlToken`, else SIM_CONTROL_TOKEN); else `startSimulator(opts)`.
 * @param {{args?: string[], bin?: string, controlToken?: string}} [opts]
 * @returns {Promise<Simulator>}
 */
export function fromEnvironment(opts = {}) {
  const url = process.env.BENECAFE_SIM_URL;
  if (url) return connect(url, { controlToken: opts.controlToken });
  return startSimulator(opts);
}
