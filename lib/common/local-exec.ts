/**
 * Node programs this package ships for Terraform's `local-exec` provisioners (the Vertex AI bridge,
 * the Azure ML verification checker): a `terraform_data` holds the program's request in its `input`,
 * and the provisioner runs `node <absolute path of the compiled program>` with
 * `jsonencode(self.input)` in an environment variable. Both halves live here, the construct's
 * (the command and the environment) and the program's (reading the request, loading an optional
 * peer, the exit status), so every program behaves the same.
 *
 * No imports on purpose: the programs run from the compiled package at apply time, and tests run
 * them from sources transpiled file for file.
 */

/** A failure before any API call: the message is the whole story (no stack trace is printed). Exit status 2. */
export class ProgramSetupError extends Error {}

/** The provisioner's command: `node "<main>" <args>` (the path quoted as JSON, which a POSIX shell and cmd read alike). */
export function nodeCommand(main: string, ...args: string[]): string {
  return [`node ${JSON.stringify(main)}`, ...args].join(' ');
}

/** The provisioner's environment: the `terraform_data`'s input as JSON in `variable` (a destroy-time provisioner may read only `self`). */
export function requestEnvironment(variable: string): { [name: string]: string } {
  return { [variable]: '${jsonencode(self.input)}' };
}

/** The request in `$variable`, parsed and checked by `problemsOf` (one line per problem); a ProgramSetupError otherwise. */
export function readRequest<T>(env: NodeJS.ProcessEnv, variable: string, problemsOf: (value: unknown) => string[]): T {
  const text = env[variable];
  if (!text) throw new ProgramSetupError(`$${variable} is empty: the request JSON (jsonencode(self.input)) must be passed in it`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ProgramSetupError(`$${variable} is not JSON: ${(e as Error).message}`);
  }
  const problems = problemsOf(parsed);
  if (problems.length) throw new ProgramSetupError(`the request in $${variable} is not valid:\n  ${problems.join('\n  ')}`);
  return parsed as T;
}

/** What to say when an optional peer is missing: `<need>, and <package> is not installed where <program> can load it (<dir>). Install it ...`. */
export interface OptionalPeer {
  /** The npm package. */
  readonly name: string;
  /** The version range to install, e.g. `^6`. */
  readonly range: string;
  /** Why it is needed, e.g. `the Vertex AI target needs the Google Cloud client at apply time`. */
  readonly need: string;
  /** The program, as the message names it: `this bridge`. */
  readonly program: string;
  /** The directory the program runs from (its `__dirname`). */
  readonly dir: string;
}

/**
 * Loads an optional peer dependency at run time; a ProgramSetupError naming the package and the
 * install command when it is the package itself that is missing (a broken install inside it is
 * reported as it is).
 */
export function loadOptionalPeer<T>(peer: OptionalPeer): T {
  try {
    return require(peer.name) as T;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'MODULE_NOT_FOUND' && String(err.message).split('\n')[0].includes(`'${peer.name}'`)) {
      throw new ProgramSetupError(
        `${peer.need}, and ${peer.name} is not installed where ${peer.program} can load it (${peer.dir}). ` +
          `Install it next to cdk-model-deployment: npm install ${peer.name}@${peer.range}`,
      );
    }
    throw e;
  }
}

/** The first line of an error's message: never a stack trace, nor request metadata an error object may carry. */
export function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0];
}

/** `require.main === module`: runs `main` with the process's arguments and environment, and sets the exit status. */
export function runAsMain(prefix: string, main: (argv: readonly string[], env: NodeJS.ProcessEnv) => Promise<number>): void {
  main(process.argv.slice(2), process.env).then(
    code => { process.exitCode = code; },
    e => { process.stderr.write(`${prefix}: ${(e as Error)?.message ?? String(e)}\n`); process.exitCode = 1; },
  );
}
