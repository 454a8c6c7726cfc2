import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import type { Construct } from 'constructs';
import { DeploymentTarget } from '../deployment-target';
import { ModelDeployment } from '../model-deployment';
import { ModelDeploymentValidationError } from '../spec/errors';
import { ModelDeploymentSpecProps, resolveSpec } from '../spec/spec';

export const EXPLAIN_HELP = `Usage: model-deployment explain APP [--json]

Shows, side by side, what each of the four targets (SageMaker, Azure ML, Vertex AI, on-prem) would
create for one spec, or what it refuses and why. Each target synthesizes the spec in memory with its
own code (nothing is written or deployed) and the answer is read back from what it synthesized:
compute (instance type, machine and accelerator, or host GPUs), replicas, auth, network, encryption,
sample predictions, resource count and warnings.

APP is a .js, .cjs or .ts module (.ts through ts-node, which must be installed) that exports:
  spec        the spec: ModelDeploymentSpecProps, the ModelDeployment props without \`target\`
              (or the module's default export)
  targets     optional, each target's options, as an object or a function of the stack that
              returns one: { sageMaker, azureMl, vertexAi, onPrem }. A target left out is
              synthesized with representative placeholder options (a VPC endpoint id, a region,
              a project, two documentation-range hosts), and the output says so.
  specs       optional, a target's own spec where it must differ: { vertexAi: {...} } (SageMaker
              pulls images only from ECR, Vertex AI only from Artifact Registry). The output
              names the parts that differ from \`spec\`.

Options:
  --json      print the result as JSON on stdout
  -h, --help  this text

Exit codes: 0 the spec was explained (whether or not a target refuses it); 2 bad arguments or a
module that does not export a spec.

Example: model-deployment explain examples/one-spec-four-targets.ts
`;

/** The four targets, in the order they are shown. */
export const EXPLAIN_TARGETS = ['sageMaker', 'azureMl', 'vertexAi', 'onPrem'] as const;
export type ExplainTargetName = (typeof EXPLAIN_TARGETS)[number];

/** What one target makes of the spec. */
export interface TargetPlan {
  readonly target: ExplainTargetName;
  readonly engine: 'aws-cdk-lib' | 'cdktf';
  /** creates: it synthesized; refuses: a ModelDeploymentValidationError; unavailable: its engine is not installed. */
  readonly status: 'creates' | 'refuses' | 'unavailable';
  /** Whether the target options came from the module (`yours`) or are placeholders (`representative`). */
  readonly options: 'yours' | 'representative';
  /** The spec's top-level parts this target was given differently (the module's `specs`); empty: the shared spec. */
  readonly ownSpec: string[];
  readonly compute?: string;
  readonly replicas?: string;
  readonly auth?: string;
  readonly network?: string;
  readonly encryption?: string;
  readonly verification?: string;
  readonly resources?: number;
  readonly warnings: string[];
  /** Why it refuses: the error's field, value and what is allowed (the first of several), and its whole message. */
  readonly refusal?: { readonly field: string; readonly value: string; readonly allowed: string; readonly message: string };
  /** Why it could not run (an engine or provider package missing). */
  readonly unavailable?: string;
}

export interface Explanation {
  readonly app: string;
  readonly targets: TargetPlan[];
}

