/**
 * The Vertex AI bridge's sample predictions (the spec's `verification`) against the fake Vertex AI
 * (test/support/vertex/fake-vertex.ts), the bridge run as a child process with the REAL official
 * client, as in bridge.test.ts. The fake routes RawPredict by the endpoint's traffic split to a deployed
 * model, and each Model answers with the predictor the test sets: right for one version, wrong for
 * another. One deployment through its versions, in order: each test starts from what the previous left.
 */
import * as grpc from '@grpc/grpc-js';
import { VertexBridgeRequest, vertexBridgeVerification } from '../../lib/targets/vertex-ai/bridge-request';
import { PredictionSample, resolveVerification } from '../../lib/spec/verification';
import { BridgeWorkspace, bridgeEnv, bridgeWorkspace, runBridge } from '../support/vertex/bridge-process';
import { FakeEvent, FakeVertex } from '../support/vertex/fake-vertex';
import { ENDPOINT_ID, vertexRequest } from '../support/vertex/requests';

jest.setTimeout(90_000);

const SAMPLES: PredictionSample[] = [
  { name: 'fraud-high', request: { instances: [[1200.5, 3, 'DE']] }, expectedResponse: { predictions: [[0.91]] }, absoluteTolerance: 0.01 },
  { name: 'fraud-low', request: { instances: [[12, 1, 'FR']] }, expectedResponse: { predictions: [[0.02]] }, absoluteTolerance: 0.01 },
];
/** Version `v` of the test deployment with samples. */
function withSamples(v: number, samples = SAMPLES, latencyBudgetMs?: number): VertexBridgeRequest {
  return { ...vertexRequest(v), verification: vertexBridgeVerification(resolveVerification({ samples, latencyBudgetMs })) };
}
/** A model that scores like the samples expect, and one that does not. */
const RIGHT = (body: string) => JSON.stringify({ predictions: [[JSON.parse(body).instances[0][0] > 100 ? 0.912 : 0.018]], model_version: 'x' });
const WRONG = () => JSON.stringify({ predictions: [[0.5]] });

const ENDPOINT = `projects/md-test-project/locations/europe-west4/endpoints/${ENDPOINT_ID}`;
let ws: BridgeWorkspace;
let fake: FakeVertex;

beforeAll(async () => {
  ws = bridgeWorkspace();
  fake = await FakeVertex.start({ project: 'md-test-project', location: 'europe-west4', endpoints: [{ id: ENDPOINT_ID }] });
});
afterAll(async () => {
  await fake?.stop();
  ws?.cleanup();
});

const bridge = (action: string, request: VertexBridgeRequest) => runBridge(ws, action, request, bridgeEnv(ws, { apiEndpoint: fake.address }));
const ev = (e: FakeEvent) => (e.kind === 'traffic' ? `traffic ${JSON.stringify(e.split)}` : `${e.kind} ${'deployedModelId' in e ? e.deployedModelId : e.modelId}`);
const state = () => ({ models: [...fake.models.keys()].sort(), deployed: fake.endpoint(ENDPOINT_ID).deployedModels.map(d => d.id), split: fake.endpoint(ENDPOINT_ID).trafficSplit });

/** Runs create and returns its result with the fake's events during it. */
async function create(request: VertexBridgeRequest) {
  const from = fake.events.length;
  const r = await bridge('create', request);
  return { ...r, events: fake.events.slice(from).map(ev) };
}

