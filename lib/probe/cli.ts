import { spawn } from 'child_process';
import * as fs from 'fs';
import { parseArgs } from 'util';
import { apiKeyAuth, entraAuth, googleAuth, sigV4Auth } from './auth';
import { ProbeAuth, runProbe } from './engine';
import { ProbeEndpoint, TARGETS, endpointFromArguments, endpointFromOutputsFile } from './endpoint';
import { EXIT, ProbeInputError } from './errors';
import { renderHtmlReport } from './report-html';
import { readRequestsFile } from './requests';
import { ProbeResult } from './result';
import { ProgressBar, renderTable } from './terminal';

export const PROBE_HELP = `Usage: model-deployment probe --requests FILE (--outputs FILE | --target TARGET --url URL) [options]

Sends the requests in FILE to a deployed model endpoint, with the target's own authentication, at a
chosen concurrency for a count or a duration, and reports latency p50/p90/p99/max, throughput, the
outcomes by HTTP status or transport error, and accuracy against the expected responses.

What to probe:
  --requests FILE        JSON array, or JSON Lines, of samples shaped like the spec's verification
                         samples: { "name"?, "request", "expectedResponse"?, "absoluteTolerance"?,
                         "relativeTolerance"? }; sent in turn
  --outputs FILE         cdk/cdktf deploy --outputs-file, or terraform output -json
  --stack NAME           the stack in a cdk/cdktf outputs file with several
  --endpoint NAME        the endpoint (construct path or endpoint name) when there are several
  --host NAME            on-prem: the host to probe (default: the first)
  --target TARGET        instead of --outputs: ${Object.keys(TARGETS).join(', ')}
  --url URL              the endpoint's URL (SageMaker invoke URL, Azure ML scoring URI, Vertex AI
                         predict or rawPredict URL, on-prem host URL)
  --endpoint-name NAME   SageMaker: the endpoint name, instead of --url
  --region REGION        SageMaker: the region, when the URL does not say (default: AWS_REGION)

Authentication (never printed, never written to the report):
  sagemaker   SigV4, credentials from the AWS SDK's default chain (AWS_PROFILE, AWS_ACCESS_KEY_ID...)
  azure-ml    --api-key / MD_PROBE_API_KEY for key auth; else an Entra ID token (@azure/identity,
              or the Azure CLI: az account get-access-token)
  vertex-ai   a Google access token from application default credentials
  on-prem     the API key (X-Api-Key): --api-key-file FILE (the deployment's apiKeyFile; its first
              key), MD_PROBE_API_KEY or --api-key
  --api-key KEY          an API key (prefer MD_PROBE_API_KEY: arguments are visible to other users)
  --api-key-file FILE    read the key from FILE (first line that is not blank or a # comment)
  --deployment NAME      azure-ml: send to this deployment (azureml-model-deployment header)
  --ca-file FILE         trust these certificates for https (an on-prem proxy with a private CA)

How much:
  -c, --concurrency N    requests in flight at once (default 4)
  -n, --count N          send N requests (default 100, unless --duration)
  -d, --duration TIME    send for TIME: seconds, or 30s, 5m
  --timeout SECONDS      a request with no answer after this long is an error (default 30)

Output:
  (default)              a progress bar on stderr when it is a terminal, a table on stdout
  --json                 print the result as JSON on stdout (nothing else on stdout)
  --html FILE            write an HTML report (latency histogram, latency over time)
  --open                 open the HTML report in a browser
  --min-accuracy RATE    fail (exit 1) when accuracy is below RATE, 0 to 1 (default 1: every
                         checked answer right)
  --max-error-rate RATE  fail (exit 1) when more than RATE of the requests fail, 0 to 1 (default 0)

Exit codes: 0 every request answered 2xx and accuracy met; 1 errors, accuracy below --min-accuracy,
or the run stopped early (endpoint unreachable, authentication refused); 2 bad input (arguments,
requests or outputs file, missing credentials or package); 130 interrupted (Ctrl-C): the partial
report is printed first.
`;

