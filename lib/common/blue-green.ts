import { Problems } from '../spec/check';
import { RolloutStrategy } from '../spec/rollout';
import { ResolvedModelDeploymentSpec } from '../spec/spec';

/**
 * For a target whose only rollout is blue/green in one apply: refuses canary and linear (`howItSwitches`
 * says what the target does instead), and bake or termination waits (`whenOldGoes` says why they are 0).
 */
export function checkBlueGreenOnly(problems: Problems, spec: ResolvedModelDeploymentSpec, howItSwitches: string, whenOldGoes: string): void {
  const rollout = spec.rollout;
  if (rollout.strategy !== RolloutStrategy.ALL_AT_ONCE) {
    problems.add('rollout', rollout.strategy, `Rollout.allAtOnce(): ${howItSwitches}; canary and linear traffic steps are not built`);
  } else if (rollout.waitMinutes !== 0 || rollout.terminationWaitMinutes !== 0) {
    problems.add(rollout.waitMinutes !== 0 ? 'rollout.bakeMinutes' : 'rollout.terminationWaitMinutes', rollout.waitMinutes || rollout.terminationWaitMinutes,
      `0: ${whenOldGoes}`);
  }
}
