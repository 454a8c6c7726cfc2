// cdk-model-deployment/azure-ml: Azure Machine Learning managed online endpoints (cdktf, azurerm + azapi).
import { assertPeersInstalled } from '../../common/peers';

// Before anything below loads cdktf or the azurerm bindings: a clear message when one is missing.
assertPeersInstalled('cdk-model-deployment/azure-ml', ['cdktf', 'constructs', '@cdktf/provider-azurerm']);

export * from './options';
export * from './bodies';
export * from './azapi';
export * from './endpoint';
export { AZURE_ML_INSTANCE_TYPES } from './instance-types';
export type { RenderedAlarms } from './monitoring';
