import { ModelDeploymentValidationError } from './errors';

/**
 * Small validators shared by the spec and the targets. Each throws ModelDeploymentValidationError
 * naming the field; `target` is set when a target (rather than the spec) applies its own limits.
 */

export function checkInteger(field: string, value: unknown, min: number, max: number, target?: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ModelDeploymentValidationError(field, value, `an integer from ${min} to ${max}`, target);
  }
  return value;
}

export function checkNumber(field: string, value: unknown, min: number, max: number, target?: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ModelDeploymentValidationError(field, value, `a number from ${min} to ${max}`, target);
  }
  return value;
}

export function checkString(field: string, value: unknown, pattern: RegExp, allowed: string, target?: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new ModelDeploymentValidationError(field, value, allowed, target);
  }
  return value;
}

export function checkBoolean(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new ModelDeploymentValidationError(field, value, 'true or false');
  }
  return value;
}

export function checkEnum<T extends string>(field: string, value: unknown, allowed: readonly T[], target?: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ModelDeploymentValidationError(field, value, `one of ${allowed.join(', ')}`, target);
  }
  return value as T;
}

export function checkInstance<T>(field: string, value: unknown, cls: { prototype: T }, allowed: string): T {
  if (!(value instanceof (cls as unknown as new () => T))) {
    throw new ModelDeploymentValidationError(field, describeKind(value), allowed);
  }
  return value;
}

export function checkObject(field: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ModelDeploymentValidationError(field, value, 'an object');
  }
  return value as Record<string, unknown>;
}

/** Refuses keys that the struct does not define: a misspelt prop must not pass silently. */
export function checkKnownKeys(field: string, value: Record<string, unknown>, known: readonly string[], target?: string): void {
  for (const key of Object.keys(value)) {
    if (value[key] !== undefined && !known.includes(key)) {
      const near = nearest(key, known);
      throw new ModelDeploymentValidationError(`${field}.${key}`, value[key], `no such property${near ? ` (did you mean ${near}?)` : ''}; known: ${known.join(', ')}`, target);
    }
  }
}

/**
 * Checks the options object given to a target's factory (`DeploymentTarget.sageMaker({...})`)
 * when the factory is called: a misspelt option is named with its target and the nearest option,
 * and a spec property put there (which would silently override the spec's) is refused.
 */
export function checkTargetOptions(target: string, options: unknown, known: readonly string[], specKeys: readonly string[]): void {
  const where = `DeploymentTarget.${target}({...})`;
  if (options === undefined || options === null) return;
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new ModelDeploymentValidationError(where, options, `an object of ${target} options: ${known.join(', ')}`, target);
  }
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined || known.includes(key)) continue;
    if (specKeys.includes(key)) {
      throw new ModelDeploymentValidationError(`${where}.${key}`, value, `not here: ${key} is part of the spec; set it beside target, in the ModelDeployment props, where every target reads it`, target);
    }
    const near = nearest(key, known);
    throw new ModelDeploymentValidationError(`${where}.${key}`, value, `no such ${target} option${near ? ` (did you mean ${near}?)` : ''}; its options: ${known.join(', ')}`, target);
  }
}

/** The known key closest to a misspelt one (case-insensitive edit distance of at most 3), if any. */
function nearest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 4;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) { best = candidate; bestDistance = d; }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}

function describeKind(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const ctor = (value as object).constructor;
  return ctor && ctor !== Object ? `an instance of ${ctor.name}` : value;
}

/**
 * Reads an options struct as a JavaScript caller may pass it: undefined or null mean "all
 * defaults"; anything else must be an object with only the known keys.
 */
export function checkOptions<T extends object>(field: string, value: T | null | undefined, known: readonly string[]): T {
  if (value === undefined || value === null) return {} as T;
  const object = checkObject(field, value);
  checkKnownKeys(field, object, known);
  return object as T;
}

/**
 * Collects every refusal, so that one synth names them all; thrown as the first error, whose
 * message lists the others. `target` is the target whose limits are checked.
 */
export class Problems {
  private readonly errors: ModelDeploymentValidationError[] = [];

  constructor(private readonly target: string) {}

  public add(field: string, value: unknown, allowed: string): void {
    if (!this.errors.some(e => e.field === field)) this.errors.push(new ModelDeploymentValidationError(field, value, allowed, this.target));
  }

  /** Runs a check that throws, recording its error instead; returns whether it passed. */
  public check(fn: () => unknown): boolean {
    let passed = false;
    this.attempt(() => { fn(); passed = true; });
    return passed;
  }

  /** Runs a check that throws and returns its result, or undefined when it failed (its error recorded). */
  public attempt<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof ModelDeploymentValidationError)) throw e;
      if (!this.errors.some(x => x.field === e.field)) this.errors.push(e);
      return undefined;
    }
  }

  public get count(): number { return this.errors.length; }

  public throwIfAny(): void {
    if (this.errors.length === 0) return;
    const [first, ...rest] = this.errors;
    if (rest.length > 0) {
      first.message += `\n(and ${rest.length} more:\n${rest.map(e => `  ${e.message}`).join('\n')})`;
    }
    throw first;
  }
}
