/**
 * A shared fixture for the on-prem end-to-end suites: test hosts, the model server images, an API
 * key file, a cdktf app synthesized the way a user's `cdktf synth` would, and the real terraform
 * working on it. Each suite file makes its own `OnPremE2e` (its own hosts, state and work dir), so
 * suites can run in parallel jest workers.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import { App, LocalBackend, TerraformStack } from 'cdktf';
import { AccessProps, Compute, DeploymentTarget, ModelArtifact, ModelDeployment, ServingContainer, VerificationProps } from '../../../lib';
import { ContainerRuntime, OnPremHost, OnPremTargetOptions } from '../../../lib/targets/on-prem';
import { requireE2eTools } from './exec';
import { HOST_TOOLS, TestHost, startTestHosts, stopTestHosts } from './hosts';
import { ModelServerImage, ModelServerMode, modelServerImage } from './image';
import { LinearModelFixture, predict } from './models';
import { TerraformRunner } from './terraform';

export const PROXY_PORT = 8443;
export const SLOT_PORT_BASE = 18000;
export const X = [[1, 1, 1], [0, 0, 1], [2, -1, 0.5]];

export interface Deploy {
  readonly model: LinearModelFixture;
  /** the image to serve; defaults to the fixture's 'ok' image */
  readonly image?: ModelServerImage;
  readonly startupTimeoutSeconds?: number;
  /** total replicas (spread over the hosts); defaults to one per host */
  readonly replicas?: number;
  /** Replace fields of one host (e.g. a wrong host key or an unreachable address). */
  readonly hostOverride?: { index: number; with: Partial<OnPremHost> };
  /** Change the target options (e.g. another apiKeyFile). */
  readonly targetOverride?: Partial<OnPremTargetOptions>;
  /** The spec's access (e.g. network PUBLIC); default: the spec's default, PRIVATE. */
  readonly access?: AccessProps;
  /** The spec's verification samples; default: none. */
  readonly verification?: VerificationProps;
}

export interface Reply { status: number; body: string; error?: string; headers?: http.IncomingHttpHeaders }

export interface OnPremE2eOptions {
  readonly hosts?: number;
  readonly stack?: string;
  /** image modes to build besides 'ok' */
  readonly images?: readonly ModelServerMode[];
  /** the contents of the API key file (default: one random key, `apiKey`) */
  readonly apiKeys?: string;
}

export class OnPremE2e {
  /** Starts the hosts, builds the images, writes the key file, synthesizes `first` and runs terraform init. */
  public static async start(first: Deploy, opts: OnPremE2eOptions = {}): Promise<OnPremE2e> {
    requireE2eTools([...HOST_TOOLS, 'terraform', 'nginx']);
    const e = new OnPremE2e(opts);
    const modes: ModelServerMode[] = ['ok', ...(opts.images ?? []).filter(m => m !== 'ok')];
    const [hosts, ...images] = await Promise.all([
      startTestHosts(opts.hosts ?? 2, { sessionEnv: { MD_BOOT_HOOK_DIR: e.cronDir } }),
      ...modes.map(mode => modelServerImage({ mode })),
    ]);
    e.hosts = hosts as TestHost[];
    modes.forEach((m, i) => { e.images[m] = images[i] as ModelServerImage; });
    e.synthesize(first);
    e.tf = TerraformRunner.forCdktfStack(e.outDir, e.stack, { timeoutMs: 300_000 });
    expectOk(await e.tf.init());
    return e;
  }

  public readonly stack: string;
  public readonly work: string;
  public readonly outDir: string;
  public readonly apiKeyFile: string;
  public readonly apiKey: string;
  /** The hosts' boot hooks go here, never to /etc/cron.d (the hosts share this machine's filesystem). */
  public readonly cronDir: string;
  public hosts: TestHost[] = [];
  public readonly images: Partial<Record<ModelServerMode, ModelServerImage>> = {};
  public tf!: TerraformRunner;

  private constructor(opts: OnPremE2eOptions) {
    this.stack = opts.stack ?? 'onprem-e2e';
    this.work = fs.mkdtempSync(path.join(os.tmpdir(), `${this.stack}-`));
    this.outDir = path.join(this.work, 'cdktf.out');
    this.apiKeyFile = path.join(this.work, 'api-keys');
    this.apiKey = 'e2e-key-' + Math.random().toString(36).slice(2);
    fs.writeFileSync(this.apiKeyFile, opts.apiKeys ?? `${this.apiKey}\n`, { mode: 0o600 });
    this.cronDir = path.join(this.work, 'cron.d');
    fs.mkdirSync(this.cronDir);
  }

  /** Where a host's deployments live. */
  public deployRoot(host: TestHost): string {
    return `${host.rootDir}/data/deployments`;
  }

  public onPremHosts(d: Deploy): OnPremHost[] {
    return this.hosts.map((h, i) => ({
      name: h.name,
      address: h.address,
      user: 'root',
      privateKeyPath: h.privateKeyPath,
      hostKey: h.hostPublicKey,
      deployRoot: this.deployRoot(h),
      runtimeArgs: [...h.runtimeArgv],
      ...(d.hostOverride?.index === i ? d.hostOverride.with : {}),
    }));
  }

