import { spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { ModelArtifact, NetworkAccess, ServingContainer } from '../../lib';
import { VerificationProps } from '../../lib/spec/verification';
import { SageMakerModelEndpoint } from '../../lib/targets/sagemaker';
import { FakeSageMakerRuntime, ModelAnswer, startFakeSageMakerRuntime } from '../support/aws/fake-sagemaker-runtime';

/*
 * Runs the verification function's code exactly as synth writes it (the index.js of the asset in
 * the cloud assembly), in a fresh Node.js process as Lambda would, with the real AWS SDK pointed at
 * the fake SageMaker Runtime (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, which SDK v3 honours) and a local
 * server standing in for CloudFormation's pre-signed response URL.
 */
const ROOT = path.join(__dirname, '..', '..');
const REGION = 'eu-west-1';
const credentials = { accessKeyId: 'AKIDVERIFY', secretAccessKey: 'verify-secret-key', sessionToken: 'verify-session' };

const VERIFICATION: VerificationProps = {
  samples: [
    { name: 'low-risk', request: { instances: [[1, 2]] }, expectedResponse: { predictions: [0.1] }, absoluteTolerance: 0.01 },
    { name: 'high-risk', request: { instances: [[9, 9]] }, expectedResponse: { predictions: [0.9] }, absoluteTolerance: 0.01 },
  ],
  latencyBudgetMs: 2000,
};
/** The model when it is right: answers each request of VERIFICATION (and adds a key, which matching ignores). */
const RIGHT: Record<string, string> = {
  '{"instances":[[1,2]]}': '{"predictions":[0.104],"model":"v2"}',
  '{"instances":[[9,9]]}': '{"predictions":[0.9],"model":"v2"}',
};

let fake: FakeSageMakerRuntime;
let model: (body: string) => ModelAnswer = body => ({ status: 200, body: RIGHT[body] ?? '{}' });
let cfn: { url: string; responses: any[]; failNext: number; close(): Promise<void> };
let assetDir: string;
let properties: Record<string, unknown>;
const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'sm-verify-'));

/** Synthesizes a stack with verification into `outdir`; returns the custom resource's properties (as CloudFormation passes them) and the function's asset directory. */
function synthVerification(verification: VerificationProps) {
  const app = new App({ outdir });
  const stack = new Stack(app, 'Verify', { env: { account: '111111111111', region: REGION } });
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-0123456789abcdef0', availabilityZones: ['eu-west-1a'], privateSubnetIds: ['subnet-0123456789abcdef0'], privateSubnetRouteTableIds: ['rtb-0123456789abcdef0'] });
  new SageMakerModelEndpoint(stack, 'Ep', {
    model: ModelArtifact.fromUri('s3://models/fraud/model.tar.gz'), serving: ServingContainer.xgboost(), endpointName: 'fraud-scorer',
    access: { network: NetworkAccess.PUBLIC }, vpc, verification,
  });
  const assembly = app.synth();
  const template = assembly.getStackByName('Verify').template;
  const fn = Object.values<any>(template.Resources).find(r => r.Type === 'AWS::Lambda::Function');
  const check = Object.values<any>(template.Resources).find(r => r.Type === 'Custom::SageMakerVerification');
  const key: string = fn.Properties.Code.S3Key;
  const dir = path.join(outdir, `asset.${key.replace(/\.zip$/, '')}`);
  // CloudFormation resolves the references and passes every scalar as a string.
  const { ServiceToken: _token, EndpointName: _name, EndpointConfigName: _config, ...rest } = check.Properties;
  return {
    dir,
    properties: {
      ServiceToken: 'arn:aws:lambda:eu-west-1:111111111111:function:verify', EndpointName: 'fraud-scorer', EndpointConfigName: 'config-v2',
      ...Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, String(v)])),
    },
  };
}

