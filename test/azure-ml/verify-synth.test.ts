/** Verification on the Azure ML target, in the synthesized Terraform JSON. */
import { AuthMode, NetworkAccess, ScalingTarget } from '../../lib';
import { VerificationProps } from '../../lib/spec/verification';
import { AzureVerifyRequest } from '../../lib/targets/azure-ml/verify-request';
import { expectRefusal } from '../support/refusal';
import { validateAzapiStack } from '../support/azure/azapi-validator';
import { ModelArtifact } from '../../lib';
import { TARGET } from '../../lib/targets/azure-ml/name';
import { addressOf, azapi, danglingReferences, only, synth } from './support';

const VERIFICATION: VerificationProps = {
  samples: [
    { name: 'fraud', request: { amount: 9000, country: 'XX' }, expectedResponse: { fraud: true, score: 0.93 }, absoluteTolerance: 0.05 },
    { request: [[1, 2]], expectedResponse: [0.5], relativeTolerance: 0.01 },
  ],
  latencyBudgetMs: 2000,
};
const verified = (over: object = {}) => synth({ verification: VERIFICATION, ...over }).json;
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

test('no verification in the spec: no check, traffic waits for the deployment only', () => {
  const json = synth().json;
  expect(json.resource.terraform_data).toBeUndefined();
  expect(only(json, 'azapi_update_resource').depends_on).toEqual([addressOf(json, azapi(json, 'deployments'))]);
});

test('with verification: one check after the deployment, the traffic update after the check', () => {
  const json = verified();
  const check = only(json, 'terraform_data');
  const deployment = addressOf(json, azapi(json, 'deployments'));
  expect(check.depends_on).toEqual([deployment]);
  expect(only(json, 'azapi_update_resource').depends_on).toEqual([deployment, addressOf(json, check)]);
  // The drain on destroy is unchanged: it does not wait for a check.
  expect(only(json, 'azapi_resource_action').depends_on).toEqual([deployment]);
  expect(check.provisioner).toEqual([{
    'local-exec': {
      command: expect.stringMatching(/^node ".*\/lib\/targets\/azure-ml\/verify\/main\.js"$/),
      environment: { MD_AZURE_VERIFY_REQUEST: '${jsonencode(self.input)}' },
    },
  }]);
  const endpoint = addressOf(json, azapi(json, 'onlineEndpoints'));
  const input: AzureVerifyRequest = check.input;
  expect(input).toEqual({
    format: 1,
    endpointId: `\${${endpoint}.id}`,
    endpointName: azapi(json, 'onlineEndpoints').name,
    deploymentName: azapi(json, 'deployments').name,
    scoringUri: `\${${endpoint}.output.properties.scoringUri}`,
    authMode: 'AADToken',
    apiVersion: '2024-10-01',
    privateNetwork: true,
    verification: {
      latencyBudgetMs: 2000,
      samples: [
        { name: 'fraud', requestBase64: b64('{"amount":9000,"country":"XX"}'), expectedBase64: b64('{"fraud":true,"score":0.93}'), absoluteTolerance: 0.05, relativeTolerance: 0 },
        { name: 'sample-2', requestBase64: b64('[[1,2]]'), expectedBase64: b64('[0.5]'), absoluteTolerance: 0, relativeTolerance: 0.01 },
      ],
    },
  });
  expect(danglingReferences(json)).toEqual([]);
  expect(validateAzapiStack(json)).toEqual([]);
});

test('the check is replaced (and so runs again) when the deployment is replaced or the samples or budget change, and only then', () => {
  const base = only(verified(), 'terraform_data').triggers_replace;
  const json = verified();
  expect(base.deployment).toBe(`\${${addressOf(json, azapi(json, 'deployments'))}.id}`);
  const changed = (v: VerificationProps) => only(synth({ verification: v }).json, 'terraform_data').triggers_replace.samples;
  expect(changed(VERIFICATION)).toBe(base.samples);
  expect(changed({ ...VERIFICATION, latencyBudgetMs: 2001 })).not.toBe(base.samples);
  expect(changed({ ...VERIFICATION, samples: [VERIFICATION.samples[0]] })).not.toBe(base.samples);
  expect(changed({ ...VERIFICATION, samples: [{ ...VERIFICATION.samples[0], expectedResponse: { fraud: false } }, VERIFICATION.samples[1]] })).not.toBe(base.samples);
  // A capacity change updates the deployment in place: same name, the check stays.
  const scaled = synth({ verification: VERIFICATION, scaling: { minReplicas: 3, maxReplicas: 3 } }).json;
  expect(azapi(scaled, 'deployments').name).toBe(azapi(json, 'deployments').name);
  expect(only(scaled, 'terraform_data').triggers_replace.samples).toBe(base.samples);
});

