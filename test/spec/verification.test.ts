import * as fc from 'fast-check';
import { ModelArtifact } from '../../lib/spec/artifact';
import { ServingContainer } from '../../lib/spec/serving';
import { resolveSpec } from '../../lib/spec/spec';
import { PredictionSample, VERIFICATION_LIMITS, VerificationProps, resolveVerification, responseMismatch } from '../../lib/spec/verification';
import { expectRefusal } from '../support/refusal';

const SAMPLE: PredictionSample = { request: { instances: [[1, 1, 1]] }, expectedResponse: { predictions: [[9.5, 11.5]] } };

function verify(props: Partial<VerificationProps> & { samples?: PredictionSample[] }) {
  return resolveVerification({ samples: [SAMPLE], ...props } as VerificationProps);
}

describe('verification: resolving', () => {
  test('fills the defaults: names by position, exact numbers, a 5 s budget; the request is compact JSON', () => {
    const v = verify({ samples: [SAMPLE, { ...SAMPLE, name: 'two', absoluteTolerance: 0.01 }] });
    expect(v.latencyBudgetMs).toBe(5000);
    expect(v.samples.map(s => s.name)).toEqual(['sample-1', 'two']);
    expect(v.samples[0]).toEqual({
      name: 'sample-1',
      requestJson: '{"instances":[[1,1,1]]}',
      expectedResponse: { predictions: [[9.5, 11.5]] },
      expectedJson: '{"predictions":[[9.5,11.5]]}',
      absoluteTolerance: 0,
      relativeTolerance: 0,
    });
    expect(v.samples[1].absoluteTolerance).toBe(0.01);
  });

  test('the resolved spec carries it, and leaves it undefined when absent', () => {
    const base = { model: ModelArtifact.fromUri('s3://my-bucket/models/model.tar.gz'), serving: ServingContainer.sklearn() };
    expect(resolveSpec(base).verification).toBeUndefined();
    expect(resolveSpec({ ...base, verification: { samples: [SAMPLE], latencyBudgetMs: 250 } }).verification?.latencyBudgetMs).toBe(250);
  });

  test('the expected response is a deep copy: changing the user object later changes nothing', () => {
    const expected = { predictions: [[1]] };
    const v = verify({ samples: [{ request: [1], expectedResponse: expected }] });
    expected.predictions[0][0] = 2;
    expect(v.samples[0].expectedResponse).toEqual({ predictions: [[1]] });
  });

  test('the largest verification allowed resolves: 10 samples at the total byte limit', () => {
    const per = VERIFICATION_LIMITS.maxTotalJsonBytes / VERIFICATION_LIMITS.maxSamples;
    // {"x":"…"} is 8 bytes of framing; request and expected share each sample's bytes.
    const text = (n: number) => 'a'.repeat(n - 8);
    const samples = Array.from({ length: 10 }, (_, i) => ({ name: `s${i}`, request: { x: text(Math.floor(per / 2)) }, expectedResponse: { x: text(Math.floor(per / 2)) } }));
    const v = verify({ samples, latencyBudgetMs: VERIFICATION_LIMITS.maxLatencyBudgetMs });
    const total = v.samples.reduce((sum, s) => sum + s.requestJson.length + s.expectedJson.length, 0);
    expect(total).toBeLessThanOrEqual(VERIFICATION_LIMITS.maxTotalJsonBytes);
    expect(total).toBeGreaterThan(VERIFICATION_LIMITS.maxTotalJsonBytes - 20);
    expect(v.samples).toHaveLength(10);
  });
});

