/**
 * Runs the Vertex AI bridge the way Terraform's local-exec does: `node .../bridge/main.js create|destroy`
 * as a child process, the request JSON in $MD_VERTEX_REQUEST, pointed at a fake Vertex (./fake-vertex.ts)
 * through the bridge's test-only seam $MD_VERTEX_TEST_API_ENDPOINT.
 *
 * The bridge's sources (lib/targets/vertex-ai/bridge-request.ts and bridge/*.ts) are transpiled once per
 * test file with TypeScript's transpileModule into a temp dir with the package's layout
 * (targets/vertex-ai/bridge/main.js), about 0.3 s, after which every run is plain `node` (no ts-node
 * in each child: about 1 s less per run). The temp dir is outside the repository: the bridge finds
 * @google-cloud/aiplatform through NODE_PATH, and without NODE_PATH it finds nothing, which is how the
 * "package not installed" case is made. Type checking is `tsc --noEmit`'s job, as for all tests.
 */
import { spawn } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { VertexBridgeRequest } from '../../../lib/targets/vertex-ai/bridge-request';
import { REPO_ROOT, transpileProgram } from '../transpile';

export { REPO_ROOT };

export interface BridgeWorkspace {
  /** the temp dir, removed by `cleanup` */
  readonly dir: string;
  /** the transpiled bridge: <dir>/dist/targets/vertex-ai/bridge/main.js */
  readonly main: string;
  /** a throwaway service account key (a fresh RSA key; never used to mint a token: the fake channel is plaintext) */
  readonly credentialsFile: string;
  /** an empty HOME, so no gcloud ADC file of the machine is found */
  readonly home: string;
  cleanup(): void;
}

/** Transpiles the bridge and writes a throwaway credentials file, in a fresh temp dir. */
export function bridgeWorkspace(): BridgeWorkspace {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdtest-vertex-'));
  transpileProgram(dir, 'targets/vertex-ai/bridge/main.ts');
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const credentialsFile = path.join(dir, 'service-account.json');
  fs.writeFileSync(credentialsFile, JSON.stringify({
    type: 'service_account',
    project_id: 'md-test-project',
    private_key_id: 'test',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: 'bridge-test@md-test-project.iam.gserviceaccount.com',
    client_id: '1',
    token_uri: 'https://oauth2.googleapis.com/token',
  }), { mode: 0o600 });
  const home = path.join(dir, 'home');
  fs.mkdirSync(home);
  return {
    dir,
    main: path.join(dir, 'dist', 'targets', 'vertex-ai', 'bridge', 'main.js'),
    credentialsFile,
    home,
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export interface BridgeEnvOptions {
  /** the fake's `127.0.0.1:port` */
  readonly apiEndpoint: string;
  /** default true: GOOGLE_APPLICATION_CREDENTIALS names the throwaway key */
  readonly credentials?: boolean;
  /** default true: NODE_PATH lets the bridge find @google-cloud/aiplatform */
  readonly clientPackage?: boolean;
}

/**
 * The bridge's whole environment (nothing of the machine's Google setup leaks in): an empty HOME and
 * gcloud config dir, no metadata server lookup (METADATA_SERVER_DETECTION=none, and its host pointed
 * at a closed loopback port), the seam pointing at the fake.
 */
export function bridgeEnv(ws: BridgeWorkspace, o: BridgeEnvOptions): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: ws.home,
    CLOUDSDK_CONFIG: path.join(ws.home, 'gcloud'),
    METADATA_SERVER_DETECTION: 'none',
    GCE_METADATA_HOST: '127.0.0.1:9',
    GCE_METADATA_IP: '127.0.0.1:9',
    NO_PROXY: '*',
    MD_VERTEX_TEST_API_ENDPOINT: o.apiEndpoint,
    ...(o.credentials === false ? {} : { GOOGLE_APPLICATION_CREDENTIALS: ws.credentialsFile }),
    ...(o.clientPackage === false ? {} : { NODE_PATH: path.join(REPO_ROOT, 'node_modules') }),
  };
}

export interface BridgeRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** `node main.js <action>` with the request in $MD_VERTEX_REQUEST; asynchronous, so the in-process fake keeps serving. */
export function runBridge(ws: BridgeWorkspace, action: string, request: VertexBridgeRequest | string, env: Record<string, string>, timeoutMs = 90_000): Promise<BridgeRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ws.main, action], {
      env: { ...env, MD_VERTEX_REQUEST: typeof request === 'string' ? request : JSON.stringify(request) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', e => { clearTimeout(timer); reject(e); });
    child.on('close', code => { clearTimeout(timer); resolve({ code, stdout, stderr, ms: Date.now() - started }); });
  });
}
