// Runs the shared cases of clients/cases.json (the same table the Python and Java helpers run), one
// test per case, each in a sandbox of its own on one simulator for the file (fromEnvironment()).
// The check grammar is the table's "about", read exactly as clients/python/tests/test_cases.py
// reads it; the table's "grammar" entries (checks on fixed answers) run first, so the three
// interpreters read the table alike.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { fromEnvironment } from '../index.mjs';

const table = JSON.parse(fs.readFileSync(new URL('../../cases.json', import.meta.url), 'utf8'));
const KINDS = ['equals', 'matches', 'length', 'absent', 'includes', 'excludes'];

/** A check or a substitution the grammar does not allow: an error, not a check that fails. */
class GrammarError extends Error {
  constructor(message) { super(message); this.name = 'GrammarError'; }
}

// ---- paths: keys joined by '.', a number indexes a list, '*' takes the rest of the path of every
// item of a list and leaves out the items where it leads nowhere, '' is the whole answer ----
const MISSING = Symbol('missing');
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function resolve(value, p) {
  if (p === '') return value;
  const dot = p.indexOf('.');
  const head = dot < 0 ? p : p.slice(0, dot);
  const rest = dot < 0 ? '' : p.slice(dot + 1);
  if (head === '*') {
    if (!Array.isArray(value)) return MISSING;
    return value.map((item) => resolve(item, rest)).filter((f) => f !== MISSING);
  }
  if (Array.isArray(value) && /^[0-9]+$/.test(head)) {
    const index = Number(head);
    return index < value.length ? resolve(value[index], rest) : MISSING;
  }
  if (isObject(value) && Object.hasOwn(value, head)) return resolve(value[head], rest);
  return MISSING;
}

// ---- strict JSON equality: true is not 1; 1 equals 1.0; lists item by item, objects key by key ----
function same(a, b) {
  if (typeof a === 'boolean' || typeof b === 'boolean') return a === b;
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && same(a[k], b[k]));
  }
  return a === b; // strings, null; never a string against a number
}


// ---- ${name} / ${name.path}: a string that is exactly that is replaced by a saved answer's value ----
function substitute(value, saved) {
  if (typeof value === 'string') {
    const whole = /^\$\{([A-Za-z0-9_]+)(?:\.([^\n]*))?\}$/.exec(value);
    if (!whole) return value;
    const [, name, p = ''] = whole;
    if (!Object.hasOwn(saved, name)) throw new GrammarError(`${value}: nothing saved as ${name}`);
    const found = resolve(saved[name], p);
    if (found === MISSING) throw new GrammarError(`${value} names nothing`);
    return found;
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, saved));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, saved)]));
  return value;
}

/** Whether the check holds; a malformed check (no "at", not exactly one kind) throws a GrammarError. */
function holds(answer, rule) {
  const kinds = KINDS.filter((k) => Object.hasOwn(rule, k));
  if (!Object.hasOwn(rule, 'at') || kinds.length !== 1) {
    throw new GrammarError(`a check needs "at" and exactly one of ${KINDS.join(', ')}: ${JSON.stringify(rule)}`);
  }
  const [kind] = kinds;
  const want = rule[kind];
  const malformed = typeof rule.at !== 'string'
    || (kind === 'absent' && typeof want !== 'boolean')
    || (kind === 'length' && !Number.isInteger(want))
    || (kind === 'matches' && typeof want !== 'string');
  if (malformed) throw new GrammarError(`a check's at, absent, length or matches of the wrong type: ${JSON.stringify(rule)}`);
  const got = resolve(answer, rule.at);
  if (kind === 'absent') return (got === MISSING) === want;
  if (got === MISSING) return false;
  switch (kind) {
    case 'equals': return same(got, want);
    case 'matches':
      if (typeof got !== 'string') return false;
      return new RegExp(want).test(got);
    case 'length': {
      let n;
      if (Array.isArray(got)) n = got.length;
      else if (typeof got === 'string') n = [...got].length; // characters (code points)
      else if (isObject(got)) n = Object.keys(got).length;
      else return false;
      return n === want;
    }
    default: { // includes, excludes
      if (!Array.isArray(got)) return false;
      const found = got.some((item) => same(item, want));
      return kind === 'includes' ? found : !found;
    }
  }
}

