import { checkInteger, checkKnownKeys, checkNumber } from './check';
import { ModelDeploymentValidationError } from './errors';

/** The metric that autoscaling tracks. */
export enum ScalingMetric {
  /** Requests per replica per minute. */
  INVOCATIONS_PER_REPLICA_PER_MINUTE = 'invocations-per-replica-per-minute',
  /** Average CPU utilisation of a replica, in percent of all its vCPUs. */
  CPU_PERCENT = 'cpu-percent',
  /** Average GPU utilisation of a replica, in percent of all its GPUs. */
  GPU_PERCENT = 'gpu-percent',
}

/** What autoscaling keeps each replica at. */
export class ScalingTarget {
  /** Keep each replica at about this many requests per minute. */
  public static invocationsPerReplicaPerMinute(value: number): ScalingTarget {
    return new ScalingTarget(ScalingMetric.INVOCATIONS_PER_REPLICA_PER_MINUTE, checkNumber('scaling.target.value', value, 1, 1_000_000));
  }

  /** Keep average CPU utilisation (percent of all of a replica's vCPUs) near this value. */
  public static cpuPercent(value: number): ScalingTarget {
    return new ScalingTarget(ScalingMetric.CPU_PERCENT, checkNumber('scaling.target.value', value, 1, 100));
  }

  /** Keep average GPU utilisation (percent of all of a replica's GPUs) near this value. */
  public static gpuPercent(value: number): ScalingTarget {
    return new ScalingTarget(ScalingMetric.GPU_PERCENT, checkNumber('scaling.target.value', value, 1, 100));
  }

  /** The tracked metric. */
  public readonly metric: ScalingMetric;
  /** The value to keep it near. */
  public readonly value: number;

  private constructor(metric: ScalingMetric, value: number) {
    this.metric = metric;
    this.value = value;
  }
}

/** How many replicas serve, and how their number follows load. */
export interface ScalingProps {
  /**
   * The fewest replicas. 0 lets a target that can scale to zero do so (others refuse it).
   * @default 1
   */
  readonly minReplicas?: number;
  /**
   * The most replicas. Equal to `minReplicas` means a fixed number and no autoscaler.
   * @default - minReplicas
   */
  readonly maxReplicas?: number;
  /**
   * What autoscaling tracks, when `maxReplicas` is above `minReplicas`.
   * @default - `ScalingTarget.gpuPercent(70)` for GPU compute, `ScalingTarget.cpuPercent(70)` for CPU compute
   */
  readonly target?: ScalingTarget;
  /**
   * Seconds to wait after a scale-in before the next one.
   * @default 300
   */
  readonly scaleInCooldownSeconds?: number;
  /**
   * Seconds to wait after a scale-out before the next one.
   * @default 60
   */
  readonly scaleOutCooldownSeconds?: number;
}

/** Scaling with every default filled in. */
export interface ResolvedScaling {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** Undefined when the replica count is fixed. */
  readonly target?: ScalingTarget;
  readonly scaleInCooldownSeconds: number;
  readonly scaleOutCooldownSeconds: number;
}

export function resolveScaling(props: ScalingProps, defaultTarget: ScalingTarget): ResolvedScaling {
  checkKnownKeys('scaling', props as Record<string, unknown>, ['minReplicas', 'maxReplicas', 'target', 'scaleInCooldownSeconds', 'scaleOutCooldownSeconds']);
  const minReplicas = checkInteger('scaling.minReplicas', props.minReplicas ?? 1, 0, 1000);
  const maxReplicas = checkInteger('scaling.maxReplicas', props.maxReplicas ?? Math.max(minReplicas, 1), Math.max(minReplicas, 1), 1000);
  if (props.target !== undefined && !(props.target instanceof ScalingTarget)) {
    throw new ModelDeploymentValidationError('scaling.target', props.target, 'a ScalingTarget: ScalingTarget.invocationsPerReplicaPerMinute(n), cpuPercent(n) or gpuPercent(n)');
  }
  return {
    minReplicas,
    maxReplicas,
    target: maxReplicas > minReplicas ? props.target ?? defaultTarget : undefined,
    scaleInCooldownSeconds: checkInteger('scaling.scaleInCooldownSeconds', props.scaleInCooldownSeconds ?? 300, 0, 86400),
    scaleOutCooldownSeconds: checkInteger('scaling.scaleOutCooldownSeconds', props.scaleOutCooldownSeconds ?? 60, 0, 86400),
  };
}
