/**
 * The Vertex AI TARGET's own `terraform_data`, as VertexAiModelEndpoint synthesizes it, under the REAL
 * terraform binary and the real bridge: the request the construct builds is what the bridge uploads
 * and deploys (ids, machine and accelerators, replicas, autoscaling, service account, container), an
 * unchanged model re-synthesized plans no change and makes no call, a changed model file is a new
 * version deployed blue/green, and destroy leaves nothing. (test/e2e/vertex-bridge-terraform.test.ts
 * covers the bridge's failure cases with a hand-written request.)
 *
 * What is changed in the synthesized JSON, and why: only the `terraform_data` is kept (the google
 * resources would need the provider, which is not downloaded here); its `depends_on` goes with them;
 * and its command's bridge path, which names the compiled package's `dist/.../bridge/main.js`, is
 * pointed at the bridge transpiled for the test (test/support/vertex/bridge-process.ts), run by this
 * node. Everything else, `input`, `triggers_replace`, the lifecycle and the environment, is as synthesized.
 *
 * SUBSTITUTION, AT THE NETWORK BOUNDARY ONLY: Vertex AI is the fake gRPC server of
 * test/support/vertex/fake-vertex.ts on 127.0.0.1 (the bridge's test-only seam MD_VERTEX_TEST_API_ENDPOINT).
 * Needs `terraform` on PATH: a missing terraform fails the test (never a skip).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TerraformStack, Testing } from 'cdktf';
import { Compute, GpuKind, ModelArtifact, ScalingTarget, ServingContainer } from '../../lib';
import { VerificationProps } from '../../lib/spec/verification';
import { VERTEX_BRIDGE_MAIN } from '../../lib/targets/vertex-ai/bridge-request';
import { VertexAiModelEndpoint } from '../../lib/targets/vertex-ai';
import { modelDir } from '../support/model-dir';
import { BridgeWorkspace, bridgeEnv, bridgeWorkspace } from '../support/vertex/bridge-process';
import { FakeEvent, FakeVertex } from '../support/vertex/fake-vertex';
import { describeFailure, which } from './support/exec';
import { TerraformRunner } from './support/terraform';

jest.setTimeout(180_000);

const PROJECT = 'md-test-project';
const LOCATION = 'europe-west4';
const ENDPOINT_ID = '4711000042';
const FIXTURE = path.join(__dirname, '..', 'fixtures', 'linear-model');
const IMAGE = `${LOCATION}-docker.pkg.dev/${PROJECT}/serving/fraud-scorer:4.2.0`;
const SERVING_ACCOUNT = `fraud-serving@${PROJECT}.iam.gserviceaccount.com`;

function requireTerraform(): string {
  const bin = which('terraform');
  if (bin) return bin;
  throw new Error('The Vertex AI target\'s Terraform test cannot run: terraform is not on PATH.\n' +
    'Fix: run `sudo scripts/e2e/install-deps.sh` (it installs the HashiCorp release binary), or put terraform >= 1.4 on PATH.');
}

let ws: BridgeWorkspace;
let fake: FakeVertex;
let stackDir: string;
let models: string;
let tf: TerraformRunner;

/** Synthesizes the target for the model in `dir` and writes its two terraform_data (see the header) as the stack to apply. */
function synthesize(dir: string, verification?: VerificationProps): VertexAiModelEndpoint {
  const stack = new TerraformStack(Testing.app(), 'vertex');
  const endpoint = new VertexAiModelEndpoint(stack, 'Fraud', {
    model: ModelArtifact.fromLocalPath(dir),
    serving: ServingContainer.custom({ image: IMAGE, environment: { LOG_LEVEL: 'info' } }),
    compute: Compute.gpu({ gpu: GpuKind.NVIDIA_L4 }),
    scaling: { minReplicas: 1, maxReplicas: 3, target: ScalingTarget.gpuPercent(60) },
    project: PROJECT, location: LOCATION, endpointId: ENDPOINT_ID, servingServiceAccountEmail: SERVING_ACCOUNT,
    verification,
  });
  const json = JSON.parse(Testing.synth(stack));
  const data = Object.entries<any>(json.resource.terraform_data);
  // The deployment, and the retirement (destroy step only), which depends on it.
  expect(data.map(([address]) => address.split('_')[1])).toEqual(['Deployment', 'Retirement']);
  const synthesized = `node ${JSON.stringify(VERTEX_BRIDGE_MAIN)} `;
  const resources = Object.fromEntries(data.map(([address, { depends_on: dependsOn, ...resource }]) => {
    resource.provisioner = resource.provisioner.map((p: any) => {
      const step = p['local-exec'];
      expect(step.command.startsWith(synthesized)).toBe(true);
      return { 'local-exec': { ...step, command: `"${process.execPath}" "${ws.main}" ${step.command.slice(synthesized.length)}` } };
    });
    const kept = (dependsOn as string[]).filter(d => d.startsWith('terraform_data.'));
    return [address, kept.length ? { ...resource, depends_on: kept } : resource];
  }));
  fs.writeFileSync(path.join(stackDir, 'main.tf.json'), JSON.stringify({
    terraform: { required_version: '>= 1.4' },
    resource: { terraform_data: resources },
  }, null, 2));
  return endpoint;
}