beforeAll(async () => {
  ({ dir: assetDir, properties } = synthVerification(VERIFICATION));
  fake = await startFakeSageMakerRuntime({ credentials, region: REGION, answer: ({ body }) => model(body) });
  const responses: any[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      if (cfn.failNext > 0) {
        cfn.failNext--;
        res.writeHead(500).end();
        return;
      }
      const body = Buffer.concat(chunks).toString('utf8');
      responses.push({ method: req.method, path: req.url, contentType: req.headers['content-type'], bytes: Buffer.byteLength(body), body: JSON.parse(body) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  cfn = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, responses, failNext: 0,
    close: () => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
});
afterAll(async () => {
  await fake.close();
  await cfn.close();
  fs.rmSync(outdir, { recursive: true, force: true });
});
beforeEach(() => {
  model = body => ({ status: 200, body: RIGHT[body] ?? '{}' });
  fake.invocations.length = 0;
  cfn.responses.length = 0;
  cfn.failNext = 0;
});

interface Run { response: any; exitCode: number | null; invocations: typeof fake.invocations; stdout: string }

/** Runs the asset's handler in a child process with one CloudFormation event; resolves with what the response URL got. */
async function invoke(event: Record<string, unknown>, options: { remainingMs?: number; secret?: string; dir?: string } = {}): Promise<Run> {
  const driver = `
    const started = Date.now();
    const context = { getRemainingTimeInMillis: () => ${options.remainingMs ?? 300_000} - (Date.now() - started) };
    require(${JSON.stringify(path.join(options.dir ?? assetDir, 'index.js'))}).handler(${JSON.stringify(event)}, context)
      .then(() => process.exit(0), e => { console.error(e); process.exit(1); });`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, NODE_PATH: path.join(ROOT, 'node_modules'), AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: options.secret ?? credentials.secretAccessKey, AWS_SESSION_TOKEN: credentials.sessionToken,
    AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: fake.url, AWS_EC2_METADATA_DISABLED: 'true',
  };
  const child = spawn(process.execPath, ['-e', driver], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', d => { stdout += d; });
  child.stderr.on('data', d => { stdout += d; });
  const exitCode = await new Promise<number | null>(resolve => child.on('exit', resolve));
  expect(cfn.responses.length).toBeLessThanOrEqual(1);
  return { response: cfn.responses[0], exitCode, invocations: [...fake.invocations], stdout };
}

function event(requestType: 'Create' | 'Update' | 'Delete', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    RequestType: requestType, ResponseURL: `${cfn.url}/cloudformation-response?X-Amz-Signature=abc`, StackId: 'arn:aws:cloudformation:eu-west-1:111111111111:stack/Verify/1',
    RequestId: `request-${requestType}`, LogicalResourceId: 'EpVerificationCheck', ResourceType: 'Custom::SageMakerVerification', ResourceProperties: properties, ...extra,
  };
}

test('right answers: SUCCESS, each sample sent once, as-is, as application/json, signed with the function\'s credentials', async () => {
  const run = await invoke(event('Create'));
  expect(run.exitCode).toBe(0);
  expect(run.response).toMatchObject({ method: 'PUT', contentType: '', body: { Status: 'SUCCESS', RequestId: 'request-Create', LogicalResourceId: 'EpVerificationCheck' } });
  expect(run.response.body.Reason).toMatch(/all 2 sample\(s\) answered correctly/);
  expect(run.response.body.PhysicalResourceId).toMatch(/^verified-[0-9a-f]{40}$/);
  expect(run.invocations.map(i => [i.endpointName, i.contentType, i.body, i.outcome])).toEqual([
    ['fraud-scorer', 'application/json', '{"instances":[[1,2]]}', 'OK'],
    ['fraud-scorer', 'application/json', '{"instances":[[9,9]]}', 'OK'],
  ]);
});

test('a wrong answer: FAILED, naming the sample, the expected and the actual response', async () => {
  model = body => ({ status: 200, body: body.includes('[9,9]') ? '{"predictions":[0.35]}' : RIGHT[body] });
  const run = await invoke(event('Update', { PhysicalResourceId: 'verified-previous', OldResourceProperties: { ...properties, EndpointConfigName: 'config-v1' } }));
  expect(run.response.body.Status).toBe('FAILED');
  expect(run.response.body.PhysicalResourceId).toBe('verified-previous');
  const reason: string = run.response.body.Reason;
  expect(reason).toContain('verification of SageMaker endpoint fraud-scorer (endpoint config config-v2) failed (1 sample)');
  expect(reason).toContain('CloudFormation rolls the endpoint back to its previous endpoint config');
  expect(reason).toContain('sample "high-risk": wrong answer at $.predictions[0]: expected 0.9 ± 0.01, got 0.35; expected {"predictions":[0.9]}, got {"predictions":[0.35]}');
  expect(reason).not.toContain('low-risk');
});

test('a model error (SageMaker 424 ModelError): FAILED with the status and the model\'s message', async () => {
  model = () => ({ status: 500, body: 'CUDA out of memory' });
  const run = await invoke(event('Create'));
  expect(run.response.body.Status).toBe('FAILED');
  expect(run.response.body.Reason).toMatch(/sample "low-risk": HTTP 424: ModelError: .*CUDA out of memory/);
  expect(run.response.body.Reason).toContain('CloudFormation removes the new endpoint');
});

test('wrong credentials (403 from SageMaker\'s signature check): FAILED, saying so', async () => {
  const run = await invoke(event('Create'), { secret: 'not-the-secret' });
  expect(run.invocations.every(i => /signature does not match/.test(i.outcome))).toBe(true);
  expect(run.response.body.Status).toBe('FAILED');
  expect(run.response.body.Reason).toMatch(/sample "low-risk": HTTP 403: InvalidSignatureException: the signature does not match/);
});

test('an answer slower than the latency budget: FAILED, with the time and the budget', async () => {
  model = body => ({ status: 200, body: RIGHT[body], delayMs: body.includes('[1,2]') ? 2300 : 0 });
  const run = await invoke(event('Create'));
  expect(run.response.body.Status).toBe('FAILED');
  expect(run.response.body.Reason).toMatch(/sample "low-risk": answered in \d+ ms, over the latency budget of 2000 ms/);
});

test('a sample with no answer: given up on 5 s after the budget, FAILED, and the next sample is still checked', async () => {
  model = body => ({ status: 200, body: RIGHT[body], delayMs: body.includes('[1,2]') ? 8000 : 0 });
  // A budget the answered sample meets even on a loaded machine; the hung one is given up on at 1.5 + 5 s.
  const { dir, properties: quick } = synthVerification({ ...VERIFICATION, latencyBudgetMs: 1500 });
  const run = await invoke(event('Create', { ResourceProperties: quick }), { dir });
  expect(run.response.body.Status).toBe('FAILED');
  expect(run.response.body.Reason).toContain('sample "low-risk": the request failed: no answer within 6500 ms (latency budget 1500 ms)');
  expect(run.response.body.Reason).not.toContain('high-risk');
  expect(run.invocations).toHaveLength(2);
});

test.each([
  ['a verified check (stack deletion, or cleanup after a replacement)', 'verified-abc'],
  ['a check whose creation failed (destroy after a failed deployment)', 'verification-failed-request-Create'],
])('Delete of %s: SUCCESS with the same physical id, nothing invoked, even with the model broken', async (_name, physicalId) => {
  model = () => ({ status: 500, body: 'broken' });
  const run = await invoke(event('Delete', { PhysicalResourceId: physicalId }));
  expect(run.response.body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: physicalId });
  expect(run.invocations).toEqual([]);
});

test('an exception (malformed properties) still answers FAILED, with the reason', async () => {
  const run = await invoke(event('Create', { ResourceProperties: { ...properties, Samples: '{not json' } }));
  expect(run.response.body.Status).toBe('FAILED');
  expect(run.response.body.Reason).toMatch(/could not run: .*JSON/);
  expect(run.invocations).toEqual([]);
});

test('the Lambda time running out: FAILED before it ends, not an hour of CloudFormation waiting', async () => {
  model = body => ({ status: 200, body: RIGHT[body], delayMs: 4000 });
  const started = Date.now();
  // 16 s left: the handler keeps 15 s to answer, so it gives up after about 1 s.
  const run = await invoke(event('Create'), { remainingMs: 16_000 });
  expect(run.response.body.Status).toBe('FAILED');
  expect(run.response.body.Reason).toMatch(/did not finish in the function's time/);
  expect(Date.now() - started).toBeLessThan(15_000);
});

test('the response URL failing at first: the answer is retried until it is delivered', async () => {
  cfn.failNext = 2;
  const run = await invoke(event('Create'));
  expect(cfn.failNext).toBe(0);
  expect(run.response.body.Status).toBe('SUCCESS');
  expect(run.stdout).toMatch(/answered HTTP 500 \(attempt 1\)[\s\S]*answered HTTP 500 \(attempt 2\)/);
});

describe('rollback: UPDATE_ROLLBACK sends Update with the old properties', () => {
  test('properties that passed before (their hash is the physical id): SUCCESS without invoking, so the rollback cannot fail', async () => {
    const created = await invoke(event('Create'));
    const verifiedId = created.response.body.PhysicalResourceId;
    fake.invocations.length = 0;
    cfn.responses.length = 0;
    // The model is broken now; the update to config-v3 failed; CloudFormation rolls this resource back to config-v2.
    model = () => ({ status: 500, body: 'broken' });
    const rollback = await invoke(event('Update', {
      PhysicalResourceId: verifiedId, ResourceProperties: properties, OldResourceProperties: { ...properties, EndpointConfigName: 'config-v3' },
    }));
    expect(rollback.response.body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: verifiedId });
    expect(rollback.response.body.Reason).toMatch(/passed verification before: CloudFormation is rolling back/);
    expect(rollback.invocations).toEqual([]);
  });

  test('a forward update, even back to an older config, is checked (its properties do not hash to the physical id)', async () => {
    const created = await invoke(event('Create'));
    cfn.responses.length = 0;
    fake.invocations.length = 0;
    const older = { ...properties, EndpointConfigName: 'config-v1' };
    const run = await invoke(event('Update', { PhysicalResourceId: created.response.body.PhysicalResourceId, ResourceProperties: older, OldResourceProperties: properties }));
    expect(run.invocations).toHaveLength(2);
    expect(run.response.body.Status).toBe('SUCCESS');
    expect(run.response.body.PhysicalResourceId).not.toBe(created.response.body.PhysicalResourceId);
  });

  test('retry after a failed update: fix the model, apply again, SUCCESS', async () => {
    model = () => ({ status: 200, body: '{"predictions":[0.5]}' });
    const failed = await invoke(event('Update', { PhysicalResourceId: 'verified-v1' }));
    expect(failed.response.body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'verified-v1' });
    cfn.responses.length = 0;
    model = body => ({ status: 200, body: RIGHT[body] });
    const fixed = await invoke(event('Update', { PhysicalResourceId: 'verified-v1', ResourceProperties: { ...properties, EndpointConfigName: 'config-v3' } }));
    expect(fixed.response.body.Status).toBe('SUCCESS');
  });
});

test('a report longer than CloudFormation\'s 4 KB response is cut to fit, saying where the whole report is', async () => {
  const samples = Array.from({ length: 10 }, (_, i) => ({ name: `s${i}`, request: { i }, expectedResponse: { text: 'x'.repeat(400) } }));
  const { dir, properties: big } = synthVerification({ samples });
  model = () => ({ status: 200, body: JSON.stringify({ text: 'y'.repeat(400) }) });
  const run = await invoke(event('Create', { ResourceProperties: big }), { dir });
  expect(run.response.body.Status).toBe('FAILED');
  expect(run.response.bytes).toBeLessThanOrEqual(4096);
  expect(run.response.body.Reason).toMatch(/failed \(10 samples\)[\s\S]*cut to fit CloudFormation's 4 KB; the function's log has the whole report/);
  expect(run.stdout).toContain('sample "s9": wrong answer');
});
