/**
 * Which provider configuration a Terraform target's resources use, shared by every Terraform
 * target: the user's own, when the stack declares one, else one the target declares once per
 * stack. One place that looks at cdktf's provider classes, so a move to another cdktf (the cdktn
 * fork) touches little.
 */
import { TerraformProvider, TerraformStack } from 'cdktf';
import { IConstruct } from 'constructs';
import { ModelDeploymentValidationError } from '../spec/errors';

/** A provider configuration and whether the target declared it (false: the user's own). */
export interface StackProvider<T extends TerraformProvider> {
  readonly provider: T;
  readonly declaredByTarget: boolean;
}

const CHECKED = new WeakMap<TerraformStack, Set<string>>();

/**
 * The default (un-aliased) configuration of provider `type` (e.g. `azurerm`) in the stack of
 * `scope`: the user's, if the stack declares one, else one made by `declare` and added to the
 * stack (once: later deployments in the same stack find it). Aliased configurations are the
 * user's business and never picked. A user provider declared *after* the deployment would give
 * Terraform two default configurations: the stack's validation refuses that at synth, naming
 * what to do.
 */
export function stackProvider<T extends TerraformProvider>(scope: IConstruct, type: string, declare: (stack: TerraformStack, id: string) => T): StackProvider<T> {
  const stack = TerraformStack.of(scope);
  const existing = defaultProviders(stack, type);
  let result: StackProvider<T>;
  if (existing.length > 0) {
    result = { provider: existing[0] as T, declaredByTarget: (existing[0] as TerraformProvider & { [DECLARED]?: boolean })[DECLARED] === true };
  } else {
    const provider = declare(stack, `cdk-model-deployment-${type}`);
    Object.defineProperty(provider, DECLARED, { value: true });
    result = { provider, declaredByTarget: true };
  }
  const checked = CHECKED.get(stack) ?? new Set<string>();
  CHECKED.set(stack, checked);
  if (!checked.has(type)) {
    checked.add(type);
    stack.node.addValidation({
      validate: () => {
        const all = defaultProviders(stack, type);
        return all.length <= 1 ? [] : [new ModelDeploymentValidationError(`provider ${type}`, `${all.length} default configurations (${all.map(p => p.node.path).join(', ')})`,
          `one: declare your own ${type} provider before the first ModelDeployment in the stack (it is then used), or none (one is declared for you)`).message];
      },
    });
  }
  return result;
}

const DECLARED = Symbol.for('cdk-model-deployment/declared-provider');

function defaultProviders(stack: TerraformStack, type: string): TerraformProvider[] {
  return stack.node.findAll().filter((c): c is TerraformProvider =>
    c instanceof TerraformProvider && c.terraformResourceType === type && c.alias === undefined && TerraformStack.of(c) === stack);
}
