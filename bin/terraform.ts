#!/usr/bin/env node
// The app that `cdktf synth` runs (cdktf.json) and `npm run synth` runs directly: Terraform JSON
// for the Terraform targets, written to cdktf.out/ (or to CDKTF_OUTDIR, which `cdktf synth` sets).
import * as path from 'path';
import { App, TerraformStack } from 'cdktf';
import { azureMlGpu } from '../examples/azure-ml';
import { onAzureMl, onPrem, onVertexAi } from '../examples/one-spec-four-targets';
import { onPremGpu } from '../examples/on-prem';
import { vertexAiGpu } from '../examples/vertex-ai';

const app = new App();
onPremGpu(app);
azureMlGpu(app);
vertexAiGpu(app);
// The spec that examples/one-spec-four-targets.ts also sends to SageMaker (bin/app.ts).
onAzureMl(app);
onVertexAi(app);
onPrem(app);
app.synth();

// Say where it went, as `cdk synth` does for cdk.out/.
const stacks = app.node.children.filter((c): c is TerraformStack => TerraformStack.isStack(c)).map((s) => s.node.id);
console.log(`Successfully synthesized the Terraform stacks (${stacks.join(', ')}) to ${path.resolve(app.outdir)}`);
