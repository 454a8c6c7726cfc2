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
 * Each bridge run costs 1.5 to 4 s (machine load), most of it loading the official client and building its
 * protos; to keep the runs few, the first block takes one deployment through its versions in order, each
 * test starting from the state the previous one left.
 */
import * as grpc from '@grpc/grpc-js';
import { VERTEX_METRIC_CPU_UTILIZATION, VertexBridgeRequest } from '../../lib/targets/vertex-ai/bridge-request';
import { BridgeWorkspace, bridgeEnv, bridgeWorkspace, runBridge } from '../support/vertex/bridge-process';
import { FakeEvent, FakeVertex, Injection } from '../support/vertex/fake-vertex';
import { ENDPOINT_ID, vertexRequest } from '../support/vertex/requests';

jest.setTimeout(90_000);

const V1 = vertexRequest(1);
const V2 = vertexRequest(2);
const V3 = vertexRequest(3);
const V4 = vertexRequest(4);
const V5 = vertexRequest(5);
const ENDPOINT = `projects/${V1.project}/locations/${V1.location}/endpoints/${ENDPOINT_ID}`;
const MUTATING = ['UploadModel', 'DeployModel', 'UpdateEndpoint', 'UndeployModel', 'DeleteModel'];

let ws: BridgeWorkspace;
let fake: FakeVertex;

beforeAll(() => {
  ws = bridgeWorkspace();
});
afterAll(() => ws?.cleanup());

/** A fresh fake (one endpoint, nothing on it) for each describe block. */
function withFreshFake() {
  beforeAll(async () => {
    fake = await FakeVertex.start({ project: V1.project, location: V1.location, endpoints: [{ id: ENDPOINT_ID }] });
  });
  afterAll(async () => {
    await fake?.stop();
  });
}

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

/** What the fake holds: Model ids, deployed model ids on the endpoint, and the traffic split. */
const state = () => ({ models: [...fake.models.keys()].sort(), deployed: deployedIds(), split: split() });

/** Injects one failure, runs create: exit 1, `message` on stderr, nothing secret. */
async function failingCreate(injection: Injection, request: VertexBridgeRequest, message: string) {
  fake.inject(injection);
  const r = await bridge('create', request);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(message);
  expectNothingSecret(r.stdout + r.stderr);
}

/** Runs create again: its stdout and the mutating calls it made. */
async function convergingCreate(request: VertexBridgeRequest) {
  const from = fake.calls.length;
  const r = await ok('create', request);
  return { stdout: r.stdout, mutations: fake.calls.slice(from).map(c => c.method).filter(m => MUTATING.includes(m)) };
}

/** No stack trace, no key material, no auth header in what the bridge printed. */
function expectNothingSecret(out: string) {
  expect(out).not.toMatch(/^\s+at /m);
  expect(out).not.toMatch(/PRIVATE KEY|authorization|bearer|ya29\./i);
}

