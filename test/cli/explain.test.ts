import * as path from 'path';
import { Explanation, TargetPlan } from '../../lib/cli/explain';
import { main } from '../../lib/cli/main';

const ROOT = path.join(__dirname, '..', '..');
const FOUR_TARGETS = path.join(ROOT, 'examples', 'one-spec-four-targets.ts');
const CANARY_IAM = path.join(ROOT, 'test', 'fixtures', 'explain', 'canary-iam.ts');

/** Runs `model-deployment ARGS` in this process; returns its exit code and what it wrote. */
async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(chunk => { out.push(String(chunk)); return true; });
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(chunk => { err.push(String(chunk)); return true; });
  try {
    const code = await main(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

const byTarget = (e: Explanation) => Object.fromEntries(e.targets.map(t => [t.target, t])) as Record<TargetPlan['target'], TargetPlan>;

describe('model-deployment explain', () => {
  test('a spec all four accept: each column is read back from that target\'s synthesized output', async () => {
    const { code, stdout } = await run('explain', FOUR_TARGETS, '--json');
    expect(code).toBe(0);
    const e = JSON.parse(stdout) as Explanation;
    expect(e.targets.map(t => t.target)).toEqual(['sageMaker', 'azureMl', 'vertexAi', 'onPrem']);
    const t = byTarget(e);
    for (const p of e.targets) {
      expect(p).toMatchObject({ status: 'creates', options: 'yours' });
      expect(p.resources).toBeGreaterThan(5);
    }
    // One NVIDIA T4 per replica, two replicas, on every target, each in its own words.
    expect(t.sageMaker).toMatchObject({ engine: 'aws-cdk-lib', compute: 'ml.g4dn.xlarge', replicas: '2 (fixed)', ownSpec: [] });
    expect(t.azureMl).toMatchObject({ engine: 'cdktf', compute: 'Standard_NC4as_T4_v3', replicas: '2 (fixed)', auth: 'Entra ID tokens (AADToken)', ownSpec: ['serving'] });
    expect(t.vertexAi).toMatchObject({ compute: 'n1-standard-4 + 1 x NVIDIA_TESLA_T4', replicas: '2 (fixed)', ownSpec: ['serving'] });
    expect(t.onPrem).toMatchObject({ compute: '1 x Tesla T4 per replica on 2 host(s)', replicas: '2 (fixed: gpu01 1, gpu02 1)', ownSpec: [] });
    // PRIVATE, as each target enforces it; encryption; the example's two samples where the target wires them.
    expect(t.sageMaker.network).toBe('private: grants allow calls only through vpce-0a1b2c3d4e5f67890');
    expect(t.azureMl.network).toMatch(/^private: /);
    expect(t.vertexAi.network).toBe('private: Private Service Connect from ml-prod-4711');
    expect(t.onPrem.network).toBe('proxy port 8443, clients from private address ranges only');
    expect(t.onPrem.encryption).toBe('TLS at the proxy (your certificate)');
    expect(t.vertexAi.encryption).toBe('HTTPS; at rest Google-managed keys');
    expect(t.sageMaker.verification).toMatch(/^2 sample\(s\) after each update/);
    expect(t.vertexAi.verification).toMatch(/^2 sample\(s\) before traffic moves/);
    expect(t.onPrem.verification).toMatch(/^2 sample\(s\) on each host/);
    expect(t.azureMl.verification).toBe('2 sample(s) before traffic moves');
    // The synth's warnings come along: Azure ML's PRIVATE needs a private endpoint of your own.
    expect(t.azureMl.warnings).toEqual([expect.stringContaining('privateEndpointSubnetId')]);
    expect(t.sageMaker.warnings).toEqual([]);
  });

  test('the table puts the four targets side by side, one aspect per row', async () => {
    const { code, stdout } = await run('explain', FOUR_TARGETS);
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines[2]).toMatch(/^\s+sageMaker\s+azureMl\s+vertexAi\s+onPrem$/);
    const row = (label: string) => lines.find(l => l.startsWith(`${label} `))!;
    expect(row('compute')).toMatch(/^compute\s+ml\.g4dn\.xlarge\s+Standard_NC4as_T4_v3\s+n1-standard-4 \+ 1 x\s+1 x Tesla T4 per replica on 2$/);
    expect(row('result')).toMatch(/^result\s+creates\s+creates\s+creates\s+creates$/);
    expect(stdout).not.toContain('What it refuses');
    expect(stdout).toContain('Warnings:');
  });

  test('a spec some refuse: canary and IAM; each refusal names field, value and what is allowed', async () => {
    const { code, stdout } = await run('explain', CANARY_IAM, '--json');
    expect(code).toBe(0);
    const t = byTarget(JSON.parse(stdout) as Explanation);
    // No `targets` export: every target gets placeholder options, and says so.
    for (const p of Object.values(t)) expect(p.options).toBe('representative');
    expect(t.sageMaker).toMatchObject({ status: 'creates', compute: 'ml.c5.large', replicas: '2-4 (autoscaling)', verification: 'none' });
    expect(t.sageMaker.auth).toMatch(/^IAM/);
    expect(t.azureMl.status).toBe('refuses');
    expect(t.azureMl.refusal).toMatchObject({ field: 'rollout', value: '"canary"' });
    expect(t.azureMl.refusal!.allowed).toMatch(/^Rollout\.allAtOnce\(\)/);
    expect(t.vertexAi.refusal).toMatchObject({ field: 'rollout', value: '"canary"' });
    // Every problem is reported, not just the first: Vertex AI also refuses the ECR image.
    expect(t.vertexAi.refusal!.message).toContain('invalid serving.image');
    expect(t.onPrem.refusal).toMatchObject({ field: 'access.auth', value: '"iam"' });
    expect(t.onPrem.refusal!.allowed).toMatch(/^KEY/);
    for (const p of [t.azureMl, t.vertexAi, t.onPrem]) expect(p.compute).toBeUndefined();

    const table = await run('explain', CANARY_IAM);
    expect(table.stdout).toMatch(/^result\s+creates\s+REFUSES rollout\s+REFUSES rollout\s+REFUSES access\.auth$/m);
    expect(table.stdout).toContain('What it refuses, and why:');
    expect(table.stdout).toContain('onPrem: onPrem target: invalid access.auth: "iam". Allowed: KEY');
    expect(table.stdout).toContain('representative = placeholder target options');
  });

  test('bad input: exit 2 and a message that says what was expected', async () => {
    const none = await run('explain');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('expected one APP, got 0');
    const missing = await run('explain', 'no/such/app.ts');
    expect(missing).toMatchObject({ code: 2, stdout: '' });
    expect(missing.stderr).toContain('no such file: no/such/app.ts');
    const noSpec = await run('explain', path.join(ROOT, 'test', 'fixtures', 'explain', 'no-spec.js'));
    expect(noSpec.code).toBe(2);
    expect(noSpec.stderr).toMatch(/exports no spec \(expected `export const spec: ModelDeploymentSpecProps/);
    const json = await run('explain', path.join(ROOT, 'package.json'));
    expect(json.code).toBe(2);
    expect(json.stderr).toContain('expected a .js, .cjs or .ts module');
    const unknown = await run('explain', FOUR_TARGETS, '--yaml');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--yaml'");
  });

  test('--help, and the command list names explain', async () => {
    const help = await run('explain', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: model-deployment explain APP \[--json\]/);
    expect(help.stdout).toContain('specs');
    const list = await run('--help');
    expect(list.stdout).toMatch(/^ {2}explain +show what each of the four targets would create/m);
  });
});
