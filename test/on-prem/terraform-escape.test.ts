/**
 * Item 8 of issue 6: Terraform template injection. Random strings full of template sequences go
 * through escapeTerraformTemplate, through a cdktf function argument, and through the real
 * on-prem construct (host labels, the Hosts output); the REAL terraform applies a configuration
 * holding them (outputs and a terraform_data input only: built-in, offline) and `terraform output
 * -json` must give every string back literally. One terraform run for all strings.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TerraformOutput, TerraformStack, Testing } from 'cdktf';
import * as fc from 'fast-check';
import { ModelArtifact, ServingContainer } from '../../lib';
import { escapeTerraformTemplate, terraformStringLiteral } from '../../lib/common/terraform';
import { ContainerRuntime, OnPremModelEndpoint } from '../../lib/targets/on-prem';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-escape-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmd7Ze0hR3x6nkd0oEvKVa5Zp7bIkFGU0f0d7bq4bXk';
const SECRET = path.join(tmp, 'secret');
fs.writeFileSync(SECRET, 'TOP-SECRET-VALUE');
const API_KEYS = path.join(tmp, 'api-keys');
fs.writeFileSync(API_KEYS, 'good-key-0123456789abcdef\n');

/** Strings built from template sequences and the characters around them. */
const templated = fc.array(fc.oneof(
  { arbitrary: fc.constantFrom('${', '%{', '$${', '%%{', '$$${', '%%%{', '$', '%', '{', '}', '${}', '%{}', '$$', '%%', '\\', '"', '\n', '~'), weight: 6 },
  { arbitrary: fc.constantFrom(`\${file("${SECRET}")}`, '${path.cwd}', '%{ if true }x%{ endif }', '%{ for c in ["a"] }${c}%{ endfor }', '${"${"}', '$${nested ${x}}', 'é😀'), weight: 3 },
  { arbitrary: fc.string({ maxLength: 6 }), weight: 3 },
), { minLength: 1, maxLength: 8 }).map(parts => parts.join(''));

function terraform(dir: string, args: string[]) {
  const cli = path.join(tmp, 'empty.tfrc');
  fs.writeFileSync(cli, '');
  const r = spawnSync('terraform', args, {
    cwd: dir, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024,
    env: { PATH: process.env.PATH, HOME: tmp, TF_CLI_CONFIG_FILE: cli, TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' },
  });
  if (r.status !== 0) throw new Error(`terraform ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

test('user strings with template sequences come back literally from the real terraform: plain strings, function arguments, and the construct\'s labels', () => {
  const strings = fc.sample(templated, { numRuns: 300, seed: 8 });
  // The template sequences at the edges the generator might miss: a trailing $ or %, doubled escapes.
  strings.push('a$', 'a%', '$', '%', '${', '%{', '$${', '%%{', '$${x}', '%%{x}', `team-\${file("${SECRET}")}`);

  // 1. Plain strings and function arguments, in a minimal stack.
  const app = Testing.app();
  const stack = new TerraformStack(app, 'escape');
  const keyed = Object.fromEntries(strings.map((s, i) => [`s${i}`, escapeTerraformTemplate(s)]));
  new TerraformOutput(stack, 'plain', { value: keyed });
  // How the construct hands paths to file(pathexpand(...)): a quoted literal inside an expression.
  new TerraformOutput(stack, 'inFunction', { value: Object.fromEntries(strings.map((s, i) => [`s${i}`, `\${join("", [${terraformStringLiteral(s)}])}`])) });
  new TerraformOutput(stack, 'keys', { value: Object.fromEntries(strings.map((s, i) => [escapeTerraformTemplate(`${i}:${s}`), i])) });
  const config = JSON.parse(Testing.synth(stack));

  // 2. The real construct, with label values (and a label key) from the same strings.
  const labelled = strings.filter(s => s.length <= 256).slice(0, 200);
  const tfApp = Testing.app();
  const onPrem = new TerraformStack(tfApp, 'onprem');
  new OnPremModelEndpoint(onPrem, 'Fraud', {
    model: ModelArtifact.fromLocalPath(path.join(__dirname, '..', 'fixtures', 'linear-model')),
    serving: ServingContainer.custom({ image: 'registry.internal/fraud:1' }),
    scaling: { minReplicas: 1 },
    runtime: ContainerRuntime.PODMAN,
    apiKeyFile: API_KEYS,
    hosts: [{ name: 'gpu01', address: '10.0.0.1', user: 'deploy', hostKey: HOST_KEY, labels: Object.fromEntries(labelled.map((s, i) => [`l${i}`, s])) }],
  });
  const construct = JSON.parse(Testing.synth(onPrem));
  const hostsOutput = Object.entries(construct.output).find(([k]) => k.includes('Hosts'))!;

  const dir = path.join(tmp, 'tf');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'main.tf.json'), JSON.stringify({
    output: { ...config.output, hosts: hostsOutput[1], viaInput: { value: '${terraform_data.carrier.output}' } },
    resource: { terraform_data: { carrier: { input: keyed } } },
  }));
  terraform(dir, ['init', '-input=false', '-no-color']);
  terraform(dir, ['apply', '-auto-approve', '-input=false', '-no-color']);
  const out = JSON.parse(terraform(dir, ['output', '-json']));

  const expected = Object.fromEntries(strings.map((s, i) => [`s${i}`, s]));
  expect(out.plain.value).toEqual(expected);
  expect(out.inFunction.value).toEqual(expected);
  expect(out.viaInput.value).toEqual(expected);
  expect(out.keys.value).toEqual(Object.fromEntries(strings.map((s, i) => [`${i}:${s}`, i])));
  expect(out.hosts.value.gpu01.labels).toEqual(Object.fromEntries(labelled.map((s, i) => [`l${i}`, s])));
  expect(JSON.stringify(out)).not.toContain('TOP-SECRET-VALUE');
  expect(fs.readFileSync(path.join(dir, 'terraform.tfstate'), 'utf8')).not.toContain('TOP-SECRET-VALUE');
}, 180_000);

test('escapeTerraformTemplate escapes exactly ${ and %{', () => {
  expect(escapeTerraformTemplate('a${b}%{c}$${d}%%{e}$ %')).toBe('a$${b}%%{c}$$${d}%%%{e}$ %');
  fc.assert(fc.property(fc.string(), s => escapeTerraformTemplate(s) === s || /\$\{|%\{/.test(s)));
});
