/**
 * Verification in the order the REAL terraform applies the target's graph, with terraform_data
 * stand-ins for azapi and azurerm (./stand-ins.ts) and the REAL checker run by the verification's
 * local-exec provisioner against the fake ARM and scoring server (test/support/azure/verify-process.ts),
 * which answer right or wrong per deployment name. Terraform's own log and state give the order.
 *
 * Azure refuses to delete a deployment that has traffic: so no deployment may be destroyed before
 * the traffic update has moved to its successor, in any apply, failed ones included.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AuthMode, ModelArtifact, NetworkAccess, ScalingTarget } from '../../lib';
import { CheckerWorkspace, FakeAzure, checkerEnv, checkerWorkspace, runProcess, startFakeAzure } from '../support/azure/verify-process';
import { mangle, modelVersionDir, standIns } from './stand-ins';
import { SUB, addressOf, azapi, only, synth } from './support';

const ENDPOINT_ID = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-ml/onlineEndpoints/fraud`;
// The second sample's text holds Terraform template sequences: it must reach the model, and be expected, exactly as written.
const NOTE = '${var.not_a_reference} %{ if true }x%{ endif }';
const SAMPLES = { samples: [{ name: 'two', request: { x: 2 }, expectedResponse: { y: 4 } }, { name: 'ten', request: { x: 10, note: NOTE }, expectedResponse: { y: 20, note: NOTE } }] };

let tmp: string;
let ws: CheckerWorkspace;
let fake: FakeAzure;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'azure-verify-rollout-'));
  ws = checkerWorkspace();
  fake = await startFakeAzure(ENDPOINT_ID, 'Key');
});
afterAll(async () => {
  await fake.close();
  ws.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** One version of the stack: its Terraform JSON (stand-ins) and the names that matter. */
function version(name: string) {
  const json = synth({
    model: ModelArtifact.fromLocalPath(modelVersionDir(tmp, name, name)),
    access: { auth: AuthMode.KEY, network: NetworkAccess.PUBLIC },
    verification: SAMPLES,
    scaling: { minReplicas: 1, maxReplicas: 2, target: ScalingTarget.cpuPercent(70) },
  }).json;
  const config = standIns(json) as { resource: { terraform_data: Record<string, any> } };
  const verification = `terraform_data.${mangle(addressOf(json, only(json, 'terraform_data')))}`;
  const check = config.resource.terraform_data[verification.split('.')[1]];
  // The checker as the package ships it, transpiled; the endpoint's id as azapi reports it (a stand-in's id is a UUID).
  check.provisioner[0]['local-exec'].command = `node ${JSON.stringify(ws.main)}`;
  check.input.endpointId = ENDPOINT_ID;
  return {
    config,
    deploymentName: azapi(json, 'deployments').name as string,
    deployment: `terraform_data.${mangle(addressOf(json, azapi(json, 'deployments')))}`,
    traffic: `terraform_data.${mangle(addressOf(json, only(json, 'azapi_update_resource')))}`,
    drain: `terraform_data.${mangle(addressOf(json, only(json, 'azapi_resource_action')))}`,
    autoscale: `terraform_data.${mangle(addressOf(json, only(json, 'azurerm_monitor_autoscale_setting')))}`,
    verification,
  };
}

