/**
 * The fake Vertex AI server (test/support/vertex/fake-vertex.ts) can fail: like the service, it refuses
 * what the proto does not allow, even though the official client sends it. The client validates
 * nothing (protobufjs' fromObject passes an unknown enum number through, drops an unknown enum name,
 * sends a request without its REQUIRED fields), so these requests go out from the REAL client, in this
 * process, over a plaintext channel to the fake on 127.0.0.1 (the substitution is the network boundary
 * only), and come back INVALID_ARGUMENT.
 */
import * as grpc from '@grpc/grpc-js';
import { v1 } from '@google-cloud/aiplatform';
import * as path from 'path';
import { FakeVertex } from '../support/vertex/fake-vertex';
import { vertexProtoRoot } from '../support/vertex/protos';
import { ENDPOINT_ID, vertexRequest } from '../support/vertex/requests';

const R = vertexRequest(1);
const PARENT = `projects/${R.project}/locations/${R.location}`;
const ENDPOINT = `${PARENT}/endpoints/${ENDPOINT_ID}`;

let fake: FakeVertex;
let models: v1.ModelServiceClient;
let endpoints: v1.EndpointServiceClient;

beforeAll(async () => {
  fake = await FakeVertex.start({ project: R.project, location: R.location, endpoints: [{ id: ENDPOINT_ID }] });
  // The client's own grpc-js (through its google-gax), so the channel credentials are of the same module.
  const gax = require(require.resolve('google-gax', { paths: [path.dirname(require.resolve('@google-cloud/aiplatform'))] }));
  const opts = {
    apiEndpoint: '127.0.0.1',
    port: fake.port,
    sslCreds: gax.grpc.credentials.createInsecure(),
    // With sslCreds the client asks its auth for the universe domain only: no credentials are involved.
    auth: { getUniverseDomain: async () => 'googleapis.com' } as any,
  };
  models = new v1.ModelServiceClient(opts);
  endpoints = new v1.EndpointServiceClient(opts);
  const [op] = await models.uploadModel({
    parent: PARENT, modelId: 'm1',
    model: { displayName: 'm1', artifactUri: 'gs://b/m1/', containerSpec: { imageUri: 'europe-docker.pkg.dev/p/r/i:1' } },
  });
  await op.promise();
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([models?.close(), endpoints?.close()]);
  await fake?.stop();
});

const deployedModel = (machineSpec: object, extra: object = {}) => ({
  id: '7', model: `${PARENT}/models/m1`,
  dedicatedResources: { machineSpec, minReplicaCount: 1, maxReplicaCount: 1 },
  ...extra,
});

async function refusal(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
  } catch (e) {
    return { code: (e as { code: number }).code, details: String((e as { details?: string }).details ?? (e as Error).message) };
  }
  throw new Error('the fake accepted the request');
}

test('a request the proto allows goes through, polled to its end as a long-running operation', async () => {
  const [op] = await endpoints.deployModel({ endpoint: ENDPOINT, deployedModel: deployedModel({ machineType: 'g2-standard-4', acceleratorType: 'NVIDIA_L4', acceleratorCount: 1 }) });
  expect(op.done).toBe(false);
  const [response] = await op.promise();
  expect((response as { deployedModel: { id: string } }).deployedModel.id).toBe('7');
  const [undeploy] = await endpoints.undeployModel({ endpoint: ENDPOINT, deployedModelId: '7' });
  await undeploy.promise();
  expect(fake.endpoint(ENDPOINT_ID).deployedModels).toEqual([]);
});