beforeAll(async () => {
  const terraformBin = requireTerraform();
  ws = bridgeWorkspace();
  fake = await FakeVertex.start({ project: PROJECT, location: LOCATION, endpoints: [{ id: ENDPOINT_ID }] });
  stackDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdtest-vertex-construct-'));
  models = fs.mkdtempSync(path.join(os.tmpdir(), 'mdtest-vertex-models-'));
  tf = new TerraformRunner(stackDir, { terraformBin, timeoutMs: 120_000, env: bridgeEnv(ws, { apiEndpoint: fake.address }) });
  synthesize(modelDir(models, FIXTURE, 'v1'));
  const init = await tf.init();
  if (init.code !== 0) throw new Error(describeFailure(init));
});

afterAll(async () => {
  tf?.dispose();
  await fake?.stop();
  ws?.cleanup();
  for (const dir of [stackDir, models]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const ev = (e: FakeEvent) => (e.kind === 'traffic' ? `traffic ${JSON.stringify(e.split)}` : `${e.kind} ${'deployedModelId' in e ? e.deployedModelId : e.modelId}`);
let first: VertexAiModelEndpoint;

// One lifecycle, in order: each test starts from the state the previous one left.
test('apply: the bridge uploads and deploys exactly what the construct asked for, and moves all traffic to it', async () => {
  first = synthesize(modelDir(models, FIXTURE, 'v1'));
  const r = await tf.apply();
  if (r.code !== 0) throw new Error(describeFailure(r));
  expect(fake.events.map(ev)).toEqual([`uploaded ${first.modelId}`, `deployed ${first.deployedModelId}`, `traffic {"${first.deployedModelId}":100}`]);
  const upload = fake.callsOf('UploadModel')[0].request as any;
  expect(upload.modelId).toBe(first.modelId);
  expect(upload.model.artifactUri).toBe(first.artifactUri);
  expect(upload.model.containerSpec).toMatchObject({ imageUri: IMAGE, predictRoute: '/invocations', healthRoute: '/ping', ports: [{ containerPort: 8080 }] });
  const deployed = (fake.callsOf('DeployModel')[0].request as any).deployedModel;
  expect(deployed.id).toBe(first.deployedModelId);
  expect(deployed.serviceAccount).toBe(SERVING_ACCOUNT);
  expect(deployed.dedicatedResources).toMatchObject({
    machineSpec: { machineType: 'g2-standard-4', acceleratorType: 'NVIDIA_L4', acceleratorCount: 1 },
    minReplicaCount: 1, maxReplicaCount: 3,
    autoscalingMetricSpecs: [{ metricName: 'aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle', target: 60 }],
  });
});

test('the same model synthesized again (another directory, same content): no change, no call', async () => {
  const again = synthesize(modelDir(models, FIXTURE, 'v1-copy'));
  expect(again.deployedModelId).toBe(first.deployedModelId);
  const before = fake.calls.length;
  const r = await tf.apply();
  if (r.code !== 0) throw new Error(describeFailure(r));
  expect(r.stdout).toContain('No changes.');
  expect(fake.calls.slice(before)).toEqual([]);
});

test('a changed model file: a new version, deployed and at 100% before the old one is undeployed and deleted', async () => {
  const second = synthesize(modelDir(models, FIXTURE, 'v2', 'retrained weights'));
  expect(second.modelId).not.toBe(first.modelId);
  const from = fake.events.length;
  const r = await tf.apply();
  if (r.code !== 0) throw new Error(describeFailure(r));
  expect(fake.events.slice(from).map(ev)).toEqual([
    `uploaded ${second.modelId}`, `deployed ${second.deployedModelId}`, `traffic {"${second.deployedModelId}":100}`,
    `undeployed ${first.deployedModelId}`, `deleted ${first.modelId}`,
  ]);
  expect([...fake.models.keys()]).toEqual([second.modelId]);
});

/** Samples the fake's models answer right (RIGHT) or wrong (WRONG). */
const VERIFICATION: VerificationProps = { samples: [{ name: 'score', request: { instances: [[1200.5, 3]] }, expectedResponse: { predictions: [0.91] }, absoluteTolerance: 0.01 }] };
const RIGHT = (body: string) => (JSON.parse(body).instances[0][0] === 1200.5 ? '{"predictions":[0.913]}' : '{"predictions":[0]}');
const WRONG = () => '{"predictions":[0.2]}';
const serving = () => ({ models: [...fake.models.keys()].sort(), deployed: fake.endpoint(ENDPOINT_ID).deployedModels.map(d => d.id), split: fake.endpoint(ENDPOINT_ID).trafficSplit });

test('a version that answers its samples wrong: the apply fails naming the sample, expected and actual; the previous version serves 100% again', async () => {
  const before = serving();
  expect(before.models).toHaveLength(1);
  const wrong = synthesize(modelDir(models, FIXTURE, 'v3', 'broken weights'), VERIFICATION);
  fake.answerFor(wrong.modelId, WRONG);
  const r = await tf.apply();
  expect(r.code).not.toBe(0);
  const out = r.stdout + r.stderr;
  expect(out).toContain(`verification of deployed model ${wrong.deployedModelId} (Model ${wrong.modelId})`);
  expect(out).toContain('sample "score": wrong answer at $.predictions[0]: expected 0.91 ± 0.01, got 0.2; expected {"predictions":[0.91]}, got {"predictions":[0.2]}');
  expect(out).toContain(`rolled back: the traffic is back on {"${before.deployed[0]}":100}`);
  expect(serving()).toEqual(before);
  expect(fake.events.some(e => e.kind === 'predicted' && e.modelId === wrong.modelId)).toBe(true);
});

test('the retry with a fixed model: verified and serving, the previous version retired, nothing of the failed one left', async () => {
  const fixed = synthesize(modelDir(models, FIXTURE, 'v4', 'fixed weights'), VERIFICATION);
  fake.answerFor(fixed.modelId, RIGHT);
  const r = await tf.apply();
  if (r.code !== 0) throw new Error(describeFailure(r));
  expect(serving()).toEqual({ models: [fixed.modelId], deployed: [fixed.deployedModelId], split: { [fixed.deployedModelId]: 100 } });
});

test('destroy after another failed update: nothing is left on Vertex (the retirement\'s destroy step; Terraform runs none for the tainted and the deposed deployment)', async () => {
  const before = serving();
  const broken = synthesize(modelDir(models, FIXTURE, 'v5', 'broken again'), VERIFICATION);
  fake.answerFor(broken.modelId, WRONG);
  expect((await tf.apply()).code).not.toBe(0);
  expect(serving()).toEqual(before); // the fixed version still serves
  const r = await tf.destroy();
  if (r.code !== 0) throw new Error(describeFailure(r));
  expect(r.stdout).toContain('vertex-ai bridge retire-all');
  expect(fake.models.size).toBe(0);
  expect(fake.endpoint(ENDPOINT_ID).deployedModels).toEqual([]);
  expect(tf.resourcesInState()).toEqual([]);
});
