/**
 * Blue/green on a new model version, in the order the REAL terraform applies the target's graph.
 * azapi and azurerm cannot be downloaded here, so every resource and data source of the
 * synthesized stack becomes a built-in `terraform_data` stand-in that keeps what decides the order:
 * the same references (to `.id`), `depends_on`, `for_each`, `create_before_destroy`, and a
 * `triggers_replace` on the resource's name (azapi and azurerm replace a resource whose name
 * changes; any other change is an update, as the body of the traffic update). Then v1 is applied,
 * the model changes, and v2 is applied: Terraform's own log gives the order.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ModelArtifact } from '../../lib';
import { mangle, modelVersionDir, standIns } from './stand-ins';
import { addressOf, azapi, only, synth } from './support';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'azure-blue-green-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function terraform(args: string[]): string {
  const r = spawnSync('terraform', [...args, '-no-color'], {
    cwd: tmp, encoding: 'utf8', timeout: 120_000,
    env: { PATH: process.env.PATH, HOME: tmp, TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' },
  });
  if (r.status !== 0) throw new Error(`terraform ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const model = (name: string, weights: string) => modelVersionDir(tmp, name, weights);

test('a new model version: new deployment created, then traffic moved to it, then the old deployment destroyed, then the old model', () => {
  const v1 = synth({ model: ModelArtifact.fromLocalPath(model('v1', 'one')) }).json;
  const v2 = synth({ model: ModelArtifact.fromLocalPath(model('v2', 'two')) }).json;
  const deployment = `terraform_data.${mangle(addressOf(v1, azapi(v1, 'deployments')))}`;
  const modelVersion = `terraform_data.${mangle(addressOf(v1, azapi(v1, 'models/versions')))}`;
  const traffic = `terraform_data.${mangle(addressOf(v1, only(v1, 'azapi_update_resource')))}`;
  const drain = `terraform_data.${mangle(addressOf(v1, only(v1, 'azapi_resource_action')))}`;
  const endpoint = `terraform_data.${mangle(addressOf(v1, azapi(v1, 'onlineEndpoints')))}`;
  // Same construct path, so the same addresses; a new deployment name.
  expect(addressOf(v2, azapi(v2, 'deployments'))).toBe(addressOf(v1, azapi(v1, 'deployments')));
  expect(azapi(v2, 'deployments').name).not.toBe(azapi(v1, 'deployments').name);

  fs.writeFileSync(path.join(tmp, 'main.tf.json'), JSON.stringify(standIns(v1), undefined, 1));
  terraform(['init', '-input=false']);
  const first = terraform(['apply', '-auto-approve', '-input=false']).split('\n');

  // First apply: the endpoint identity's role assignments are complete before the deployment starts.
  const line = (log: string[], pattern: RegExp) => {
    const i = log.findIndex(l => pattern.test(l));
    if (i < 0) throw new Error(`no line ${pattern} in:\n${log.join('\n')}`);
    return i;
  };
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const deploymentStarts = line(first, new RegExp(`^${esc(deployment)}: Creating`));
  for (const role of Object.keys(v1.resource.azurerm_role_assignment).filter(n => n.includes('Endpoint'))) {
    expect(line(first, new RegExp(`^terraform_data\\.azurerm_role_assignment__${esc(role)}: Creation complete`))).toBeLessThan(deploymentStarts);
  }
  expect(line(first, new RegExp(`^${esc(traffic)}: Creation complete`))).toBeGreaterThan(line(first, new RegExp(`^${esc(deployment)}: Creation complete`)));

  fs.writeFileSync(path.join(tmp, 'main.tf.json'), JSON.stringify(standIns(v2), undefined, 1));
  const second = terraform(['apply', '-auto-approve', '-input=false']).split('\n');
  if (process.env.BLUE_GREEN_LOG) console.log(second.filter(l => /^terraform_data/.test(l)).join('\n'));
  const created = line(second, new RegExp(`^${esc(deployment)}: Creation complete`));
  const moved = line(second, new RegExp(`^${esc(traffic)}: Modifications complete`));
  const oldGone = line(second, new RegExp(`^${esc(deployment)} \\(deposed object \\w+\\): Destroying`));
  const oldModelGone = line(second, new RegExp(`^${esc(modelVersion)} \\(deposed object \\w+\\): Destroying`));
  expect(created).toBeLessThan(moved);
  expect(moved).toBeLessThan(oldGone);
  expect(oldGone).toBeLessThan(oldModelGone);
  // The endpoint itself is untouched.
  expect(second.some(l => l.includes('OnlineEndpoint') && /Destroying|Creating/.test(l))).toBe(false);

  // The destroy-time traffic drain names no deployment: a new version leaves it alone.
  expect(second.some(l => l.startsWith(`${drain}`) && /Destroying|Creating/.test(l))).toBe(false);

  // And a third apply with nothing changed changes nothing.
  expect(terraform(['plan', '-input=false', '-detailed-exitcode']).includes('No changes')).toBe(true);

  // cdktf destroy: the drain (azapi_resource_action, when = destroy: it PUTs the endpoint with no
  // traffic) goes first, then the deployment Azure would not delete while it takes traffic, then the endpoint.
  const gone = terraform(['destroy', '-auto-approve', '-input=false']).split('\n');
  const drained = line(gone, new RegExp(`^${esc(drain)}: Destruction complete`));
  expect(drained).toBeLessThan(line(gone, new RegExp(`^${esc(deployment)}: Destroying`)));
  expect(line(gone, new RegExp(`^${esc(deployment)}: Destruction complete`))).toBeLessThan(line(gone, new RegExp(`^${esc(endpoint)}: Destroying`)));
}, 180_000);
