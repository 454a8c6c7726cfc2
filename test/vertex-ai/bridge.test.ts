/**
 * The Vertex AI bridge (lib/targets/vertex-ai/bridge/) against Vertex AI's own protocol.
 *
 * SUBSTITUTION, AT THE NETWORK BOUNDARY ONLY: Vertex AI is replaced by a fake gRPC server on 127.0.0.1
 * (test/support/vertex/fake-vertex.ts), built from the .proto files that @google-cloud/aiplatform and
 * google-gax ship. Everything else is real: the bridge runs as a child process the way Terraform's
 * local-exec runs it (request JSON in $MD_VERTEX_REQUEST), with the REAL official client, which the
 * bridge's test-only seam ($MD_VERTEX_TEST_API_ENDPOINT) points at the fake over a plaintext channel.
 * Credentials are loaded as in production (Application Default Credentials, here a throwaway service
 * account key); over the plaintext channel the client sends no token.
 *
 * Each bridge run costs about 2 s, most of it the official client building its protos (two clients).
 */
import * as grpc from '@grpc/grpc-js';
import { VertexBridgeRequest } from '../../lib/targets/vertex-ai/bridge-request';
import { BridgeWorkspace, bridgeEnv, bridgeWorkspace, runBridge } from '../support/vertex/bridge-process';
import { FakeEvent, FakeVertex } from '../support/vertex/fake-vertex';
import { ENDPOINT_ID, vertexRequest } from '../support/vertex/requests';

jest.setTimeout(90_000);

const V1 = vertexRequest(1);
const V2 = vertexRequest(2);
const ENDPOINT = `projects/${V1.project}/locations/${V1.location}/endpoints/${ENDPOINT_ID}`;
const MUTATING = ['UploadModel', 'DeployModel', 'UpdateEndpoint', 'UndeployModel', 'DeleteModel'];

let ws: BridgeWorkspace;
let fake: FakeVertex;

beforeAll(() => {
  ws = bridgeWorkspace();
});
afterAll(() => ws?.cleanup());

beforeEach(async () => {
  fake = await FakeVertex.start({ project: V1.project, location: V1.location, endpoints: [{ id: ENDPOINT_ID }] });
});
afterEach(async () => {
  await fake?.stop();
});

const env = (o: { credentials?: boolean; clientPackage?: boolean } = {}) => bridgeEnv(ws, { apiEndpoint: fake.address, ...o });
const bridge = (action: string, request: VertexBridgeRequest | string, e = env()) => runBridge(ws, action, request, e);

