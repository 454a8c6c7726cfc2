// cdk-model-deployment/sagemaker: the SageMaker target (aws-cdk-lib only).
export * from './options';
export * from './endpoint';
export { DlcFramework, DLC_TABLE_SOURCE, listDlcVersions } from './image-catalog';