test('an enum number the proto does not have (the client passes 99 through) is refused', async () => {
  const r = await refusal(endpoints.deployModel({ endpoint: ENDPOINT, deployedModel: deployedModel({ machineType: 'g2-standard-4', acceleratorType: 99, acceleratorCount: 1 }) }));
  expect(r.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(r.details).toMatch(/acceleratorType: enum value expected/);
});

test('an enum name the proto does not have (the client drops "NVIDIA_L5") is refused: an accelerator count without a type', async () => {
  const r = await refusal(endpoints.deployModel({ endpoint: ENDPOINT, deployedModel: deployedModel({ machineType: 'g2-standard-4', acceleratorType: 'NVIDIA_L5' as any, acceleratorCount: 1 }) }));
  expect(r.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(r.details).toContain('accelerator_type ACCELERATOR_TYPE_UNSPECIFIED with accelerator_count 1');
});

test('missing REQUIRED fields are refused, REQUIRED read from the .proto sources (where IMMUTABLE does not hide it)', async () => {
  // DedicatedResources.machine_spec is REQUIRED and IMMUTABLE: protos.json keeps only IMMUTABLE.
  const noMachine = await refusal(endpoints.deployModel({ endpoint: ENDPOINT, deployedModel: { id: '8', model: `${PARENT}/models/m1`, dedicatedResources: { minReplicaCount: 1 } } }));
  expect(noMachine.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(noMachine.details).toContain('DeployModelRequest.deployedModel.dedicatedResources.machineSpec is required');

  const noName = await refusal(models.uploadModel({ parent: PARENT, modelId: 'm2', model: { artifactUri: 'gs://b/m2/', containerSpec: { imageUri: 'i' } } }));
  expect(noName.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(noName.details).toContain('UploadModelRequest.model.displayName is required');

  const envWithoutValue = await refusal(models.uploadModel({ parent: PARENT, modelId: 'm2', model: { displayName: 'm2', containerSpec: { imageUri: 'i', env: [{ name: 'X' }] } } }));
  expect(envWithoutValue.details).toContain('UploadModelRequest.model.containerSpec.env[0].value is required');
  expect(fake.models.has('m2')).toBe(false);
});

test('fields the proto does not have are refused (sent as raw bytes: the client cannot send them)', async () => {
  const root = vertexProtoRoot();
  const type = root.lookupType('google.cloud.aiplatform.v1.GetEndpointRequest');
  const known = Buffer.from(type.encode(type.fromObject({ name: ENDPOINT })).finish());
  const unknownField = Buffer.from([0xb8, 0x3e, 0x01]); // field 999, varint 1
  const client = new grpc.Client(fake.address, grpc.credentials.createInsecure());
  const call = (body: Buffer) => new Promise<{ code: number; details: string } | undefined>(resolve => {
    client.makeUnaryRequest('/google.cloud.aiplatform.v1.EndpointService/GetEndpoint', (b: Buffer) => b, (b: Buffer) => b, body,
      (err) => resolve(err ? { code: err.code, details: err.details } : undefined));
  });
  try {
    expect(await call(known)).toBeUndefined();
    const r = await call(Buffer.concat([known, unknownField]));
    expect(r?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(r?.details).toContain('3 bytes of fields the proto does not have');
  } finally {
    client.close();
  }
});

test('the service\'s rules: a traffic split must add up to 100 and name deployed models only', async () => {
  const [ep] = await endpoints.getEndpoint({ name: ENDPOINT });
  const r = await refusal(endpoints.updateEndpoint({ endpoint: { name: ep.name, displayName: ep.displayName, trafficSplit: { 12345: 100 } }, updateMask: { paths: ['traffic_split'] } }));
  expect(r.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(r.details).toContain('names deployed models the endpoint does not have: 12345');
});

test('RawPredict: answered by the Model of the deployed model with the traffic, with the body as sent; no traffic, no answer', async () => {
  const predictions = new v1.PredictionServiceClient({
    apiEndpoint: '127.0.0.1', port: fake.port,
    sslCreds: require(require.resolve('google-gax', { paths: [path.dirname(require.resolve('@google-cloud/aiplatform'))] })).grpc.credentials.createInsecure(),
    auth: { getUniverseDomain: async () => 'googleapis.com' } as any,
  });
  const raw = (text: string) => predictions.rawPredict({ endpoint: ENDPOINT, httpBody: { contentType: 'application/json', data: Buffer.from(text) } })
    .then(([body]) => Buffer.from(body.data as Uint8Array).toString('utf8'));
  try {
    fake.answerFor('m1', body => JSON.stringify({ from: 'm1', got: JSON.parse(body) }));
    expect((await refusal(raw('{}'))).details).toContain('has no deployed model with traffic');
    const [op] = await endpoints.deployModel({ endpoint: ENDPOINT, deployedModel: deployedModel({ machineType: 'e2-standard-4' }, { id: '9' }), trafficSplit: { 0: 100 } });
    await op.promise();
    expect(await raw('{"instances":[[1,"x"]]}')).toBe('{"from":"m1","got":{"instances":[[1,"x"]]}}');
    expect(fake.events.at(-1)).toEqual({ kind: 'predicted', endpointId: ENDPOINT_ID, deployedModelId: '9', modelId: 'm1' });
    const other = await refusal(predictions.rawPredict({ endpoint: ENDPOINT, httpBody: { contentType: 'text/plain', data: Buffer.from('x') } }));
    expect(other.code).toBe(grpc.status.INVALID_ARGUMENT);
    const [undeploy] = await endpoints.undeployModel({ endpoint: ENDPOINT, deployedModelId: '9' });
    await undeploy.promise();
  } finally {
    await predictions.close();
  }
});
