/**
 * Runs Terraform in a stack directory (a cdktf-synthesized `cdktf.out/stacks/<name>`, or any directory of
 * *.tf.json / *.tf files), offline: a CLI config of our own (no ~/.terraformrc, no plugin cache, no
 * checkpoint calls, provider downloads refused so a configuration that needs one fails at once instead of
 * reaching for the registry), only Terraform's built-in provider (terraform_data) is expected.
 *
 * Every command runs in its own process group; on timeout the group gets SIGTERM, then SIGKILL.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CommandResult, describeFailure, requireE2eTools, run as runCommand } from './exec';

export interface TerraformResult extends CommandResult {
  readonly args: readonly string[];
}

export interface TerraformPlanResult extends TerraformResult {
  /** from `-detailed-exitcode`: false = no changes (0), true = changes (2), undefined = error (1 or other) */
  readonly changes: boolean | undefined;
}

export interface TerraformCommandOptions {
  /** default: the runner's timeoutMs */
  readonly timeoutMs?: number;
  /** extra arguments after the fixed ones, e.g. ['-parallelism=1'] or ['-target=terraform_data.x'] */
  readonly args?: readonly string[];
  /** extra environment for this command */
  readonly env?: Readonly<Record<string, string>>;
}

export interface TerraformRunnerOptions {
  /** default: `terraform` on PATH */
  readonly terraformBin?: string;
  /** default timeout per command (default 300 000 ms) */
  readonly timeoutMs?: number;
  /** extra environment for every command (e.g. TF_LOG=DEBUG, TF_VAR_x) */
  readonly env?: Readonly<Record<string, string>>;
  /** called with every chunk of output as it arrives */
  readonly onOutput?: (chunk: string, stream: 'stdout' | 'stderr', args: readonly string[]) => void;
  /** append every command's output to this file (default: <stackDir>/terraform-e2e.log) */
  readonly logFile?: string;
  /** echo output to the test's stderr as it arrives (default: when MDTEST_VERBOSE=1) */
  readonly echo?: boolean;
}

export class TerraformRunner {
  /** the runner for `cdktf.out/stacks/<stackName>` under `outDir` (cdktf's `outdir`, default 'cdktf.out') */
  public static forCdktfStack(outDir: string, stackName: string, opts: TerraformRunnerOptions = {}): TerraformRunner {
    return new TerraformRunner(path.join(outDir, 'stacks', stackName), opts);
  }

  public readonly stackDir: string;
  /** the CLI configuration file written for this runner (TF_CLI_CONFIG_FILE) */
  public readonly cliConfigFile: string;
  public readonly logFile: string;
  private readonly bin: string;
  private readonly timeoutMs: number;
  private readonly baseEnv: NodeJS.ProcessEnv;
  private readonly opts: TerraformRunnerOptions;
  private readonly configDir: string;

