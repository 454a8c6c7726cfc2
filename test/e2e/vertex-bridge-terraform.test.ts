/**
 * The Vertex AI bridge under the REAL terraform binary: one hand-written `terraform_data` (Terraform
 * JSON, as the construct will synthesize it) whose create- and destroy-time local-exec provisioners run
 * `node <bridge>/main.js create|destroy` with MD_VERTEX_REQUEST = jsonencode(self.input), replaced on a
 * new version (triggers_replace) with create_before_destroy. Only Terraform's built-in provider: no
 * provider download (the runner's CLI config refuses any).
 *
 * SUBSTITUTION, AT THE NETWORK BOUNDARY ONLY: Vertex AI is the fake gRPC server of
 * test/support/vertex/fake-vertex.ts on 127.0.0.1, reached through the bridge's test-only seam
 * (MD_VERTEX_TEST_API_ENDPOINT, passed to terraform's environment, which local-exec inherits); the
 * bridge and the official @google-cloud/aiplatform client are the real ones.
 *
 * In test/e2e (not in `npm run test:unit`): about 40 s, most of it the bridge's runs (the official client
 * builds its protos in about 1 to 2 s per run) and terraform's own start-up. Needs `terraform` on PATH,
 * not root: a missing terraform fails the test (never a skip), in CI and elsewhere.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import { VERTEX_BRIDGE_REQUEST_ENV, VertexBridgeRequest } from '../../lib/targets/vertex-ai/bridge-request';
import { BridgeWorkspace, bridgeEnv, bridgeWorkspace } from '../support/vertex/bridge-process';
import { FakeEvent, FakeVertex } from '../support/vertex/fake-vertex';
import { ENDPOINT_ID, vertexRequest } from '../support/vertex/requests';
import { describeFailure, which } from './support/exec';
import { TerraformRunner } from './support/terraform';

jest.setTimeout(180_000);

const MUTATING = ['UploadModel', 'DeployModel', 'UpdateEndpoint', 'UndeployModel', 'DeleteModel'];

function requireTerraform(): string {
  const bin = which('terraform');
  if (bin) return bin;
  const where = process.env.CI === 'true' ? 'the CI machine is not set up' : 'this machine is not set up';
  throw new Error(`The Vertex AI bridge's Terraform test cannot run: ${where}: terraform is not on PATH.\n` +
    'Fix: run `sudo scripts/e2e/install-deps.sh` (it installs the HashiCorp release binary), or put terraform >= 1.4 on PATH.');
}

/** The `terraform_data` the Vertex AI target builds for one model version (Terraform JSON). */
function stack(ws: BridgeWorkspace, request: VertexBridgeRequest): object {
  const run = (action: string) => ({
    // Destroy-time provisioners may read only `self`: the command is literal, the request is self.input.
    command: `"${process.execPath}" "${ws.main}" ${action}`,
    environment: { [VERTEX_BRIDGE_REQUEST_ENV]: '${jsonencode(self.input)}' },
  });
  return {
    terraform: { required_version: '>= 1.4' },
    resource: {
      terraform_data: {
        vertex_model: {
          input: request,
          // a changed `input` alone is an in-place update that runs no provisioner
          triggers_replace: request,
          lifecycle: { create_before_destroy: true },
          provisioner: [{ 'local-exec': run('create') }, { 'local-exec': { when: 'destroy', ...run('destroy') } }],
        },
      },
    },
  };
}

let ws: BridgeWorkspace;
let fake: FakeVertex;
let stackDir: string;
let tf: TerraformRunner;

beforeAll(async () => {
  const terraformBin = requireTerraform();
  ws = bridgeWorkspace();
  fake = await FakeVertex.start({ project: vertexRequest(1).project, location: vertexRequest(1).location, endpoints: [{ id: ENDPOINT_ID }] });
  stackDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdtest-vertex-tf-'));
  tf = new TerraformRunner(stackDir, { terraformBin, timeoutMs: 120_000, env: bridgeEnv(ws, { apiEndpoint: fake.address }) });
  fs.writeFileSync(path.join(stackDir, 'main.tf.json'), JSON.stringify(stack(ws, vertexRequest(1)), null, 2));
  const init = await tf.init();
  if (init.code !== 0) throw new Error(describeFailure(init));
});

