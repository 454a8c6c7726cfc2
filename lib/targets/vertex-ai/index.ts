// cdk-model-deployment/vertex-ai: Vertex AI online prediction endpoints (cdktf, @cdktf/provider-google).
import { assertPeersInstalled } from '../../common/peers';

// Before anything below loads cdktf or the google bindings: a clear message when one is missing.
// (@google-cloud/aiplatform is needed only by the bridge, at apply time; it says so itself.)
assertPeersInstalled('cdk-model-deployment/vertex-ai', ['cdktf', 'constructs', '@cdktf/provider-google']);

export * from './options';
export * from './endpoint';
export type { RenderedVertexAlarms } from './monitoring';
export { VERTEX_AI_MACHINE_TYPES } from './machine-types';
export type { VertexMachineOffer } from './machine-types';
export type { TerraformData } from '../../common/terraform-data';
