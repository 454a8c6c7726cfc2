/**
 * The one error type of this library. Every refusal, whether from the spec or from a target, names
 * the field that was wrong, the value it had and what would have been accepted, so that the
 * message alone tells the user how to fix their input.
 *
 * TypeScript only: jsii cannot bind a class that extends `Error`; in the other languages the refusal
 * arrives as the runtime's JavaScript error (Python: `jsii.errors.JSIIError`) with the same message.
 * @jsii ignore
 */
export class ModelDeploymentValidationError extends Error {
  /** The property path that was refused, e.g. `compute.count` or `scaling.maxReplicas`. */
  public readonly field: string;
  /** The refused value, rendered as text. */
  public readonly value: string;
  /** What would have been accepted. */
  public readonly allowed: string;
  /** The target that refused the value, or undefined when the spec itself refused it. */
  public readonly target?: string;

  constructor(field: string, value: unknown, allowed: string, target?: string) {
    const rendered = renderValue(value);
    const who = target ? `${target} target: ` : '';
    super(`${who}invalid ${field}: ${rendered}. Allowed: ${allowed}`);
    this.name = 'ModelDeploymentValidationError';
    this.field = field;
    this.value = rendered;
    this.allowed = allowed;
    this.target = target;
    Object.setPrototypeOf(this, ModelDeploymentValidationError.prototype);
  }
}

/** Renders a value for an error message: short, and never a multi-line dump. */
export function renderValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > 200 ? `${text.slice(0, 197)}...` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}
