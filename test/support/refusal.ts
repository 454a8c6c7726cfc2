import { ModelDeploymentValidationError, renderValue } from '../../lib/spec/errors';

/** Runs `fn`, which must throw ModelDeploymentValidationError, and returns the error. */
export function refusal(fn: () => unknown): ModelDeploymentValidationError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (caught === undefined) throw new Error('expected a ModelDeploymentValidationError, but nothing was thrown');
  if (!(caught instanceof ModelDeploymentValidationError)) {
    throw new Error(`expected a ModelDeploymentValidationError, got ${(caught as Error)?.constructor?.name}: ${(caught as Error)?.message}`);
  }
  return caught;
}

export interface Expected {
  /** The exact rendered value (defaults to renderValue(rawValue) when rawValue is given). */
  readonly value?: string;
  readonly rawValue?: unknown;
  /** A substring of `allowed` (or the exact allowed text, with allowedExact). */
  readonly allowed?: string;
  readonly allowedExact?: string;
  /** The refusing target; undefined (the default) means the spec itself refused it. */
  readonly target?: string;
}

/** Asserts the refusal names `field`, the right value and allowed text, and that the message carries all three. */
export function expectRefusal(fn: () => unknown, field: string, expected: Expected = {}): ModelDeploymentValidationError {
  const err = refusal(fn);
  expect(err.name).toBe('ModelDeploymentValidationError');
  expect(err).toBeInstanceOf(Error);
  expect(err.field).toBe(field);
  const value = expected.value ?? ('rawValue' in expected ? renderValue(expected.rawValue) : undefined);
  if (value !== undefined) expect(err.value).toBe(value);
  if (expected.allowedExact !== undefined) expect(err.allowed).toBe(expected.allowedExact);
  if (expected.allowed !== undefined) expect(err.allowed).toContain(expected.allowed);
  expect(err.allowed.length).toBeGreaterThan(0);
  expect(err.target).toBe(expected.target);
  // The message alone must tell the user how to fix the input.
  expect(err.message).toContain(err.field);
  expect(err.message).toContain(err.value);
  expect(err.message).toContain(err.allowed);
  if (expected.target) expect(err.message).toContain(expected.target);
  return err;
}