async function ok(action: string, request: VertexBridgeRequest) {
  const r = await bridge(action, request);
  if (r.code !== 0) throw new Error(`bridge ${action} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

const mutations = () => fake.callsOf().filter(c => MUTATING.includes(c.method) && c.status === 'OK').map(c => c.method);
const ev = (e: FakeEvent) => (e.kind === 'traffic' ? `traffic ${JSON.stringify(e.split)}` : `${e.kind} ${'deployedModelId' in e ? e.deployedModelId : e.modelId}`);
const split = () => fake.endpoint(ENDPOINT_ID).trafficSplit;
const deployedIds = () => fake.endpoint(ENDPOINT_ID).deployedModels.map(d => d.id);

/** No stack trace, no key material, no auth header in what the bridge printed. */
function expectNothingSecret(out: string) {
  expect(out).not.toMatch(/^\s+at /m);
  expect(out).not.toMatch(/PRIVATE KEY|authorization|bearer|ya29\./i);
}

describe('create', () => {
  test('uploads the model and deploys it with the requested machine, accelerator, replicas, autoscaling, service account and container; 100% of the traffic', async () => {
    const r = await ok('create', V1);
    expectNothingSecret(r.stdout + r.stderr);

    const upload = fake.callsOf('UploadModel')[0].request;
    expect(upload).toEqual({
      parent: `projects/${V1.project}/locations/${V1.location}`,
      modelId: 'fraud-scorer-v1',
      model: {
        displayName: 'fraud-scorer v1',
        artifactUri: 'gs://md-test-artifacts/fraud-scorer/sha256-111/',
        labels: { team: 'risk', 'cdk-model-deployment': 'fraud-scorer' },
        containerSpec: {
          imageUri: 'europe-docker.pkg.dev/vertex-ai/prediction/pytorch-gpu.2-4:latest',
          env: [{ name: 'MODEL_NAME', value: 'fraud-scorer' }, { name: 'TS_NUMBER_OF_GPU', value: '1' }],
          ports: [{ containerPort: 8080 }],
          predictRoute: '/predictions/model',
          healthRoute: '/ping',
        },
      },
    });

    const deploy = fake.callsOf('DeployModel')[0].request;
    expect(deploy).toEqual({
      endpoint: ENDPOINT,
      deployedModel: {
        id: '100000001',
        model: `projects/${V1.project}/locations/${V1.location}/models/fraud-scorer-v1`,
        displayName: 'fraud-scorer-v1',
        dedicatedResources: {
          machineSpec: { machineType: 'g2-standard-8', acceleratorType: 'NVIDIA_L4', acceleratorCount: 1 },
          minReplicaCount: 1,
          maxReplicaCount: 3,
          autoscalingMetricSpecs: [{ metricName: 'aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle', target: 70 }],
        },
        serviceAccount: 'fraud-scorer-serving@md-test-project.iam.gserviceaccount.com',
      },
    });
    // No traffic_split in DeployModel: traffic moves in a separate call once the deploy has succeeded.
    expect(deploy.trafficSplit).toBeUndefined();
    expect(fake.callsOf('UpdateEndpoint')[0].request.updateMask).toEqual({ paths: ['traffic_split'] });

    expect(fake.events.map(ev)).toEqual(['uploaded fraud-scorer-v1', 'deployed 100000001', 'traffic {"100000001":100}']);
    expect(split()).toEqual({ 100000001: 100 });
    // Every operation was polled to its end through google.longrunning.Operations.
    expect(fake.callsOf('GetOperation').length).toBeGreaterThanOrEqual(2);
  });

  test('run again with nothing changed: reads only, no duplicate', async () => {
    await ok('create', V1);
    const before = fake.calls.length;
    const r = await ok('create', V1);
    const again = fake.calls.slice(before).map(c => c.method);
    expect(again.filter(m => MUTATING.includes(m))).toEqual([]);
    expect(r.stdout).toMatch(/already uploaded[\s\S]*already deployed[\s\S]*already has 100%/);
    expect([...fake.models.keys()]).toEqual(['fraud-scorer-v1']);
    expect(deployedIds()).toEqual(['100000001']);
  });

  test('blue/green: the new version is deployed and takes 100% before the old one is undeployed and deleted', async () => {
    await ok('create', V1);
    const from = fake.events.length;
    await ok('create', V2);
    expect(fake.events.slice(from).map(ev)).toEqual([
      'uploaded fraud-scorer-v2',
      'deployed 100000002',
      'traffic {"100000002":100}',
      'undeployed 100000001',
      'deleted fraud-scorer-v1',
    ]);
    expect([...fake.models.keys()]).toEqual(['fraud-scorer-v2']);
    expect(deployedIds()).toEqual(['100000002']);
    expect(split()).toEqual({ 100000002: 100 });
  });

  test('an LRO error mid-deploy: exit 1 naming step, resource and error; the old version keeps 100%; the next run converges', async () => {
    await ok('create', V1);
    fake.inject({ method: 'DeployModel', code: grpc.status.RESOURCE_EXHAUSTED, message: 'The region europe-west4 has no NVIDIA_L4 capacity left.' });
    const failed = await bridge('create', V2);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`deploy ${ENDPOINT} deployed model 100000002 failed: RESOURCE_EXHAUSTED (8): The region europe-west4 has no NVIDIA_L4 capacity left.`);
    expectNothingSecret(failed.stdout + failed.stderr);
    // uploaded, not deployed; the old version serves everything
    expect([...fake.models.keys()].sort()).toEqual(['fraud-scorer-v1', 'fraud-scorer-v2']);
    expect(deployedIds()).toEqual(['100000001']);
    expect(split()).toEqual({ 100000001: 100 });

    const from = fake.calls.length;
    const r = await ok('create', V2);
    expect(r.stdout).toContain('already uploaded');
    expect(fake.calls.slice(from).filter(c => c.method === 'UploadModel')).toEqual([]);
    expect([...fake.models.keys()]).toEqual(['fraud-scorer-v2']);
    expect(deployedIds()).toEqual(['100000002']);
    expect(split()).toEqual({ 100000002: 100 });
  });

  test('deployed but the traffic not moved (UpdateEndpoint failed): the old version keeps 100%; the next run moves it without deploying again', async () => {
    await ok('create', V1);
    fake.inject({ method: 'UpdateEndpoint', code: grpc.status.PERMISSION_DENIED, message: "Permission 'aiplatform.endpoints.update' denied." });
    const failed = await bridge('create', V2);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`traffic ${ENDPOINT} failed: PERMISSION_DENIED (7): Permission 'aiplatform.endpoints.update' denied.`);
    expect(deployedIds()).toEqual(['100000001', '100000002']);
    expect(split()).toEqual({ 100000001: 100 });

    const from = fake.calls.length;
    const r = await ok('create', V2);
    expect(r.stdout).toContain('already deployed');
    expect(fake.calls.slice(from).map(c => c.method).filter(m => MUTATING.includes(m))).toEqual(['UpdateEndpoint', 'UndeployModel', 'DeleteModel']);
    expect(split()).toEqual({ 100000002: 100 });
    expect([...fake.models.keys()]).toEqual(['fraud-scorer-v2']);
  });

  test('the old version undeployed but not deleted: the next run deletes it (found by its owner label)', async () => {
    await ok('create', V1);
    fake.inject({ method: 'DeleteModel', code: grpc.status.INTERNAL, message: 'Internal error encountered.' });
    const failed = await bridge('create', V2);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`delete projects/${V1.project}/locations/${V1.location}/models/fraud-scorer-v1 failed: INTERNAL (13): Internal error encountered.`);
    expect(deployedIds()).toEqual(['100000002']);
    expect([...fake.models.keys()].sort()).toEqual(['fraud-scorer-v1', 'fraud-scorer-v2']);

    await ok('create', V2);
    expect([...fake.models.keys()]).toEqual(['fraud-scorer-v2']);
  });

  test('a Model under the fixed id with other content is refused, not taken over', async () => {
    await ok('create', V1);
    const other = { ...V1, model: { ...V1.model, artifactUri: 'gs://someone-else/model/' } };
    const r = await bridge('create', other);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`upload projects/${V1.project}/locations/${V1.location}/models/fraud-scorer-v1 failed: ALREADY_EXISTS (6): a Model with this id exists with other content (artifactUri: expected "gs://someone-else/model/", found "gs://md-test-artifacts/fraud-scorer/sha256-111/")`);
  });

  test('a value the proto does not know is refused by the bridge before anything is sent, naming the field', async () => {
    const bad = { ...V1, deployment: { ...V1.deployment, machineSpec: { ...V1.deployment.machineSpec, acceleratorType: 'NVIDIA_L5' } } };
    const r = await bridge('create', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`deploy ${ENDPOINT} deployed model 100000001 failed: INVALID_ARGUMENT (3): the request does not fit DeployModelRequest: deployedModel.dedicatedResources.machineSpec.acceleratorType: expected "NVIDIA_L5", found nothing (nothing was sent)`);
    expect(fake.callsOf('DeployModel')).toEqual([]);
  });
});

describe('destroy', () => {
  test('undeploys and deletes: nothing is left', async () => {
    await ok('create', V1);
    await ok('destroy', V1);
    expect(fake.models.size).toBe(0);
    expect(deployedIds()).toEqual([]);
    expect(split()).toEqual({});
  });

  test('NOT_FOUND is success: destroying what is gone, or when the endpoint is gone', async () => {
    const r = await ok('destroy', V1);
    expect(r.stdout).toContain('not deployed');
    expect(r.stdout).toContain('not there');
    fake.endpoints.delete(ENDPOINT_ID);
    const gone = await ok('destroy', V1);
    expect(gone.stdout).toContain('the endpoint is gone');
    expect(mutations()).toEqual([]);
  });
});

describe('refusals before any call', () => {
  test('no credentials: a clear message naming Application Default Credentials, exit 2, and no call reaches the fake', async () => {
    const r = await bridge('create', V1, env({ credentials: false }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no Google Cloud credentials found. The bridge uses Application Default Credentials');
    expect(r.stderr).toContain('gcloud auth application-default login');
    expect(r.stderr).toContain('GOOGLE_APPLICATION_CREDENTIALS');
    expectNothingSecret(r.stdout + r.stderr);
    expect(fake.calls).toEqual([]);
  });

  test('@google-cloud/aiplatform not installed: says what to install, no stack trace', async () => {
    const r = await bridge('create', V1, env({ clientPackage: false }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('npm install @google-cloud/aiplatform@^6');
    expectNothingSecret(r.stderr);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(fake.calls).toEqual([]);
  });

  test('a request that is not valid names each wrong field', async () => {
    const bad = { ...V1, deployment: { ...V1.deployment, deployedModelId: '12345678901', minReplicaCount: 0 } };
    const r = await bridge('create', bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('deployment.deployedModelId: "12345678901" is not a deployed model id (1 to 10 digits)');
    expect(r.stderr).toContain('deployment.minReplicaCount: must be an integer from 1 to 1000');
    expect((await bridge('create', 'not json')).stderr).toContain('$MD_VERTEX_REQUEST is not JSON');
    expect((await bridge('deploy', V1)).code).toBe(2);
    expect(fake.calls).toEqual([]);
  });
});