  /** Synthesizes the deployment the way a user's `cdktf synth` would, into the stack dir Terraform works in. */
  public synthesize(d: Deploy): void {
    const app = new App({ outdir: this.outDir });
    const stack = new TerraformStack(app, this.stack);
    new LocalBackend(stack, { path: path.join(this.work, 'terraform.tfstate') });
    const image = d.image ?? this.images.ok!;
    new ModelDeployment(stack, 'Linear', {
      model: ModelArtifact.fromLocalPath(d.model.dir),
      serving: ServingContainer.custom({
        image: image.imageRef, port: image.port, healthPath: image.healthPath, predictPath: image.predictPath,
        startupTimeoutSeconds: d.startupTimeoutSeconds ?? 60,
        environment: { MODEL_VERSION: d.model.name },
      }),
      compute: Compute.cpu({ vcpus: 1, memoryGiB: 1 }),
      scaling: { minReplicas: d.replicas ?? this.hosts.length },
      endpointName: 'linear',
      access: d.access,
      verification: d.verification,
      target: DeploymentTarget.onPrem({
        hosts: this.onPremHosts(d),
        runtime: ContainerRuntime.PODMAN,
        apiKeyFile: this.apiKeyFile,
        imageArchive: image.archivePath,
        proxyPort: PROXY_PORT,
        slotPortBase: SLOT_PORT_BASE,
        connectTimeoutSeconds: 5,
        ...d.targetOverride,
      }),
    });
    app.synth();
  }

  /**
   * One request on a fresh connection. nginx closes idle keep-alive connections when it reloads, and
   * a client that writes a request on one at that moment gets a reset (the request never reached the
   * model, so a retry is safe; the README says so): the availability checks count the model's answers,
   * not that client-side race.
   */
  public post(host: TestHost, body: unknown, headers: Record<string, string> = { 'x-api-key': this.apiKey }): Promise<Reply> {
    return post(host, body, headers, { agent: false });
  }

  /** Every host answers with the model's exact predictions and names the model version. */
  public async expectServing(model: LinearModelFixture, key = this.apiKey): Promise<void> {
    for (const host of this.hosts) {
      const reply = await post(host, { instances: X }, { 'x-api-key': key });
      expect(reply).toMatchObject({ status: 200 });
      const json = JSON.parse(reply.body);
      expect(json.modelVersion).toBe(model.name);
      json.predictions.forEach((row: number[], i: number) => {
        predict(model, X[i]).forEach((y, j) => expect(row[j]).toBeCloseTo(y, 5));
      });
    }
  }

  /**
   * Runs ACTION while one caller per host keeps sending requests; returns what failed. Each request
   * opens its own connection: a reused keep-alive connection that nginx closes while a request is
   * on its way fails in any HTTP client (it is not a dropped request, the client may retry it).
   */
  public async underLoad<T>(action: () => Promise<T>): Promise<{ result: T; sent: number; failures: string[] }> {
    let stop = false;
    let sent = 0;
    const failures: string[] = [];
    const loop = (async () => {
      while (!stop) {
        for (const host of this.hosts) {
          const reply = await post(host, { instances: [[1, 1, 1]] }, { 'x-api-key': this.apiKey }, { agent: false });
          sent++;
          if (reply.status !== 200) failures.push(`${host.name}: ${reply.status} ${reply.error ?? reply.body.slice(0, 100)}`);
        }
        await new Promise(r => setTimeout(r, 20));
      }
    })();
    try {
      return { result: await action(), sent, failures };
    } finally {
      stop = true;
      await loop;
    }
  }

  public async containersOn(host: TestHost): Promise<string[]> {
    return (await host.containers()).sort();
  }

  public async dispose(): Promise<void> {
    this.tf?.dispose();
    if (this.hosts.length) await stopTestHosts(this.hosts);
    fs.rmSync(this.work, { recursive: true, force: true });
  }
}

/** A POST to the host's proxy; with `https`, over TLS, trusting `https.ca` only (or, without it, the system's CAs). */
export function post(host: TestHost, body: unknown, headers: Record<string, string>, opts: { agent?: http.Agent | false; https?: { ca?: Buffer } } = {}): Promise<Reply> {
  const data = JSON.stringify(body);
  const { https: tls, ...rest } = opts;
  const request = tls ? (o: https.RequestOptions, f: (res: http.IncomingMessage) => void) => https.request({ ...o, ca: tls.ca }, f) : http.request;
  return new Promise(resolve => {
    const req = request({ host: host.address, port: PROXY_PORT, path: '/invocations', method: 'POST', timeout: 10_000, ...rest,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers } }, res => {
      let text = '';
      res.on('data', c => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', e => resolve({ status: 0, body: '', error: e.message }));
    req.end(data);
  });
}

export function outputOf(r: { stdout: string; stderr: string }): string {
  return `${r.stdout}\n${r.stderr}`;
}

/** A failed terraform command fails the test with the end of its output, so the cause is in the report. */
export function expectOk(r: { code: number | null; stdout: string; stderr: string; args: readonly string[] }): void {
  if (r.code !== 0) throw new Error(`terraform ${r.args.join(' ')} exited ${r.code}:\n${outputOf(r).slice(-6000)}`);
}
