#!/usr/bin/env node
// The app that `cdk synth` runs (cdk.json). Every stack here must pass the four compliance packs:
// cdk-nag runs as a validation plugin, so any finding fails the synth.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks } from 'cdk-nag';
import { sageMakerGpu } from '../examples/sagemaker-gpu';
import { sageMakerProduction } from '../examples/sagemaker-production';
import { sageMakerQuickstart } from '../examples/sagemaker-quickstart';
import { sageMakerServerless } from '../examples/sagemaker-serverless';

const app = new App();
sageMakerQuickstart(app);
sageMakerProduction(app);
sageMakerServerless(app);
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
