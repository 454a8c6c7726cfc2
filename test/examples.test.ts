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
    for (const name of ['ModelDeploymentQuickstart', 'ModelDeploymentProduction', 'ModelDeploymentServerless']) {
      const template = JSON.parse(fs.readFileSync(path.join(out, `${name}.template.json`), 'utf8'));
      expect(Object.values(template.Resources).some((r: any) => r.Type === 'AWS::SageMaker::Endpoint')).toBe(true);
    }
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
