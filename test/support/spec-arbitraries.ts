/**
 * Spec descriptions and the arbitraries that draw them, shared by the property tests
 * (test/property.test.ts) and the agreement test (test/agreement.test.ts).
 *
 * Arbitraries produce plain descriptions (data), and `build*` turn them into spec objects inside a
 * property, because the factories themselves validate and may throw. Counterexamples therefore
 * print as readable data.
 */
import fc from 'fast-check';
import {
  ArtifactLayout, Compute, ModelArtifact, ModelDeploymentSpecProps, Rollout, ScalingTarget, ServingContainer,
} from '../../lib';

export type Opts = Record<string, unknown>;

export type ArtifactDesc =
  | { readonly kind: 'uri'; readonly uri: unknown; readonly layout?: unknown }
  | { readonly kind: 'local'; readonly path: unknown };

export type Preset = 'triton' | 'torchServe' | 'tfServing' | 'sklearn' | 'xgboost' | 'vllm' | 'custom';
export interface ServingDesc { readonly preset: Preset; readonly options: Opts | undefined }

export type ComputeDesc = { readonly kind: 'cpu' | 'gpu'; readonly options: Opts | undefined } | { readonly kind: 'raw'; readonly value: unknown };

export type TargetFactory = 'cpuPercent' | 'gpuPercent' | 'invocationsPerReplicaPerMinute';
export type ScalingTargetDesc = { readonly factory: TargetFactory; readonly value: unknown } | { readonly raw: unknown };

export type RolloutDesc = { readonly factory: 'allAtOnce' | 'canary' | 'linear'; readonly options: Opts | undefined } | { readonly raw: unknown };

export interface SpecDesc {
  readonly model: ArtifactDesc;
  readonly serving: ServingDesc;
  readonly compute?: ComputeDesc;
  readonly scaling?: { readonly props: Opts; readonly target?: ScalingTargetDesc } | { readonly raw: unknown };
  readonly rollout?: RolloutDesc;
  readonly access?: unknown;
  readonly monitoring?: unknown;
  readonly endpointName?: unknown;
  readonly tags?: unknown;
  /** Keys that are not in the spec (a misspelt prop) or a SageMaker option. */
  readonly extra?: Opts;
}

export function buildArtifact(d: ArtifactDesc): ModelArtifact {
  if (d.kind === 'local') return ModelArtifact.fromLocalPath(d.path as string);
  return d.layout === undefined ? ModelArtifact.fromUri(d.uri as string) : ModelArtifact.fromUri(d.uri as string, { layout: d.layout as ArtifactLayout });
}

export function buildServing(d: ServingDesc): ServingContainer {
  const o = d.options as never;
  switch (d.preset) {
    case 'triton': return ServingContainer.triton(o);
    case 'torchServe': return ServingContainer.torchServe(o);
    case 'tfServing': return ServingContainer.tfServing(o);
    case 'sklearn': return ServingContainer.sklearn(o);
    case 'xgboost': return ServingContainer.xgboost(o);
    case 'vllm': return ServingContainer.vllm(o);
    case 'custom': return ServingContainer.custom(o);
  }
}

export function buildCompute(d: ComputeDesc): Compute {
  if (d.kind === 'raw') return d.value as Compute;
  return d.kind === 'cpu' ? Compute.cpu(d.options as never) : Compute.gpu(d.options as never);
}

export function buildScalingTarget(d: ScalingTargetDesc): ScalingTarget {
  if ('raw' in d) return d.raw as ScalingTarget;
  return ScalingTarget[d.factory](d.value as number);
}

export function buildRollout(d: RolloutDesc): Rollout {
  if ('raw' in d) return d.raw as Rollout;
  return Rollout[d.factory](d.options as never);
}

/** Calls every factory the description names and assembles the props. May throw. */
export function buildSpec(d: SpecDesc): ModelDeploymentSpecProps & Opts {
  const props: Opts = { model: buildArtifact(d.model), serving: buildServing(d.serving) };
  if (d.compute !== undefined) props.compute = buildCompute(d.compute);
  if (d.scaling !== undefined) {
    props.scaling = 'raw' in d.scaling ? d.scaling.raw
      : { ...d.scaling.props, ...(d.scaling.target === undefined ? {} : { target: buildScalingTarget(d.scaling.target) }) };
  }
  if (d.rollout !== undefined) props.rollout = buildRollout(d.rollout);
  if (d.access !== undefined) props.access = d.access;
  if (d.monitoring !== undefined) props.monitoring = d.monitoring;
  if (d.endpointName !== undefined) props.endpointName = d.endpointName;
  if (d.tags !== undefined) props.tags = d.tags;
  Object.assign(props, d.extra ?? {});
  return props as unknown as ModelDeploymentSpecProps & Opts;
}

/** Optional: undefined a third of the time. */
export function opt<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.option(arb, { nil: undefined, freq: 3 });
}

/** Builds an options object from optional fields, leaving out undefined ones. */
export function optRecord(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Opts> {
  return fc.record(fields, { requiredKeys: [] }) as fc.Arbitrary<Opts>;
}

export const validEndpointName = fc.oneof(
  { arbitrary: fc.stringMatching(/^[A-Za-z](-?[A-Za-z0-9]){0,30}$/), weight: 4 },
  // Up to the 63-character limit, which also bounds names derived from it (log group, topic, alarms).
  { arbitrary: fc.stringMatching(/^[A-Za-z](-?[A-Za-z0-9]){40,62}$/).map(n => n.slice(0, 63).replace(/-$/, 'x')), weight: 1 },
);

export const validMonitoring = (capture: boolean) => opt(optRecord({
  alarms: fc.boolean(),
  errorRatePercent: fc.double({ min: 0.01, max: 100, noNaN: true }),
  latencyP99Ms: fc.double({ min: 1, max: 3_600_000, noNaN: true }),
  evaluationMinutes: fc.integer({ min: 1, max: 1440 }),
  ...(capture ? {
    capture: fc.record({ samplingPercent: fc.integer({ min: 1, max: 100 }), requests: opt(fc.boolean()), responses: opt(fc.boolean()) }, { requiredKeys: ['samplingPercent'] })
      .filter(c => c.requests !== false || c.responses !== false),
  } : {}),
}));

export const validRollout: fc.Arbitrary<RolloutDesc | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.record({ factory: fc.constant('allAtOnce' as const), options: optRecord({ bakeMinutes: fc.integer({ min: 0, max: 60 }), rollbackOnAlarms: fc.boolean(), terminationWaitMinutes: fc.integer({ min: 0, max: 60 }) }) }),
  fc.record({ factory: fc.constant('canary' as const), options: optRecord({ percent: fc.integer({ min: 1, max: 50 }), bakeMinutes: fc.integer({ min: 0, max: 60 }), rollbackOnAlarms: fc.boolean(), terminationWaitMinutes: fc.integer({ min: 0, max: 60 }) }) }),
  fc.record({ factory: fc.constant('linear' as const), options: optRecord({ stepPercent: fc.integer({ min: 10, max: 50 }), intervalMinutes: fc.integer({ min: 0, max: 60 }), rollbackOnAlarms: fc.boolean(), terminationWaitMinutes: fc.integer({ min: 0, max: 60 }) }) }),
);
