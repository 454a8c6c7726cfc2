/**
 * Runs the Azure ML verification checker (lib/targets/azure-ml/verify/main.ts) as Terraform's
 * local-exec does: `node .../verify/main.js` in a child process, the request in
 * $MD_AZURE_VERIFY_REQUEST, against local fakes at the network boundary:
 *
 * - a fake ARM that answers the endpoint's `listKeys` and `token` actions only with the right
 *   bearer token (the fake Azure CLI's ARM token);
 * - a fake scoring server that checks the endpoint credential (the key, the AML token, or the
 *   Entra token for https://ml.azure.com) AND the `azureml-model-deployment` header, and answers
 *   per deployment name: right, wrong, or slow;
 * - a fake `az` on PATH, which the checker (lib/common/azure-token.ts) runs as it runs the real one.
 *
 * The checker's sources and what they import are transpiled once into a temp dir with the
 * package's layout, outside the repository: it finds no node_modules, so no @azure/identity, and
 * gets its tokens from the Azure CLI (`az login`), the path for users without that optional peer.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { transpileProgram } from '../transpile';


/** The token the fake `az` prints for a resource, and so what the fakes expect. */
export const azToken = (resource: string) => `fake-az-token:${resource}`;
export const FAKE_KEY = 'fake-primary-key-7f3a';
export const FAKE_AML_TOKEN = 'fake-aml-token-91bc';

export interface CheckerWorkspace {
  readonly dir: string;
  readonly main: string;
  /** a dir holding the fake `az` */
  readonly bin: string;
  readonly home: string;
  cleanup(): void;
}

export function checkerWorkspace(): CheckerWorkspace {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdtest-azure-verify-'));
  const main = transpileProgram(dir, 'targets/azure-ml/verify/main.ts');
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  // `az account get-access-token --resource R --output json`: a token naming R; `az` with FAKE_AZ_LOGGED_OUT set: the CLI's own "az login" error.
  fs.writeFileSync(path.join(bin, 'az'), `#!${process.execPath}
const args = process.argv.slice(2);
if (process.env.FAKE_AZ_LOGGED_OUT) { process.stderr.write("ERROR: Please run 'az login' to setup account.\\n"); process.exit(1); }
const resource = args[args.indexOf('--resource') + 1];
process.stdout.write(JSON.stringify({ accessToken: ${JSON.stringify(azToken(''))} + resource, expires_on: Math.floor(Date.now() / 1000) + 3600, tokenType: 'Bearer' }));
`, { mode: 0o755 });
  const home = path.join(dir, 'home');
  fs.mkdirSync(home);
  return { dir, main, bin, home, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** How the fake scoring server answers a deployment: y = 2x, y = 2x + 1, or y = 2x after `slowMs`. */
export type Behaviour = { readonly kind: 'right' } | { readonly kind: 'wrong' } | { readonly kind: 'slow'; readonly ms: number };

export interface FakeAzure {
  readonly armUrl: string;
  readonly scoringUrl: string;
  /** per deployment name; a name not here gets 404, as Azure answers for an unknown deployment */
  readonly deployments: Map<string, Behaviour>;
  /** every request either fake got: path, deployment header, whether the credential was right */
  readonly log: { readonly server: 'arm' | 'scoring'; readonly path: string; readonly deployment?: string; readonly authorized: boolean }[];
  close(): Promise<void>;
}

/** The fake ARM and scoring server, on loopback ports; `endpointId` is the only endpoint ARM knows. */
export async function startFakeAzure(endpointId: string, authMode: 'Key' | 'AMLToken' | 'AADToken'): Promise<FakeAzure> {
  const log: FakeAzure['log'][number][] = [];
  const deployments = new Map<string, Behaviour>();
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  };
  const arm = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const authorized = req.headers.authorization === `Bearer ${azToken('https://management.azure.com')}`;
    log.push({ server: 'arm', path: url.pathname, authorized });
    req.resume().on('end', () => {
      if (!authorized) return json(res, 401, { error: { code: 'InvalidAuthenticationToken', message: 'The access token is invalid.' } });
      if (req.method !== 'POST' || url.searchParams.get('api-version') !== '2024-10-01') return json(res, 400, { error: { code: 'BadRequest', message: 'no such call' } });
      if (url.pathname === `${endpointId}/listKeys`) return json(res, 200, { primaryKey: FAKE_KEY, secondaryKey: 'fake-secondary' });
      if (url.pathname === `${endpointId}/token`) return json(res, 200, { accessToken: FAKE_AML_TOKEN, tokenType: 'Bearer', expiryTimeUtc: 0 });
      json(res, 404, { error: { code: 'ResourceNotFound', message: 'The Resource was not found.' } });
    });
  });
  const expected = { Key: FAKE_KEY, AMLToken: FAKE_AML_TOKEN, AADToken: azToken('https://ml.azure.com') }[authMode];
  const scoring = http.createServer((req, res) => {
    const deployment = req.headers['azureml-model-deployment'] as string | undefined;
    const authorized = req.headers.authorization === `Bearer ${expected}`;
    log.push({ server: 'scoring', path: req.url ?? '', deployment, authorized });
    let body = '';
    req.setEncoding('utf8').on('data', c => { body += c; }).on('end', () => {
      if (!authorized) return json(res, 401, { message: 'Invalid authentication token' });
      const behaviour = deployment === undefined ? undefined : deployments.get(deployment);
      if (behaviour === undefined) return json(res, 404, { message: `No valid deployments to route to: ${deployment}` });
      const parsed = JSON.parse(body) as { x: number; note?: string };
      const x = Number(parsed.x);
      // `note`, when sent, comes back as it arrived: a sample can check that its text survived the trip.
      const answer = { y: behaviour.kind === 'wrong' ? 2 * x + 1 : 2 * x, model: deployment, ...(parsed.note === undefined ? {} : { note: parsed.note }) };
      if (behaviour.kind === 'slow') setTimeout(() => json(res, 200, answer), behaviour.ms);
      else json(res, 200, answer);
    });
  });
  const listen = (s: http.Server) => new Promise<string>(resolve => s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)));
  const [armUrl, scoringUrl] = await Promise.all([listen(arm), listen(scoring)]);
  const close = (s: http.Server) => new Promise<void>(resolve => { s.closeAllConnections(); s.close(() => resolve()); });
  return { armUrl, scoringUrl, deployments, log, close: async () => { await Promise.all([close(arm), close(scoring)]); } };
}

