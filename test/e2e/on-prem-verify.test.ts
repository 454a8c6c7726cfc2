/**
 * Verification on the on-prem target end to end (real SSH host, podman, nginx, terraform): the
 * host sends the spec's samples to every new replica on its slot port after the health wait and
 * before the proxy switch. v1 answers its samples and serves; v2 given v1's samples answers them
 * wrongly and is refused with checkSamples' lines while v1 keeps serving every request; v2 with its
 * own samples then deploys (the retry after a failed verification); a destroy right after another
 * failed verification removes everything.
 * One host, two replicas (the samples go to each), one deployment reused by every step.
 */
import * as fs from 'fs';
import { checkSamples } from '../../lib/common/sample-check';
import { VerificationProps } from '../../lib';
import { LinearModelFixture, MODEL_V1, MODEL_V2, predict } from './support/models';
import { Deploy, OnPremE2e, PROXY_PORT, SLOT_PORT_BASE, expectOk, outputOf } from './support/on-prem-app';
import { canConnect } from './support/hosts';

jest.setTimeout(600_000);

const REQUESTS = [[[1, 1, 1]], [[1, 0, 0], [0.5, -2, 3]]];
/** Samples the model answers correctly: its own predictions, within float32's rounding. */
function samplesOf(model: LinearModelFixture): VerificationProps {
  return {
    samples: REQUESTS.map((rows, i) => ({
      name: `${model.name}.${i + 1}`,
      request: { instances: rows },
      expectedResponse: { predictions: rows.map(x => predict(model, x)) },
      absoluteTolerance: 1e-4,
    })),
    latencyBudgetMs: 5000,
  };
}

let e: OnPremE2e;
const deploy = (model: LinearModelFixture, samples: LinearModelFixture): Deploy => ({ model, replicas: 2, verification: samplesOf(samples) });
const dir = () => `${e.deployRoot(e.hosts[0])}/linear`;
const active = () => fs.readFileSync(`${dir()}/active`, 'utf8').trim();

beforeAll(async () => {
  e = await OnPremE2e.start(deploy(MODEL_V1, MODEL_V1), { hosts: 1, stack: 'onprem-verify' });
});

afterAll(async () => {
  await e?.dispose();
});

/** Runs ACTION while a client keeps sending requests through the proxy; returns what failed and which model versions answered. */
async function underLoad<T>(action: () => Promise<T>): Promise<{ result: T; sent: number; failures: string[]; versions: Set<string> }> {
  let stop = false;
  let sent = 0;
  const failures: string[] = [];
  const versions = new Set<string>();
  const loop = (async () => {
    while (!stop) {
      const reply = await e.post(e.hosts[0], { instances: [[1, 1, 1]] });
      sent++;
      if (reply.status !== 200) failures.push(`${reply.status} ${reply.error ?? reply.body.slice(0, 100)}`);
      else versions.add(JSON.parse(reply.body).modelVersion);
      await new Promise(r => setTimeout(r, 20));
    }
  })();
  try {
    return { result: await action(), sent, failures, versions };
  } finally {
    stop = true;
    await loop;
  }
}

