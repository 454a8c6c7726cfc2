/**
 * `model-deployment probe` as a user runs it: a child process (lib/cli/main.ts through ts-node),
 * against local fakes that check each target's real authentication path, and with bad input.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../lib/cli/main';
import { FakeSageMakerRuntime, startFakeSageMakerRuntime } from '../support/aws/fake-sagemaker-runtime';
import { FakeEndpoint, startFakeEndpoint } from '../support/probe/fake-endpoint';

jest.setTimeout(120_000);

const MAIN = path.join(__dirname, '..', '..', 'lib', 'cli', 'main.ts');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'probe-cli-'));
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(closers.map(c => c()));
  fs.rmSync(work, { recursive: true, force: true });
});

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Starts the CLI; `env` replaces the AWS, Google, Azure and probe variables of this process. */
function start(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<Run> } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AWS_|GOOGLE_|MD_PROBE_|AZURE_)/.test(k)));
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', MAIN, ...args], {
    env: { ...clean, AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: path.join(work, 'none'), AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'none'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', c => { stdout += c; });
  child.stderr!.on('data', c => { stderr += c; });
  const done = new Promise<Run>(resolve => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

const cli = (args: string[], env?: Record<string, string>): Promise<Run> => start(args, env).done;

function file(name: string, text: string): string {
  const p = path.join(work, name);
  fs.writeFileSync(p, text);
  return p;
}

/** Nothing that looks like a Node stack trace. */
function expectNoStack(r: Run): void {
  expect(`${r.stdout}\n${r.stderr}`).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m);
}

async function fake(options: Parameters<typeof startFakeEndpoint>[0]): Promise<FakeEndpoint> {
  const f = await startFakeEndpoint(options);
  closers.push(() => f.close());
  return f;
}

const REQUESTS = file('requests.jsonl', [
  JSON.stringify({ name: 'one', request: { instances: [[1, 1, 1]] }, expectedResponse: { predictions: [[9.5, 11.5]] } }),
  JSON.stringify({ name: 'two', request: { instances: [[0, 0, 1]] }, expectedResponse: { predictions: [[5.5, 5.5]] } }),
].join('\n'));
/** Plays the linear model of the e2e fixtures (model v1). */
const linear = (body: string) => {
  const x = JSON.parse(body).instances[0] as number[];
  return { status: 200, body: JSON.stringify({ predictions: [[x[0] + 3 * x[1] + 5 * x[2] + 0.5, 2 * x[0] + 4 * x[1] + 6 * x[2] - 0.5]], modelVersion: 'model-v1' }) };
};

describe('authentication, per target, against fakes that check it', () => {
  const credentials = { accessKeyId: 'AKIDPROBETEST', secretAccessKey: 'probe-secret-0123456789abcdef', sessionToken: 'probe-session-token' };
  let sagemaker: FakeSageMakerRuntime;
  beforeAll(async () => {
    sagemaker = await startFakeSageMakerRuntime({ credentials, region: 'eu-west-1', answer: ({ body }) => linear(body) });
    closers.push(() => sagemaker.close());
  });
  const awsEnv = (secret = credentials.secretAccessKey) => ({ AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: credentials.sessionToken });

  test('SageMaker: SigV4 with credentials from the AWS SDK chain (environment) passes the independent signature check', async () => {
    const r = await cli(['probe', '--target', 'sagemaker', '--url', `${sagemaker.url}/endpoints/linear/invocations`, '--region', 'eu-west-1',
      '--requests', REQUESTS, '--count', '20', '--concurrency', '3', '--json'], awsEnv());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ target: 'sageMaker', completed: true, requests: 20, outcomes: { 200: 20 }, accuracy: { checked: 20, correct: 20, rate: 1 } });
    const mine = sagemaker.invocations.filter(i => i.endpointName === 'linear');
    expect(mine).toHaveLength(20);
    expect(mine.every(i => i.outcome === 'OK')).toBe(true);
    expect(r.stdout).not.toContain(credentials.secretAccessKey);
    expect(r.stdout).not.toContain(credentials.sessionToken);
  });

  test('SageMaker: a wrong secret gets 403, and the probe stops at once saying which authentication it used', async () => {
    const before = sagemaker.invocations.length;
    const r = await cli(['probe', '--target', 'sagemaker', '--url', `${sagemaker.url}/endpoints/linear/invocations`, '--region', 'eu-west-1',
      '--requests', REQUESTS, '--count', '50'], awsEnv('not-the-secret-at-all'));
    expect(r.code).toBe(1);
    expect(sagemaker.invocations.length - before).toBeLessThanOrEqual(4); // those in flight (concurrency 4), not 50
    expect(sagemaker.invocations.at(-1)!.outcome).toMatch(/signature does not match/);
    expect(r.stderr).toMatch(/probe: stopped early: the endpoint refused the authentication \(HTTP 403: .*\); used SigV4 with the AWS SDK's credential chain \(region eu-west-1\); check the AWS credentials/);
    expect(r.stdout).toMatch(/status\s+INCOMPLETE/);
    expect(r.stdout).toMatch(/outcomes\s+403: [1-4]/);
    expect(`${r.stdout}${r.stderr}`).not.toContain('not-the-secret-at-all');
    expectNoStack(r);
  });

  test('Vertex AI: a bearer token from Google application default credentials (a credentials file whose token endpoint is a fake)', async () => {
    // The token endpoint of an `external_account_authorized_user` credential: it exchanges the refresh token for an access token.
    let exchanges = 0;
    const tokens = http.createServer((req, res) => {
      let body = '';
      req.on('data', c => { body += c; });
      req.on('end', () => {
        const form = new URLSearchParams(body);
        const basic = Buffer.from('client-1:client-secret-1').toString('base64');
        if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== 'refresh-1' || req.headers.authorization !== `Basic ${basic}`) {
          res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
          return;
        }
        exchanges++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'ya29.probe-access-token', expires_in: 3600, token_type: 'Bearer' }));
      });
    });
    await new Promise<void>(r => tokens.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise(r => { tokens.closeAllConnections(); tokens.close(() => r()); }));
    const adc = file('adc.json', JSON.stringify({
      type: 'external_account_authorized_user', audience: '//iam.googleapis.com/locations/global/workforcePools/p/providers/q',
      client_id: 'client-1', client_secret: 'client-secret-1', refresh_token: 'refresh-1',
      token_url: `http://127.0.0.1:${(tokens.address() as AddressInfo).port}/token`,
    }));
    const vertex = await fake({ require: { header: 'authorization', value: 'Bearer ya29.probe-access-token' }, answer: linear });
    const predictUrl = vertex.url.replace('/invocations', '/v1/projects/p/locations/europe-west4/endpoints/1234:predict');
    const r = await cli(['probe', '--target', 'vertex-ai', '--url', predictUrl, '--requests', REQUESTS, '--count', '10', '--json'],
      { GOOGLE_APPLICATION_CREDENTIALS: adc });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ target: 'vertexAi', endpoint: '1234', completed: true, outcomes: { 200: 10 }, accuracy: { rate: 1 } });
    expect(exchanges).toBeGreaterThanOrEqual(1);
    expect(vertex.received).toMatchObject({ authorized: 10, refused: 0 });
    // The requests file holds the container's own bodies: they go to rawPredict.
    expect(vertex.lastPath).toBe('/v1/projects/p/locations/europe-west4/endpoints/1234:rawPredict');
    expect(r.stdout).not.toContain('ya29.probe-access-token');
  });

  test('Azure ML: an Entra ID token from the Azure CLI (a stand-in az on PATH), and the deployment header', async () => {
    const bin = path.join(work, 'az-bin');
    fs.mkdirSync(bin, { recursive: true });
    const expires = Math.floor(Date.now() / 1000) + 3600;
    fs.writeFileSync(path.join(bin, 'az'), `#!/bin/sh
[ "$*" = "account get-access-token --resource https://ml.azure.com --output json" ] || { echo "unexpected: $*" >&2; exit 3; }
echo '{"accessToken":"entra-probe-token","expires_on":${expires},"tokenType":"Bearer"}'
`, { mode: 0o755 });
    const azure = await fake({ require: { header: 'authorization', value: 'Bearer entra-probe-token' }, answer: linear });
    const r = await cli(['probe', '--target', 'azure-ml', '--url', azure.url.replace('/invocations', '/score'), '--deployment', 'v0123abcd',
      '--requests', REQUESTS, '--count', '6', '--json'], { PATH: `${bin}:${process.env.PATH}` });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ target: 'azureMl', completed: true, outcomes: { 200: 6 } });
    expect(azure.received).toMatchObject({ authorized: 6, refused: 0 });
    expect(azure.lastHeaders!['azureml-model-deployment']).toBe('v0123abcd');
  });

  test('Azure ML: a key (MD_PROBE_API_KEY) as Authorization: Bearer', async () => {
    const key = 'azure-key-0123456789abcdef';
    const azure = await fake({ require: { header: 'authorization', value: `Bearer ${key}` }, answer: linear });
    const html = path.join(work, 'report.html');
    // --open with no browser opener on PATH: a warning, not a failure.
    const r = await cli(['probe', '--target', 'azure-ml', '--url', azure.url, '--requests', REQUESTS, '--count', '4', '--html', html, '--open'],
      { MD_PROBE_API_KEY: key, PATH: path.join(work, 'empty-bin') });
    expect(r.code).toBe(0);
    expect(azure.received).toMatchObject({ authorized: 4, refused: 0 });
    expect(r.stdout).toMatch(/auth\s+an API key as Authorization: Bearer/);
    expect(r.stderr).toContain(`probe: HTML report written to ${html}`);
    expect(r.stderr).toMatch(/probe: warning: could not open a browser \(xdg-open: ENOENT\); open .*report\.html yourself/);
    const report = fs.readFileSync(html, 'utf8');
    expect(report).toMatch(/^<!doctype html>/i);
    expect(`${r.stdout}${r.stderr}${report}`).not.toContain(key);
  });

  test('on-prem: the deployment\'s API key file, as X-Api-Key; a wrong key gets 401 and a clear stop', async () => {
    const key = 'onprem-key-0123456789abcdef';
    const onPrem = await fake({ require: { header: 'x-api-key', value: key }, answer: linear });
    const keys = file('api-keys', `# the deployment's keys\n\n${key}\nsecond-key-0123456789abcdef\n`);
    const ok = await cli(['probe', '--target', 'on-prem', '--url', onPrem.url, '--api-key-file', keys, '--requests', REQUESTS, '--count', '8']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/accuracy\s+100% \(8 of 8 checked answers\)/);
    expect(onPrem.received).toMatchObject({ authorized: 8, refused: 0 });

    const wrong = await cli(['probe', '--target', 'on-prem', '--url', onPrem.url, '--requests', REQUESTS, '--count', '8'], { MD_PROBE_API_KEY: 'wrong-key-0123456789abcdef' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('probe: stopped early: the endpoint refused the authentication (HTTP 401: {"error":"missing or wrong credentials"}); used an API key as X-Api-Key; check that the key is a line of the deployment\'s apiKeyFile');
    expect(wrong.stdout).toMatch(/outcomes\s+401: [1-4]/);
    expect(`${wrong.stdout}${wrong.stderr}`).not.toContain('wrong-key-0123456789abcdef');
    expectNoStack(wrong);
  });
});

