import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { sageMakerGpu } from '../examples/sagemaker-gpu';
import { sageMakerProduction } from '../examples/sagemaker-production';
import { sageMakerQuickstart } from '../examples/sagemaker-quickstart';
import { sageMakerServerless } from '../examples/sagemaker-serverless';
import { cloudFormationRows, formatSynthTable, terraformRows } from '../scripts/synth-table';
import { nagFindings } from './support/nag';

const ROOT = path.join(__dirname, '..');
/** The context `cdk synth` gives bin/app.ts, feature flags included: the tests judge what users get. */
const CDK_JSON = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8'));
const newApp = () => new App({ context: CDK_JSON.context });

describe('cdk.json', () => {
  test('sets every feature flag aws-cdk-lib recommends for a new app, to its recommended value', () => {
    // What `cdk init` writes; without them, every `cdk synth` says "85 feature flags are not configured".
    const { CURRENTLY_RECOMMENDED_FLAGS } = require('aws-cdk-lib/cx-api');
    expect(CDK_JSON.context).toEqual(expect.objectContaining(CURRENTLY_RECOMMENDED_FLAGS));
  });
});

describe('the SageMaker examples pass AwsSolutions, HIPAA Security, NIST 800-53 R5 and PCI DSS 3.2.1 with zero findings', () => {
  test.each([
    ['quickstart', sageMakerQuickstart],
    ['production', sageMakerProduction],
    ['serverless', sageMakerServerless],
  ])('%s', (_name, build: (app: App) => Stack) => {
    const stack = build(newApp());
    // Make sure the packs actually saw the resources they judge.
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SageMaker::EndpointConfig', 1);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', stack.stackName === 'ModelDeploymentProduction' ? 3 : 1);
    // The production example gates every update on sample predictions: the packs judge its function, queue and log group too.
    template.resourceCountIs('AWS::Lambda::Function', stack.stackName === 'ModelDeploymentProduction' ? 1 : 0);
    template.resourceCountIs('Custom::SageMakerVerification', stack.stackName === 'ModelDeploymentProduction' ? 1 : 0);
    expect(nagFindings(stack)).toEqual([]);
  });

  test('the packs do find problems: a plain unencrypted endpoint config is reported', () => {
    const stack = new Stack(newApp(), 'Bad');
    new (require('aws-cdk-lib/aws-sagemaker').CfnEndpointConfig)(stack, 'Config', {
      productionVariants: [{ variantName: 'v', modelName: 'm', initialInstanceCount: 1, instanceType: 'ml.m5.large' }],
    });
    expect(nagFindings(stack)).toEqual(expect.arrayContaining([
      'HIPAA.Security-SageMakerEndpointConfigurationKMSKeyConfigured on Bad/Config',
      'NIST.800.53.R5-SageMakerEndpointConfigurationKMSKeyConfigured on Bad/Config',
      'PCI.DSS.321-SageMakerEndpointConfigurationKMSKeyConfigured on Bad/Config',
    ]));
  });

  test('GPU example: the only findings are the KMS-key rule that SageMaker itself forbids for local-NVMe instances', () => {
    const stack = sageMakerGpu(newApp());
    const config = 'ModelDeploymentGpu/Vision/Endpoint/Config';
    expect(nagFindings(stack)).toEqual([
      `HIPAA.Security-SageMakerEndpointConfigurationKMSKeyConfigured on ${config}`,
      `NIST.800.53.R5-SageMakerEndpointConfigurationKMSKeyConfigured on ${config}`,
      `PCI.DSS.321-SageMakerEndpointConfigurationKMSKeyConfigured on ${config}`,
    ]);
  });
});

