import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App as CdkApp, Stack as CdkStack } from 'aws-cdk-lib';
import { App, TerraformStack, Testing } from 'cdktf';
import {
  AuthMode, Compute, DeploymentTarget, GpuKind, ModelArtifact, ModelDeployment, ModelDeploymentValidationError, Rollout, ServingContainer,
} from '../../lib';
import { readImageArchiveId, remoteScriptDir } from '../../lib/targets/on-prem/host-config';
import { ContainerRuntime, OnPremModelEndpoint, OnPremModelEndpointProps, OnPremTargetOptions } from '../../lib/targets/on-prem';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'linear-model');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'onprem-synth-'));
const PRIVATE_KEY = path.join(tmp, 'id_ed25519');
const API_KEYS = path.join(tmp, 'api-keys');
fs.writeFileSync(PRIVATE_KEY, '-----BEGIN OPENSSH PRIVATE KEY-----\nSECRET-PRIVATE-KEY-MATERIAL\n-----END OPENSSH PRIVATE KEY-----\n');
fs.writeFileSync(API_KEYS, 'SECRET-API-KEY-123\n');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmd7Ze0hR3x6nkd0oEvKVa5Zp7bIkFGU0f0d7bq4bXk';
const hosts: OnPremTargetOptions['hosts'] = [
  { name: 'gpu01', address: '10.20.0.11', user: 'deploy', privateKeyPath: PRIVATE_KEY, hostKey: HOST_KEY },
  { name: 'gpu02', address: '10.20.0.12', user: 'deploy', privateKeyPath: PRIVATE_KEY, hostKey: HOST_KEY },
];

function synth(props: Partial<OnPremModelEndpointProps> = {}) {
  const app = Testing.app();
  const stack = new TerraformStack(app, 'onprem');
  const deployment = new OnPremModelEndpoint(stack, 'Fraud', {
    model: ModelArtifact.fromLocalPath(FIXTURE),
    serving: ServingContainer.custom({ image: 'registry.internal/fraud-scorer:4.2.0', environment: { LOG_LEVEL: 'info' } }),
    scaling: { minReplicas: 2 },
    hosts,
    apiKeyFile: API_KEYS,
    runtime: ContainerRuntime.PODMAN,
    ...props,
  });
  const text = Testing.synth(stack);
  return { deployment, text, json: JSON.parse(text) };
}

/** The terraform_data whose construct id is `name` (cdktf appends a hash to the logical id). */
const address = (json: any, name: string) => Object.keys(json.resource.terraform_data).find(k => k.includes(`_${name}_`))!;
const data = (json: any, name: string) => json.resource.terraform_data[address(json, name)];
const provisioners = (resource: any, type: string) => resource.provisioner.filter((p: any) => p[type]).map((p: any) => p[type]);
const deployEnv = (json: any, host: string): Record<string, string> => {
  const content = provisioners(data(json, `${host}-deployment`), 'file').find((f: any) => f.destination.endsWith('/deploy.env')).content;
  return Object.fromEntries(content.trim().split('\n').map((line: string) => { const m = /^(\w+)='(.*)'$/.exec(line)!; return [m[1], m[2]]; }));
};

function expectRefusal(fn: () => unknown, field: string, allowed: RegExp) {
  let error: unknown;
  try { fn(); } catch (e) { error = e; }
  expect(error).toBeInstanceOf(ModelDeploymentValidationError);
  expect((error as ModelDeploymentValidationError).field).toBe(field);
  expect((error as ModelDeploymentValidationError).allowed).toMatch(allowed);
}

