// cdk-model-deployment/sagemaker: the SageMaker target (aws-cdk-lib only).
import { assertPeersInstalled } from '../../common/peers';

// Before anything below loads aws-cdk-lib: a clear message when it is not installed.
assertPeersInstalled('cdk-model-deployment/sagemaker', ['aws-cdk-lib', 'constructs']);

export * from './options';
export * from './endpoint';
export { DlcFramework, DLC_TABLE_SOURCE, listDlcVersions } from './image-catalog';
export { SageMakerInstanceTypes } from './instance-types';