describe('one deployment through its versions (in order)', () => {
  withFreshFake();

  test('create: uploads the model and deploys it with the requested machine, accelerator, replicas, autoscaling, service account and container; 100% of the traffic', async () => {
    const r = await ok('create', V1);
    expectNothingSecret(r.stdout + r.stderr);

    const upload = fake.callsOf('UploadModel')[0].request;
    expect(upload).toEqual({
      parent: `projects/${V1.project}/locations/${V1.location}`,
      modelId: 'fraud-scorer-v1',
      model: {
        displayName: 'fraud-scorer v1',
        artifactUri: 'gs://md-test-artifacts/fraud-scorer/sha256-111/',
        labels: { team: 'risk', cdk_model_deployment: 'fraud-scorer' },
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
    // The client's routing header names the resource (Vertex routes on it) ...
    expect(fake.callsOf('DeployModel')[0].routing).toBe(`endpoint=${ENDPOINT}`);
    // (UpdateEndpoint sends back the name GetEndpoint returned, with the project number, as Vertex does)
    expect(fake.callsOf('UpdateEndpoint')[0].routing).toBe(`endpoint.name=projects/${fake.projectNumber}/locations/${V1.location}/endpoints/${ENDPOINT_ID}`);
    // ... and no call carried a token: over the test seam's plaintext channel the client attaches none.
    expect(fake.calls.filter(c => c.metadataKeys.includes('authorization'))).toEqual([]);
  });

  test('run again with nothing changed: reads only, no duplicate', async () => {
    const before = fake.calls.length;
    const r = await ok('create', V1);
    const again = fake.calls.slice(before).map(c => c.method);
    expect(again.filter(m => MUTATING.includes(m))).toEqual([]);
    expect(r.stdout).toMatch(/already uploaded[\s\S]*already deployed[\s\S]*already has 100%/);
    expect([...fake.models.keys()]).toEqual(['fraud-scorer-v1']);
    expect(deployedIds()).toEqual(['100000001']);
  });

  test('a Model under the fixed id with other content is refused, not taken over', async () => {
    const other = { ...V1, model: { ...V1.model, artifactUri: 'gs://someone-else/model/' } };
    const r = await bridge('create', other);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`upload projects/${V1.project}/locations/${V1.location}/models/fraud-scorer-v1 failed: ALREADY_EXISTS (6): a Model with this id exists with other content (artifactUri: expected "gs://someone-else/model/", found "gs://md-test-artifacts/fraud-scorer/sha256-111/")`);
    expect(mutations()).toEqual(['UploadModel', 'DeployModel', 'UpdateEndpoint']); // v1's, nothing more
  });

  test('blue/green: the new version is deployed and takes 100% before the old one is undeployed and deleted; other Models are left alone', async () => {
    // Another deployment's Model and an unlabelled one, the latter deployed on this endpoint with 0%.
    const parent = `projects/${fake.projectNumber}/locations/${V1.location}`;
    fake.models.set('other-deployments', { name: `${parent}/models/other-deployments`, displayName: 'x', labels: { cdk_model_deployment: 'other' }, deployedModels: [] });
    fake.models.set('unlabelled', { name: `${parent}/models/unlabelled`, displayName: 'y', deployedModels: [] });
    fake.endpoint(ENDPOINT_ID).deployedModels.push({ id: '999', model: `${parent}/models/unlabelled` });
    const from = fake.events.length;
    await ok('create', V2);
    expect([...fake.models.keys()].sort()).toEqual(['fraud-scorer-v2', 'other-deployments', 'unlabelled']);
    expect(deployedIds()).toEqual(['999', '100000002']);
    fake.models.delete('other-deployments');
    fake.models.delete('unlabelled');
    fake.endpoint(ENDPOINT_ID).deployedModels.shift();

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
    await failingCreate({ method: 'DeployModel', code: grpc.status.RESOURCE_EXHAUSTED, message: 'The region europe-west4 has no NVIDIA_L4 capacity left.' }, V3,
      `deploy ${ENDPOINT} deployed model 100000003 failed: RESOURCE_EXHAUSTED (8): The region europe-west4 has no NVIDIA_L4 capacity left.`);
    // uploaded, not deployed; the old version serves everything
    expect(state()).toEqual({ models: ['fraud-scorer-v2', 'fraud-scorer-v3'], deployed: ['100000002'], split: { 100000002: 100 } });

    const again = await convergingCreate(V3);
    expect(again.stdout).toContain('already uploaded');
    expect(again.mutations).toEqual(['DeployModel', 'UpdateEndpoint', 'UndeployModel', 'DeleteModel']);
    expect(state()).toEqual({ models: ['fraud-scorer-v3'], deployed: ['100000003'], split: { 100000003: 100 } });
  });

  test('deployed but the traffic not moved (UpdateEndpoint failed): the old version keeps 100%; the next run moves it without deploying again', async () => {
    await failingCreate({ method: 'UpdateEndpoint', code: grpc.status.PERMISSION_DENIED, message: "Permission 'aiplatform.endpoints.update' denied." }, V4,
      `traffic ${ENDPOINT} failed: PERMISSION_DENIED (7): Permission 'aiplatform.endpoints.update' denied.`);
    expect(state()).toEqual({ models: ['fraud-scorer-v3', 'fraud-scorer-v4'], deployed: ['100000003', '100000004'], split: { 100000003: 100 } });

    const again = await convergingCreate(V4);
    expect(again.stdout).toContain('already deployed');
    expect(again.mutations).toEqual(['UpdateEndpoint', 'UndeployModel', 'DeleteModel']);
    expect(state()).toEqual({ models: ['fraud-scorer-v4'], deployed: ['100000004'], split: { 100000004: 100 } });
  });

  test('the old version undeployed but not deleted: the next run deletes it (found by its owner label)', async () => {
    await failingCreate({ method: 'DeleteModel', code: grpc.status.INTERNAL, message: 'Internal error encountered.' }, V5,
      `delete projects/${V1.project}/locations/${V1.location}/models/fraud-scorer-v4 failed: INTERNAL (13): Internal error encountered.`);
    expect(state()).toEqual({ models: ['fraud-scorer-v4', 'fraud-scorer-v5'], deployed: ['100000005'], split: { 100000005: 100 } });

    const again = await convergingCreate(V5);
    expect(again.mutations).toEqual(['DeleteModel']);
    expect(state()).toEqual({ models: ['fraud-scorer-v5'], deployed: ['100000005'], split: { 100000005: 100 } });
    expect(fake.callsOf('ListModels').at(-1)!.request.filter).toBe('labels.cdk_model_deployment="fraud-scorer"');
  });

  test('destroy: undeploys and deletes, nothing is left', async () => {
    await ok('destroy', V5);
    expect(fake.models.size).toBe(0);
    expect(deployedIds()).toEqual([]);
    expect(split()).toEqual({});
  });

  test('destroy again: NOT_FOUND is success, also when the endpoint itself is gone', async () => {
    const before = mutations().length;
    const r = await ok('destroy', V5);
    expect(r.stdout).toContain('not deployed');
    expect(r.stdout).toContain('not there');
    fake.endpoints.delete(ENDPOINT_ID);
    const gone = await ok('destroy', V5);
    expect(gone.stdout).toContain('the endpoint is gone');
    expect(mutations().length).toBe(before);
  });
});

describe('other deployments', () => {
  withFreshFake();

  test('a CPU machine: no accelerator, the CPU utilisation metric, Vertex\'s default service account', async () => {
    const cpu: VertexBridgeRequest = {
      ...V1,
      deployment: {
        ...V1.deployment,
        machineSpec: { machineType: 'e2-standard-4' },
        autoscalingMetricSpecs: [{ metricName: VERTEX_METRIC_CPU_UTILIZATION, target: 60 }],
        serviceAccount: undefined,
      },
    };
    await ok('create', cpu);
    const deployed = fake.callsOf('DeployModel')[0].request.deployedModel;
    expect(deployed.dedicatedResources).toEqual({
      machineSpec: { machineType: 'e2-standard-4' },
      minReplicaCount: 1,
      maxReplicaCount: 3,
      autoscalingMetricSpecs: [{ metricName: 'aiplatform.googleapis.com/prediction/online/cpu/utilization', target: 60 }],
    });
    expect(deployed.serviceAccount).toBeUndefined();
    expect(split()).toEqual({ 100000001: 100 });
  });
});

describe('refusals before any call', () => {
  withFreshFake();

  test('a value the proto does not know is refused by the bridge before it is sent, naming the field', async () => {
    const bad = { ...V1, deployment: { ...V1.deployment, machineSpec: { ...V1.deployment.machineSpec, acceleratorType: 'NVIDIA_L5' } } };
    const r = await bridge('create', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`deploy ${ENDPOINT} deployed model 100000001 failed: INVALID_ARGUMENT (3): the request does not fit DeployModelRequest: deployedModel.dedicatedResources.machineSpec.acceleratorType: expected "NVIDIA_L5", found nothing (nothing was sent)`);
    expect(fake.callsOf('DeployModel')).toEqual([]);
  });

  test('no credentials: a clear message naming Application Default Credentials, exit 2, and no call reaches the fake', async () => {
    const before = fake.calls.length;
    const r = await bridge('create', V1, env({ credentials: false }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no Google Cloud credentials found. The bridge uses Application Default Credentials');
    expect(r.stderr).toContain('gcloud auth application-default login');
    expect(r.stderr).toContain('GOOGLE_APPLICATION_CREDENTIALS');
    expectNothingSecret(r.stdout + r.stderr);
    expect(fake.calls.slice(before)).toEqual([]);
  });

  test('@google-cloud/aiplatform not installed: says what to install, no stack trace', async () => {
    const before = fake.calls.length;
    const r = await bridge('create', V1, env({ clientPackage: false }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('npm install @google-cloud/aiplatform@^6');
    expectNothingSecret(r.stderr);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(fake.calls.slice(before)).toEqual([]);
  });

  test('a request that is not valid names each wrong field', async () => {
    const before = fake.calls.length;
    const bad = { ...V1, deployment: { ...V1.deployment, deployedModelId: '12345678901', minReplicaCount: 0 } };
    const r = await bridge('create', bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('deployment.deployedModelId: "12345678901" is not a deployed model id (1 to 10 digits)');
    expect(r.stderr).toContain('deployment.minReplicaCount: must be an integer from 1 to 1000');
    expect((await bridge('create', 'not json')).stderr).toContain('$MD_VERTEX_REQUEST is not JSON');
    expect((await bridge('deploy', V1)).code).toBe(2);
    expect(fake.calls.slice(before)).toEqual([]);
  });
});
