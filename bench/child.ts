/**
 * One benchmark measurement, run in a fresh process by bench/run.ts (never imported by it).
 *
 *   node [-r ts-node/register/transpile-only] bench/child.ts '<json CaseSpec>'
 *
 * Runs either from source (through ts-node) or as plain JavaScript transpiled by run.ts into
 * bench/.build/bench/child.js, where `../lib` is the transpiled library: what a consumer of the
 * published package (main: lib/index.js) loads.
 *
 * Prints one line `@@BENCH@@ <json ChildResult>` on stdout.
 */
import * as fs from 'fs';
import * as path from 'path';

/** What the child is asked to measure. */
export interface CaseSpec {
  /** `require`: load `module` and nothing else; `synth`: build N deployments in one stack and synthesize. */
  readonly kind: 'require' | 'synth';
  /** require: the module to load, relative to the repository root when it starts with `./`; empty = baseline. */
  readonly module?: string;
  /**
   * synth: whose constructs. AWS (aws-cdk-lib Stack): `ours` (SageMaker target) or `alpha`
   * (@aws-cdk/aws-sagemaker-alpha). Azure (cdktf TerraformStack): `ours` (Azure ML target) or `raw`
   * (bench/raw-azure.ts: the same resources declared by hand). GCP (cdktf): `ours` (Vertex AI target)
   * or `raw` (bench/raw-vertex.ts).
   */
  readonly impl?: 'ours' | 'alpha' | 'raw';
  /** synth: the cloud, and so the engine. @default 'aws' */
  readonly cloud?: 'aws' | 'azure' | 'gcp';
  /** synth: deployments in the one stack. */
  readonly count?: number;
  /**
   * synth: `uri` = a model already in the cloud (s3://, azureml://, gs://); `asset` = a local directory
   * (AWS, ours only: packed and staged as an asset; Azure: uploaded as blobs, staged as a cdktf asset).
   */
  readonly model?: 'uri' | 'asset';
  /** synth, asset model: the directory to pack (default: test/fixtures/linear-model). */
  readonly assetPath?: string;
  /**
   * synth: aws-cdk-lib's built-in CloudFormation template validation (a WASM engine run inside
   * app.synth(), on by default since aws-cdk-lib 2.27x; `cdk synth --no-validation` or
   * CDK_VALIDATION=false turn it off). Passed as the App's `builtinCloudFormationValidation`.
   */
  readonly validation?: boolean;
  /** synth: cloud assembly output directory (run.ts creates and removes it). */
  readonly outdir?: string;
  /** Repository root, for `./` modules and the asset fixture. */
  readonly root: string;
}

/** What the child reports. All times in ms, memory in bytes. */
export interface ChildResult {
  /** ms from process start to the first line of this file (node + ts-node bootstrap). */
  readonly startupMs: number;
  /** ms spent in the top-level requires (require cases: the module under test). */
  readonly loadMs: number;
  /** synth: ms spent constructing (ours: includes the lazy load of the SageMaker target). */
  readonly constructMs?: number;
  /** synth: ms spent in app.synth(). */
  readonly synthOnlyMs?: number;
  /** synth: construct + synth, the headline number. */
  readonly synthMs?: number;
  /** synth, asset model: ms spent in packModelArchive (measured by wrapping the export). */
  readonly packMs?: number;
  /** rss right before the measured work. */
  readonly rssBefore: number;
  /** rss at the end. */
  readonly rssEnd: number;
  /** heapUsed at the end. */
  readonly heapUsedEnd: number;
  /** require: heapUsed right before the require. */
  readonly heapUsedBefore?: number;
  /** CPU time of the whole process so far (all threads: GC, WASM compilation...), user + system, ms. */
  readonly cpuMs: number;
  /** process.resourceUsage().maxRSS converted to bytes (peak resident set of the whole process). */
  readonly maxRss: number;
  /** Modules in require.cache added by the measured work. */
  readonly modulesLoaded: number;
  /** ... of them from aws-cdk-lib, and from cdktf (the package root should load neither). */
  readonly cdkModules: number;
  readonly cdktfModules: number;
  /** synth: resources in the synthesized template (Terraform: managed resources, not data sources), by type. */
  readonly resources?: number;
  readonly resourceTypes?: Record<string, number>;
  /** synth, Terraform: data sources, by type. */
  readonly dataSourceTypes?: Record<string, number>;
  /** synth: bytes of the synthesized template (JSON). */
  readonly templateBytes?: number;
}

