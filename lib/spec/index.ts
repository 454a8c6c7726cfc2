// The public spec: classes, enums and interfaces only (jsii-shaped). The resolve* and check*
// functions are internal to the library and imported by path.
export { AuthMode, NetworkAccess } from './access';
export type { AccessProps } from './access';
export { ArtifactLayout, ArtifactScheme, ArtifactSource, ModelArtifact } from './artifact';
export type { ArtifactUriOptions } from './artifact';
export { Compute, ComputeKind, GpuKind } from './compute';
export type { CpuComputeOptions, GpuComputeOptions } from './compute';
export { ModelDeploymentValidationError } from './errors';
export { InstanceCatalog } from './instance-catalog';
export type { GpuFacts, InstanceOffer } from './instance-catalog';
export type { CaptureProps, MonitoringProps } from './monitoring';
export { Rollout, RolloutStrategy } from './rollout';
export type { AllAtOnceRolloutOptions, CanaryRolloutOptions, LinearRolloutOptions, RolloutOptions } from './rollout';
export { ScalingMetric, ScalingTarget } from './scaling';
export type { ScalingProps } from './scaling';
export { ServingContainer, ServingFramework } from './serving';
export type { CommonServingOptions, CustomServingOptions, NamedModelServingOptions, ServingOptions, VllmServingOptions } from './serving';
export type { ModelDeploymentSpecProps } from './spec';
export type { PredictionSample, VerificationProps } from './verification';