  constructor(stackDir: string, opts: TerraformRunnerOptions = {}) {
    if (!opts.terraformBin) requireE2eTools(['terraform']);
    this.stackDir = path.resolve(stackDir);
    if (!fs.existsSync(this.stackDir)) throw new Error(`no Terraform stack directory at ${this.stackDir}`);
    this.opts = opts;
    this.bin = opts.terraformBin ?? 'terraform';
    this.timeoutMs = opts.timeoutMs ?? 300_000;
    this.logFile = opts.logFile ?? path.join(this.stackDir, 'terraform-e2e.log');
    this.configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdtest-tf-'));
    this.cliConfigFile = path.join(this.configDir, 'terraformrc');
    fs.writeFileSync(
      this.cliConfigFile,
      [
        '# written by test/e2e/support/terraform.ts: nothing from ~/.terraformrc, no plugin cache, no downloads',
        'disable_checkpoint = true',
        'provider_installation {',
        '  direct {',
        '    exclude = ["*/*/*"]',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) {
      // nothing from the caller's Terraform setup leaks in (TF_CLI_ARGS would change every command)
      if (k.startsWith('TF_') || k === 'CHECKPOINT_DISABLE') delete env[k];
    }
    this.baseEnv = {
      ...env,
      TF_CLI_CONFIG_FILE: this.cliConfigFile,
      TF_IN_AUTOMATION: '1',
      TF_INPUT: '0',
      CHECKPOINT_DISABLE: '1',
      ...(opts.env ?? {}),
    };
  }

  /** `terraform init -input=false -no-color` (offline: only built-in providers) */
  public init(o: TerraformCommandOptions = {}): Promise<TerraformResult> {
    return this.run(['init', '-input=false', '-no-color', ...(o.args ?? [])], o);
  }

  /** `terraform apply -auto-approve -input=false -no-color` */
  public apply(o: TerraformCommandOptions = {}): Promise<TerraformResult> {
    return this.run(['apply', '-auto-approve', '-input=false', '-no-color', ...(o.args ?? [])], o);
  }

  /** `terraform plan -detailed-exitcode -input=false -no-color`; `changes` tells 0 (none) from 2 (some) */
  public async plan(o: TerraformCommandOptions = {}): Promise<TerraformPlanResult> {
    const r = await this.run(['plan', '-detailed-exitcode', '-input=false', '-no-color', ...(o.args ?? [])], o);
    return { ...r, changes: r.code === 0 ? false : r.code === 2 ? true : undefined };
  }

  /** `terraform destroy -auto-approve -input=false -no-color` */
  public destroy(o: TerraformCommandOptions = {}): Promise<TerraformResult> {
    return this.run(['destroy', '-auto-approve', '-input=false', '-no-color', ...(o.args ?? [])], o);
  }

  /** `terraform output -json`, parsed to { name: value } */
  public async outputs(o: TerraformCommandOptions = {}): Promise<Record<string, unknown>> {
    const r = await this.run(['output', '-json', '-no-color'], o);
    if (r.code !== 0) throw new Error(describeFailure(r));
    const parsed = JSON.parse(r.stdout || '{}') as Record<string, { value: unknown }>;
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v.value]));
  }

  /** any terraform command, e.g. run(['state', 'list']) or run(['taint', 'terraform_data.x']) */
  public async run(args: readonly string[], o: TerraformCommandOptions = {}): Promise<TerraformResult> {
    const header = `\n===== ${new Date().toISOString()} terraform ${args.join(' ')}\n`;
    fs.appendFileSync(this.logFile, header);
    const echo = this.opts.echo ?? process.env.MDTEST_VERBOSE === '1';
    const r = await runCommand(this.bin, args, {
      cwd: this.stackDir,
      env: { ...this.baseEnv, ...(o.env ?? {}) },
      timeoutMs: o.timeoutMs ?? this.timeoutMs,
      killGraceMs: 10_000, // SIGTERM first: Terraform then stops cleanly and writes its state
      onOutput: (chunk, stream) => {
        fs.appendFileSync(this.logFile, chunk);
        if (echo) process.stderr.write(chunk);
        this.opts.onOutput?.(chunk, stream, args);
      },
    });
    fs.appendFileSync(this.logFile, `\n===== exit ${r.code ?? r.signal}${r.timedOut ? ' (timed out)' : ''} after ${r.durationMs} ms\n`);
    return { ...r, args };
  }

  /**
   * The state file's path: the local backend's `path` when the configuration sets one (cdktf writes
   * `terraform.<stack>.tfstate`), else terraform.tfstate, relative to the stack directory.
   */
  public statePath(): string {
    let p = 'terraform.tfstate';
    for (const f of fs.readdirSync(this.stackDir).filter((n) => n.endsWith('.tf.json'))) {
      try {
        const cfg = JSON.parse(fs.readFileSync(path.join(this.stackDir, f), 'utf8'));
        const local = cfg?.terraform?.backend?.local;
        if (local?.path) p = local.path;
      } catch {
        /* not JSON we understand */
      }
    }
    return path.resolve(this.stackDir, p);
  }

  /** the state file's text, or undefined when there is none yet */
  public stateText(): string | undefined {
    const p = this.statePath();
    return fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : undefined;
  }

  /** the parsed state, or undefined */
  public state(): TerraformState | undefined {
    const t = this.stateText();
    return t ? (JSON.parse(t) as TerraformState) : undefined;
  }

  /** addresses of the resources in the state, e.g. ['terraform_data.host0'] */
  public resourcesInState(): string[] {
    const s = this.state();
    if (!s) return [];
    return (s.resources ?? []).flatMap((r) =>
      (r.instances ?? []).map((i) => `${r.module ? `${r.module}.` : ''}${r.mode === 'data' ? 'data.' : ''}${r.type}.${r.name}${i.index_key === undefined ? '' : `[${JSON.stringify(i.index_key)}]`}`),
    );
  }

  /** removes the runner's CLI config directory (the stack directory is the caller's) */
  public dispose(): void {
    fs.rmSync(this.configDir, { recursive: true, force: true });
  }
}

/** the parts of Terraform's state (format 4) the tests read */
export interface TerraformState {
  version: number;
  serial: number;
  lineage: string;
  outputs?: Record<string, { value: unknown; type: unknown; sensitive?: boolean }>;
  resources?: Array<{
    module?: string;
    mode: 'managed' | 'data';
    type: string;
    name: string;
    provider: string;
    instances?: Array<{ index_key?: string | number; status?: 'tainted'; attributes?: Record<string, unknown>; sensitive_attributes?: unknown[] }>;
  }>;
}

/** what `terraformConnection` needs of a host (a TestHost fits) */
export interface SshTarget {
  readonly address: string;
  readonly sshPort: number;
  readonly user: string;
  readonly privateKeyPath: string;
  readonly hostPublicKey: string;
  /** when set (a TestHost's is), remote-exec's scripts go to <rootDir>/data instead of the machine's /tmp */
  readonly rootDir?: string;
}

/**
 * A Terraform `connection` block (JSON syntax) for a test host, with its host key pinned. `timeout` defaults
 * to '10s': Terraform retries a failed connection, even a host key mismatch, until this timeout (default 5m).
 */
export function terraformConnection(host: SshTarget, opts: { timeout?: string; hostKey?: string } = {}): Record<string, unknown> {
  return {
    type: 'ssh',
    host: host.address,
    port: host.sshPort,
    user: host.user,
    private_key: `\${file("${host.privateKeyPath}")}`,
    host_key: opts.hostKey ?? host.hostPublicKey,
    timeout: opts.timeout ?? '10s',
    // remote-exec uploads its script to /tmp/terraform_<n>.sh and leaves it there (emptied); the test hosts
    // share this machine's /tmp, so keep those files in the host's own directory, which cleanup removes
    ...(host.rootDir ? { script_path: `${host.rootDir}/data/terraform_%RAND%.sh` } : {}),
  };
}
