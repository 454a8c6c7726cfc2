/**
 * The host's answer checker (modeldeploy.sh's awk: a JSON reader, responseMismatch's matching
 * rules and checkSamples' failure lines) against the TypeScript definitions it must equal: random
 * expected responses and answers (near-miss numbers, exponents, unicode and escaped strings,
 * nested arrays and objects, extra keys, repeated keys, broken JSON, error statuses, slow answers)
 * go through both, and every failure line (or its absence) must be the same text. The script side
 * runs them all in one awk process through its hidden check-answers subcommand, with every awk
 * found on this machine (mawk is Debian's default; gawk and busybox where installed).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import fc from 'fast-check';
import { checkSamples } from '../../lib/common/sample-check';

const HOST_SCRIPT = path.resolve(__dirname, '../../lib/targets/on-prem/host/modeldeploy.sh');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'host-verify-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The awks to prove: every one on this machine, each behind its own `awk` on PATH. */
const AWKS = ['mawk', 'gawk', 'original-awk', 'busybox'].flatMap(name => {
  const found = spawnSync('bash', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (!found) return [];
  const dir = path.join(tmp, `bin-${name}`);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'awk'), name === 'busybox' ? `#!/bin/sh\nexec ${found} awk "$@"\n` : `#!/bin/sh\nexec ${found} "$@"\n`, { mode: 0o755 });
  return [{ name, dir }];
});

interface Answer {
  readonly status: number;
  readonly ms: number;
  readonly budget: number;
  readonly abs: number;
  readonly rel: number;
  /** Any JSON value, as the spec holds it. */
  readonly expected: unknown;
  /** The body, on one line (the batch format's limit; multi-line bodies go through deploy). */
  readonly body: string;
}

/** checkSamples' line for each answer ('PASS' when none) as written out in UTF-8, with the clock moved by the answer's time. */
async function typescriptLines(answers: readonly Answer[]): Promise<string[]> {
  jest.useFakeTimers({ now: 1_000_000 });
  try {
    const out: string[] = [];
    for (const a of answers) {
      const expectedJson = JSON.stringify(a.expected);
      const sample = { name: 's-1', requestJson: '{}', expectedResponse: JSON.parse(expectedJson), absoluteTolerance: a.abs, relativeTolerance: a.rel };
      const failures = await checkSamples([sample], a.budget, async () => {
        jest.setSystemTime(Date.now() + a.ms);
        return { status: a.status, body: a.body };
      });
      out.push(asBytes(failures[0] ?? 'PASS'));
    }
    return out;
  } finally {
    jest.useRealTimers();
  }
}

function hostLines(answers: readonly Answer[], awkDir: string): string[] {
  const file = path.join(tmp, 'answers');
  fs.writeFileSync(file, answers.map(a => [
    's-1', String(a.status), String(a.ms), String(a.budget), String(a.abs), String(a.rel), JSON.stringify(a.expected), a.body,
  ].join('\n') + '\n').join(''));
  const run = spawnSync('bash', [HOST_SCRIPT, 'check-answers', file], {
    encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { PATH: `${awkDir}:${process.env.PATH}`, MD_HOST: 'test' },
  });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  const lines = run.stdout.split('\n');
  expect(lines.pop()).toBe('');
  return lines;
}

// ---------------------------------------------------------------- generators

const specialStrings = fc.constantFrom('', 'a', 'é', '\u2028', '\u00a0x ', '\ud83d\ude00', '\ud800', '\udfff', 'x\ud800y', '"', '\\', '/', '\n\t\r\b\f',
  '\u0000\u001f\u007f', '${x}', 'ﬀ', '\ufeff', '0', '1', 'true', 'null', '\u0085');