async function createOk(request: VertexBridgeRequest) {
  const r = await create(request);
  if (r.code !== 0) throw new Error(`bridge create exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

test('first deploy, wrong answers: exit 1 naming each sample, what was expected and what came; nothing is left serving', async () => {
  fake.answerFor('fraud-scorer-v1', WRONG);
  const r = await create(withSamples(1));
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`verification of deployed model 100000001 (Model fraud-scorer-v1) on ${ENDPOINT} failed (2 samples); rolled back: nothing had traffic before (a first deploy), so the endpoint serves nothing; deployed model 100000001 was undeployed and Model fraud-scorer-v1 deleted:`);
  expect(r.stderr).toContain('sample "fraud-high": wrong answer at $.predictions[0][0]: expected 0.91 ± 0.01, got 0.5; expected {"predictions":[[0.91]]}, got {"predictions":[[0.5]]}');
  expect(r.stderr).toContain('sample "fraud-low": wrong answer at $.predictions[0][0]: expected 0.02 ± 0.01, got 0.5');
  expect(r.stderr).not.toMatch(/^\s+at /m);
  // Checked only once the new deployed model had all the traffic; then everything of this run undone.
  expect(r.events).toEqual([
    'uploaded fraud-scorer-v1', 'deployed 100000001', 'traffic {"100000001":100}', 'predicted 100000001', 'predicted 100000001',
    'undeployed 100000001', 'traffic {}', 'deleted fraud-scorer-v1',
  ]);
  expect(state()).toEqual({ models: [], deployed: [], split: {} });
});

test('right answers: every sample sent as-is through RawPredict, the traffic stays on the new version', async () => {
  fake.answerFor('fraud-scorer-v1', RIGHT);
  const from = fake.calls.length;
  const r = await createOk(withSamples(1));
  expect(r.stdout).toContain('verify ' + ENDPOINT + ': 2 sample(s) by rawPredict to europe-west4-aiplatform.googleapis.com (shared endpoint)');
  expect(r.stdout).toContain('2 sample(s) answered correctly');
  expect(r.events).toEqual(['uploaded fraud-scorer-v1', 'deployed 100000001', 'traffic {"100000001":100}', 'predicted 100000001', 'predicted 100000001']);
  expect(state()).toEqual({ models: ['fraud-scorer-v1'], deployed: ['100000001'], split: { 100000001: 100 } });

  const raw = fake.calls.slice(from).filter(c => c.method === 'RawPredict');
  expect(raw.map(c => c.status)).toEqual(['OK', 'OK']);
  // The body is the sample's requestJson byte for byte, as every target sends it.
  expect(raw.map(c => [c.request.endpoint, c.request.httpBody.contentType, Buffer.from(c.request.httpBody.data, 'base64').toString('utf8')])).toEqual([
    [ENDPOINT, 'application/json', '{"instances":[[1200.5,3,"DE"]]}'],
    [ENDPOINT, 'application/json', '{"instances":[[12,1,"FR"]]}'],
  ]);
  expect(raw[0].routing).toBe(`endpoint=${ENDPOINT}`);
  // The endpoint-id header (dedicated private endpoints route gRPC by it); over the test seam's plaintext
  // channel the client attaches no token to RawPredict either, as to every other call.
  for (const c of raw) expect(c.metadataKeys).toContain('x-vertex-ai-endpoint-id');
  expect(fake.calls.filter(c => c.metadataKeys.includes('authorization'))).toEqual([]);
});

test('a new version with wrong answers: rolled back, the previous version serves 100% again, the new one undeployed and its Model deleted', async () => {
  fake.answerFor('fraud-scorer-v2', WRONG);
  const r = await create(withSamples(2));
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('failed (2 samples); rolled back: the traffic is back on {"100000001":100}; deployed model 100000002 was undeployed and Model fraud-scorer-v2 deleted:');
  expect(r.stderr).toContain('sample "fraud-high": wrong answer at $.predictions[0][0]: expected 0.91 ± 0.01, got 0.5');
  // The samples were answered by v2 (it had the traffic), then the traffic went back before anything was removed.
  expect(r.events).toEqual([
    'uploaded fraud-scorer-v2', 'deployed 100000002', 'traffic {"100000002":100}', 'predicted 100000002', 'predicted 100000002',
    'traffic {"100000001":100}', 'undeployed 100000002', 'deleted fraud-scorer-v2',
  ]);
  expect(state()).toEqual({ models: ['fraud-scorer-v1'], deployed: ['100000001'], split: { 100000001: 100 } });
});

test('the retry with a fixed model: verified, then the previous version retired; no orphan', async () => {
  fake.answerFor('fraud-scorer-v3', RIGHT);
  const r = await createOk(withSamples(3));
  expect(r.events).toEqual([
    'uploaded fraud-scorer-v3', 'deployed 100000003', 'traffic {"100000003":100}', 'predicted 100000003', 'predicted 100000003',
    'undeployed 100000001', 'deleted fraud-scorer-v1',
  ]);
  expect(state()).toEqual({ models: ['fraud-scorer-v3'], deployed: ['100000003'], split: { 100000003: 100 } });
});

test('right but slower than the latency budget: a failure, rolled back', async () => {
  fake.answerFor('fraud-scorer-v4', RIGHT, 700);
  const r = await create(withSamples(4, SAMPLES.slice(0, 1), 200));
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/sample "fraud-high": answered in \d+ ms, over the latency budget of 200 ms/);
  expect(r.stderr).toContain('rolled back: the traffic is back on {"100000003":100}');
  expect(state()).toEqual({ models: ['fraud-scorer-v3'], deployed: ['100000003'], split: { 100000003: 100 } });
});

test('a transport failure (the model cannot answer) is a failed sample too, rolled back', async () => {
  // no predictor for v5: the fake answers UNIMPLEMENTED
  const r = await create(withSamples(5, SAMPLES.slice(1)));
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('sample "fraud-low": the request failed: UNIMPLEMENTED (12): The fake has no predictor for Model fraud-scorer-v5');
  expect(state()).toEqual({ models: ['fraud-scorer-v3'], deployed: ['100000003'], split: { 100000003: 100 } });
});

test('changed samples only (same model, same ids): the serving version is checked again; when it fails them, it is left serving and the apply fails', async () => {
  const changed = [{ ...SAMPLES[0], expectedResponse: { predictions: [[0.3]] } }];
  const r = await create(withSamples(3, changed));
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('nothing was changed: deployed model 100000003 already had all the traffic before this run');
  expect(r.events).toEqual(['predicted 100000003']);
  expect(state()).toEqual({ models: ['fraud-scorer-v3'], deployed: ['100000003'], split: { 100000003: 100 } });
  // and samples it answers right pass with reads and predictions only
  const ok = await createOk(withSamples(3));
  expect(ok.events).toEqual(['predicted 100000003', 'predicted 100000003']);
});

test('the rollback itself fails: the message says so and keeps the sample failures; the next run rolls back', async () => {
  fake.answerFor('fraud-scorer-v6', WRONG);
  fake.inject({ method: 'UpdateEndpoint', nth: 2, code: grpc.status.UNAVAILABLE, message: 'The service is currently unavailable.' });
  const r = await create(withSamples(6, SAMPLES.slice(0, 1)));
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('and the rollback failed (rollback ' + ENDPOINT + ' failed: UNAVAILABLE (14): The service is currently unavailable.)');
  expect(r.stderr).toContain('sample "fraud-high": wrong answer');
  expect(state().split).toEqual({ 100000006: 100 });
  // Next run: v6 already has the traffic; it fails the samples again and goes back to this deployment's other version.
  const again = await create(withSamples(6, SAMPLES.slice(0, 1)));
  expect(again.code).toBe(1);
  expect(again.stderr).toContain('rolled back: the traffic is back on {"100000003":100}; deployed model 100000006 was undeployed and Model fraud-scorer-v6 deleted');
  expect(state()).toEqual({ models: ['fraud-scorer-v3'], deployed: ['100000003'], split: { 100000003: 100 } });
});

test('retire-all (the destroy step after a failed update): every Model of this deployment undeployed and deleted, others left alone; again: nothing to do', async () => {
  // Two versions deployed: v7's create failed after moving the traffic, before retiring v3.
  fake.inject({ method: 'ListModels', code: grpc.status.UNAVAILABLE, message: 'unavailable' });
  expect((await create(vertexRequest(7))).code).toBe(1);
  const parent = `projects/${fake.projectNumber}/locations/europe-west4`;
  fake.models.set('other-deployment', { name: `${parent}/models/other-deployment`, displayName: 'x', labels: { cdk_model_deployment: 'other' }, deployedModels: [] });
  expect(state()).toEqual({ models: ['fraud-scorer-v3', 'fraud-scorer-v7', 'other-deployment'], deployed: ['100000003', '100000007'], split: { 100000007: 100 } });

  const owner = { format: 1, project: 'md-test-project', location: 'europe-west4', endpointId: ENDPOINT_ID, owner: 'fraud-scorer' };
  const r = await runBridge(ws, 'retire-all', JSON.stringify(owner), bridgeEnv(ws, { apiEndpoint: fake.address }));
  expect(r.code).toBe(0);
  expect(state()).toEqual({ models: ['other-deployment'], deployed: [], split: {} });
  const again = await runBridge(ws, 'retire-all', JSON.stringify(owner), bridgeEnv(ws, { apiEndpoint: fake.address }));
  expect(again.code).toBe(0);
  expect(again.stdout).toContain('no Model with the owner label fraud-scorer');
  fake.models.delete('other-deployment');
});
