/**
 * The Azure ML verification checker, run as Terraform's local-exec runs it (a child process, the
 * request in its environment), against fakes at the network boundary (test/support/azure/verify-process.ts):
 * a fake ARM that checks the ARM bearer token the real @azure/identity got from a fake `az`, and a
 * fake scoring server that checks the endpoint credential and the `azureml-model-deployment` header.
 */
import * as net from 'net';
import { travellingVerification } from '../../lib/common/sample-travel';
import { resolveVerification } from '../../lib/spec/verification';
import { AzureVerifyRequest } from '../../lib/targets/azure-ml/verify-request';
import { makeCredential } from '../../lib/targets/azure-ml/verify/main';
import {
  CheckerWorkspace, FAKE_AML_TOKEN, FAKE_KEY, FakeAzure, azToken, checkerEnv, checkerWorkspace, runChecker, startFakeAzure,
} from '../support/azure/verify-process';
import { SUB } from './support';

const ENDPOINT_ID = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-ml/onlineEndpoints/fraud`;
const request = (over: Partial<AzureVerifyRequest> = {}): AzureVerifyRequest => ({
  format: 1,
  endpointId: ENDPOINT_ID,
  endpointName: 'fraud',
  deploymentName: 'vgood',
  scoringUri: 'https://fraud.westeurope.inference.ml.azure.com/score',
  authMode: 'Key',
  apiVersion: '2024-10-01',
  privateNetwork: false,
  verification: samples(5000),
  ...over,
});
/** Two samples of the fake model (y = 2x), as the construct sends them. */
function samples(latencyBudgetMs: number) {
  return travellingVerification(resolveVerification({ samples: [{ name: 'two', request: { x: 2 }, expectedResponse: { y: 4 } }, { name: 'ten', request: { x: 10 }, expectedResponse: { y: 20 } }], latencyBudgetMs }));
}

let ws: CheckerWorkspace;
const fakes: FakeAzure[] = [];
beforeAll(() => { ws = checkerWorkspace(); });
afterAll(async () => {
  ws.cleanup();
  await Promise.all(fakes.map(f => f.close()));
});

async function fake(authMode: 'Key' | 'AMLToken' | 'AADToken'): Promise<FakeAzure> {
  const f = await startFakeAzure(ENDPOINT_ID, authMode);
  f.deployments.set('vgood', { kind: 'right' });
  f.deployments.set('vbad', { kind: 'wrong' });
  f.deployments.set('vslow', { kind: 'slow', ms: 400 });
  fakes.push(f);
  return f;
}

describe.each(['Key', 'AMLToken', 'AADToken'] as const)('%s auth', authMode => {
  let f: FakeAzure;
  beforeAll(async () => { f = await fake(authMode); });
  beforeEach(() => { f.log.length = 0; });

  test('right answers from the addressed deployment pass, with that deployment\'s name in the header and the right credential', async () => {
    const run = await runChecker(ws, request({ authMode }), checkerEnv(ws, { fake: f }));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/every sample answered right, the slowest in \d+ ms \(budget 5000 ms\): traffic moves to vgood next/);
    const scoring = f.log.filter(l => l.server === 'scoring');
    expect(scoring).toEqual([{ server: 'scoring', path: '/', deployment: 'vgood', authorized: true }, { server: 'scoring', path: '/', deployment: 'vgood', authorized: true }]);
    // ARM only where the auth mode needs it, with the ARM token.
    const arm = f.log.filter(l => l.server === 'arm');
    const action = { Key: ['listKeys'], AMLToken: ['token'], AADToken: [] }[authMode];
    expect(arm).toEqual(action.map(a => ({ server: 'arm', path: `${ENDPOINT_ID}/${a}`, authorized: true })));
    // No credential is ever printed.
    for (const secret of [FAKE_KEY, FAKE_AML_TOKEN, azToken('https://management.azure.com'), azToken('https://ml.azure.com')]) {
      expect(run.stdout + run.stderr).not.toContain(secret);
    }
  }, 30_000);

  test('a wrong answer fails, naming the sample, the expected and the actual response', async () => {
    const run = await runChecker(ws, request({ authMode, deploymentName: 'vbad' }), checkerEnv(ws, { fake: f }));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('verification of deployment vbad of Azure ML endpoint fraud failed (2 samples); no traffic moved to it');
    expect(run.stderr).toContain('sample "two": wrong answer at $.y: expected 4, got 5; expected {"y":4}, got {"y":5,"model":"vbad"}');
    expect(run.stderr).toContain('sample "ten": wrong answer at $.y: expected 20, got 21');
    expect(f.log.filter(l => l.server === 'scoring').every(l => l.deployment === 'vbad')).toBe(true);
  }, 30_000);
});

test('over the latency budget fails, naming the time and the budget', async () => {
  const f = await fake('Key');
  const run = await runChecker(ws, request({ deploymentName: 'vslow', verification: samples(100) }), checkerEnv(ws, { fake: f }));
  expect(run.code).toBe(1);
  expect(run.stderr).toMatch(/sample "two": answered in \d+ ms, over the latency budget of 100 ms/);
  // The same slow deployment within a larger budget passes.
  expect((await runChecker(ws, request({ deploymentName: 'vslow', verification: samples(3000) }), checkerEnv(ws, { fake: f }))).code).toBe(0);
}, 30_000);

// The fake scoring server expects another auth mode's credential than the one the checker sends.
test.each([
  ['Key', 'AMLToken', 'HTTP 401: the endpoint refused the endpoint key read with listKeys; it answered: {"message":"Invalid authentication token"}'],
  ['AMLToken', 'Key', 'HTTP 401: the endpoint refused the AML token from the endpoint\'s token action; it answered:'],
  ['AADToken', 'Key', 'HTTP 401: the endpoint refused the Microsoft Entra token (audience https://ml.azure.com): the identity cdktf apply runs as needs ' +
    'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action'],
] as const)('a 401 from the scoring URI (%s sent, %s expected) is a clear message naming the credential refused, no stack trace', async (sent, expected, message) => {
  const f = await startFakeAzure(ENDPOINT_ID, expected);
  fakes.push(f);
  f.deployments.set('vgood', { kind: 'right' });
  const run = await runChecker(ws, request({ authMode: sent }), checkerEnv(ws, { fake: f }));
  expect(run.code).toBe(1);
  expect(run.stderr).toContain(`sample "two": ${message}`);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}, 30_000);

test('listKeys refused by ARM: the action named, the permission it needs, no call to the endpoint', async () => {
  const f = await fake('Key');
  const run = await runChecker(ws, request({ endpointId: ENDPOINT_ID.replace('/fraud', '/other') }), checkerEnv(ws, { fake: f }));
  expect(run.code).toBe(1);
  expect(run.stderr).toBe('azure-ml verify: reading a key of endpoint fraud (POST .../onlineEndpoints/fraud/listKeys) failed: HTTP 404 ResourceNotFound: The Resource was not found.\n');
  expect(f.log.some(l => l.server === 'scoring')).toBe(false);
}, 30_000);

test('a deployment the endpoint does not have (404) fails the check', async () => {
  const f = await fake('Key');
  const run = await runChecker(ws, request({ deploymentName: 'vmissing' }), checkerEnv(ws, { fake: f }));
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('sample "two": HTTP 404: {"message":"No valid deployments to route to: vmissing"}');
}, 30_000);

test('a PRIVATE endpoint the machine cannot reach: one clear line that says where the apply must run, no stack trace', async () => {
  const f = await fake('AADToken');
  // A loopback port nothing listens on (taken, then released).
  const free = net.createServer();
  const port = await new Promise<number>(resolve => free.listen(0, '127.0.0.1', () => resolve((free.address() as net.AddressInfo).port)));
  await new Promise(resolve => free.close(resolve));
  const closed = { ...f, scoringUrl: `http://127.0.0.1:${port}` };
  const run = await runChecker(ws, request({ authMode: 'AADToken', privateNetwork: true }), checkerEnv(ws, { fake: closed }));
  expect(run.code).toBe(1);
  expect(run.stderr).toContain(`sample "two": the request failed: cannot reach the scoring URI's host 127.0.0.1:${port} (ECONNREFUSED). The endpoint takes private traffic only (access.network PRIVATE) and the checker runs where cdktf apply runs: run the apply from a machine that reaches the workspace's private endpoint`);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}, 30_000);

