import { checkBoolean, checkInteger, checkOptions } from './check';

const COMMON_KEYS = ['rollbackOnAlarms', 'terminationWaitMinutes'];

/** How traffic moves from the old version to the new one. */
export enum RolloutStrategy {
  /** New replicas come up beside the old ones; all traffic moves at once, then the old ones go. */
  ALL_AT_ONCE = 'all-at-once',
  /** A small share of traffic goes first; after a bake time without alarms, the rest follows. */
  CANARY = 'canary',
  /** Traffic moves in equal steps with a wait between them. */
  LINEAR = 'linear',
}

/** Options every rollout has. */
export interface RolloutOptions {
  /**
   * Roll back to the old version when an alarm of this deployment fires during the rollout, on
   * targets that watch alarms.
   * @default true
   */
  readonly rollbackOnAlarms?: boolean;
  /**
   * Minutes to keep the old version after all traffic has moved, so a rollback is instant.
   * @default 0
   */
  readonly terminationWaitMinutes?: number;
}

/** Options for an all-at-once rollout. */
export interface AllAtOnceRolloutOptions extends RolloutOptions {
  /**
   * Minutes to watch the alarms after the switch before the rollout is done.
   * @default 0
   */
  readonly bakeMinutes?: number;
}

/** Options for a canary rollout. */
export interface CanaryRolloutOptions extends RolloutOptions {
  /**
   * Percent of capacity that takes traffic first.
   * @default 10
   */
  readonly percent?: number;
  /**
   * Minutes the canary serves, with alarms watched, before the rest follows.
   * @default 10
   */
  readonly bakeMinutes?: number;
}

/** Options for a linear rollout. */
export interface LinearRolloutOptions extends RolloutOptions {
  /**
   * Percent of capacity moved at each step.
   * @default 20
   */
  readonly stepPercent?: number;
  /**
   * Minutes between steps, with alarms watched.
   * @default 5
   */
  readonly intervalMinutes?: number;
}

/** How a new version replaces the old one. */
export class Rollout {
  /** Blue/green: bring up the new version, switch all traffic, then remove the old one. */
  public static allAtOnce(options: AllAtOnceRolloutOptions = {}): Rollout {
    options = checkOptions('rollout', options, [...COMMON_KEYS, 'bakeMinutes']);
    const bake = checkInteger('rollout.bakeMinutes', options.bakeMinutes ?? 0, 0, 1440);
    return new Rollout(RolloutStrategy.ALL_AT_ONCE, 100, bake, options);
  }

  /** Send `percent` of capacity first, bake, then the rest. */
  public static canary(options: CanaryRolloutOptions = {}): Rollout {
    options = checkOptions('rollout', options, [...COMMON_KEYS, 'percent', 'bakeMinutes']);
    const percent = checkInteger('rollout.percent', options.percent ?? 10, 1, 99);
    const bake = checkInteger('rollout.bakeMinutes', options.bakeMinutes ?? 10, 0, 1440);
    return new Rollout(RolloutStrategy.CANARY, percent, bake, options);
  }

  /** Move `stepPercent` of capacity at each step, `intervalMinutes` apart. */
  public static linear(options: LinearRolloutOptions = {}): Rollout {
    options = checkOptions('rollout', options, [...COMMON_KEYS, 'stepPercent', 'intervalMinutes']);
    const step = checkInteger('rollout.stepPercent', options.stepPercent ?? 20, 1, 99);
    const interval = checkInteger('rollout.intervalMinutes', options.intervalMinutes ?? 5, 0, 1440);
    return new Rollout(RolloutStrategy.LINEAR, step, interval, options);
  }

  /** The strategy. */
  public readonly strategy: RolloutStrategy;
  /** Percent of capacity per step: the canary size, the linear step, or 100 for all at once. */
  public readonly stepPercent: number;
  /** Minutes to wait after each step (bake time or linear interval). */
  public readonly waitMinutes: number;
  /** Whether alarms roll the deployment back. */
  public readonly rollbackOnAlarms: boolean;
  /** Minutes the old version is kept after the switch. */
  public readonly terminationWaitMinutes: number;

  private constructor(strategy: RolloutStrategy, stepPercent: number, waitMinutes: number, options: RolloutOptions) {
    this.strategy = strategy;
    this.stepPercent = stepPercent;
    this.waitMinutes = waitMinutes;
    this.rollbackOnAlarms = checkBoolean('rollout.rollbackOnAlarms', options.rollbackOnAlarms ?? true);
    this.terminationWaitMinutes = checkInteger('rollout.terminationWaitMinutes', options.terminationWaitMinutes ?? 0, 0, 1440);
  }
}