describe('bad input ends with a clear message, the documented exit code and no stack trace', () => {
  test('an unreachable endpoint: exit 1, the error named, a partial report', async () => {
    const port = await new Promise<number>(resolve => {
      const s = http.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => resolve(p)); });
    });
    const r = await cli(['probe', '--target', 'on-prem', '--url', `http://127.0.0.1:${port}/invocations`, '--requests', REQUESTS, '--count', '100'], { MD_PROBE_API_KEY: 'k'.repeat(20) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^probe: stopped early: the endpoint is unreachable: ECONNREFUSED .*127\.0\.0\.1:\d+; check the URL/m);
    expect(r.stdout).toMatch(/status\s+INCOMPLETE/);
    expect(r.stdout).toMatch(/outcomes\s+ECONNREFUSED: \d/);
    expect(r.stdout).toMatch(/latency \(ms\)\s+no HTTP answer/);
    expectNoStack(r);
  });

  test.each([
    ['a line that is not JSON', '{"request": {"x": 1}}\n{"request": {"x": 2}\n', /^probe: requests file bad\.jsonl, line 2, is not valid JSON: /],
    ['a request that is not an object', '{"request": {"x": 1}}\n{"request": 5}\n', /^probe: requests file: invalid bad\.jsonl:2\.request: 5\. Allowed: a JSON object or array: the request body$/m],
    ['an unknown field', '[{"request": {"x": 1}, "expected": {}}]', /^probe: requests file: invalid bad\.jsonl\[0\]\.expected: \{\}\. Allowed: no such property; known: name, request, expectedResponse/m],
    ['a wrong tolerance', '[{"request": {"x": 1}, "expectedResponse": 1, "relativeTolerance": 5}]', /^probe: requests file: invalid bad\.jsonl\[0\]\.relativeTolerance: 5/m],
    ['a broken JSON array', '[{"request": {"x": 1}},\n {"request": }]', /^probe: requests file bad\.jsonl is not valid JSON: .*\(item \[1\], from line 2\)$/m],
    ['an empty file', '\n\n', /^probe: requests file bad\.jsonl has no requests/],
  ])('a malformed requests file (%s): exit 2, naming where', async (_name, text, message) => {
    const r = await cli(['probe', '--target', 'on-prem', '--url', 'http://127.0.0.1:9/x', '--requests', file('bad.jsonl', text)], { MD_PROBE_API_KEY: 'k'.repeat(20) });
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expectNoStack(r);
  });

  test.each([
    [['probe', '--requests', REQUESTS], /say what to probe: --outputs FILE, or --target TARGET/],
    [['probe', '--target', 'gce', '--url', 'http://x', '--requests', REQUESTS], /invalid --target "gce". Allowed: sagemaker, azure-ml, vertex-ai, on-prem/],
    [['probe', '--target', 'on-prem', '--url', 'http://x/', '--requests', REQUESTS], /on-prem needs an API key/],
    [['probe', '--bogus'], /Unknown option '--bogus'/],
    [['probe', '--target', 'on-prem', '--url', 'http://x/', '--requests', REQUESTS, '-c', '0'], /invalid --concurrency: "0"/],
    [['probe', '--target', 'sagemaker', '--endpoint-name', 'e', '--requests', REQUESTS], /SageMaker needs a region/],
    [['probe', '--outputs', path.join(work, 'missing.json'), '--requests', REQUESTS], /cannot read the outputs file .*missing\.json: ENOENT/],
    [['deploy'], /unknown command "deploy"/],
  ])('bad arguments %j: exit 2 and what to fix', async (args, message) => {
    // In this process (the child-process cases above show the same path end to end): main() returns the exit code.
    let stderr = '';
    const saved = { ...process.env };
    for (const k of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'MD_PROBE_API_KEY']) delete process.env[k];
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(chunk => { stderr += String(chunk); return true; });
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await main(args)).toBe(2);
    } finally {
      err.mockRestore();
      out.mockRestore();
      process.env = saved;
    }
    expect(stderr).toMatch(message);
    expectNoStack({ code: 2, signal: null, stdout: '', stderr });
  });

  test('Ctrl-C mid-run: stops sending, prints the partial report marked incomplete, exits 130', async () => {
    const f = await fake({ require: { header: 'x-api-key', value: 'k'.repeat(20) }, answer: body => ({ ...linear(body), delayMs: 20 }) });
    const { child, done } = start(['probe', '--target', 'on-prem', '--url', f.url, '--requests', REQUESTS, '--count', '1000000', '--concurrency', '2', '--json'],
      { MD_PROBE_API_KEY: 'k'.repeat(20) });
    while (f.received.total < 10) await new Promise(r => setTimeout(r, 20));
    child.kill('SIGINT');
    const r = await done;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('probe: interrupted; waiting for the requests in flight');
    expect(r.stderr).toContain('probe: stopped early: interrupted (Ctrl-C); the report below is partial');
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ completed: false, stopReason: 'interrupted (Ctrl-C)', requested: { count: 1000000 } });
    expect(result.requests).toBeGreaterThanOrEqual(10);
    expect(result.requests).toBe(f.received.total);
    expect(result.outcomes).toEqual({ 200: result.requests });
    expectNoStack(r);
  });
});

test('--help: the command list, and the probe\'s options and exit codes', async () => {
  const top = await cli(['--help']);
  expect(top.code).toBe(0);
  expect(top.stdout).toMatch(/^ {2}probe {6}send requests to a deployed endpoint/m);
  const probe = await cli(['probe', '--help']);
  expect(probe.code).toBe(0);
  expect(probe.stdout).toContain('Usage: model-deployment probe');
  expect(probe.stdout).toContain('130 interrupted');
});
