// cdk-model-deployment/on-prem: GPU hosts over SSH (cdktf, Terraform's built-in terraform_data).
import { assertPeersInstalled } from '../../common/peers';

// Before anything below loads cdktf: a clear message when it is not installed.
assertPeersInstalled('cdk-model-deployment/on-prem', ['cdktf', 'constructs']);

export * from './options';
export * from './endpoint';
