// The entry point of the jsii build only (npm run jsii, scripts/jsii.js; docs/jsii.md), never of the
// npm package, whose root (lib/index.ts) stays engine-free: a jsii assembly is one module, so the four
// targets are its submodules here and loading it loads all of them. tsconfig.build.json leaves this
// file out of dist/.
export * from './index';
// terraform_data, which two targets expose (OnPremModelEndpoint.hostDeployments,
// VertexAiModelEndpoint.deployment): a jsii type belongs to one submodule, so it sits at the root.
export * from './common/terraform-data';
export * as sagemaker from './targets/sagemaker';
export * as azureMl from './targets/azure-ml';
export * as vertexAi from './targets/vertex-ai';
export * as onPrem from './targets/on-prem';