describe('what each host gets', () => {
  const { json, deployment } = synth();

  test('six terraform_data per host, and nothing that needs a provider download', () => {
    expect(Object.keys(json.resource)).toEqual(['terraform_data']);
    expect(json.provider).toBeUndefined();
    expect(Object.keys(json.resource.terraform_data)).toHaveLength(12);
  });

  test('destroy after a failed update: the host anchor is created first, destroyed last, and its destroy step tears everything down from self alone', () => {
    const dir = `/opt/model-deployments/${deployment.endpointName}`;
    for (const host of ['gpu01', 'gpu02']) {
      const anchor = data(json, `${host}-host`);
      expect(anchor.triggers_replace).toEqual({ dir });
      // Only the anchor has destroy steps: Terraform runs none for a tainted or deposed deployment.
      for (const other of ['tool', 'artifact', 'image', 'keys', 'deployment']) {
        const r = data(json, `${host}-${other}`);
        expect(r.depends_on).toContain(`terraform_data.${address(json, `${host}-host`)}`);
        expect(r.provisioner.filter((p: any) => Object.values(p).some((v: any) => v.when === 'destroy'))).toEqual([]);
      }
      const steps = anchor.provisioner.map((p: any) => Object.values(p)[0]);
      const atCreate = steps.filter((p: any) => p.when === undefined);
      const atDestroy = steps.filter((p: any) => p.when === 'destroy');
      // Created by uploading an empty directory (no script may run before it exists), then the host script, then prepare.
      const scriptDir = remoteScriptDir(deployment.endpointName, dir, 'onprem/Fraud');
      expect(atCreate[0]).toEqual({ source: expect.stringMatching(new RegExp(`^assets/.*/${scriptDir}$`)), destination: '.' });
      expect(atCreate[1]).toMatchObject({ destination: `${scriptDir}/modeldeploy.sh` });
      expect(atCreate[2].inline.join('\n')).toContain(`bash ${scriptDir}/modeldeploy.sh prepare ${dir} onprem/Fraud \${self.id} ${scriptDir} "$0"`);
      // At destroy the same uploads (the script is never missing, whatever removed it), then teardown.
      expect(atDestroy.slice(0, 2).map((p: any) => p.destination)).toEqual(['.', `${scriptDir}/modeldeploy.sh`]);
      const teardown = atDestroy[2].inline.join('\n');
      expect(teardown).toContain("bash ${self.input.scriptDir}/modeldeploy.sh teardown ${self.input.dir} ${self.input.runtime} '${self.input.runtimeArgs}' ${self.input.owner} ${self.id} ${self.input.scriptDir} \"$0\"");
      expect(teardown.replace(/\$\{self\.(input\.)?\w+\}/g, '')).not.toContain('${');
      expect(anchor.input).toEqual({ dir, runtime: 'podman', runtimeArgs: '', host, owner: 'onprem/Fraud', scriptDir });
    }
  });

  test('Terraform\'s remote scripts go to a private directory in the SSH user\'s home, not /tmp, and each removes itself', () => {
    const dir = `/opt/model-deployments/${deployment.endpointName}`;
    const scriptDir = remoteScriptDir(deployment.endpointName, dir, 'onprem/Fraud');
    expect(scriptDir).toMatch(/^\.model-deploy-[a-z0-9-]+-[0-9a-f]{8}$/);
    // Two deployments (or two directories) never share one.
    expect(remoteScriptDir(deployment.endpointName, dir, 'onprem/Other')).not.toBe(scriptDir);
    expect(remoteScriptDir(deployment.endpointName, '/srv/x', 'onprem/Fraud')).not.toBe(scriptDir);
    for (const r of ['host', 'tool', 'artifact', 'image', 'keys', 'deployment']) {
      const resource = data(json, `gpu01-${r}`);
      expect(resource.connection.script_path).toBe(`${scriptDir}/terraform_%RAND%.sh`);
      for (const step of provisioners(resource, 'remote-exec')) expect(step.inline[0]).toMatch(/^trap '' HUP; f="\$0"; .*rm -f "\$f"\) <\/dev\/null >\/dev\/null 2>&1 & trap - HUP$/);
    }
    const own = synth({ hosts: [{ ...hosts[0], scriptPath: '/home/deploy/.tf/terraform_%RAND%.sh' }], scaling: { minReplicas: 1 } });
    expect(data(own.json, 'gpu01-deployment').connection.script_path).toBe('/home/deploy/.tf/terraform_%RAND%.sh');
  });

  test('a new version comes up before the old one goes, and hosts update one after another', () => {
    for (const host of ['gpu01', 'gpu02']) {
      const d = data(json, `${host}-deployment`);
      expect(d.lifecycle).toEqual({ create_before_destroy: true });
      expect(d.triggers_replace).toEqual({ version: deployment.versions[host] });
    }
    const second = data(json, 'gpu02-deployment');
    expect(second.depends_on).toContain(`terraform_data.${address(json, 'gpu01-deployment')}`);
    expect(data(json, 'gpu01-deployment').depends_on).not.toContain(`terraform_data.${address(json, 'gpu02-deployment')}`);
  });

  test('SSH with a pinned host key, the key file read at apply time, and a connect timeout', () => {
    const c = data(json, 'gpu01-deployment').connection;
    expect(c).toMatchObject({ type: 'ssh', host: '10.20.0.11', port: 22, user: 'deploy', host_key: HOST_KEY, timeout: '30s' });
    expect(c.private_key).toBe(`\${file(pathexpand("${PRIVATE_KEY}"))}`);
  });

  test('no secret in the synthesized configuration: neither the private key nor the API key', () => {
    const { text } = synth();
    expect(text).not.toContain('SECRET-PRIVATE-KEY-MATERIAL');
    expect(text).not.toContain('SECRET-API-KEY-123');
    const keys = provisioners(data(json, 'gpu01-keys'), 'file').find((f: any) => f.destination.endsWith('/proxy/api-keys.upload'));
    expect(keys.content).toMatch(/^\$\{sensitive\(.*\bfile\(local\.\w+\)/);
    expect(Object.values(json.locals)).toEqual([`\${pathexpand("${API_KEYS}")}`]);
    expect(provisioners(data(json, 'gpu01-deployment'), 'file').some((f: any) => f.destination.includes('api-keys'))).toBe(false);
  });

  test('the artifact is uploaded only when its checksum changes, into a versioned path', () => {
    const a = data(json, 'gpu01-artifact');
    const sha = a.triggers_replace.sha256;
    expect(sha).toMatch(/^[0-9a-f]{64}$/);
    expect(provisioners(a, 'file')[0].destination).toBe(`/opt/model-deployments/${deployment.endpointName}/artifacts/${sha}.tar.upload`);
    expect(provisioners(a, 'file')[0].source).toMatch(/assets\/.*\/model\.tar$/);
    const steps = provisioners(a, 'remote-exec');
    expect(steps.some((s: any) => s.inline.join(' ').includes(`install-artifact /opt/model-deployments/${deployment.endpointName} ${sha}`))).toBe(true);
    expect(deployEnv(json, 'gpu01').MD_ARTIFACT_SHA256).toBe(sha);
  });

  test('deploy.env carries the serving contract', () => {
    const env = deployEnv(json, 'gpu01');
    expect(env).toMatchObject({
      MD_IMAGE: 'registry.internal/fraud-scorer:4.2.0', MD_CONTAINER_PORT: '8080', MD_HEALTH_PATH: '/ping', MD_RUNTIME: 'podman',
      MD_REPLICAS: '1', MD_PROXY_PORT: '8443', MD_GPUS_PER_REPLICA: '0', MD_CPUS: '2', MD_MEMORY: '4096m', MD_HOST: 'gpu01',
      MD_VERSION: deployment.versions.gpu01,
    });
    const container = provisioners(data(json, 'gpu01-deployment'), 'file').find((f: any) => f.destination.endsWith('/container.env'));
    expect(container.content).toBe('LOG_LEVEL=info\n');
    expect(deployment.hostUrls).toEqual({
      gpu01: 'http://10.20.0.11:8443/invocations',
      gpu02: 'http://10.20.0.12:8443/invocations',
    });
  });
});

test('environment values stay literal: Terraform template sequences are escaped', () => {
  const { json } = synth({ serving: ServingContainer.custom({ image: 'r/x:1', environment: { PATTERN: '${HOME}/%{x}' } }) });
  const container = provisioners(data(json, 'gpu01-deployment'), 'file').find((f: any) => f.destination.endsWith('/container.env'));
  expect(container.content).toBe('PATTERN=$${HOME}/%%{x}\n');
  // The host script travels as a file, not as inline text that Terraform would template.
  const tool = provisioners(data(json, 'gpu01-tool'), 'file')[0];
  expect(tool.source).toMatch(/assets\/.*modeldeploy\.sh$/);
  expect(tool.content).toBeUndefined();
});

test('host labels and replica counts are in the Hosts output', () => {
  const { json } = synth({ hosts: [{ ...hosts[0], labels: { rack: 'r12', gpu: 'a10g' } }, hosts[1]], scaling: { minReplicas: 3 } });
  const output = Object.entries(json.output).find(([k]) => k.includes('Hosts'))![1] as any;
  expect(output.value).toEqual({
    gpu01: { address: '10.20.0.11', replicas: 2, labels: { rack: 'r12', gpu: 'a10g' } },
    gpu02: { address: '10.20.0.12', replicas: 1, labels: {} },
  });
  expectRefusal(() => synth({ hosts: [{ ...hosts[0], labels: { 'bad key': 'x' } }, hosts[1]] }), 'hosts[0].labels', /letters, digits/);
});

describe('versions', () => {
  test('a new model changes every host\'s version; an unrelated host change does not touch the others', () => {
    const base = synth().deployment.versions;
    const model = fs.mkdtempSync(path.join(tmp, 'model-'));
    fs.cpSync(FIXTURE, model, { recursive: true });
    fs.appendFileSync(path.join(model, 'weights.bin'), 'v2');
    const changed = synth({ model: ModelArtifact.fromLocalPath(model) }).deployment.versions;
    expect(changed.gpu01).not.toBe(base.gpu01);
    expect(changed.gpu02).not.toBe(base.gpu02);
    const moved = synth({ hosts: [hosts[0], { ...hosts[1], address: '10.20.0.99' }] }).deployment.versions;
    expect(moved).toEqual(base);
    expect(synth().deployment.versions).toEqual(base);
  });

  test('the API keys are not part of any version: rotating them restarts no container', () => {
    const base = synth().deployment.versions;
    expect(synth({ apiKeyRevision: 2 }).deployment.versions).toEqual(base);
  });
});

describe('API keys: rotation by replacing the key file', () => {
  const { json, deployment } = synth();
  const dir = `/opt/model-deployments/${deployment.endpointName}`;

  test('key rotation: a per-host keys resource, triggered by the key file\'s hash at apply time, uploads it and runs update-keys (a proxy reload)', () => {
    for (const host of ['gpu01', 'gpu02']) {
      const keys = data(json, `${host}-keys`);
      // The hash is computed by Terraform at plan time; neither the key nor its hash is in cdktf.out.
      expect(keys.triggers_replace.keys).toMatch(/filesha256\(local\.\w+\)/);
      expect(keys.triggers_replace.revision).toBe(1);
      const upload = provisioners(keys, 'file');
      expect(upload).toHaveLength(1);
      expect(upload[0].destination).toBe(`${dir}/proxy/api-keys.upload`);
      // The first line of every remote-exec step is the watcher that removes Terraform's script afterwards.
      const steps = provisioners(keys, 'remote-exec').map((s: any) => s.inline.slice(1).join('\n'));
      expect(steps[steps.length - 1]).toBe(`MD_HOST=${host} bash ${dir}/tool/modeldeploy.sh update-keys ${dir}`);
      expect(keys.depends_on).toContain(`terraform_data.${address(json, `${host}-tool`)}`);
      // The first deploy needs the keys: the deployment comes after them.
      expect(data(json, `${host}-deployment`).depends_on).toContain(`terraform_data.${address(json, `${host}-keys`)}`);
    }
  });

  test('apiKeyRevision re-uploads the keys (a keys trigger), nothing else', () => {
    const bumped = synth({ apiKeyRevision: 7 });
    expect(data(bumped.json, 'gpu01-keys').triggers_replace.revision).toBe(7);
    expect(bumped.deployment.versions).toEqual(deployment.versions);
    expectRefusal(() => synth({ apiKeyRevision: 0 }), 'apiKeyRevision', /1/);
  });

  test('a missing key file: a precondition names apiKeyFile and the path, and no file() call is evaluated unguarded', () => {
    const keys = data(json, 'gpu01-keys');
    const local = Object.keys(json.locals)[0];
    expect(json.locals[local]).toBe(`\${pathexpand("${API_KEYS}")}`);
    expect(keys.lifecycle.precondition).toEqual([{
      condition: `\${fileexists(local.${local})}`,
      error_message: expect.stringContaining(`apiKeyFile: no file at ${API_KEYS}`),
    }]);
    // Terraform evaluates provisioner blocks and triggers while validating, before any precondition.
    const strings = (v: any): string[] => typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.values(v).flatMap(strings) : [];
    const text = strings({ t: keys.triggers_replace, p: keys.provisioner }).join('\n');
    const reads = text.match(/\b(file|filesha256)\(local\.\w+\)/g) ?? [];
    expect(reads.length).toBe(2);
    expect(text.split(`fileexists(local.${local}) ?`).length - 1).toBe(reads.length);
  });

  test('a missing key file: the real terraform plan names the option and the path, not a line of cdk.tf.json', async () => {
    const { TerraformRunner } = await import('../e2e/support/terraform');
    const keyFile = path.join(fs.mkdtempSync(path.join(tmp, 'keys-')), 'api-keys');
    fs.writeFileSync(keyFile, 'placeholder-key-0123456789\n');
    const outdir = fs.mkdtempSync(path.join(tmp, 'missing-keys-'));
    const app = new App({ outdir });
    const stack = new TerraformStack(app, 'missing-keys');
    new OnPremModelEndpoint(stack, 'Fraud', {
      model: ModelArtifact.fromLocalPath(FIXTURE), serving: ServingContainer.custom({ image: 'registry.internal/x:1' }),
      scaling: { minReplicas: 2 }, hosts, apiKeyFile: keyFile,
    });
    app.synth();
    fs.rmSync(keyFile);
    const runner = TerraformRunner.forCdktfStack(outdir, 'missing-keys', { timeoutMs: 60_000 });
    expect((await runner.init()).code).toBe(0);
    const plan = await runner.run(['plan', '-no-color', '-input=false']);
    runner.dispose();
    const out = `${plan.stdout}${plan.stderr}`;
    expect(plan.code).not.toBe(0);
    expect(out).toContain(`apiKeyFile: no file at ${keyFile}`);
    expect(out).not.toContain('Invalid value for "path" parameter');
  });
});

describe('files on the hosts are private from their first byte', () => {
  const { json, deployment } = synth();
  const dir = `/opt/model-deployments/${deployment.endpointName}`;

  test('the deployment\'s directories are made 0700 before any upload', () => {
    const first = provisioners(data(json, 'gpu01-tool'), 'remote-exec')[0].inline.slice(1).join('\n');
    expect(first).toMatch(/^umask 077/);
    for (const sub of ['', '/tool', '/proxy', '/versions', '/artifacts', '/images']) expect(first).toContain(` ${dir}${sub}`);
    expect(first).toMatch(/chmod 700 /);
  });

  test('every upload lands in a file made 0600 before its first byte (scp keeps an existing file\'s mode)', () => {
    let uploads = 0;
    for (const name of ['tool', 'artifact', 'image', 'keys', 'deployment']) {
      const steps: any[] = data(json, `gpu01-${name}`).provisioner;
      steps.forEach((step, i) => {
        if (!step.file) return;
        uploads++;
        const before = steps.slice(0, i).filter(s => s['remote-exec']).map(s => s['remote-exec'].inline.join('\n')).join('\n');
        expect([step.file.destination, before]).toEqual([step.file.destination, expect.stringContaining('umask 077')]);
        const dest = step.file.destination.replace(/[.]/g, '\\.');
        expect(before).toMatch(new RegExp(`touch [^&\n]*${dest}`));
        expect(before).toMatch(new RegExp(`chmod 600 [^&\n]*${dest}`));
      });
    }
    expect(uploads).toBe(5); // script, artifact, keys, deploy.env, container.env
  });
});

describe('container hardening', () => {
  test('by default no capabilities (MD_CAP_ADD empty) and a writable root', () => {
    expect(deployEnv(synth().json, 'gpu01')).toMatchObject({ MD_CAP_ADD: '', MD_READ_ONLY_ROOT: '0' });
  });

  test('containerCapabilities and readOnlyRootFilesystem reach deploy.env and change the version', () => {
    const base = synth().deployment.versions;
    const { json, deployment } = synth({ containerCapabilities: ['NET_BIND_SERVICE', 'CHOWN'], readOnlyRootFilesystem: true });
    expect(deployEnv(json, 'gpu01')).toMatchObject({ MD_CAP_ADD: 'NET_BIND_SERVICE,CHOWN', MD_READ_ONLY_ROOT: '1' });
    expect(deployment.versions.gpu01).not.toBe(base.gpu01);
  });

  test('capability names are checked at synth', () => {
    expectRefusal(() => synth({ containerCapabilities: ['CAP_NET_ADMIN'] }), 'containerCapabilities[0]', /without the CAP_ prefix/);
    expectRefusal(() => synth({ containerCapabilities: ['NET_BIND_SERVICE', 'net_raw'] }), 'containerCapabilities[1]', /NET_BIND_SERVICE/);
    expectRefusal(() => synth({ containerCapabilities: ['ALL'] }), 'containerCapabilities[0]', /capability names/);
    expectRefusal(() => synth({ containerCapabilities: ['CHOWN', 'CHOWN'] }), 'containerCapabilities[1]', /once/);
    expectRefusal(() => synth({ containerCapabilities: 'CHOWN' as any }), 'containerCapabilities', /list/);
    expectRefusal(() => synth({ readOnlyRootFilesystem: 'yes' as any }), 'readOnlyRootFilesystem', /true or false/);
  });
});

describe('GPUs and replicas', () => {
  test('GPU compute passes the kind\'s nvidia-smi names, minimum memory and count per replica; replicas spread over hosts', () => {
    const { json } = synth({ compute: Compute.gpu({ gpu: GpuKind.NVIDIA_A10G, count: 2 }), scaling: { minReplicas: 3 } });
    expect(deployEnv(json, 'gpu01')).toMatchObject({ MD_GPUS_PER_REPLICA: '2', MD_GPU_NAMES: 'NVIDIA A10G', MD_GPU_MIN_MEMORY_MIB: '22000', MD_REPLICAS: '2', MD_CPUS: '', MD_MEMORY: '' });
    expect(deployEnv(json, 'gpu02')).toMatchObject({ MD_REPLICAS: '1' });
  });
});

describe('refused at synth time', () => {
  test('autoscaling: SSH hosts have none', () => {
    expectRefusal(() => synth({ scaling: { minReplicas: 2, maxReplicas: 4 } }), 'scaling.maxReplicas', /no autoscaler/);
  });
  test('fewer replicas than hosts', () => {
    expectRefusal(() => synth({ scaling: { minReplicas: 1 } }), 'scaling.minReplicas', /number of hosts/);
  });
  test('a host without a pinned host key, unless explicitly opted out', () => {
    expectRefusal(() => synth({ hosts: [{ ...hosts[0], hostKey: undefined }, hosts[1]] }), 'hosts[0].hostKey', /insecureSkipHostKeyCheck/);
    const { json } = synth({ hosts: [{ ...hosts[0], hostKey: undefined, insecureSkipHostKeyCheck: true }, hosts[1]] });
    expect(data(json, 'gpu01-deployment').connection.host_key).toBeUndefined();
    expectRefusal(() => synth({ hosts: [{ ...hosts[0], hostKey: 'not a key' }, hosts[1]] }), 'hosts[0].hostKey', /TYPE BASE64/);
  });
  test('bad host names, duplicates, unsafe paths and runtime args', () => {
    expectRefusal(() => synth({ hosts: [{ ...hosts[0], name: 'GPU_01' }, hosts[1]] }), 'hosts[0].name', /lower-case/);
    expectRefusal(() => synth({ hosts: [hosts[0], { ...hosts[1], name: 'gpu01' }] }), 'hosts[1].name', /no other host/);
    expectRefusal(() => synth({ hosts: [{ ...hosts[0], deployRoot: '/opt/x; rm -rf /' }, hosts[1]] }), 'hosts[0].deployRoot', /absolute path/);
    expectRefusal(() => synth({ hosts: [{ ...hosts[0], runtimeArgs: ["--root '/x'"] }, hosts[1]] }), 'hosts[0].runtimeArgs[0]', /argument/);
  });
  test('slot ports: each host reserves slotPortBase..+127 whatever the replica count; proxyPort outside it; at most 64 replicas per host', () => {
    expect(synth({ slotPortBase: 65536 - 128 }).json).toBeDefined();
    expectRefusal(() => synth({ slotPortBase: 65536 - 127 }), 'slotPortBase', /from 1024 to 65408/);
    expectRefusal(() => synth({ slotPortBase: 18000, proxyPort: 18127 }), 'proxyPort', /outside the slot ports .*\(here 18000-18127\)/);
    expect(synth({ slotPortBase: 18000, proxyPort: 18128 }).json).toBeDefined();
    expect(synth({ scaling: { minReplicas: 128 } }).json).toBeDefined();
    expectRefusal(() => synth({ scaling: { minReplicas: 129 } }), 'scaling.minReplicas', /1 to 64 replicas per host \(at most 64 x the number of hosts\)/);
  });
  test('cloud identity, canary, capture, missing image, a model that is not local', () => {
    expectRefusal(() => synth({ access: { auth: AuthMode.IAM } }), 'access.auth', /API key/);
    expectRefusal(() => synth({ rollout: Rollout.canary() }), 'rollout', /one host at a time/);
    expectRefusal(() => synth({ monitoring: { capture: { samplingPercent: 5 } } }), 'monitoring.capture', /not available/);
    expectRefusal(() => synth({ serving: ServingContainer.triton() }), 'serving.image', /no managed images/);
    expectRefusal(() => synth({ model: ModelArtifact.fromUri('s3://models/m.tar.gz') }), 'model', /fromLocalPath/);
  });
  test('an environment value with a line break (env files are line-based)', () => {
    expectRefusal(() => synth({ serving: ServingContainer.custom({ image: 'r/x:1', environment: { A: 'x\ny' } }) }), 'serving.environment.A', /line breaks/);
  });
});

describe('engines', () => {
  const spec = {
    model: ModelArtifact.fromLocalPath(FIXTURE),
    serving: ServingContainer.custom({ image: 'registry.internal/x:1' }),
    scaling: { minReplicas: 2 },
  };
  test('through ModelDeployment in a cdktf stack', () => {
    const stack = new TerraformStack(new App({ outdir: fs.mkdtempSync(path.join(tmp, 'out-')) }), 'S');
    const md = new ModelDeployment(stack, 'M', { ...spec, target: DeploymentTarget.onPrem({ hosts, apiKeyFile: API_KEYS }) });
    expect(md.targetName).toBe('onPrem');
    expect(OnPremModelEndpoint.of(md).endpointUrl).toBe(md.endpointUrl);
    expect(md.endpointUrl).toBe('http://10.20.0.11:8443/invocations');
  });
  test('in an aws-cdk-lib stack it fails at once and says where it belongs', () => {
    const stack = new CdkStack(new CdkApp(), 'S');
    expect(() => new ModelDeployment(stack, 'M', { ...spec, target: DeploymentTarget.onPrem({ hosts, apiKeyFile: API_KEYS }) }))
      .toThrow(/onPrem must be placed inside a cdktf TerraformStack and is shipped with `cdktf apply`/);
  });
});

describe('air-gapped image archives', () => {
  test('the image id comes from the archive manifest, and the upload is checked against it', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'image-'));
    const config = 'a'.repeat(64);
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify([{ Config: `${config}.json`, RepoTags: ['localhost/m:1'], Layers: [] }]));
    fs.writeFileSync(path.join(dir, `${config}.json`), '{}');
    const archive = path.join(tmp, 'image.tar');
    execFileSync('tar', ['-cf', archive, '-C', dir, `${config}.json`, 'manifest.json']);
    expect(readImageArchiveId(archive)).toBe(`sha256:${config}`);
    const { json } = synth({ imageArchive: archive });
    const image = data(json, 'gpu01-image');
    const install = provisioners(image, 'remote-exec').map((s: any) => s.inline.join(' ')).join('\n');
    expect(install).toContain(`'sha256:${config}'`);
    expect(provisioners(image, 'file')[0].destination).toMatch(/\/images\/[0-9a-f]{64}\.tar\.upload$/);
    expectRefusal(() => readImageArchiveId(path.join(dir, 'manifest.json')), 'imageArchive', /docker-archive/);
  });
});