test('no key or token anywhere in the JSON, with every auth mode: the checker reads them at run time', () => {
  for (const auth of [AuthMode.KEY, AuthMode.TOKEN, AuthMode.IAM]) {
    const json = verified({ access: { auth, network: NetworkAccess.PUBLIC } });
    const text = JSON.stringify(json);
    expect(text).not.toMatch(/listKeys|primaryKey|secondaryKey|accessToken|\/token\b/);
    expect(json.data?.azapi_resource_action).toBeUndefined();
    expect(Object.keys(only(json, 'terraform_data').input).sort()).toEqual(
      ['apiVersion', 'authMode', 'deploymentName', 'endpointId', 'endpointName', 'format', 'privateNetwork', 'scoringUri', 'verification']);
    expect(only(json, 'terraform_data').input.authMode).toBe({ [AuthMode.KEY]: 'Key', [AuthMode.TOKEN]: 'AMLToken', [AuthMode.IAM]: 'AADToken' }[auth]);
  }
});

test('sample text reaches the state as base64: no template sequence for Terraform, nothing for jsonencode to grow', () => {
  const text = '${var.secret} %{ if x } <&>';
  const json = verified({
    verification: { samples: [{ name: 'tpl', request: { [text]: text }, expectedResponse: { echo: text } }] },
    model: ModelArtifact.fromUri('azureml://registries/r/models/m/versions/1'),
  });
  const check = only(json, 'terraform_data');
  const sample = check.input.verification.samples[0];
  expect(Buffer.from(sample.requestBase64, 'base64').toString('utf8')).toBe(JSON.stringify({ [text]: text }));
  expect(Buffer.from(sample.expectedBase64, 'base64').toString('utf8')).toBe(JSON.stringify({ echo: text }));
  // Nothing unescaped anywhere in the check: only the target's own references.
  const unescaped = JSON.stringify(check).match(/(?<![$%])[$%]\{[^}]*\}/g) ?? [];
  expect(unescaped.every(m => /^\$\{(azapi_resource\.|jsonencode\(self\.input\))/.test(m))).toBe(true);
  expect(JSON.stringify(check)).not.toContain('<&>');
  // The references were found: the check above is not vacuous.
  expect(unescaped.length).toBeGreaterThan(0);
});

test('a latency budget past the deployment\'s request timeout is refused at synth, naming field, value and limit', () => {
  expectRefusal(() => verified({ verification: { ...VERIFICATION, latencyBudgetMs: 60_001 } }), 'verification.latencyBudgetMs',
    { rawValue: 60_001, allowed: 'at most 60000: Azure ML ends a scoring request after the deployment\'s request timeout of 60 s', target: TARGET });
  expect(only(verified({ verification: { ...VERIFICATION, latencyBudgetMs: 60_000 } }), 'terraform_data').input.verification.latencyBudgetMs).toBe(60_000);
});

test('PRIVATE with verification: a note that the samples are sent from where cdktf apply runs', () => {
  const infos = (props: object) => synth({ verification: VERIFICATION, ...props }).endpoint.node.metadata.filter(m => m.type === '@cdktf/info').map(m => String(m.data)).join('\n');
  expect(infos({ access: { network: NetworkAccess.PRIVATE } })).toMatch(/verification with access\.network PRIVATE: the sample predictions are sent from the machine that runs cdktf apply/);
  expect(infos({ access: { network: NetworkAccess.PUBLIC } })).toBe('');
});

test('with verification, the autoscale setting moves to a new deployment only after the traffic update', () => {
  const scaling = { minReplicas: 1, maxReplicas: 3, target: ScalingTarget.cpuPercent(70) };
  const json = verified({ scaling });
  expect(only(json, 'azurerm_monitor_autoscale_setting').depends_on).toEqual([addressOf(json, only(json, 'azapi_update_resource'))]);
  expect(only(synth({ scaling }).json, 'azurerm_monitor_autoscale_setting').depends_on).toBeUndefined();
});
