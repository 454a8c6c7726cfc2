import { checkSamples, verificationFailedMessage } from '../../lib/common/sample-check';
import { resolveVerification, responseMismatch } from '../../lib/spec/verification';

const verification = resolveVerification({
  samples: [
    { name: 'ones', request: { instances: [[1, 1, 1]] }, expectedResponse: { predictions: [[9.5, 11.5]] } },
    { name: 'unit', request: { instances: [[1, 0, 0]] }, expectedResponse: { predictions: [[1.5, 1.5]] }, absoluteTolerance: 0.01 },
  ],
  latencyBudgetMs: 200,
});

describe('checkSamples', () => {
  test('all right: no failures, and each request is sent as its compact JSON', async () => {
    const sent: string[] = [];
    const failures = await checkSamples(verification.samples, 200, async s => {
      sent.push(s.requestJson);
      return { status: 200, body: JSON.stringify({ predictions: s.name === 'ones' ? [[9.5, 11.5]] : [[1.505, 1.5]], modelVersion: 'x' }) };
    });
    expect(failures).toEqual([]);
    expect(sent).toEqual(['{"instances":[[1,1,1]]}', '{"instances":[[1,0,0]]}']);
  });

  test('each kind of failure is one line naming the sample, what was expected and what came', async () => {
    const answers: Record<string, () => Promise<{ status: number; body: string }>> = {
      ones: async () => ({ status: 200, body: '{"predictions":[[19,25]]}' }),
      unit: async () => ({ status: 503, body: 'no healthy upstream\n' }),
    };
    expect(await checkSamples(verification.samples, 200, s => answers[s.name]())).toEqual([
      'sample "ones": wrong answer at $.predictions[0][0]: expected 9.5, got 19; expected {"predictions":[[9.5,11.5]]}, got {"predictions":[[19,25]]}',
      'sample "unit": HTTP 503: no healthy upstream',
    ]);
    expect(await checkSamples(verification.samples.slice(0, 1), 200, async () => ({ status: 200, body: '<html>' })))
      .toEqual(['sample "ones": the response is not JSON: <html>']);
    expect(await checkSamples(verification.samples.slice(0, 1), 200, async () => { throw new Error('connect ECONNREFUSED 127.0.0.1:1'); }))
      .toEqual(['sample "ones": the request failed: connect ECONNREFUSED 127.0.0.1:1']);
  });

  test('a right answer slower than the budget fails; the budget is checked per sample', async () => {
    const failures = await checkSamples(verification.samples.slice(0, 1), 50, async () => {
      await new Promise(r => setTimeout(r, 120));
      return { status: 200, body: '{"predictions":[[9.5,11.5]]}' };
    });
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/^sample "ones": answered in \d+ ms, over the latency budget of 50 ms$/);
  });

  test('embedded by source text, as the SageMaker function does, it behaves the same', async () => {
    const embedded = new Function(`return (${checkSamples.toString()})`)() as typeof checkSamples;
    const mismatch = new Function(`return (${responseMismatch.toString()})`)() as typeof responseMismatch;
    const failures = await embedded(verification.samples, 200, async () => ({ status: 200, body: '{"predictions":[[9.5,0]]}' }), mismatch);
    expect(failures).toEqual(['sample "ones": wrong answer at $.predictions[0][1]: expected 11.5, got 0; expected {"predictions":[[9.5,11.5]]}, got {"predictions":[[9.5,0]]}',
      'sample "unit": wrong answer at $.predictions[0][0]: expected 1.5 ± 0.01, got 9.5; expected {"predictions":[[1.5,1.5]]}, got {"predictions":[[9.5,0]]}']);
  });

  test('the closing message counts and lists the failures', () => {
    expect(verificationFailedMessage('deployment "d" version v1', ['sample "a": x'], 'the previous version keeps serving'))
      .toBe('verification of deployment "d" version v1 failed (1 sample); the previous version keeps serving:\n  sample "a": x');
  });
});
