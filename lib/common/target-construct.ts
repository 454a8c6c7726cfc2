import { IConstruct } from 'constructs';
import { ModelDeploymentValidationError } from '../spec/errors';

/**
 * The target's construct at or below `scope` (what each target's static `of()` returns): lets a
 * user go from a ModelDeployment to the typed construct its target built.
 */
export function findTargetConstruct<T extends IConstruct>(scope: IConstruct, type: abstract new (...args: never[]) => T, targetName: string): T {
  const found = [scope, ...scope.node.findAll()].find((c): c is T => c instanceof type);
  if (!found) {
    throw new ModelDeploymentValidationError('target', scope.node.path, `a ModelDeployment built with DeploymentTarget.${targetName}()`, targetName);
  }
  return found;
}