async function terraform(dir: string, args: string[], expectOk = true): Promise<{ ok: boolean; log: string[]; output: string }> {
  const env = { ...checkerEnv(ws, { fake }), HOME: dir, TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' };
  const run = await runProcess('terraform', [...args, '-no-color'], { cwd: dir, env, timeoutMs: 120_000 });
  const output = `${run.stdout}\n${run.stderr}`;
  if (expectOk && run.code !== 0) throw new Error(`terraform ${args.join(' ')} failed:\n${output}`);
  return { ok: run.code === 0, log: run.stdout.split('\n'), output };
}

const apply = (dir: string, v: ReturnType<typeof version>, expectOk = true) => {
  fs.writeFileSync(path.join(dir, 'main.tf.json'), JSON.stringify(v.config, undefined, 1));
  return terraform(dir, ['apply', '-auto-approve', '-input=false'], expectOk);
};

/** The deployment names the traffic stand-in's state holds (what the last traffic update sent), and every deployment object in the state, deposed ones too. */
async function state(dir: string, v: ReturnType<typeof version>) {
  const raw = JSON.parse(fs.readFileSync(path.join(dir, 'terraform.tfstate'), 'utf8'));
  const objects = (address: string) => raw.resources.filter((r: any) => `${r.type}.${r.name}` === address).flatMap((r: any) => r.instances);
  const traffic = objects(v.traffic)[0]?.attributes.output.value.body.properties.traffic;
  const deployments = objects(v.deployment).map((i: any) => ({ name: i.attributes.output.value.name, deposed: i.deposed !== undefined }));
  return { traffic, deployments: deployments.sort((a: any, b: any) => a.name.localeCompare(b.name)) };
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
function line(log: string[], pattern: RegExp): number {
  const i = log.findIndex(l => pattern.test(l));
  if (i < 0) throw new Error(`no line ${pattern} in:\n${log.join('\n')}`);
  return i;
}

/** A fresh directory where `good` was applied (verified) and then `bad` failed its verification. */
async function failedUpdate(good: string, bad: string) {
  const dir = fs.mkdtempSync(path.join(tmp, `${good}-`));
  const v1 = version(good);
  const v2 = version(bad);
  fake.deployments.set(v1.deploymentName, { kind: 'right' });
  fake.deployments.set(v2.deploymentName, { kind: 'wrong' });
  await terraform(dir, ['init', '-input=false']);
  await apply(dir, v1);
  expect((await apply(dir, v2, false)).ok).toBe(false);
  return { dir, v1, v2 };
}

test('a failed verification leaves all traffic on the old deployment and destroys nothing; a fixed version then moves traffic and removes both', async () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'retry-'));
  const v1 = version('one');
  const v2 = version('two');
  const v3 = version('three');
  expect(new Set([v1.deploymentName, v2.deploymentName, v3.deploymentName]).size).toBe(3);
  fake.deployments.set(v1.deploymentName, { kind: 'right' });
  fake.deployments.set(v2.deploymentName, { kind: 'wrong' });
  fake.deployments.set(v3.deploymentName, { kind: 'right' });
  await terraform(dir, ['init', '-input=false']);

  // v1: verified, then traffic.
  const first = await apply(dir, v1);
  expect(line(first.log, new RegExp(`^${esc(v1.verification)}: Creation complete`))).toBeLessThan(line(first.log, new RegExp(`^${esc(v1.traffic)}: Creation complete`)));
  expect(first.log.some(l => l.includes(`traffic moves to ${v1.deploymentName} next`))).toBe(true);
  expect(first.log.some(l => l.includes('$${') || l.includes('%%{'))).toBe(false);
  expect(await state(dir, v1)).toEqual({ traffic: { [v1.deploymentName]: 100 }, deployments: [{ name: v1.deploymentName, deposed: false }] });

  // v2 answers wrong: the apply fails with the sample, expected and actual; traffic is not touched, nothing is destroyed.
  fake.log.length = 0;
  const second = await apply(dir, v2, false);
  expect(second.ok).toBe(false);
  expect(second.output).toContain(`verification of deployment ${v2.deploymentName} of Azure ML endpoint`);
  expect(second.output).toContain('sample "two": wrong answer at $.y: expected 4, got 5');
  expect(fake.log.filter(l => l.server === 'scoring').map(l => l.deployment)).toEqual([v2.deploymentName, v2.deploymentName]);
  const acted = second.log.filter(l => /^terraform_data/.test(l) && !l.includes('Refreshing state'));
  expect(acted.some(l => l.startsWith(v2.traffic))).toBe(false);
  // The autoscale setting stays on the deployment that serves (it moves after the traffic).
  expect(acted.some(l => l.startsWith(v2.autoscale))).toBe(false);
  // Only the previous check is destroyed (it has nothing to undo); no deployment, model or environment version.
  expect(acted.filter(l => /Destroying/.test(l)).every(l => l.startsWith(v2.verification))).toBe(true);
  // The old deployment stays (deposed: Terraform destroys it later), the new one is in the state with no traffic.
  expect(await state(dir, v2)).toEqual({
    traffic: { [v1.deploymentName]: 100 },
    deployments: [{ name: v1.deploymentName, deposed: true }, { name: v2.deploymentName, deposed: false }].sort((a, b) => a.name.localeCompare(b.name)),
  });

  // v3, fixed: verified, traffic moves, and only then are both older deployments destroyed.
  const third = await apply(dir, v3);
  const verified = line(third.log, new RegExp(`^${esc(v3.verification)}: Creation complete`));
  const moved = line(third.log, new RegExp(`^${esc(v3.traffic)}: Modifications complete`));
  expect(verified).toBeLessThan(moved);
  const autoscaled = line(third.log, new RegExp(`^${esc(v3.autoscale)}: Modifications complete`));
  expect(moved).toBeLessThan(autoscaled);
  const destroyed = third.log.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith(`${v3.deployment} (deposed object`) && l.includes('Destroying'));
  expect(destroyed).toHaveLength(2);
  for (const [, i] of destroyed) expect(i).toBeGreaterThan(Math.max(moved, autoscaled));
  expect(await state(dir, v3)).toEqual({ traffic: { [v3.deploymentName]: 100 }, deployments: [{ name: v3.deploymentName, deposed: false }] });
  expect((await terraform(dir, ['plan', '-input=false', '-detailed-exitcode'])).output).toContain('No changes');
}, 240_000);

test('the same version, retried after the model answers right: the failed check runs again (tainted), traffic moves', async () => {
  const { dir, v2 } = await failedUpdate('four', 'five');
  fake.deployments.set(v2.deploymentName, { kind: 'right' });
  fake.log.length = 0;
  const retry = await apply(dir, v2);
  expect(fake.log.filter(l => l.server === 'scoring').map(l => l.deployment)).toEqual([v2.deploymentName, v2.deploymentName]);
  expect(retry.log.some(l => l.startsWith(`${v2.verification}: Destroying`) || l.includes('tainted'))).toBe(true);
  expect(line(retry.log, new RegExp(`^${esc(v2.traffic)}: Modifications complete`))).toBeLessThan(line(retry.log, new RegExp(`^${esc(v2.deployment)} \\(deposed object \\w+\\): Destroying`)));
  expect(await state(dir, v2)).toEqual({ traffic: { [v2.deploymentName]: 100 }, deployments: [{ name: v2.deploymentName, deposed: false }] });
}, 240_000);

test('a destroy after a failed update drains traffic first, then removes both deployments', async () => {
  const { dir, v2 } = await failedUpdate('six', 'seven');
  const gone = await terraform(dir, ['destroy', '-auto-approve', '-input=false']);
  const drained = line(gone.log, new RegExp(`^${esc(v2.drain)}: Destruction complete`));
  const deployments = gone.log.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith(v2.deployment) && l.includes('Destroying'));
  expect(deployments).toHaveLength(2);
  for (const [, i] of deployments) expect(i).toBeGreaterThan(drained);
  expect(JSON.parse(fs.readFileSync(path.join(dir, 'terraform.tfstate'), 'utf8')).resources).toEqual([]);
}, 240_000);