export interface CheckerEnvOptions {
  readonly fake: Pick<FakeAzure, 'armUrl' | 'scoringUrl'>;
  /** default true: the fake `az` is on PATH and logged in; false: logged out; 'missing': no `az` at all */
  readonly loggedIn?: boolean | 'missing';
}

/** The checker's whole environment: nothing of the machine's Azure setup leaks in. */
export function checkerEnv(ws: CheckerWorkspace, o: CheckerEnvOptions): Record<string, string> {
  return {
    // The checker runs as `node <main.js>` (by its absolute path): without the fake, PATH needs nothing.
    PATH: o.loggedIn === 'missing' ? ws.home : `${ws.bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: ws.home,
    AZURE_CONFIG_DIR: path.join(ws.home, '.azure'),
    NO_PROXY: '*',
    MD_AZURE_TEST_ARM_URL: o.fake.armUrl,
    MD_AZURE_TEST_SCORING_URL: o.fake.scoringUrl,
    ...(o.loggedIn === false ? { FAKE_AZ_LOGGED_OUT: '1' } : {}),
  };
}

export interface CheckerRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** A child process, asynchronous so that the in-process fakes keep serving. */
export function runProcess(command: string, args: string[], options: { cwd?: string; env: Record<string, string>; timeoutMs?: number }): Promise<CheckerRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', e => { clearTimeout(timer); reject(e); });
    child.on('close', code => { clearTimeout(timer); resolve({ code, stdout, stderr, ms: Date.now() - started }); });
  });
}

/** `node main.js` with the request in $MD_AZURE_VERIFY_REQUEST. */
export function runChecker(ws: CheckerWorkspace, request: unknown, env: Record<string, string>): Promise<CheckerRun> {
  return runProcess(process.execPath, [ws.main], { env: { ...env, MD_AZURE_VERIFY_REQUEST: typeof request === 'string' ? request : JSON.stringify(request) } });
}
