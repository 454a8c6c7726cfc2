// The package root loads no IaC engine. Target constructs live in subpaths:
//   cdk-model-deployment/sagemaker   (aws-cdk-lib)
//   cdk-model-deployment/azure-ml    (cdktf, @cdktf/provider-azurerm)
//   cdk-model-deployment/vertex-ai   (cdktf, @cdktf/provider-google)
//   cdk-model-deployment/on-prem     (cdktf)
export * from './spec';
export { IacEngine } from './common/engine';
export * from './deployment-target';
export * from './model-endpoint';
export * from './model-deployment';