const show = (v) => (v === MISSING ? 'nothing' : JSON.stringify(v));

function check(answer, rule, saved, where) {
  const r = substitute(rule, saved);
  const ok = holds(answer, r);
  assert.ok(ok, `${where}: ${JSON.stringify(r)} does not hold: at ${JSON.stringify(r.at)} got ${show(resolve(answer, r.at))}`);
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

// ---- the grammar on fixed answers, first: no simulator needed ----
describe('the grammar reads as the table says', () => {
  for (const [b, block] of table.grammar.entries()) {
    for (const [i, item] of block.checks.entries()) {
      const expected = item.error ? 'an error' : `holds: ${item.holds}`;
      test(`grammar ${b}.${i}: ${JSON.stringify(item.rule)} is ${expected}`, () => {
        if (item.error) {
          assert.throws(() => holds(block.answer, item.rule), GrammarError);
        } else {
          assert.equal(holds(block.answer, item.rule), item.holds, JSON.stringify(item));
        }
      });
    }
  }

  test('a saved name or path that leads nowhere is an error', () => {
    const saved = { g2: { otpToken: 't' } };
    assert.equal(substitute('${g2.otpToken}', saved), 't');
    assert.deepEqual(substitute({ x: ['${g2}'] }, saved), { x: [{ otpToken: 't' }] });
    assert.equal(substitute('a ${g2.otpToken}', saved), 'a ${g2.otpToken}');
    assert.equal(substitute('${g-2.otpToken}', saved), '${g-2.otpToken}', 'a name is letters, digits, _');
    for (const wrong of ['${g3.otpToken}', '${g2.nothing}']) {
      assert.throws(() => substitute(wrong, saved), GrammarError, wrong);
    }
  });

  test('a check that does not hold fails, one that is malformed is an error', () => {
    assert.throws(() => check({ a: 1 }, { at: 'a', equals: 2 }, {}, 'x'), assert.AssertionError);
    assert.throws(() => check({ a: 1 }, { at: 'a' }, {}, 'x'), GrammarError);
    assert.throws(() => check({ a: 1 }, { at: 'a', equals: '${nobody}' }, {}, 'x'), GrammarError);
  });
});

// ---- the shared cases, on one simulator ----
describe('the shared cases', () => {
  let sim;
  before(async () => { sim = await fromEnvironment(); });
  after(async () => { await sim?.stop(); });

  for (const c of table.cases) {
    test(`${c.id}: ${c.title}`, async () => {
      const main = await sim.sandbox();
      let other = null;
      try {
        const saved = { sim: { cusUrl: sim.cusUrl, httpUrl: sim.httpUrl } };
        for (const [i, step] of c.steps.entries()) {
          const where = `${c.id} step ${i + 1} (${step.op}${step.in ? ` in ${step.in}` : ''})`;
          const place = Object.hasOwn(step, 'in') ? step.in : 'main';
          let sb;
          if (place === 'main') sb = main;
          else if (place === 'other') sb = other ??= await sim.sandbox();
          else throw new GrammarError(`${where}: no sandbox ${JSON.stringify(place)} (only "main" and "other")`);
          const answer = await run(sb, step.op, substitute(Object.hasOwn(step, 'args') ? step.args : {}, saved));
          if (Object.hasOwn(step, 'save')) saved[step.save] = answer;
          for (const rule of Object.hasOwn(step, 'expect') ? step.expect : []) check(answer, rule, saved, where);
        }
      } finally {
        await main.close();
        await other?.close();
      }
    });
  }
});