type OptionsOf = (scope: Construct) => object;
type Json = { [key: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Placeholder options, used for a target the module gives none for. */
function representativeOptions(target: ExplainTargetName, spec: ModelDeploymentSpecProps): OptionsOf {
  switch (target) {
    case 'sageMaker': return scope => {
      if (!spec.verification) return { invokeVpcEndpointIds: ['vpce-00000000000000000'] };
      const ec2 = require('aws-cdk-lib/aws-ec2') as typeof import('aws-cdk-lib/aws-ec2');
      const iam = require('aws-cdk-lib/aws-iam') as typeof import('aws-cdk-lib/aws-iam');
      return {
        invokeVpcEndpointIds: ['vpce-00000000000000000'],
        verificationFunction: {
          vpc: ec2.Vpc.fromVpcAttributes(scope, 'ExplainVpc', { vpcId: 'vpc-00000000000000000', availabilityZones: ['us-east-1a'], privateSubnetIds: ['subnet-00000000000000000'] }),
          role: iam.Role.fromRoleArn(scope, 'ExplainRole', 'arn:aws:iam::111111111111:role/explain', { mutable: false }),
        },
      };
    };
    case 'azureMl': return () => ({ location: 'westeurope' });
    case 'vertexAi': return () => ({ project: 'my-project', location: 'us-central1' });
    case 'onPrem': return () => ({
      hosts: ['192.0.2.10', '192.0.2.11'].map((address, i) => ({
        name: `host${i + 1}`, address, user: 'deploy', hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmd7Ze0hR3x6nkd0oEvKVa5Zp7bIkFGU0f0d7bq4bXk',
      })),
      apiKeyFile: '~/.config/model-deploy/api-keys',
    });
  }
}

const FACTORIES: { readonly [t in ExplainTargetName]: (options: object) => DeploymentTarget } = {
  sageMaker: o => DeploymentTarget.sageMaker(o),
  azureMl: o => DeploymentTarget.azureMl(o as never),
  vertexAi: o => DeploymentTarget.vertexAi(o as never),
  onPrem: o => DeploymentTarget.onPrem(o as never),
};

/** Loads the app module and returns its spec and target options. */
export function loadApp(file: string): LoadedApp {
  const full = path.resolve(file);
  if (!fs.existsSync(full)) throw new ExplainInputError(`no such file: ${file}`);
  const ext = path.extname(full);
  if (!['.js', '.cjs', '.ts', '.cts'].includes(ext)) throw new ExplainInputError(`${file}: expected a .js, .cjs or .ts module exporting \`spec\``);
  // Under ts-node or jest, .ts files load already; otherwise register ts-node for them.
  if ((ext === '.ts' || ext === '.cts') && require.extensions?.['.ts'] === undefined && process.env.JEST_WORKER_ID === undefined) {
    try {
      (require('ts-node') as typeof import('ts-node')).register({ transpileOnly: true });
    } catch {
      throw new ExplainInputError(`${file}: loading a .ts module needs ts-node (npm install --save-dev ts-node), or compile it and pass the .js`);
    }
  }
  const mod = require(full) as Json;
  const spec = (mod.spec ?? mod.default) as ModelDeploymentSpecProps | undefined;
  if (!spec || typeof spec !== 'object' || !('model' in spec) || !('serving' in spec)) {
    throw new ExplainInputError(`${file}: exports no spec (expected \`export const spec: ModelDeploymentSpecProps = { model, serving, ... }\` or a default export)`);
  }
  const targets: Partial<Record<ExplainTargetName, OptionsOf>> = {};
  const specs: Partial<Record<ExplainTargetName, ModelDeploymentSpecProps>> = {};
  for (const t of EXPLAIN_TARGETS) {
    const given = (mod.targets as Json | undefined)?.[t];
    if (given !== undefined) targets[t] = typeof given === 'function' ? given : () => given;
    const own = (mod.specs as Json | undefined)?.[t];
    if (own !== undefined) specs[t] = own;
  }
  return { spec, targets, specs };
}

/** What an app module gives explain. */
export interface LoadedApp {
  readonly spec: ModelDeploymentSpecProps;
  readonly targets?: Partial<Record<ExplainTargetName, OptionsOf>>;
  readonly specs?: Partial<Record<ExplainTargetName, ModelDeploymentSpecProps>>;
}

export class ExplainInputError extends Error {}

/** Synthesizes the spec for each target in memory and reads back what it would create. */
export function explain(app: string, loaded: LoadedApp): Explanation {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-deployment-explain-'));
  try {
    return { app, targets: EXPLAIN_TARGETS.map(t => planFor(t, loaded.spec, loaded.specs?.[t], loaded.targets?.[t], outdir)) };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

function planFor(target: ExplainTargetName, shared: ModelDeploymentSpecProps, own: ModelDeploymentSpecProps | undefined, given: OptionsOf | undefined, outdir: string): TargetPlan {
  const engine = target === 'sageMaker' ? 'aws-cdk-lib' : 'cdktf';
  const spec = own ?? shared;
  const keys = [...new Set([...Object.keys(shared), ...Object.keys(spec)])] as Array<keyof ModelDeploymentSpecProps>;
  const ownSpec = keys.filter(k => spec[k] !== shared[k]);
  const base = { target, engine, options: given ? 'yours' : 'representative', ownSpec, warnings: [] as string[] } as const;
  const optionsOf = given ?? representativeOptions(target, spec);
  try {
    const read = engine === 'aws-cdk-lib' ? synthCloudFormation(spec, optionsOf, outdir) : synthTerraform(target, spec, optionsOf, outdir);
    return { ...base, status: 'creates', ...read, warnings: read.warnings ?? [], verification: read.verification ?? 'none' };
  } catch (e) {
    if (e instanceof ModelDeploymentValidationError) {
      return { ...base, status: 'refuses', refusal: { field: e.field, value: e.value, allowed: e.allowed, message: e.message } };
    }
    const missing = (e as { code?: string }).code === 'MODULE_NOT_FOUND' ? /Cannot find module '([^']+)'/.exec((e as Error).message)?.[1] : undefined;
    if (missing) return { ...base, status: 'unavailable', unavailable: `needs ${missing} (npm install ${missing.split('/').slice(0, missing.startsWith('@') ? 2 : 1).join('/')})` };
    throw e;
  }
}

type Read = Omit<TargetPlan, 'target' | 'engine' | 'status' | 'options' | 'ownSpec' | 'warnings'> & { readonly warnings?: string[] };

function synthCloudFormation(spec: ModelDeploymentSpecProps, optionsOf: OptionsOf, outdir: string): Read {
  const cdk = require('aws-cdk-lib') as typeof import('aws-cdk-lib');
  const app = new cdk.App({ outdir, builtinCloudFormationValidation: false });
  const stack = new cdk.Stack(app, 'Explain');
  const deployment = new ModelDeployment(stack, 'Model', { ...spec, target: FACTORIES.sageMaker(optionsOf(stack)) });
  // PRIVATE is a condition on every grant the endpoint makes: read it from the statement it grants.
  const grant = stack.resolve((deployment.endpoint as import('../targets/sagemaker/endpoint').SageMakerModelEndpoint).invokeStatement().toStatementJson()) as Json;
  const vpce = [grant.Condition?.StringEquals?.['aws:SourceVpce'] ?? []].flat() as string[];
  const template = app.synth().getStackByName(stack.stackName).template as Json;
  const resources = Object.values<Json>(template.Resources ?? {});
  const ofType = (type: string) => resources.filter(r => r.Type === type).map(r => r.Properties as Json);
  const variant = ofType('AWS::SageMaker::EndpointConfig')[0].ProductionVariants[0] as Json;
  const endpointConfig = ofType('AWS::SageMaker::EndpointConfig')[0];
  const scaling = ofType('AWS::ApplicationAutoScaling::ScalableTarget')[0];
  const check = ofType('Custom::SageMakerVerification')[0];
  return {
    compute: variant.ServerlessConfig ? `serverless, ${variant.ServerlessConfig.MemorySizeInMB} MB` : `${variant.InstanceType}${endpointConfig.AsyncInferenceConfig ? ' (asynchronous)' : ''}`,
    replicas: variant.ServerlessConfig ? `up to ${variant.ServerlessConfig.MaxConcurrency} concurrent` : scaling ? `${scaling.MinCapacity}-${scaling.MaxCapacity} (autoscaling)` : `${variant.InitialInstanceCount} (fixed)`,
    auth: 'IAM (SigV4-signed calls from granted principals)',
    network: vpce.length > 0 ? `private: grants allow calls only through ${vpce.join(', ')}` : 'public (signed calls from any network)',
    encryption: `HTTPS; at rest ${endpointConfig.KmsKeyId ? 'KMS key' : 'instance storage encrypted in hardware (SageMaker takes no KMS key for it)'}`,
    verification: check ? `${(JSON.parse(check.Samples as string) as unknown[]).length} sample(s) after each update; a failure rolls it back` : undefined,
    resources: resources.length,
    warnings: stack.node.findAll().flatMap(c => c.node.metadata.filter(m => m.type === 'aws:cdk:warning').map(m => `${c.node.path}: ${String(m.data)}`)),
  };
}

function synthTerraform(target: ExplainTargetName, spec: ModelDeploymentSpecProps, optionsOf: OptionsOf, outdir: string): Read {
  const cdktf = require('cdktf') as typeof import('cdktf');
  const app = new cdktf.App({ outdir });
  const stack = new cdktf.TerraformStack(app, 'explain');
  new ModelDeployment(stack, 'Model', { ...spec, target: FACTORIES[target](optionsOf(stack)) });
  const json = JSON.parse(cdktf.Testing.synth(stack)) as Json;
  const all = (type: string) => Object.values<Json>(json.resource?.[type] ?? {});
  const read = target === 'azureMl' ? readAzureMl(all, spec) : target === 'vertexAi' ? readVertexAi(all) : readOnPrem(all);
  return {
    ...read,
    resources: Object.values<Json>(json.resource ?? {}).reduce((n, byName) => n + Object.keys(byName).length, 0),
    warnings: stack.node.findAll().flatMap(c => c.node.metadata.filter(m => m.type === '@cdktf/warn').map(m => `${c.node.path}: ${String(m.data)}`)),
  };
}

const AZURE_AUTH: Json = { AADToken: 'Entra ID tokens (AADToken)', Key: 'key (endpoint keys)', AMLToken: 'Azure ML tokens (AMLToken)' };

function readAzureMl(all: (type: string) => Json[], spec: ModelDeploymentSpecProps): Read {
  const azapi = all('azapi_resource');
  const deployment = azapi.find(r => r.body?.properties?.instanceType)!.body as Json;
  const endpoint = azapi.find(r => r.body?.properties?.authMode)!.body.properties as Json;
  const capacity = all('azurerm_monitor_autoscale_setting')[0]?.profile?.[0]?.capacity as Json | undefined;
  const workspace = all('azurerm_machine_learning_workspace')[0];
  // The sample check is a terraform_data whose input carries the samples (as on Vertex AI).
  const check = all('terraform_data').find(r => r.input?.verification)?.input.verification as Json | undefined;
  const inSpec = resolveSpec(spec).verification?.samples.length ?? 0;
  return {
    compute: deployment.properties.instanceType,
    replicas: capacity ? `${capacity.minimum}-${capacity.maximum} (autoscaling)` : `${deployment.sku.capacity} (fixed)`,
    auth: AZURE_AUTH[endpoint.authMode] ?? endpoint.authMode,
    network: endpoint.publicNetworkAccess === 'Disabled' ? 'private: through a private endpoint of the workspace' : 'public (authenticated calls from any network)',
    encryption: `HTTPS; at rest ${workspace?.encryption ? 'customer-managed key' : 'Microsoft-managed keys'}`,
    verification: check ? `${(check.samples as unknown[]).length} sample(s) before traffic moves` : inSpec > 0 ? `not wired (${inSpec} sample(s) in the spec)` : undefined,
  };
}

function readVertexAi(all: (type: string) => Json[]): Read {
  const request = all('terraform_data').find(r => r.input?.deployment)!.input as Json;
  const { machineSpec, minReplicaCount, maxReplicaCount } = request.deployment as Json;
  const endpoint = all('google_vertex_ai_endpoint')[0];
  const psc = endpoint.private_service_connect_config as Json | undefined;
  return {
    compute: `${machineSpec.machineType}${machineSpec.acceleratorType ? ` + ${machineSpec.acceleratorCount} x ${machineSpec.acceleratorType}` : ''}`,
    replicas: minReplicaCount === maxReplicaCount ? `${minReplicaCount} (fixed)` : `${minReplicaCount}-${maxReplicaCount} (autoscaling)`,
    auth: 'Google IAM (OAuth access tokens)',
    network: psc?.enable_private_service_connect ? `private: Private Service Connect from ${(psc.project_allowlist as string[]).join(', ')}` : 'public (authenticated calls from any network)',
    encryption: `HTTPS; at rest ${endpoint.encryption_spec?.kms_key_name ? `CMEK ${endpoint.encryption_spec.kms_key_name}` : 'Google-managed keys'}`,
    verification: request.verification ? `${(request.verification.samples as unknown[]).length} sample(s) before traffic moves` : undefined,
  };
}

function readOnPrem(all: (type: string) => Json[]): Read {
  const envs = all('terraform_data').flatMap(r => (r.provisioner as Json[] | undefined ?? []))
    .filter(p => typeof p.file?.destination === 'string' && p.file.destination.endsWith('/deploy.env'))
    .map(p => Object.fromEntries((p.file.content as string).split('\n').filter(l => l.includes('=')).map(l => {
      const i = l.indexOf('=');
      return [l.slice(0, i), l.slice(i + 1).replace(/^'|'$/g, '')];
    })) as { [k: string]: string });
  const first = envs[0];
  const replicas = envs.reduce((n, e) => n + Number(e.MD_REPLICAS), 0);
  const gpus = Number(first.MD_GPUS_PER_REPLICA || 0);
  return {
    compute: `${gpus > 0 ? `${gpus} x ${first.MD_GPU_NAMES.split('|')[0]} per replica` : 'CPU'} on ${envs.length} host(s)`,
    replicas: `${replicas} (fixed: ${envs.map(e => `${e.MD_HOST} ${e.MD_REPLICAS}`).join(', ')})`,
    auth: 'API key (X-Api-Key or Bearer) at each host\'s proxy',
    network: `proxy port ${first.MD_PROXY_PORT}, clients ${first.MD_ALLOWED_CLIENTS.split(',').length <= 2 ? first.MD_ALLOWED_CLIENTS : 'from private address ranges only'}`,
    encryption: first.MD_TLS_CERT ? 'TLS at the proxy (your certificate)' : 'plain HTTP (no tls option): keys travel in clear',
    verification: Number(first.MD_VERIFY_SAMPLES || 0) > 0 ? `${first.MD_VERIFY_SAMPLES} sample(s) on each host before the proxy switches` : undefined,
  };
}

// --- output ---------------------------------------------------------------------------------------

const ROWS: ReadonlyArray<[string, (p: TargetPlan) => string]> = [
  ['engine', p => p.engine],
  ['options', p => p.options],
  ['spec', p => p.ownSpec.length === 0 ? 'shared' : `own ${p.ownSpec.join(', ')}`],
  ['result', p => p.status === 'creates' ? 'creates' : p.status === 'refuses' ? `REFUSES ${p.refusal!.field}` : 'unavailable'],
  ['compute', p => p.compute ?? '-'],
  ['replicas', p => p.replicas ?? '-'],
  ['auth', p => p.auth ?? '-'],
  ['network', p => p.network ?? '-'],
  ['encryption', p => p.encryption ?? '-'],
  ['verification', p => p.verification ?? '-'],
  ['resources', p => p.resources === undefined ? '-' : String(p.resources)],
  ['warnings', p => String(p.warnings.length)],
];

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && (line + ' ' + word).length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  return [...lines, line];
}

export function renderExplanation(e: Explanation, width = 30): string {
  const labelWidth = Math.max(...ROWS.map(([label]) => label.length));
  const out = [`What each target would create for ${e.app}:`, ''];
  const row = (label: string, cells: string[]) => {
    const wrapped = cells.map(c => wrap(c, width));
    const height = Math.max(...wrapped.map(w => w.length));
    for (let i = 0; i < height; i++) {
      out.push([(i === 0 ? label : '').padEnd(labelWidth), ...wrapped.map(w => (w[i] ?? '').padEnd(width))].join('  ').trimEnd());
    }
  };
  row('', e.targets.map(p => p.target));
  out.push([''.padEnd(labelWidth), ...e.targets.map(() => '-'.repeat(width))].join('  '));
  for (const [label, cell] of ROWS) row(label, e.targets.map(cell));
  const refused = e.targets.filter(p => p.refusal);
  if (refused.length > 0) {
    out.push('', 'What it refuses, and why:');
    for (const p of refused) out.push(`  ${p.target}: ${p.refusal!.message.split('\n').join('\n    ')}`);
  }
  const unavailable = e.targets.filter(p => p.unavailable);
  for (const p of unavailable) out.push(`  ${p.target}: ${p.unavailable}`);
  const warned = e.targets.filter(p => p.warnings.length > 0);
  if (warned.length > 0) {
    out.push('', 'Warnings:');
    for (const p of warned) for (const w of p.warnings) out.push(`  ${p.target}: ${w}`);
  }
  if (e.targets.some(p => p.options === 'representative')) {
    out.push('', 'representative = placeholder target options (export `targets` from the module to use yours); see --help.');
  }
  return out.join('\n') + '\n';
}

export async function explainCommand(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    process.stderr.write(`model-deployment explain: ${(e as Error).message}\n\n${EXPLAIN_HELP}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(EXPLAIN_HELP);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    process.stderr.write(`model-deployment explain: expected one APP, got ${parsed.positionals.length}\n\n${EXPLAIN_HELP}`);
    return 2;
  }
  const [file] = parsed.positionals;
  let loaded;
  try {
    loaded = loadApp(file);
  } catch (e) {
    if (!(e instanceof ExplainInputError)) throw e;
    process.stderr.write(`model-deployment explain: ${e.message}\n`);
    return 2;
  }
  const result = explain(file, loaded);
  process.stdout.write(parsed.values.json ? JSON.stringify(result, undefined, 2) + '\n' : renderExplanation(result));
  return 0;
}