const OPTIONS = {
  'requests': { type: 'string' },
  'outputs': { type: 'string' },
  'stack': { type: 'string' },
  'endpoint': { type: 'string' },
  'host': { type: 'string' },
  'target': { type: 'string' },
  'url': { type: 'string' },
  'endpoint-name': { type: 'string' },
  'region': { type: 'string' },
  'api-key': { type: 'string' },
  'api-key-file': { type: 'string' },
  'deployment': { type: 'string' },
  'ca-file': { type: 'string' },
  'concurrency': { type: 'string', short: 'c' },
  'count': { type: 'string', short: 'n' },
  'duration': { type: 'string', short: 'd' },
  'timeout': { type: 'string' },
  'json': { type: 'boolean' },
  'html': { type: 'string' },
  'open': { type: 'boolean' },
  'min-accuracy': { type: 'string' },
  'max-error-rate': { type: 'string' },
  'help': { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];

/** `model-deployment probe ARGS`: runs, prints, and returns the exit code. Never throws for bad input. */
export async function probeCommand(argv: readonly string[]): Promise<number> {
  let values: Values;
  try {
    values = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (e) {
    return badInput(`${(e as Error).message}. See model-deployment probe --help`);
  }
  if (values.help) {
    process.stdout.write(PROBE_HELP);
    return EXIT.ok;
  }
  const interrupt = new AbortController();
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(EXIT.interrupted); // a second Ctrl-C: stop now
    interrupted = true;
    process.stderr.write('\nprobe: interrupted; waiting for the requests in flight (Ctrl-C again to quit now)\n');
    interrupt.abort('interrupted (Ctrl-C)');
  };
  process.on('SIGINT', onSigint);
  try {
    return await probe(values, interrupt.signal, () => interrupted);
  } catch (e) {
    if (e instanceof ProbeInputError) return badInput(e.message);
    process.stderr.write(`probe: unexpected error: ${(e as Error)?.message ?? String(e)}${process.env.MD_PROBE_DEBUG ? `\n${(e as Error)?.stack}` : ''}\n`);
    return EXIT.failed;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

async function probe(v: Values, signal: AbortSignal, interrupted: () => boolean): Promise<number> {
  if (v.requests === undefined) throw new ProbeInputError('missing --requests FILE (the requests to send). See model-deployment probe --help');
  const count = v.count === undefined ? undefined : integer('--count', v.count, 1, 1e9);
  const durationSeconds = v.duration === undefined ? undefined : duration(v.duration);
  if (count !== undefined && durationSeconds !== undefined) throw new ProbeInputError('give --count or --duration, not both');
  const concurrency = integer('--concurrency', v.concurrency ?? '4', 1, 10_000);
  const timeoutSeconds = rate('--timeout', v.timeout ?? '30', 0.001, 3600);
  const minAccuracy = rate('--min-accuracy', v['min-accuracy'] ?? '1', 0, 1);
  const maxErrorRate = rate('--max-error-rate', v['max-error-rate'] ?? '0', 0, 1);
  if (v.open && v.html === undefined) throw new ProbeInputError('--open needs --html FILE');
  const endpoint = chooseEndpoint(v);
  const samples = readRequestsFile(v.requests);
  const auth = authFor(endpoint, v);
  const ca = v['ca-file'] === undefined ? undefined : readFile('--ca-file', v['ca-file']);

  const requested = count === undefined && durationSeconds === undefined ? { count: 100 } : { count, durationSeconds };
  const bar = v.json ? undefined : new ProgressBar(process.stderr, requested);
  const result = await runProbe({
    target: endpoint.target, url: endpoint.url, endpoint: endpoint.endpoint, samples, concurrency, ...requested,
    auth, ca, signal, timeoutMs: timeoutSeconds * 1000,
    headers: v.deployment === undefined ? undefined : { 'azureml-model-deployment': v.deployment },
    onProgress: bar?.enabled ? p => bar.update(p) : undefined,
  });
  bar?.clear();

  if (!result.completed) process.stderr.write(`probe: stopped early: ${result.stopReason}; the report below is partial\n`);
  process.stdout.write(v.json ? `${JSON.stringify(result, null, 2)}\n` : `${renderTable(result, auth.description)}\n`);
  if (v.html !== undefined) writeReport(v.html, result, v.open === true);

  if (interrupted()) return EXIT.interrupted;
  const failures: string[] = [];
  if (!result.completed) failures.push('the run stopped early');
  if (result.errorRate > maxErrorRate) failures.push(`error rate ${(result.errorRate * 100).toFixed(2)}% is over --max-error-rate ${maxErrorRate}`);
  if (result.accuracy && result.accuracy.checked > 0 && result.accuracy.rate < minAccuracy) {
    failures.push(`accuracy ${(result.accuracy.rate * 100).toFixed(2)}% is below --min-accuracy ${minAccuracy}`);
  }
  if (failures.length > 0) {
    process.stderr.write(`probe: failed: ${failures.join('; ')}\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
}

function chooseEndpoint(v: Values): ProbeEndpoint {
  if (v.outputs !== undefined) {
    if (v.target !== undefined || v.url !== undefined) throw new ProbeInputError('give --outputs FILE, or --target and --url, not both');
    return endpointFromOutputsFile(v.outputs, { stack: v.stack, endpoint: v.endpoint, host: v.host, region: v.region });
  }
  if (v.target === undefined) throw new ProbeInputError('say what to probe: --outputs FILE, or --target TARGET with --url URL. See model-deployment probe --help');
  return endpointFromArguments(v.target, v.url, v['endpoint-name'], v.region);
}

function authFor(endpoint: ProbeEndpoint, v: Values): ProbeAuth {
  const key = (): string | undefined => {
    if (v['api-key-file'] !== undefined) {
      const line = readFile('--api-key-file', v['api-key-file']).toString('utf8').split('\n').map(l => l.trim()).find(l => l !== '' && !l.startsWith('#'));
      if (line === undefined) throw new ProbeInputError(`--api-key-file ${v['api-key-file']} has no key (every line is blank or a # comment)`);
      return line;
    }
    return v['api-key'] ?? (process.env.MD_PROBE_API_KEY || undefined);
  };
  switch (endpoint.target) {
    case 'sageMaker':
      return sigV4Auth(endpoint.region!);
    case 'vertexAi':
      return googleAuth();
    case 'azureMl': {
      const k = key();
      return k === undefined ? entraAuth()
        : apiKeyAuth('authorization', k, 'the key (the endpoint\'s primary or secondary key; az ml online-endpoint get-credentials) and that the endpoint uses key auth');
    }
    case 'onPrem': {
      const k = key();
      if (k === undefined) throw new ProbeInputError('on-prem needs an API key: --api-key-file FILE (the deployment\'s apiKeyFile), MD_PROBE_API_KEY, or --api-key');
      return apiKeyAuth('x-api-key', k, 'that the key is a line of the deployment\'s apiKeyFile and that the last apply (which pushes the keys) succeeded');
    }
  }
}

function writeReport(file: string, result: ProbeResult, open: boolean): void {
  try {
    fs.writeFileSync(file, renderHtmlReport(result));
  } catch (e) {
    process.stderr.write(`probe: warning: could not write the HTML report ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return;
  }
  process.stderr.write(`probe: HTML report written to ${file}\n`);
  if (!open) return;
  const [command, args] = process.platform === 'darwin' ? ['open', [file]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', file]] : ['xdg-open', [file]];
  try {
    const child = spawn(command, args as string[], { detached: true, stdio: 'ignore' });
    child.on('error', e => process.stderr.write(`probe: warning: could not open a browser (${command}: ${(e as NodeJS.ErrnoException).code ?? e.message}); open ${file} yourself\n`));
    child.unref();
  } catch (e) {
    process.stderr.write(`probe: warning: could not open a browser: ${(e as Error).message}; open ${file} yourself\n`);
  }
}

function readFile(option: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new ProbeInputError(`cannot read ${option} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function integer(option: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new ProbeInputError(`invalid ${option}: ${JSON.stringify(text)}. Allowed: a whole number from ${min} to ${max}`);
  return n;
}

function rate(option: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new ProbeInputError(`invalid ${option}: ${JSON.stringify(text)}. Allowed: a number from ${min} to ${max}`);
  return n;
}

function duration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text);
  const seconds = m ? Number(m[1]) * { s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 's' | 'm' | 'h'] : NaN;
  if (!(seconds > 0) || seconds > 7 * 24 * 3600) throw new ProbeInputError(`invalid --duration: ${JSON.stringify(text)}. Allowed: seconds, or a number with s, m or h (30s, 5m), more than 0`);
  return seconds;
}

function badInput(message: string): number {
  process.stderr.write(`probe: ${message}\n`);
  return EXIT.badInput;
}
