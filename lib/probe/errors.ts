/**
 * A problem with what the probe was given (arguments, the requests file, the outputs file, missing
 * credentials or packages): the CLI prints the message alone, without a stack trace, and exits 2.
 */
export class ProbeInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProbeInputError';
    Object.setPrototypeOf(this, ProbeInputError.prototype);
  }
}

/** The probe's exit codes (documented in the README). */
export const EXIT = {
  /** Every request answered 2xx, and accuracy at least --min-accuracy when asked. */
  ok: 0,
  /** The run ended, but with errors (non-2xx, transport errors), an early stop, or accuracy below --min-accuracy. */
  failed: 1,
  /** Bad input: arguments, the requests file, the outputs file, missing credentials or packages. */
  badInput: 2,
  /** Interrupted (Ctrl-C). */
  interrupted: 130,
} as const;

/** Loads an optional peer dependency, or says which package to install. */
export function loadOptional<T>(name: string, why: string): T {
  try {
    return require(name) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException)?.code === 'MODULE_NOT_FOUND' && String((e as Error).message).includes(name)) {
      throw new ProbeInputError(`${why} needs the package ${name}: install it next to cdk-model-deployment (npm install ${name})`);
    }
    throw e;
  }
}
