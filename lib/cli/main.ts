#!/usr/bin/env node
/**
 * `model-deployment`, the package's command (package.json `bin`): `model-deployment COMMAND [options]`.
 * Each command is loaded only when it runs, so that one command's dependencies never slow another.
 */

interface Command {
  /** One line for the command list. */
  readonly summary: string;
  /** Runs the command with its arguments; resolves to the exit code. */
  run(argv: readonly string[]): Promise<number>;
}

const COMMANDS: { readonly [name: string]: Command } = {
  probe: {
    summary: 'send requests to a deployed endpoint and report latency, throughput, errors and accuracy',
    run: async argv => (require('../probe/cli') as typeof import('../probe/cli')).probeCommand(argv),
  },
  explain: {
    summary: 'show what each of the four targets would create for a spec, or what it refuses and why',
    run: async argv => (require('./explain') as typeof import('./explain')).explainCommand(argv),
  },
};

const USAGE = `Usage: model-deployment COMMAND [options]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`).join('\n')}

Run model-deployment COMMAND --help for a command's options.
`;

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    process.stderr.write(`model-deployment: unknown command ${JSON.stringify(name)}\n\n${USAGE}`);
    return 2;
  }
  return command.run(rest);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(code => { process.exitCode = code; }, (e: Error) => {
    process.stderr.write(`model-deployment: ${e?.message ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
