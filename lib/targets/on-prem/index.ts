// cdk-model-deployment/on-prem: GPU hosts over SSH (cdktf, Terraform's built-in terraform_data).
export * from './options';
export * from './deployment';
