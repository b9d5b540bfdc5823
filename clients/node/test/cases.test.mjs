// Runs the shared cases of clients/cases.json (the same table the Python and Java helpers run), one
// test per case, each in a sandbox of its own on one simulator for the file (fromEnvironment()).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { fromEnvironment } from '../index.mjs';

const table = JSON.parse(fs.readFileSync(new URL('../../cases.json', import.meta.url), 'utf8'));

let sim;
before(async () => { sim = await fromEnvironment(); });
after(async () => { await sim?.stop(); });

// ---- the path grammar: keys joined by '.', a number indexes a list, '*' takes the rest of the path
// of every item (items where it leads nowhere are left out), '' the whole answer ----
const NOWHERE = Symbol('nowhere');
function at(value, p) {
  return walk(value, p === '' ? [] : p.split('.'));
}
function walk(v, segs) {
  if (segs.length === 0) return v;
  const [seg, ...rest] = segs;
  if (seg === '*') {
    if (!Array.isArray(v)) return NOWHERE;
    return v.map((item) => walk(item, rest)).filter((x) => x !== NOWHERE);
  }
  if (Array.isArray(v)) {
    if (!/^\d+$/.test(seg) || Number(seg) >= v.length) return NOWHERE;
    return walk(v[Number(seg)], rest);
  }
  if (v !== null && typeof v === 'object' && Object.hasOwn(v, seg)) return walk(v[seg], rest);
  return NOWHERE;
}

// ---- ${name.path}: a string that is exactly that is replaced by the value of a saved answer ----
function substitute(x, saved) {
  if (typeof x === 'string') {
    const m = /^\$\{([^.}]+)(?:\.([^}]*))?\}$/.exec(x);
    if (!m) return x;
    const [, name, p = ''] = m;
    if (!Object.hasOwn(saved, name)) throw new Error(`${x}: nothing saved as ${name}`);
    const value = at(saved[name], p);
    if (value === NOWHERE) throw new Error(`${x}: the path ${p} leads nowhere in ${name}`);
    return value;
  }
  if (Array.isArray(x)) return x.map((e) => substitute(e, saved));
  if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, substitute(v, saved)]));
  return x;
}

const show = (v) => (v === NOWHERE ? '(nowhere)' : JSON.stringify(v));

function check(answer, c, saved, where) {
  const kinds = ['equals', 'matches', 'length', 'absent', 'includes', 'excludes'].filter((k) => Object.hasOwn(c, k));
  assert.equal(kinds.length, 1, `${where}: a check needs exactly one of equals/matches/length/absent/includes/excludes: ${JSON.stringify(c)}`);
  assert.equal(typeof c.at, 'string', `${where}: a check needs "at": ${JSON.stringify(c)}`);
  const [kind] = kinds;
  const expected = substitute(c[kind], saved);
  const got = at(answer, c.at);
  const say = `${where}: at "${c.at}" ${kind} ${JSON.stringify(expected)}; got ${show(got)}`;
  switch (kind) {
    case 'equals':
      assert.ok(got !== NOWHERE && isDeepStrictEqual(got, expected), say);
      break;
    case 'matches':
      assert.ok(typeof got === 'string' && new RegExp(expected).test(got), say);
      break;
    case 'length': {
      let n = null;
      if (Array.isArray(got)) n = got.length;
      else if (typeof got === 'string') n = [...got].length; // characters (code points)
      else if (got !== null && typeof got === 'object') n = Object.keys(got).length;
      assert.ok(n === expected, `${say} (length ${n})`);
      break;
    }
    case 'absent':
      assert.ok((got === NOWHERE) === expected, say);
      break;
    case 'includes':
      assert.ok(Array.isArray(got) && got.some((e) => isDeepStrictEqual(e, expected)), say);
      break;
    case 'excludes':
      assert.ok(Array.isArray(got) && !got.some((e) => isDeepStrictEqual(e, expected)), say);
      break;
    default:
      assert.fail(`${where}: unknown check ${kind}`);
  }
}

// One step of a case: the op on the sandbox, with the args after substitution.
function run(sb, op, args) {
  switch (op) {
    case 'gate': return sb.gate({ member: args.member, vendor: args.vendor, consent: args.consent ?? 'agree', ...(args.opts || {}) });
    case 'cert': return sb.cert(args.token);
    case 'journal': return sb.journal(args.filters || {});
    case 'fault': return sb.fault(args.spec);
    case 'members': return sb.members();
    case 'put_member': return sb.putMember(args.record);
    default: throw new Error(`unknown op ${op}`);
  }
}

for (const c of table.cases) {
  test(`${c.id}: ${c.title}`, async () => {
    const sandboxes = { main: await sim.sandbox() };
    try {
      const saved = { sim: { cusUrl: sim.cusUrl, httpUrl: sim.httpUrl } };
      for (const [i, step] of c.steps.entries()) {
        const where = `${c.id} step ${i + 1} (${step.op}${step.in ? ` in ${step.in}` : ''})`;
        const name = step.in || 'main';
        sandboxes[name] ??= await sim.sandbox();
        const answer = await run(sandboxes[name], step.op, substitute(step.args || {}, saved));
        if (step.save) saved[step.save] = answer;
        for (const x of step.expect || []) check(answer, x, saved, where);
      }
    } finally {
      for (const sb of Object.values(sandboxes)) await sb.close();
    }
  });
}
