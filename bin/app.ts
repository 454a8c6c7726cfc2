#!/usr/bin/env node
// The app that `cdk synth` runs (cdk.json). Every stack here must pass the four compliance packs:
// cdk-nag runs as a validation plugin, so any finding fails the synth.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks } from 'cdk-nag';
import { onSageMaker } from '../examples/one-spec-four-targets';
import { sageMakerGpu } from '../examples/sagemaker-gpu';
import { sageMakerProduction } from '../examples/sagemaker-production';
import { sageMakerQuickstart } from '../examples/sagemaker-quickstart';
import { sageMakerServerless } from '../examples/sagemaker-serverless';

const app = new App();
sageMakerQuickstart(app);
sageMakerProduction(app);
sageMakerServerless(app);
// The spec that examples/one-spec-four-targets.ts sends to all four targets runs on GPUs: SageMaker
// refuses a KMS key for instances with local NVMe storage (every GPU family) and encrypts that
// storage in hardware, so that one rule is suppressed on that one resource, with the reason.
const fourTargets = onSageMaker(app);
const config = fourTargets.node.findChild('FraudScorer').node.findChild('Endpoint').node.findChild('Config');
for (const pack of ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321']) {
  Validations.of(config).acknowledge({
    id: `${pack}-SageMakerEndpointConfigurationKMSKeyConfigured`,
    reason: 'SageMaker refuses a KMS key for GPU instance types (local NVMe storage, encrypted in hardware); see examples/sagemaker-gpu.ts',
  });
}
// The GPU example has known findings (see examples/sagemaker-gpu.ts); `-c includeGpuExample=true`
// adds it, and the synth then fails, which the tests use to prove that findings fail the synth.
if (app.node.tryGetContext('includeGpuExample') === 'true') sageMakerGpu(app);

Validations.of(app).addPlugins(
  new AwsSolutionsChecks(app),
  new HIPAASecurityChecks(app),
  new NIST80053R5Checks(app),
  new PCIDSS321Checks(app),
);
app.synth();