afterAll(async () => {
  tf?.dispose();
  await fake?.stop();
  ws?.cleanup();
  if (stackDir) fs.rmSync(stackDir, { recursive: true, force: true });
});

const ev = (e: FakeEvent) => (e.kind === 'traffic' ? `traffic ${JSON.stringify(e.split)}` : `${e.kind} ${'deployedModelId' in e ? e.deployedModelId : e.modelId}`);
const split = () => fake.endpoint(ENDPOINT_ID).trafficSplit;
const deployedIds = () => fake.endpoint(ENDPOINT_ID).deployedModels.map(d => d.id);

async function apply(version: number, env?: Record<string, string>) {
  fs.writeFileSync(path.join(stackDir, 'main.tf.json'), JSON.stringify(stack(ws, vertexRequest(version)), null, 2));
  return tf.apply({ env });
}

async function applyOk(version: number) {
  const r = await apply(version);
  if (r.code !== 0) throw new Error(describeFailure(r));
  return r;
}

// One lifecycle, in order: each test starts from the state the previous one left.
test('no credentials: the apply fails with a clear message and no call reaches Vertex', async () => {
  const r = await apply(1, { GOOGLE_APPLICATION_CREDENTIALS: '' });
  expect(r.code).not.toBe(0);
  expect(r.stdout + r.stderr).toContain('no Google Cloud credentials found. The bridge uses Application Default Credentials');
  expect(r.stdout + r.stderr).toContain('gcloud auth application-default login');
  expect(fake.calls).toEqual([]);
});

test('apply: the model is uploaded, deployed and given 100% of the traffic', async () => {
  await applyOk(1);
  expect(fake.events.map(ev)).toEqual(['uploaded fraud-scorer-v1', 'deployed 100000001', 'traffic {"100000001":100}']);
  expect(tf.resourcesInState()).toEqual(['terraform_data.vertex_model']);
});

test('apply again with nothing changed: no change, no call', async () => {
  const before = fake.calls.length;
  const r = await applyOk(1);
  expect(r.stdout).toContain('No changes.');
  expect(fake.calls.slice(before)).toEqual([]);
});

test('a new version: deployed and at 100% before the old one is undeployed and deleted, in the new create step', async () => {
  const from = fake.events.length;
  const r = await applyOk(2);
  expect(fake.events.slice(from).map(ev)).toEqual([
    'uploaded fraud-scorer-v2', 'deployed 100000002', 'traffic {"100000002":100}', 'undeployed 100000001', 'deleted fraud-scorer-v1',
  ]);
  // Terraform destroyed the deposed object without running its destroy provisioner.
  expect(r.stdout).not.toContain('vertex-ai bridge destroy');
  expect([...fake.models.keys()]).toEqual(['fraud-scorer-v2']);
});

test('an LRO error mid-deploy: the apply fails naming the step, the old version keeps serving, the next apply converges', async () => {
  fake.inject({ method: 'DeployModel', code: grpc.status.RESOURCE_EXHAUSTED, message: 'The region europe-west4 has no NVIDIA_L4 capacity left.' });
  const failed = await apply(3);
  expect(failed.code).not.toBe(0);
  expect(failed.stdout + failed.stderr).toContain('deploy projects/md-test-project/locations/europe-west4/endpoints/4242424242 deployed model 100000003 failed: RESOURCE_EXHAUSTED (8)');
  expect(deployedIds()).toEqual(['100000002']);
  expect(split()).toEqual({ 100000002: 100 });

  const from = fake.calls.length;
  await applyOk(3);
  expect(fake.calls.slice(from).map(c => c.method).filter(m => MUTATING.includes(m))).toEqual(['DeployModel', 'UpdateEndpoint', 'UndeployModel', 'DeleteModel']);
  expect(deployedIds()).toEqual(['100000003']);
  expect(split()).toEqual({ 100000003: 100 });
  expect([...fake.models.keys()]).toEqual(['fraud-scorer-v3']);
});

test('destroy: nothing is left on Vertex', async () => {
  const r = await tf.destroy();
  if (r.code !== 0) throw new Error(describeFailure(r));
  expect(fake.models.size).toBe(0);
  expect(deployedIds()).toEqual([]);
  expect(split()).toEqual({});
  expect(tf.resourcesInState()).toEqual([]);
});