const startupMs = performance.now();

const spec = JSON.parse(process.argv[2]) as CaseSpec;

function resolveModule(id: string): string {
  // `./lib...` means the library next to this file's `../` (source tree or transpiled copy).
  return id.startsWith('./') ? path.join(__dirname, '..', id) : id;
}

function cacheKeys(): Set<string> {
  return new Set(Object.keys(require.cache));
}

function newModules(before: Set<string>): string[] {
  return Object.keys(require.cache).filter(k => !before.has(k));
}

function report(result: ChildResult): void {
  process.stdout.write(`@@BENCH@@ ${JSON.stringify(result)}\n`);
}

function memoryAtEnd() {
  const mem = process.memoryUsage();
  const usage = process.resourceUsage();
  return { rssEnd: mem.rss, heapUsedEnd: mem.heapUsed, maxRss: usage.maxRSS * 1024, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000 };
}

function countBy(modules: string[]) {
  return {
    modulesLoaded: modules.length,
    cdkModules: modules.filter(m => m.includes(`${path.sep}aws-cdk-lib${path.sep}`)).length,
    cdktfModules: modules.filter(m => /[\\/]cdktf[\\/]|[\\/]@cdktf[\\/]/.test(m)).length,
  };
}

function runRequire(): void {
  const before = cacheKeys();
  const { rss: rssBefore, heapUsed: heapUsedBefore } = process.memoryUsage();
  const t0 = performance.now();
  if (spec.module) require(resolveModule(spec.module));
  const loadMs = performance.now() - t0;
  report({ startupMs, loadMs, rssBefore, heapUsedBefore, ...memoryAtEnd(), ...countBy(newModules(before)) });
}

function runSynth(): void {
  if (spec.cloud === 'azure' || spec.cloud === 'gcp') {
    runSynthCdktf(spec.cloud === 'azure' ? loadAzure : loadVertex);
    return;
  }
  const count = spec.count ?? 1;
  const before = cacheKeys();
  const rssBefore = process.memoryUsage().rss;

  // --- load ---------------------------------------------------------------------------------------
  const t0 = performance.now();
  const cdk = require('aws-cdk-lib') as typeof import('aws-cdk-lib');
  let build: (stack: import('aws-cdk-lib').Stack, i: number) => void;
  let packTimer: { ms: number } | undefined;
  if (spec.impl === 'ours') {
    const lib = require(resolveModule('./lib')) as typeof import('../lib');
    if (spec.model === 'asset') {
      // Time the packer without changing the library: wrap its export (the SageMaker target calls
      // it through the module object, so the wrapper is what runs).
      const archiveModule = require(resolveModule('./lib/common/model-archive')) as typeof import('../lib/common/model-archive');
      const original = archiveModule.packModelArchive;
      const timer = { ms: 0 };
      packTimer = timer;
      (archiveModule as { packModelArchive: typeof original }).packModelArchive = (source, options) => {
        const s = performance.now();
        try { return original(source, options); } finally { timer.ms += performance.now() - s; }
      };
    }
    const modelFor = (i: number) => spec.model === 'asset'
      ? lib.ModelArtifact.fromLocalPath(spec.assetPath ?? path.join(spec.root, 'test', 'fixtures', 'linear-model'))
      : lib.ModelArtifact.fromUri(`s3://bench-models/m${i}/model.tar.gz`);
    build = (stack, i) => {
      new lib.ModelDeployment(stack, `M${i}`, {
        model: modelFor(i),
        serving: lib.ServingContainer.xgboost(),
        compute: lib.Compute.cpu({ vcpus: 4, memoryGiB: 16 }),
        scaling: { minReplicas: 2, maxReplicas: 4, target: lib.ScalingTarget.invocationsPerReplicaPerMinute(100) },
        // alpha has no network restriction to compare with.
        access: { network: lib.NetworkAccess.PUBLIC },
        target: lib.DeploymentTarget.sageMaker(),
      });
    };
  } else {
    const s3 = require('aws-cdk-lib/aws-s3') as typeof import('aws-cdk-lib/aws-s3');
    const sm = require('@aws-cdk/aws-sagemaker-alpha') as typeof import('@aws-cdk/aws-sagemaker-alpha');
    let bucket: import('aws-cdk-lib/aws-s3').IBucket | undefined;
    build = (stack, i) => {
      bucket ??= s3.Bucket.fromBucketName(stack, 'ModelBucket', 'bench-models');
      // The same image our xgboost preset resolves to in us-east-1 (image-catalog.generated.ts).
      const image = sm.ContainerImage.fromDlc('sagemaker-xgboost', '3.2-0', '683313688378');
      const model = new sm.Model(stack, `Model${i}`, {
        containers: [{ image, modelData: sm.ModelData.fromBucket(bucket, `m${i}/model.tar.gz`) }],
        networkIsolation: true,
      });
      const endpointConfig = new sm.EndpointConfig(stack, `Config${i}`, {
        instanceProductionVariants: [{ model, variantName: 'AllTraffic', instanceType: sm.InstanceType.M5_XLARGE, initialInstanceCount: 2 }],
      });
      const endpoint = new sm.Endpoint(stack, `Endpoint${i}`, { endpointConfig });
      // alpha's target = safetyFactor * maxRequestsPerSecond * 60 = 100 invocations per instance per minute.
      endpoint.findInstanceProductionVariant('AllTraffic')
        .autoScaleInstanceCount({ minCapacity: 2, maxCapacity: 4 })
        .scaleOnInvocations('Invocations', { maxRequestsPerSecond: 100 / 60, safetyFactor: 1 });
    };
  }
  const loadMs = performance.now() - t0;

  // --- construct + synth ---------------------------------------------------------------------------
  const t1 = performance.now();
  const app = new cdk.App({ outdir: spec.outdir, builtinCloudFormationValidation: spec.validation ?? true });
  const stack = new cdk.Stack(app, 'Bench', { env: { account: '111111111111', region: 'us-east-1' } });
  for (let i = 0; i < count; i++) build(stack, i);
  const t2 = performance.now();
  const assembly = app.synth();
  const t3 = performance.now();

  const measured = synthMeasurements(before, rssBefore, loadMs, t1, t2, t3);
  const template = assembly.getStackByName('Bench').template as { Resources?: Record<string, { Type: string }> };
  const resources = Object.values(template.Resources ?? {});
  report({
    ...measured,
    packMs: packTimer?.ms,
    resources: resources.length,
    resourceTypes: tally(resources, r => r.Type),
    templateBytes: JSON.stringify(template).length,
  });
}