test('not logged in to Azure: exit 2, the CLI\'s reason and what to do, nothing sent', async () => {
  const f = await fake('Key');
  f.log.length = 0;
  const run = await runChecker(ws, request(), checkerEnv(ws, { fake: f, loggedIn: false }));
  expect(run.code).toBe(2);
  expect(run.stderr).toBe('azure-ml verify: no Azure credentials for https://management.azure.com from the Azure CLI (az account get-access-token failed: ' +
    'ERROR: Please run \'az login\' to setup account.): sign in with `az login`, or install @azure/identity (npm install @azure/identity@^4) and set ' +
    'AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (or the azurerm provider\'s ARM_* variables), or run where a managed identity is\n');
  expect(f.log).toEqual([]);
}, 30_000);

test('neither the Azure CLI nor @azure/identity: says both, one line, no stack trace, nothing sent', async () => {
  const f = await fake('AADToken');
  f.log.length = 0;
  const run = await runChecker(ws, request({ authMode: 'AADToken' }), checkerEnv(ws, { fake: f, loggedIn: 'missing' }));
  expect(run.code).toBe(2);
  expect(run.stderr).toContain('no Azure credentials for https://ml.azure.com from the Azure CLI (the Azure CLI (az) is not installed, and neither is @azure/identity)');
  expect(run.stderr.trim().split('\n')).toHaveLength(1);
  expect(f.log).toEqual([]);
}, 30_000);

