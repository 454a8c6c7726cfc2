/**
 * What the synth writes for the spec's verification on the on-prem target: the samples file each
 * new version gets (private before its first byte, every user string escaped for Terraform), the
 * optional deploy.env keys, and a version id that follows the samples; and, without verification,
 * exactly what it wrote before verification existed.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TerraformStack, Testing } from 'cdktf';
import { ModelArtifact, ModelDeploymentValidationError, ServingContainer, VerificationProps } from '../../lib';
import { HOST_CONTRACT, SAMPLES_FILE } from '../../lib/targets/on-prem/host-contract';
import { ContainerRuntime, OnPremModelEndpoint, OnPremModelEndpointProps } from '../../lib/targets/on-prem';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'linear-model');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'onprem-verify-synth-'));
const KEY_FILE = path.join(tmp, 'api-keys');
fs.writeFileSync(KEY_FILE, 'SECRET-API-KEY-123\n');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmd7Ze0hR3x6nkd0oEvKVa5Zp7bIkFGU0f0d7bq4bXk';

function synth(props: Partial<OnPremModelEndpointProps> = {}) {
  const stack = new TerraformStack(Testing.app(), 'onprem');
  const deployment = new OnPremModelEndpoint(stack, 'Fraud', {
    model: ModelArtifact.fromLocalPath(FIXTURE),
    serving: ServingContainer.custom({ image: 'registry.internal/fraud-scorer:4.2.0', environment: { LOG_LEVEL: 'info' } }),
    scaling: { minReplicas: 2 },
    hosts: [
      { name: 'gpu01', address: '10.20.0.11', user: 'deploy', privateKeyPath: KEY_FILE, hostKey: HOST_KEY },
      { name: 'gpu02', address: '10.20.0.12', user: 'deploy', privateKeyPath: KEY_FILE, hostKey: HOST_KEY },
    ],
    apiKeyFile: KEY_FILE,
    runtime: ContainerRuntime.PODMAN,
    ...props,
  });
  return { deployment, json: JSON.parse(Testing.synth(stack)) };
}

type Json = any;
const deploymentOf = (json: Json, host: string) => Object.entries(json.resource.terraform_data).find(([k]) => k.includes(`_${host}-deployment_`))![1] as Json;
const steps = (resource: Json) => resource.provisioner.map((p: Json) => ({ type: Object.keys(p)[0], ...Object.values(p)[0] as object })) as Json[];
const upload = (json: Json, host: string, file: string) => steps(deploymentOf(json, host)).find(s => s.type === 'file' && s.destination.endsWith(`/${file}`));
const deployEnv = (json: Json, host: string): Record<string, string> =>
  Object.fromEntries(upload(json, host, 'deploy.env').content.trim().split('\n').map((l: string) => /^(\w+)='(.*)'$/.exec(l)!.slice(1)));
/** A Terraform template string's text: $${ and %%{ are the escapes of ${ and %{. */
const unescape = (text: string) => text.replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{');

const VERIFICATION: VerificationProps = {
  samples: [
    { name: 'linear.1', request: { instances: [[1, 1, 1]] }, expectedResponse: { predictions: [[9.5, 11.5]] }, absoluteTolerance: 1e-7 },
    { request: { text: 'quote \' " back\\slash tab\t line\n ${var.x} %{if true}x%{endif} é \u2028' }, expectedResponse: ['${x}', '%{y}', null, true], relativeTolerance: 0.01 },
  ],
  latencyBudgetMs: 750,
};
const OPTIONAL = HOST_CONTRACT.filter(k => k.optional).map(k => k.key);

describe('without verification, the synthesized output is what it was before verification existed', () => {
  const { json, deployment } = synth();

  test('the version ids are the ones the release before computed: no host redeploys on upgrade', () => {
    // Computed with the same props on the commit before this change (83e14b8).
    expect(deployment.versions).toEqual({ gpu01: 've35ee736c41f', gpu02: 'vaded3b6f11d3' });
  });

  test('deploy.env holds none of the optional keys, and the version gets no samples file', () => {
    expect(OPTIONAL).toEqual(['MD_VERIFY_SAMPLES', 'MD_VERIFY_SHA256', 'MD_VERIFY_BUDGET_MS', 'MD_VERIFY_PATH']);
    for (const host of ['gpu01', 'gpu02']) {
      expect(Object.keys(deployEnv(json, host)).sort()).toEqual(HOST_CONTRACT.filter(k => !k.optional).map(k => k.key).sort());
      expect(steps(deploymentOf(json, host)).map(s => s.type)).toEqual(['remote-exec', 'file', 'file', 'remote-exec']);
      expect(JSON.stringify(deploymentOf(json, host))).not.toContain(SAMPLES_FILE);
    }
  });

  test('a predict path the host contract would refuse is still accepted: only verification sends to it', () => {
    expect(() => synth({ serving: ServingContainer.custom({ image: 'registry.internal/x:1', predictPath: '/predict;v=1' }) })).not.toThrow();
  });
});

describe('with verification', () => {
  const { json, deployment } = synth({ verification: VERIFICATION });

  test('each new version gets samples.tsv: one line per sample (name, tolerances, request, expected), its JSON intact, every ${ and %{ escaped', () => {
    for (const host of ['gpu01', 'gpu02']) {
      const file = upload(json, host, SAMPLES_FILE);
      expect(file.destination).toBe(`/opt/model-deployments/${deployment.endpointName}/versions/${deployment.versions[host]}/${SAMPLES_FILE}`);
      // No template sequence survives unescaped: Terraform would evaluate it.
      expect(file.content.replace(/\$\$\{|%%\{/g, '')).not.toMatch(/\$\{|%\{/);
      const lines = unescape(file.content).split('\n');
      expect(lines.pop()).toBe('');
      expect(lines.map((l: string) => l.split('\t'))).toEqual([
        ['linear.1', '1e-7', '0', '{"instances":[[1,1,1]]}', '{"predictions":[[9.5,11.5]]}'],
        ['sample-2', '0', '0.01', JSON.stringify(VERIFICATION.samples[1].request), '["${x}","%{y}",null,true]'],
      ]);
      expect(JSON.parse(lines[1].split('\t')[3])).toEqual(VERIFICATION.samples[1].request);
    }
  });

  test('the samples file is created empty and 0600 before its upload, in the 0700 version directory', () => {
    const all = steps(deploymentOf(json, 'gpu01'));
    const prepare = all.findIndex(s => s.type === 'remote-exec' && s.inline.some((l: string) => l.includes(`touch `) && l.includes(SAMPLES_FILE)));
    const uploadAt = all.findIndex(s => s.type === 'file' && s.destination.endsWith(SAMPLES_FILE));
    expect(prepare).toBeGreaterThanOrEqual(0);
    expect(prepare).toBeLessThan(uploadAt);
    const line = all[prepare].inline.find((l: string) => l.includes(SAMPLES_FILE));
    expect(line).toMatch(new RegExp(`umask 077 && mkdir -p \\S+/versions/v[0-9a-f]{12} && chmod 700 .*umask 077 && touch [^&]*${SAMPLES_FILE} && chmod 600 [^&]*${SAMPLES_FILE}`));
    // The host runs deploy after every upload.
    expect(all[all.length - 1].inline.at(-1)).toMatch(/ deploy \S+\/deploy\.env$/);
  });

  test('deploy.env names the samples: count, the file\'s sha256, the budget and the predict path', () => {
    const content = unescape(upload(json, 'gpu01', SAMPLES_FILE).content);
    expect(deployEnv(json, 'gpu01')).toMatchObject({
      MD_VERIFY_SAMPLES: '2', MD_VERIFY_SHA256: crypto.createHash('sha256').update(content).digest('hex'), MD_VERIFY_BUDGET_MS: '750', MD_VERIFY_PATH: '/invocations',
    });
  });

  test('the version id follows the samples: new samples or a new budget are a new version to verify; the same ones are not', () => {
    const versions = (v?: VerificationProps) => synth(v ? { verification: v } : {}).deployment.versions.gpu01;
    const base = versions(VERIFICATION);
    expect(versions(VERIFICATION)).toBe(base);
    expect(versions({ ...VERIFICATION, latencyBudgetMs: 751 })).not.toBe(base);
    const changed = { ...VERIFICATION, samples: [{ ...VERIFICATION.samples[0], expectedResponse: { predictions: [[19, 25]] } }, VERIFICATION.samples[1]] };
    expect(versions(changed)).not.toBe(base);
    expect(new Set([base, versions(changed), versions()]).size).toBe(3);
  });

  test('a predict path the host cannot take is refused at synth, naming serving.predictPath', () => {
    let error: unknown;
    try {
      synth({ verification: VERIFICATION, serving: ServingContainer.custom({ image: 'registry.internal/x:1', predictPath: '/predict;v=1' }) });
    } catch (e) { error = e; }
    expect(error).toBeInstanceOf(ModelDeploymentValidationError);
    expect((error as ModelDeploymentValidationError).field).toBe('serving.predictPath');
    expect((error as ModelDeploymentValidationError).message).toContain('/predict;v=1');
  });
});
