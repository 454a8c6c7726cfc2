import { IConstruct } from 'constructs';
import { ModelDeploymentValidationError } from '../spec/errors';

/** The infrastructure-as-code engine a stack belongs to. */
export enum IacEngine {
  /** aws-cdk-lib: CloudFormation, shipped with `cdk deploy`. */
  AWS_CDK = 'aws-cdk',
  /** cdktf: Terraform, shipped with `cdktf apply`. */
  CDKTF = 'cdktf',
}

// Both engines mark their stacks with a global symbol; reading it needs neither engine loaded.
const STACK_MARKERS: ReadonlyArray<[IacEngine, symbol, string]> = [
  [IacEngine.AWS_CDK, Symbol.for('@aws-cdk/core.Stack'), 'an aws-cdk-lib Stack'],
  [IacEngine.CDKTF, Symbol.for('cdktf/TerraformStack'), 'a cdktf TerraformStack'],
];

/** The engine of the nearest stack above (or at) `scope`, if any. */
export function engineOf(scope: IConstruct): IacEngine | undefined {
  for (const node of [...scope.node.scopes].reverse()) {
    for (const [engine, marker] of STACK_MARKERS) {
      if (marker in node) return engine;
    }
  }
  return undefined;
}

/**
 * Fails at once, with what to do, when a target is placed in the wrong kind of stack (a
 * SageMaker target inside a cdktf stack, say), instead of failing later deep inside an engine.
 */
export function assertEngine(scope: IConstruct, expected: IacEngine, targetName: string, otherTargets: string): void {
  const actual = engineOf(scope);
  if (actual === expected) return;
  const wanted = STACK_MARKERS.find(([engine]) => engine === expected)![2];
  const found = actual === undefined ? 'no stack at all' : STACK_MARKERS.find(([engine]) => engine === actual)![2];
  const ship = expected === IacEngine.AWS_CDK ? '`cdk deploy`' : '`cdktf apply`';
  throw new ModelDeploymentValidationError('target', `${targetName} inside ${found} (at ${scope.node.path || '/'})`,
    `${targetName} must be placed inside ${wanted} and is shipped with ${ship}; for ${found === 'no stack at all' ? 'another engine' : found} choose ${otherTargets}`,
    targetName);
}
