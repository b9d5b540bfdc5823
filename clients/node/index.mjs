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

// A control API call: JSON in and out, the sandbox header and the bearer token when given.
async function control(base, token, sandboxId, method, apiPath, body) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (sandboxId) headers['x-sim-sandbox'] = sandboxId;
  const init = { method, headers };
  if (body !== undefined && body !== null) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(base + apiPath, init);
  } catch (e) {
    throw new Error(`${method} ${base}${apiPath}: ${e.cause?.code || e.cause?.message || e.message}`, { cause: e });
  }
  const text = await res.text();
  if (!res.ok) {
    let error = null;
    try { error = JSON.parse(text)?.error ?? null; } catch { /* not JSON */ }
    throw new SimError(`${method} ${apiPath} answered ${res.status}: ${error ?? text.slice(0, 200)}`,
      { status: res.status, error, body: text });
  }
  if (res.status === 204 || text === '') return null;
  if (!/json/i.test(res.headers.get('content-type') || '')) return text; // ?format=html, junit
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

// This process's environment without the simulator's own SIM_* settings: a started simulator is
// what its flags say, whatever the shell that runs the tests has set for another one.
function childEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SIM_')));
}

/**
 * A simulator, started by `startSimulator` or reached by `connect`. Not made directly.
 */
export class Simulator {
  /** @param {object} o @internal */
  constructor({ cusUrl, httpUrl, caPath, ca, controlToken, base, child = null, dataDir = null, logPath = null }) {
    /** @type {string} the mall's CUS_URL (HTTPS): where a partner makes its cert call */
    this.cusUrl = trimSlash(cusUrl);
    /** @type {string} the plain-HTTP URL of the pages and the control API */
    this.httpUrl = trimSlash(httpUrl);
    /** @type {string} a PEM file of the CA to trust for `cusUrl` (give it to the partner, e.g. SIM_CA) */
    this.caPath = caPath;
    /** @type {string} the same CA as PEM text, for `https`' `ca` option */
    this.ca = ca;
    /** @type {string|null} the bearer token sent on control API calls, null when none */
    this.controlToken = controlToken || null;
    /** @type {string|null} the simulator's output (a started one; removed with its folder at stop) */
    this.logPath = logPath;
    this._base = trimSlash(base || httpUrl);
    this._child = child;
    this._dataDir = dataDir;
    this._stopped = null;
    this._onExit = null;
    if (child) {
      // At exit (a test run that never called stop, or an error) the process must not outlive us.
      this._onExit = () => {
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
    const made = await control(this._base, this.controlToken, null, 'POST', '/_sim/api/sandboxes', { ttlSeconds: 600, ...opts });
    return new Sandbox(this, made);
  }

  /**
   * Stops a started simulator: SIGTERM, SIGKILL after 10 s, then removes its data folder. For a
   * connected one it does nothing. Calling it again does nothing.
   * @returns {Promise<void>}
   */
  stop() {
    if (!this._child) return Promise.resolve();
    if (!this._stopped) {
      const child = this._child;
      this._stopped = (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.ref();
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          let timer;
          const late = new Promise((resolve) => { timer = setTimeout(() => resolve('late'), STOP_GRACE_MS); });
          if (await Promise.race([exited, late]) === 'late') {
            child.kill('SIGKILL');
            await exited;
          }
          clearTimeout(timer);
        }
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
   * Any control API call in this sandbox. `path` is the full path (`/_sim/api/tokens/…`); a path
   * not under `/_sim/` is taken as under `/_sim/api` (`/faults`). Resolves the parsed JSON, null
   * for 204, the text for an answer that is not JSON; a non-2xx answer rejects with a SimError.
   * @param {string} method
   * @param {string} apiPath
   * @param {any} [body] sent as JSON when given
   * @returns {Promise<any>}
   */
  request(method, apiPath, body) {
    const p = apiPath.startsWith('/_sim/') ? apiPath : `/_sim/api${apiPath.startsWith('/') ? '' : '/'}${apiPath}`;
    return control(this.sim._base, this.sim.controlToken, this.id, method.toUpperCase(), p, body);
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
   * HTTPS, the certificate verified against the simulator's CA, no redirects followed. Resolves
   * the JSON body (the mall answers HTTP 200 with the outcome in `resultCode`); a body that is
   * not JSON rejects with an Error naming the HTTP status.
   * @param {string} token
   * @returns {Promise<object>}
   */
  cert(token) {
    const url = `${this.sim.cusUrl}/sso/vendorUserCertTonken?otpTokenp=${encodeURIComponent(token)}`;
    return new Promise((resolve, reject) => {
      const req = https.get(url, { ca: this.sim.ca, rejectUnauthorized: true, agent: false, autoSelectFamily: true }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', (e) => reject(new Error(`cert call: ${e.code || e.message}`, { cause: e })));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try { resolve(JSON.parse(text)); } catch {
            reject(new Error(`cert call: HTTP ${res.statusCode}, the body is not JSON: ${text.slice(0, 200)}`));
          }
        });
      });
      req.on('error', (e) => reject(new Error(`cert call to ${this.sim.cusUrl}: ${e.code || e.message}`, { cause: e })));
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
   * Resolves the JSON report (`passed`, `failed`, `skipped`, `cases`).
   * @param {{vendor: string, [opt: string]: any}} args
   * @returns {Promise<object>}
   */
  conform({ vendor, ...opts }) {
    return this.request('POST', '/_sim/api/conform', { vndrNo: vendor, ...opts });
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
      await control(this.sim._base, this.sim.controlToken, null, 'DELETE', `/_sim/api/sandboxes/${encodeURIComponent(this.id)}`);
    } catch (e) {
      if (!(e instanceof SimError && e.status === 404)) { this._closed = false; throw e; }
    }
  }
}

/**
 * Starts a simulator of this test run's own: `<bin> --data-dir <new temp folder> --https-addr
 * 127.0.0.1:0 --http-addr 127.0.0.1:0 --ready-file <folder>/ready.json --log warn ...args`, its
 * output in `<folder>/simulator.log`. The binary is `bin`, else BENECAFE_SIM_BIN, else
 * `benecafe-sim` on PATH. Waits up to 60 s for the ready file; if the process ends first (or never
 * gets ready) it rejects with an Error carrying the last lines of its output. The process is
 * stopped by `sim.stop()` (SIGTERM, SIGKILL after 10 s) and at this process's exit.
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
  const argv = [...defaults.filter(([flag]) => flagValue(given, flag) === null).flat(), ...given];
  await fsp.rm(readyFile, { force: true }); // a stale file must not pass for this process's
  const out = fs.openSync(logPath, 'w');
  let child;
  try {
    child = spawn(exe, argv, { stdio: ['ignore', out, out], env: childEnv() });
  } finally {
    fs.closeSync(out);
  }
  let ended = null; // why the process is gone, once it is
  child.on('error', (e) => { ended ??= `could not run ${exe}: ${e.code || e.message} (set BENECAFE_SIM_BIN or put benecafe-sim on PATH)`; });
  child.on('exit', (code, signal) => { ended ??= `${exe} exited (${signal ? `signal ${signal}` : `code ${code}`}) before it was ready`; });
  const cleanup = async () => {
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
      const msg = output === '(no output)' ? `${ended}; it wrote nothing` : `${ended}. Its last output:\n${output}`;
      await cleanup();
      throw new Error(msg);
    }
    if (Date.now() > deadline) {
      const msg = `${exe} was not ready within ${READY_TIMEOUT_MS / 1000} s (no ${readyFile}). Its last output:\n${tail(logPath)}`;
      await cleanup();
      throw new Error(msg);
    }
    await sleep(POLL_MS);
  }
  child.unref(); // a test run that forgets stop() still ends; the exit hook kills the process
  const caPath = ready.caPath || path.join(dir, 'ca.pem');
  return new Simulator({
    cusUrl: ready.cusUrl, httpUrl: ready.httpUrl, caPath, ca: await fsp.readFile(caPath, 'utf8'),
    controlToken: tokenFromArgs(args), child, dataDir: dir, logPath,
  });
}

/**
 * Uses a running simulator at `url` (its plain-HTTP URL, e.g. `http://127.0.0.1:8080`). Learns
 * `cusUrl` and `httpUrl` from `GET /_sim/version` and the CA from `GET /_sim/ca.pem` (saved to a
 * temp file for `caPath`, removed at exit). Control calls go to `url`, with
 * `Authorization: Bearer <controlToken>` (default SIM_CONTROL_TOKEN) when there is a token.
 * `stop()` of a connected simulator does nothing.
 * @param {string} url
 * @param {{controlToken?: string}} [options]
 * @returns {Promise<Simulator>}
 */
export async function connect(url, { controlToken } = {}) {
  const base = trimSlash(url);
  const token = controlToken ?? (process.env.SIM_CONTROL_TOKEN || null);
  const get = async (p) => {
    let res;
    try {
      res = await fetch(base + p, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    } catch (e) {
      throw new Error(`GET ${base}${p}: ${e.cause?.code || e.cause?.message || e.message}`, { cause: e });
    }
    const text = await res.text();
    if (!res.ok) {
      let error = null;
      try { error = JSON.parse(text)?.error ?? null; } catch { /* not JSON */ }
      throw new SimError(`GET ${p} answered ${res.status}: ${error ?? text.slice(0, 200)}`, { status: res.status, error, body: text });
    }
    return text;
  };
  const version = JSON.parse(await get('/_sim/version'));
  const ca = await get('/_sim/ca.pem');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'benecafe-sim-ca-'));
  const caPath = path.join(dir, 'ca.pem');
  fs.writeFileSync(caPath, ca);
  process.on('exit', () => { try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ } });
  return new Simulator({ cusUrl: version.cusUrl, httpUrl: version.httpUrl || base, caPath, ca, controlToken: token, base });
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