const str = fc.oneof(
  { arbitrary: fc.string({ maxLength: 8 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 6 }), weight: 2 },
  { arbitrary: specialStrings, weight: 2 },
);
const num = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.double({ min: -1e-6, max: 1e-6, noNaN: true }),
  fc.constantFrom(0, -0, 1e-7, 1.5e-7, 9.5, 11.5, 19, 25, 1e21, 1e20, 123456789012345680000, 0.1 + 0.2, 5e-324, 1.7976931348623157e308, -2.5e-8, 1 / 3),
);
const key = fc.oneof(
  { arbitrary: fc.constantFrom('a', 'b', 'predictions', 'modelVersion', 'x_1', '_', '0', '1', '10', '2', '01', '4294967295', '4294967294', 'a b', 'é', '"', '\\', '', '\u2028', '__proto__'), weight: 3 },
  { arbitrary: fc.string({ maxLength: 4 }), weight: 1 },
);
const json = fc.letrec<{ value: unknown }>(tie => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    str, num, fc.boolean(), fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** A value near EXPECTED: equal, with extra keys, numbers moved near the tolerance edge, items added or dropped, types changed. */
function near(expected: unknown, abs: number, rel: number, r: () => number): unknown {
  const pick = r();
  if (typeof expected === 'number') {
    const allowed = Math.max(abs, rel * Math.abs(expected));
    const moves = [0, allowed, -allowed, allowed * 0.999, allowed * 1.001, allowed + Number.EPSILON, Math.abs(expected) * 1e-15, 1e-7];
    if (pick < 0.85) return expected + moves[Math.floor(r() * moves.length)];
    return pick < 0.92 ? String(expected) : null;
  }
  if (Array.isArray(expected)) {
    const items = expected.map(v => r() < 0.85 ? near(v, abs, rel, r) : v);
    if (pick < 0.06) items.push(0);
    if (pick > 0.94) items.pop();
    return pick > 0.9 && pick <= 0.94 ? Object.fromEntries(items.map((v, i) => [String(i), v])) : items;
  }
  if (expected !== null && typeof expected === 'object') {
    const out: Record<string, unknown> = {};
    const keys = Object.keys(expected);
    for (const k of keys) {
      if (r() < 0.05) continue;
      out[k] = r() < 0.85 ? near((expected as Record<string, unknown>)[k], abs, rel, r) : (expected as Record<string, unknown>)[k];
    }
    if (pick < 0.4) out[pick < 0.2 ? 'extra' : '7'] = { modelVersion: 'v1' };
    return pick > 0.95 ? keys.map(k => out[k]) : out;
  }
  if (typeof expected === 'string' && pick < 0.3) return expected + (pick < 0.15 ? 'x' : '');
  return pick < 0.9 ? expected : pick < 0.95 ? [expected] : 0;
}

/** JSON text for VALUE as other servers write it: escapes where JSON.stringify writes raw text, other number forms, white space, repeated keys. */
function rewrite(value: unknown, r: () => number): string {
  const ws = () => (r() < 0.7 ? '' : [' ', '\t', '\r', '  '][Math.floor(r() * 4)]);
  if (typeof value === 'number') {
    if (Object.is(value, -0)) return '-0';
    const t = JSON.stringify(value);
    const p = r();
    if (Number.isInteger(value) && Math.abs(value) < 1e15 && p < 0.2) return `${t}.0`;
    if (p < 0.35) return value.toExponential().replace('e+', r() < 0.5 ? 'E+' : 'e');
    if (p < 0.45 && t.includes('e')) return t.replace('e', 'E');
    return t;
  }
  if (typeof value === 'string') {
    let out = '"';
    for (const ch of value) {
      const units = [...Array(ch.length).keys()].map(i => ch.charCodeAt(i));
      const p = r();
      if (p < 0.25) out += units.map(u => `\\u${u.toString(16).padStart(4, '0')}`).map(e => (r() < 0.5 ? e.toUpperCase().replace('\\U', '\\u') : e)).join('');
      else if (ch === '/' && p < 0.6) out += '\\/';
      else out += JSON.stringify(ch).slice(1, -1);
    }
    return `${out}"`;
  }
  if (Array.isArray(value)) return `[${ws()}${value.map(v => rewrite(v, r)).join(`${ws()},${ws()}`)}${ws()}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    const parts = entries.map(([k, v]) => `${rewrite(k, r)}${ws()}:${ws()}${rewrite(v, r)}`);
    // A repeated key: JSON.parse keeps its first place and the last value.
    if (entries.length > 0 && r() < 0.15) parts.unshift(`${rewrite(entries[0][0], r)}:${rewrite(r() < 0.5 ? 'first' : { gone: [1] }, r)}`);
    return `{${ws()}${parts.join(`${ws()},${ws()}`)}${ws()}}`;
  }
  return JSON.stringify(value);
}

const BROKEN = ['', ' ', '{', '}', '[1,]', '{"a":1,}', '01', '1.', '.5', '-', '+1', '1e', '1e+', '--1', 'tru', 'nul', 'True', 'NaN', 'Infinity', '"\\x"', '"\\u12G4"',
  '"\\u123"', '"a', '"\t"', '"\u0001"', '[1 2]', '{"a" 1}', '{a:1}', "{'a':1}", '[1]x', '[1] [2]', '{"a":1}}', '\u00a0{}', '{}\u00a0', '\ufeff{}', '0x10', '1_000',
  '"\\uD800"', '"\\ud800\\u0041"', '[-0.0e-0]', '1E400', '-1e400', '1e-400', `${'['.repeat(200)}${']'.repeat(200)}`, '{"a":[1,2,{"b":null}]}', 'true', 'null', '"ok"'];

/** Broken JSON near a valid text: one character inserted, deleted or replaced. */
function breakText(text: string, r: () => number): string {
  const i = Math.floor(r() * (text.length + 1));
  const c = '{}[],:"\\ 0-9eE.+tfnu'.charAt(Math.floor(r() * 21));
  const p = r();
  return p < 0.4 ? text.slice(0, i) + c + text.slice(i) : p < 0.7 ? text.slice(0, i) + text.slice(i + 1) : text.slice(0, i) + c + text.slice(i + 1);
}

const answers = fc.tuple(json, fc.constantFrom(0, 0, 1e-9, 0.5, 2, 1e12), fc.constantFrom(0, 0, 1e-6, 0.01, 0.5, 1), fc.integer(), fc.nat(99)).map(([expected, abs, rel, seed, kind]) => {
  const rand = mulberry(seed);
  const actual = kind < 10 ? expected : kind < 75 ? near(expected, abs, rel, rand) : kind < 85 ? { wrapped: expected } : undefined;
  let body = actual === undefined ? rewrite(expected, rand) : kind < 50 ? JSON.stringify(actual) : rewrite(actual, rand);
  if (kind >= 85 && kind < 93) body = breakText(body, rand);
  const status = kind === 93 ? 500 : kind === 94 ? 199 : kind === 95 ? 204 : 200;
  const ms = kind >= 96 ? 1000 + (kind % 3) - 1 : Math.floor(rand() * 50);
  return { status, ms, budget: kind >= 96 ? 1000 : 5000, abs, rel, expected, body: asBytes(body.replace(/\n/g, ' ')) } as Answer;
});

/** The text a client reads from TEXT sent as UTF-8: a lone surrogate (from cutting a pair) becomes U+FFFD, as on the wire. */
function asBytes(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SCALE = Number(process.env.PROPERTY_SCALE ?? 1);

describe('the host checks answers exactly as checkSamples and responseMismatch do', () => {
  test('the awks to prove are here: mawk (Debian\'s and Ubuntu\'s default, the e2e hosts\' awk), and in CI gawk and busybox too (scripts/e2e/install-deps.sh)', () => {
    expect(AWKS.map(a => a.name)).toEqual(expect.arrayContaining(process.env.CI === 'true' ? ['mawk', 'gawk', 'busybox'] : ['mawk']));
  });

  test.each(AWKS.map(a => [a.name, a.dir]))(`%s: ${Math.round(4000 * SCALE)} random answers give the same failure line, or none`, async (_name, dir) => {
    const cases = fc.sample(answers, { numRuns: Math.round(4000 * SCALE), seed: 10 });
    const ts = await typescriptLines(cases);
    const host = hostLines(cases, dir);
    const differ = cases.map((c, i) => ({ ...c, ts: ts[i], host: host[i] })).filter(d => d.ts !== d.host);
    expect(differ.slice(0, 5)).toEqual([]);
    // Not vacuous: every outcome occurs, often.
    const count = (re: RegExp) => ts.filter(l => re.test(l)).length;
    expect(count(/^PASS$/)).toBeGreaterThan(cases.length / 10);
    expect(count(/: wrong answer at /)).toBeGreaterThan(cases.length / 6);
    expect(count(/expected \S+ ± /)).toBeGreaterThan(cases.length / 100);
    expect(count(/: the response is not JSON: /)).toBeGreaterThan(cases.length / 40);
    expect(count(/: HTTP \d+: /)).toBeGreaterThan(cases.length / 100);
    expect(count(/over the latency budget/)).toBeGreaterThan(0);
    expect(count(/: missing; /)).toBeGreaterThan(0);
    expect(count(/items, got /)).toBeGreaterThan(0);
  });

  test.each(AWKS.map(a => [a.name, a.dir]))('%s: broken and borderline JSON is refused exactly where JSON.parse refuses it', async (_name, dir) => {
    const cases: Answer[] = BROKEN.map(body => ({ status: 200, ms: 1, budget: 5000, abs: 0, rel: 0, expected: { a: [1, 2, { b: null }] }, body }));
    const ts = await typescriptLines(cases);
    expect(hostLines(cases, dir)).toEqual(ts);
    expect(ts.filter(l => l.includes('not JSON')).length).toBeGreaterThan(30);
  });

  test.each(AWKS.map(a => [a.name, a.dir]))('%s: long answers are shortened where checkSamples shortens them (UTF-16 units, not bytes)', async (_name, dir) => {
    const long = (ch: string) => ({ v: ch.repeat(400) });
    const cases: Answer[] = ['a', 'é', '\ud83d\ude00', '\u2028', ' ', 'ab '].flatMap(ch => [
      { status: 200, ms: 1, budget: 5000, abs: 0, rel: 0, expected: { v: 'x' }, body: JSON.stringify(long(ch)) },
      { status: 200, ms: 1, budget: 5000, abs: 0, rel: 0, expected: { v: 0 }, body: JSON.stringify(long(ch)) },
      { status: 503, ms: 1, budget: 5000, abs: 0, rel: 0, expected: long(ch), body: JSON.stringify(long(ch)) },
      { status: 200, ms: 1, budget: 5000, abs: 0, rel: 0, expected: long(ch), body: JSON.stringify({ v: 1 }) },
    ]);
    const ts = await typescriptLines(cases);
    expect(hostLines(cases, dir)).toEqual(ts);
  });
});