describe('npx cdk synth through the real CLI, offline', () => {
  const cdk = path.join(ROOT, 'node_modules', '.bin', 'cdk');
  const run = (args: string[], env: NodeJS.ProcessEnv = { CDK_DISABLE_VERSION_CHECK: '1', CI: 'true' }) => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-out-'));
    const result = spawnSync(cdk, ['synth', '--quiet', '--no-notices', '--output', out, ...args], {
      cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000,
    });
    return { ...result, out };
  };

  test('the bin/ app synthesizes every stack, with the cdk-nag packs applied', () => {
    const { status, stderr, out } = run([]);
    expect(stderr).not.toMatch(/ERROR/);
    expect(status).toBe(0);
    for (const name of ['ModelDeploymentQuickstart', 'ModelDeploymentProduction', 'ModelDeploymentServerless', 'FraudScorerCloud']) {
      const template = JSON.parse(fs.readFileSync(path.join(out, `${name}.template.json`), 'utf8'));
      expect(Object.values(template.Resources).some((r: any) => r.Type === 'AWS::SageMaker::Endpoint')).toBe(true);
    }
    // The table `npm run synth` ends with, read back from those files.
    const rows = cloudFormationRows(out);
    expect(rows.map(r => r.stack).sort()).toEqual(['FraudScorerCloud', 'ModelDeploymentProduction', 'ModelDeploymentQuickstart', 'ModelDeploymentServerless']);
    const fourTargets = rows.find(r => r.stack === 'FraudScorerCloud')!;
    expect(fourTargets).toMatchObject({ target: 'sageMaker', warnings: [] });
    expect(fourTargets.endpointOutput).toBe('https://runtime.sagemaker.${AWS::Region}.${AWS::URLSuffix}/endpoints/fraud-scorer/invocations');
    const template = JSON.parse(fs.readFileSync(path.join(out, 'FraudScorerCloud.template.json'), 'utf8'));
    expect(fourTargets.resources).toBe(Object.keys(template.Resources).length);
    expect(fourTargets.resources).toBeGreaterThan(10);
    // The quickstart's local model was packed into a model.tar.gz asset.
    expect(fs.readdirSync(out).some(f => /^asset\.[0-9a-f]{64}\.tar\.gz$/.test(f))).toBe(true);
    fs.rmSync(out, { recursive: true, force: true });
  });

  test('cdk synth, run as `npm run synth` runs it, prints no "feature flags are not configured"', () => {
    // The CLI checks the flags only when its version check is on (CDK_DISABLE_VERSION_CHECK unset).
    const { status, stderr, out } = run([], { CDK_DISABLE_VERSION_CHECK: '' });
    expect(status).toBe(0);
    expect(stderr).not.toMatch(/feature flags? (is|are) not configured/);
    fs.rmSync(out, { recursive: true, force: true });
  });

  test('a stack with a finding fails the synth and names the rule', () => {
    const { status, stderr, out } = run(['-c', 'includeGpuExample=true']);
    expect(status).not.toBe(0);
    expect(stderr).toContain('SageMakerEndpointConfigurationKMSKeyConfigured');
    fs.rmSync(out, { recursive: true, force: true });
  });
});

describe('the table `npm run synth` ends with', () => {
  test('Terraform stacks: target from the providers, resources, the endpoint URL output, and the synth warnings', () => {
    const { App: TfApp } = require('cdktf') as typeof import('cdktf');
    const { onAzureMl, onPrem, onVertexAi } = require('../examples/one-spec-four-targets') as typeof import('../examples/one-spec-four-targets');
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cdktf-out-'));
    try {
      const app = new TfApp({ outdir: out });
      onAzureMl(app);
      onVertexAi(app);
      onPrem(app);
      app.synth();
      const rows = terraformRows(out);
      expect(rows.map(r => [r.target, r.stack])).toEqual([
        ['azureMl', 'fraud-scorer-azure-ml'], ['onPrem', 'fraud-scorer-on-prem'], ['vertexAi', 'fraud-scorer-vertex-ai'],
      ]);
      const row = (target: string) => rows.find(r => r.target === target)!;
      expect(row('vertexAi').endpointOutput).toMatch(/^https:\/\/europe-west4-aiplatform\.googleapis\.com\/v1\/projects\/ml-prod-4711\/locations\/europe-west4\/endpoints\/\d+:predict$/);
      expect(row('azureMl').endpointOutput).toMatch(/^\$\{azapi_resource\.\w+\.output\.properties\.scoringUri\}$/);
      expect(row('onPrem').endpointOutput).toBe('gpu01=https://192.0.2.21:8443/invocations, gpu02=https://192.0.2.22:8443/invocations');
      for (const r of rows) {
        const json = JSON.parse(fs.readFileSync(path.join(out, 'stacks', r.stack, 'cdk.tf.json'), 'utf8'));
        expect(r.resources).toBe(Object.values<object>(json.resource).reduce((n, byName) => n + Object.keys(byName).length, 0));
      }
      // Azure ML warns that PRIVATE without privateEndpointSubnetId needs a private endpoint of your own.
      expect(row('azureMl').warnings).toEqual([expect.stringContaining('privateEndpointSubnetId')]);
      expect(row('vertexAi').warnings).toEqual([]);
      const table = formatSynthTable(rows).split('\n');
      expect(table[0]).toMatch(/^target\s+stack\s+resources\s+endpoint output\s+warnings$/);
      expect(table.find(l => l.startsWith('vertexAi'))).toMatch(new RegExp(`^vertexAi\\s+fraud-scorer-vertex-ai\\s+${row('vertexAi').resources}\\s+https://\\S+\\s+0$`));
      expect(table).toContain('Warnings:');
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