describe('on-prem verification over real SSH, podman, nginx and terraform', () => {
  let v1 = '';

  test('v1 with samples it answers correctly: each replica answers them before the switch, and it serves', async () => {
    const apply = await e.tf.apply();
    expectOk(apply);
    for (const r of [0, 1]) {
      expect(outputOf(apply)).toMatch(new RegExp(`replica ${r} \\(127\\.0\\.0\\.1:${SLOT_PORT_BASE + r}\\) answered 2 sample\\(s\\) correctly, the slowest in \\d+ ms \\(budget 5000 ms\\)`));
    }
    // Verification comes before the switch.
    expect(outputOf(apply).indexOf('answered 2 sample(s)')).toBeLessThan(outputOf(apply).indexOf('proxy started'));
    await e.expectServing(MODEL_V1);
    v1 = active();
    expect(fs.statSync(`${dir()}/versions/${v1}/samples.tsv`).mode & 0o777).toBe(0o600);
  });

  test('v2 with v1\'s samples is refused with checkSamples\' lines; v1 keeps serving every request; nothing of v2 is left', async () => {
    e.synthesize(deploy(MODEL_V2, MODEL_V1));
    const { result: apply, sent, failures, versions } = await underLoad(() => e.tf.apply());
    expect(apply.code).not.toBe(0);
    expect(sent).toBeGreaterThan(10);
    expect(failures).toEqual([]);
    expect([...versions]).toEqual([MODEL_V1.name]);

    // The lines checkSamples writes for v2's answers (the server's body is JSON.stringify of these).
    const samples = samplesOf(MODEL_V1).samples.map(s => ({
      name: s.name!, requestJson: JSON.stringify(s.request), expectedResponse: s.expectedResponse, absoluteTolerance: s.absoluteTolerance!, relativeTolerance: 0,
    }));
    const lines = await checkSamples(samples, 5000, async s => ({
      status: 200, body: JSON.stringify({ predictions: JSON.parse(s.requestJson).instances.map((x: number[]) => predict(MODEL_V2, x)), modelVersion: MODEL_V2.name }),
    }));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('sample "model-v1.1": wrong answer at $.predictions[0][0]: expected 9.5 ± 0.0001, got 19; expected {"predictions":[[9.5,11.5]]}, got {"predictions":[[19,25]],"modelVersion":"model-v2"}');
    const output = outputOf(apply);
    // Terraform prefixes each line of the step's output; the message is on consecutive lines.
    const head = `ERROR host=${e.hosts[0].name} deployment=linear: verification of version v[0-9a-f]{12} on host ${e.hosts[0].name} (replica 0, 127.0.0.1:${SLOT_PORT_BASE + 64}) failed (2 samples); the new containers were removed and version ${v1} keeps serving:`;
    const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(output).toMatch(new RegExp([escape(head).replace(escape('v[0-9a-f]{12}'), 'v[0-9a-f]{12}'), ...lines.map(l => escape(`  ${l}`))].join('\\n(?:[^\\n]*?: )?')));

    expect(active()).toBe(v1);
    expect(fs.readdirSync(`${dir()}/versions`)).toEqual([v1]);
    expect((await e.containersOn(e.hosts[0])).every(c => c.includes(v1))).toBe(true);
    expect(await e.containersOn(e.hosts[0])).toHaveLength(2);
    await e.expectServing(MODEL_V1);
  });

  test('the retry, v2 with samples it answers, deploys and serves (a new samples set is a new version)', async () => {
    e.synthesize(deploy(MODEL_V2, MODEL_V2));
    const { result: apply, failures } = await underLoad(() => e.tf.apply());
    expectOk(apply);
    expect(failures).toEqual([]);
    expect(outputOf(apply)).toMatch(/replica 1 \(127\.0\.0\.1:\d+\) answered 2 sample\(s\) correctly/);
    await e.expectServing(MODEL_V2);
    expect(active()).not.toBe(v1);
    expect(await e.containersOn(e.hosts[0])).toHaveLength(2);
    expect(fs.readdirSync(`${dir()}/versions`)).toEqual([active()]);
  });

  test('destroy right after a failed verification removes everything', async () => {
    e.synthesize(deploy(MODEL_V1, MODEL_V2));
    const failed = await e.tf.apply();
    expect(failed.code).not.toBe(0);
    expect(outputOf(failed)).toContain('sample "model-v2.1": wrong answer at $.predictions[0][0]: expected 19 ± 0.0001, got 9.5;');
    await e.expectServing(MODEL_V2);
    expectOk(await e.tf.destroy());
    expect(e.tf.resourcesInState()).toEqual([]);
    expect(await e.containersOn(e.hosts[0])).toEqual([]);
    expect(fs.existsSync(dir())).toBe(false);
    expect(await canConnect(e.hosts[0].address, PROXY_PORT, 1500)).toBe(false);
  });
});