/**
 * What every synth case reports, taken right after app.synth() (before the template is read):
 * load, construct (t1-t2) and app.synth (t2-t3) times, memory, CPU and the modules loaded.
 */
function synthMeasurements(before: Set<string>, rssBefore: number, loadMs: number, t1: number, t2: number, t3: number) {
  return { startupMs, loadMs, constructMs: t2 - t1, synthOnlyMs: t3 - t2, synthMs: t3 - t1, rssBefore, ...memoryAtEnd(), ...countBy(newModules(before)) };
}

/** Counts of `items` by `key`. */
function tally<T>(items: Iterable<T>, key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

type CdktfBuild = (stack: import('cdktf').TerraformStack, i: number) => void;

/**
 * N Azure ML endpoints in one cdktf TerraformStack: ours through ModelDeployment and
 * DeploymentTarget.azureMl (the facade, as the SageMaker case), or the hand-written raw stack.
 * The load step requires the same kind of code on both sides: cdktf, then either the package root
 * and the Azure ML target (its azurerm deep imports: the same as requiring
 * `cdk-model-deployment/azure-ml`, which the lazy load on the first deployment then finds in the
 * cache), or bench/raw-azure (its azurerm deep imports). So `synth` is construct + app.synth() on
 * both sides, with no module loading in it.
 */
function loadAzure(): CdktfBuild {
  const location = 'westeurope';
  const containerRegistryId = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-shared/providers/Microsoft.ContainerRegistry/registries/benchacr';
  const image = 'benchacr.azurecr.io/scorer:1.0.0';
  const localModelDir = spec.model === 'asset' ? spec.assetPath ?? path.join(spec.root, 'test', 'fixtures', 'linear-model') : undefined;
  const modelUri = (i: number) => `azureml://registries/bench/models/m${i}/versions/1`;
  if (spec.impl === 'ours') {
    const lib = require(resolveModule('./lib')) as typeof import('../lib');
    require(resolveModule('./lib/targets/azure-ml'));
    return (stack, i) => {
      new lib.ModelDeployment(stack, `M${i}`, {
        model: localModelDir !== undefined ? lib.ModelArtifact.fromLocalPath(localModelDir) : lib.ModelArtifact.fromUri(modelUri(i)),
        serving: lib.ServingContainer.custom({ image, port: 8080, healthPath: '/ping', predictPath: '/invocations' }),
        compute: lib.Compute.cpu({ vcpus: 4, memoryGiB: 16 }),
        scaling: { minReplicas: 2, maxReplicas: 4, target: lib.ScalingTarget.invocationsPerReplicaPerMinute(100) },
        // The raw stack declares no network restriction either.
        access: { network: lib.NetworkAccess.PUBLIC },
        target: lib.DeploymentTarget.azureMl({ location, containerRegistryId }),
      });
    };
  }
  const raw = require(resolveModule('./bench/raw-azure')) as typeof import('./raw-azure');
  return (stack, i) => raw.rawAzureDeployment(stack, i, { location, containerRegistryId, image, ...(localModelDir !== undefined ? { localModelDir } : { modelUri: modelUri(i) }) });
}

/**
 * N Vertex AI endpoints in one cdktf TerraformStack, each with a `gs://` model (no upload on either
 * side): ours through ModelDeployment and DeploymentTarget.vertexAi, or bench/raw-vertex.ts. Loaded
 * as for Azure: cdktf, then the package root and the Vertex AI target (its google deep imports), or
 * the raw module.
 */
function loadVertex(): CdktfBuild {
  const project = 'bench-project';
  const location = 'europe-west4';
  const image = 'europe-west4-docker.pkg.dev/bench-project/serving/scorer:1.0.0';
  const bucket = 'bench-models';
  if (spec.impl === 'ours') {
    const lib = require(resolveModule('./lib')) as typeof import('../lib');
    require(resolveModule('./lib/targets/vertex-ai'));
    return (stack, i) => {
      new lib.ModelDeployment(stack, `M${i}`, {
        model: lib.ModelArtifact.fromUri(`gs://${bucket}/m${i}/`),
        serving: lib.ServingContainer.custom({ image, port: 8080, healthPath: '/ping', predictPath: '/invocations' }),
        compute: lib.Compute.cpu({ vcpus: 4, memoryGiB: 16 }),
        // Vertex's v1 autoscaling metrics are accelerator duty cycle and CPU utilisation.
        scaling: { minReplicas: 2, maxReplicas: 4, target: lib.ScalingTarget.cpuPercent(60) },
        access: { network: lib.NetworkAccess.PUBLIC },
        target: lib.DeploymentTarget.vertexAi({ project, location }),
      });
    };
  }
  const raw = require(resolveModule('./bench/raw-vertex')) as typeof import('./raw-vertex');
  return (stack, i) => raw.rawVertexDeployment(stack, i, { project, location, image, bucket, prefix: `m${i}` });
}

/** N deployments in one cdktf TerraformStack (the builder from `load`, timed as the load step), synthesized to cdk.tf.json. */
function runSynthCdktf(load: () => CdktfBuild): void {
  const count = spec.count ?? 1;
  const before = cacheKeys();
  const rssBefore = process.memoryUsage().rss;

  // --- load ---------------------------------------------------------------------------------------
  const t0 = performance.now();
  const cdktf = require('cdktf') as typeof import('cdktf');
  const build = load();
  const loadMs = performance.now() - t0;

  // --- construct + synth ---------------------------------------------------------------------------
  const t1 = performance.now();
  const app = new cdktf.App({ outdir: spec.outdir });
  const stack = new cdktf.TerraformStack(app, 'bench');
  for (let i = 0; i < count; i++) build(stack, i);
  const t2 = performance.now();
  app.synth();
  const t3 = performance.now();

  const measured = synthMeasurements(before, rssBefore, loadMs, t1, t2, t3);
  const text = fs.readFileSync(path.join(spec.outdir!, 'stacks', 'bench', 'cdk.tf.json'), 'utf8');
  const json = JSON.parse(text) as { resource?: Record<string, Record<string, unknown>>; data?: Record<string, Record<string, unknown>> };
  const instances = (blocks: Record<string, Record<string, unknown>> = {}) => Object.entries(blocks).flatMap(([type, byName]) => Object.keys(byName).map(() => type));
  const resources = instances(json.resource);
  report({
    ...measured,
    resources: resources.length,
    resourceTypes: tally(resources, t => t),
    dataSourceTypes: tally(instances(json.data), t => t),
    templateBytes: JSON.stringify(json).length,
  });
}

if (spec.kind === 'require') runRequire();
else runSynth();