describe('the on-prem example', () => {
  test('is valid Terraform: the real terraform init and validate accept it, offline', async () => {
    const { onPremGpu } = await import('../../examples/on-prem');
    const { TerraformRunner } = await import('../e2e/support/terraform');
    const outdir = fs.mkdtempSync(path.join(tmp, 'example-'));
    // The synth checks the key file and terraform validate evaluates file(): give both a HOME
    // where the example's key files exist.
    const home = fs.mkdtempSync(path.join(tmp, 'home-'));
    fs.mkdirSync(path.join(home, '.ssh'));
    fs.mkdirSync(path.join(home, '.config', 'model-deploy'), { recursive: true });
    fs.writeFileSync(path.join(home, '.ssh', 'model-deploy'), 'placeholder');
    fs.writeFileSync(path.join(home, '.config', 'model-deploy', 'vision-api-keys'), 'placeholder-key-0123456789\n');
    const app = new App({ outdir });
    const realHome = process.env.HOME;
    process.env.HOME = home;
    try { onPremGpu(app); } finally { process.env.HOME = realHome; }
    app.synth();
    const runner = TerraformRunner.forCdktfStack(outdir, 'model-deployment-on-prem', { timeoutMs: 60_000, env: { HOME: home } });
    const init = await runner.init();
    expect(init.code).toBe(0);
    const validate = await runner.run(['validate', '-no-color']);
    runner.dispose();
    expect(`${validate.stdout}${validate.stderr}`).toContain('The configuration is valid');
    expect(validate.code).toBe(0);
  });
});
