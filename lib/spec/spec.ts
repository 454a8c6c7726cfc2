import { AccessProps, AuthMode, NetworkAccess } from './access';
import { ModelArtifact } from './artifact';
import { checkEnum, checkInstance, checkKnownKeys, checkObject, checkString } from './check';
import { ModelDeploymentValidationError } from './errors';
import { Compute, ComputeKind } from './compute';
import { MonitoringProps, ResolvedMonitoring, resolveMonitoring } from './monitoring';
import { Rollout } from './rollout';
import { ResolvedScaling, ScalingProps, ScalingTarget, resolveScaling } from './scaling';
import { ServingContainer } from './serving';
import { ResolvedVerification, VerificationProps, resolveVerification } from './verification';

/**
 * Everything that describes a model deployment, whatever the target. A target adds only what is
 * its own (a KMS key, subnets, hosts).
 */
export interface ModelDeploymentSpecProps {
  /** The trained model's files. */
  readonly model: ModelArtifact;
  /** The serving container. */
  readonly serving: ServingContainer;
  /**
   * What one replica runs on.
   * @default Compute.cpu() - 2 vCPU, 4 GiB
   */
  readonly compute?: Compute;
  /**
   * Replica counts and autoscaling.
   * @default - one replica, no autoscaling
   */
  readonly scaling?: ScalingProps;
  /**
   * How a new version replaces the old one.
   * @default Rollout.allAtOnce() - blue/green with rollback on alarms
   */
  readonly rollout?: Rollout;
  /**
   * Authentication and network reach.
   * @default - the target's strongest authentication, private network
   */
  readonly access?: AccessProps;
  /**
   * Alarms and request/response capture.
   * @default - error-rate and latency alarms, no capture
   */
  readonly monitoring?: MonitoringProps;
  /**
   * Sample predictions that every new version must answer correctly, within a latency budget,
   * before it serves (or, where the platform cannot address a version without traffic, right
   * after, with a rollback).
   * @default - no sample predictions: a version serves once its container is healthy
   */
  readonly verification?: VerificationProps;
  /**
   * The endpoint's name: letters, digits and hyphens, starting with a letter, at most 63
   * characters. Targets with shorter limits say so.
   * @default - derived from the construct path, unique in the stack
   */
  readonly endpointName?: string;
  /**
   * Tags (labels) put on every resource that takes them.
   * @default - none
   */
  readonly tags?: { [key: string]: string };
}

/** The spec after validation, with every default filled in. Targets read only this. */
export interface ResolvedModelDeploymentSpec {
  readonly model: ModelArtifact;
  readonly serving: ServingContainer;
  readonly compute: Compute;
  readonly scaling: ResolvedScaling;
  readonly rollout: Rollout;
  /** Undefined means "the target's strongest". */
  readonly auth?: AuthMode;
  readonly network: NetworkAccess;
  readonly monitoring: ResolvedMonitoring;
  /** Undefined means "no sample predictions". */
  readonly verification?: ResolvedVerification;
  readonly endpointName?: string;
  readonly tags: { readonly [key: string]: string };
}

/** The spec's own props: what every target reads, and what no target option may redefine. */
export const SPEC_KEYS: readonly string[] = ['model', 'serving', 'compute', 'scaling', 'rollout', 'access', 'monitoring', 'verification', 'endpointName', 'tags'];
const TAG_KEY = /^[A-Za-z0-9][A-Za-z0-9 _.:/=+@-]{0,127}$/;

/**
 * Validates a spec and fills in its defaults. Throws ModelDeploymentValidationError naming the
 * field, the value and what is allowed. `extraKeys` are the keys a caller adds beside the spec
 * (a target's own options), which are not refused as unknown.
 */
export function resolveSpec(props: ModelDeploymentSpecProps, extraKeys: readonly string[] = []): ResolvedModelDeploymentSpec {
  checkObject('props', props);
  checkKnownKeys('props', props as unknown as Record<string, unknown>, [...SPEC_KEYS, ...extraKeys]);
  const model = checkInstance('model', props.model, ModelArtifact, 'ModelArtifact.fromLocalPath(path) or ModelArtifact.fromUri(uri)');
  const serving = checkInstance('serving', props.serving, ServingContainer, 'a ServingContainer preset such as ServingContainer.triton() or ServingContainer.custom({...})');
  const compute = props.compute === undefined ? Compute.cpu() : checkInstance('compute', props.compute, Compute, 'Compute.cpu({...}) or Compute.gpu({...})');
  const rollout = props.rollout === undefined ? Rollout.allAtOnce() : checkInstance('rollout', props.rollout, Rollout, 'Rollout.allAtOnce(), Rollout.canary({...}) or Rollout.linear({...})');

  const defaultTarget = compute.kind === ComputeKind.GPU ? ScalingTarget.gpuPercent(70) : ScalingTarget.cpuPercent(70);
  const scaling = resolveScaling(props.scaling === undefined ? {} : checkObject('scaling', props.scaling), defaultTarget);

  const access = props.access === undefined ? {} : checkObject('access', props.access) as AccessProps;
  checkKnownKeys('access', access as Record<string, unknown>, ['auth', 'network']);
  const auth = access.auth === undefined ? undefined : checkEnum('access.auth', access.auth, Object.values(AuthMode));
  const network = checkEnum('access.network', access.network ?? NetworkAccess.PRIVATE, Object.values(NetworkAccess));

  const monitoringProps = props.monitoring === undefined ? {} : checkObject('monitoring', props.monitoring) as MonitoringProps;
  checkKnownKeys('monitoring', monitoringProps as Record<string, unknown>, ['alarms', 'errorRatePercent', 'latencyP99Ms', 'evaluationMinutes', 'capture']);
  const monitoring = resolveMonitoring(monitoringProps);

  const verification = props.verification === undefined ? undefined : resolveVerification(props.verification);

  const endpointName = props.endpointName === undefined ? undefined
    : checkString('endpointName', props.endpointName, /^[A-Za-z](-?[A-Za-z0-9])*$/, 'letters, digits and single hyphens, starting with a letter and ending with a letter or digit');
  if (endpointName !== undefined && endpointName.length > 63) {
    checkString('endpointName', endpointName, /^.{1,63}$/, 'at most 63 characters');
  }

  const tags = props.tags === undefined ? {} : checkObject('tags', props.tags) as { [key: string]: string };
  const tagCount = Object.keys(tags).length;
  if (tagCount > 50) {
    throw new ModelDeploymentValidationError('tags', `${tagCount} tags`, 'at most 50 tags (the smallest limit among the clouds: AWS and Azure)');
  }
  for (const [key, value] of Object.entries(tags)) {
    checkString('tags', key, TAG_KEY, 'tag keys of 1 to 128 letters, digits, spaces and _ . : / = + - @, starting with a letter or digit');
    if (/^aws:/i.test(key)) throw new ModelDeploymentValidationError('tags', key, 'keys that do not start with "aws:" (AWS reserves that prefix)');
    checkString(`tags.${key}`, value, /^[A-Za-z0-9 _.:/=+@-]{1,256}$/, 'a value of 1 to 256 letters, digits, spaces and _ . : / = + - @');
  }

  return { model, serving, compute, scaling, rollout, auth, network, monitoring, verification, endpointName, tags: { ...tags } };
}