describe('verification: refusals name the field, the value and what is allowed', () => {
  test.each<[string, () => unknown, string, string]>([
    ['no samples', () => verify({ samples: [] }), 'verification.samples', '1 to 10 samples'],
    ['eleven samples', () => verify({ samples: Array.from({ length: 11 }, () => SAMPLE) }), 'verification.samples', '1 to 10 samples'],
    ['samples not an array', () => verify({ samples: 'x' as never }), 'verification.samples', 'an array'],
    ['a misspelt key', () => resolveVerification({ samples: [SAMPLE], latencyBudget: 1 } as never), 'verification.latencyBudget', 'latencyBudgetMs'],
    ['a misspelt sample key', () => verify({ samples: [{ ...SAMPLE, expected: 1 } as never] }), 'verification.samples[0].expected', 'expectedResponse'],
    ['a string request', () => verify({ samples: [{ request: 'x', expectedResponse: 1 }] }), 'verification.samples[0].request', 'a JSON object or array'],
    ['no expected response', () => verify({ samples: [{ request: {} } as never] }), 'verification.samples[0].expectedResponse', 'a JSON value'],
    ['NaN in a request', () => verify({ samples: [{ request: { x: [1, NaN] }, expectedResponse: 1 }] }), 'verification.samples[0].request.x[1]', 'finite number'],
    ['undefined in an array', () => verify({ samples: [{ request: [undefined], expectedResponse: 1 }] }), 'verification.samples[0].request[0]', 'a JSON value'],
    ['a function', () => verify({ samples: [{ request: { f: () => 1 }, expectedResponse: 1 }] }), 'verification.samples[0].request.f', 'a JSON value'],
    ['a Date', () => verify({ samples: [{ request: {}, expectedResponse: { at: new Date(0) } }] }), 'verification.samples[0].expectedResponse.at', 'a plain JSON object'],
    ['a duplicate name', () => verify({ samples: [{ ...SAMPLE, name: 'a' }, { ...SAMPLE, name: 'a' }] }), 'verification.samples[1].name', 'a name no other sample has'],
    ['a bad name', () => verify({ samples: [{ ...SAMPLE, name: 'has space' }] }), 'verification.samples[0].name', 'at most 64 characters'],
    ['a negative tolerance', () => verify({ samples: [{ ...SAMPLE, absoluteTolerance: -1 }] }), 'verification.samples[0].absoluteTolerance', 'a number from 0'],
    ['a relative tolerance over 1', () => verify({ samples: [{ ...SAMPLE, relativeTolerance: 2 }] }), 'verification.samples[0].relativeTolerance', 'a number from 0 to 1'],
    ['a zero budget', () => verify({ latencyBudgetMs: 0 }), 'verification.latencyBudgetMs', 'an integer from 1 to 600000'],
    ['a huge request', () => verify({ samples: [{ request: { x: 'a'.repeat(16 * 1024) }, expectedResponse: 1 }] }), 'verification.samples[0].request', 'at most 16384 bytes'],
    ['too many bytes in all', () => verify({ samples: [0, 1, 2].map(i => ({ name: `s${i}`, request: { x: 'a'.repeat(12000) }, expectedResponse: 1 })) }), 'verification.samples', 'at most 32768 bytes'],
  ])('%s', (_name, fn, field, allowed) => {
    expectRefusal(fn, field, { allowed });
  });

  test('nesting deeper than the limit is refused, at the limit it is accepted', () => {
    const nest = (n: number): unknown => (n === 0 ? 1 : [nest(n - 1)]);
    expect(() => verify({ samples: [{ request: nest(VERIFICATION_LIMITS.maxDepth) as object, expectedResponse: 1 }] })).not.toThrow();
    expectRefusal(() => verify({ samples: [{ request: nest(VERIFICATION_LIMITS.maxDepth + 1) as object, expectedResponse: 1 }] }), `verification.samples[0].request${'[0]'.repeat(VERIFICATION_LIMITS.maxDepth)}`, { allowed: 'at most 32 levels' });
  });

  test('a cyclic object is refused by the depth limit, not by a stack overflow', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expectRefusal(() => verify({ samples: [{ request: cyclic, expectedResponse: 1 }] }), `verification.samples[0].request${'.self'.repeat(VERIFICATION_LIMITS.maxDepth)}`, { allowed: 'at most 32 levels' });
  });
});

describe('responseMismatch: the one comparison every checker uses', () => {
  test('extra keys in the response are ignored; missing ones are named', () => {
    expect(responseMismatch({ predictions: [[9.5, 11.5]], modelVersion: 'v1' }, { predictions: [[9.5, 11.5]] }, 0, 0)).toBeUndefined();
    expect(responseMismatch({ modelVersion: 'v1' }, { predictions: [] }, 0, 0)).toBe('$.predictions: missing');
    expect(responseMismatch({ 'a-b': 1 }, { 'a-b': 2 }, 0, 0)).toBe('$["a-b"]: expected 2, got 1');
  });

  test('numbers: exact by default, then within the larger of the two tolerances', () => {
    expect(responseMismatch({ predictions: [[19, 25]] }, { predictions: [[9.5, 11.5]] }, 0, 0)).toBe('$.predictions[0][0]: expected 9.5, got 19');
    expect(responseMismatch([1.0005], [1], 0.001, 0)).toBeUndefined();
    expect(responseMismatch([1.002], [1], 0.001, 0)).toBe('$[0]: expected 1 ± 0.001, got 1.002');
    expect(responseMismatch([101], [100], 0, 0.01)).toBeUndefined();
    expect(responseMismatch([102], [100], 0.5, 0.01)).toBe('$[0]: expected 100 ± 1, got 102');
    expect(responseMismatch(['1'], [1], 1, 1)).toBe('$[0]: expected the number 1, got "1"');
  });

  test('arrays must have the same length; strings, booleans and null must be equal', () => {
    expect(responseMismatch([1, 2, 3], [1, 2], 0, 0)).toBe('$: expected 2 items, got 3');
    expect(responseMismatch({ a: [1] }, { a: 1 }, 0, 0)).toBe('$.a: expected the number 1, got [1]');
    expect(responseMismatch({ label: 'cat' }, { label: 'dog' }, 0, 0)).toBe('$.label: expected "dog", got "cat"');
    expect(responseMismatch({ ok: null }, { ok: false }, 0, 0)).toBe('$.ok: expected false, got null');
    expect(responseMismatch([], {}, 0, 0)).toBe('$: expected an object, got []');
    expect(responseMismatch(undefined, 'x', 0, 0)).toBe('$: expected "x", got nothing');
  });

  test('it is self-contained, so its source text can be embedded in a checker that runs elsewhere', () => {
    const copy = new Function(`return (${responseMismatch.toString()})`)() as typeof responseMismatch;
    expect(copy({ a: [1, 2] }, { a: [1, 3] }, 0, 0)).toBe('$.a[1]: expected 3, got 2');
  });

  test('property: every JSON value matches itself and a copy with extra keys, and a changed number is found', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), value => {
      const clean = JSON.parse(JSON.stringify(value)) as unknown;
      expect(responseMismatch(clean, clean, 0, 0)).toBeUndefined();
      if (clean !== null && typeof clean === 'object' && !Array.isArray(clean)) {
        expect(responseMismatch({ ...clean, extraKeyNotExpected: 1 }, clean, 0, 0)).toBeUndefined();
      }
      expect(responseMismatch({ v: 1 }, { v: 2 }, 0, 0)).toBeDefined();
    }), { numRuns: 300 });
  });
});