test('the request is checked before anything is sent; the test seams take loopback URLs only; the scoring URI must be https', async () => {
  const f = await fake('Key');
  f.log.length = 0;
  const env = checkerEnv(ws, { fake: f });
  const bad = await runChecker(ws, { ...request(), format: 9 }, env);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('format: is 9; this checker reads format 1');
  const noSamples = await runChecker(ws, request({ verification: { latencyBudgetMs: 5000, samples: [] } }), env);
  expect(noSamples.stderr).toContain('verification.samples: must be a list of 1 to 10 samples');
  const seam = await runChecker(ws, request(), { ...env, MD_AZURE_TEST_ARM_URL: 'https://evil.example.com' });
  expect(seam.code).toBe(2);
  expect(seam.stderr).toContain('MD_AZURE_TEST_ARM_URL="https://evil.example.com" is not a loopback http URL (it is for tests only)');
  const { MD_AZURE_TEST_SCORING_URL: _unused, ...noScoringSeam } = env;
  const plain = await runChecker(ws, request({ scoringUri: 'http://fraud.westeurope.inference.ml.azure.com/score' }), noScoringSeam);
  expect(plain.code).toBe(2);
  expect(plain.stderr).toContain('is not https: the checker sends credentials only over TLS');
  expect(f.log).toEqual([]);
}, 60_000);

test('the azurerm provider\'s ARM_* service principal is used when no AZURE_* one is set, and never overrides one', () => {
  const names = ['CLIENT_ID', 'TENANT_ID', 'CLIENT_SECRET'];
  const saved = Object.fromEntries(names.flatMap(n => [`AZURE_${n}`, `ARM_${n}`]).map(k => [k, process.env[k]]));
  try {
    for (const k of Object.keys(saved)) delete process.env[k];
    makeCredential({ ARM_CLIENT_ID: 'arm-client', ARM_TENANT_ID: 'arm-tenant', ARM_CLIENT_SECRET: 'arm-secret' });
    expect(names.map(n => process.env[`AZURE_${n}`])).toEqual(['arm-client', 'arm-tenant', 'arm-secret']);
    for (const k of Object.keys(saved)) delete process.env[k];
    makeCredential({ AZURE_CLIENT_ID: 'azure-client', ARM_CLIENT_ID: 'arm-client', ARM_TENANT_ID: 'arm-tenant', ARM_CLIENT_SECRET: 'arm-secret' });
    expect(names.map(n => process.env[`AZURE_${n}`])).toEqual([undefined, undefined, undefined]);
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
});
