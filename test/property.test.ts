/**
 * Property tests: random specs, mixing valid and invalid values for every field, either build or
 * are refused with ModelDeploymentValidationError (never another error type), and specs drawn only
 * from valid values always synthesize into a least-privilege SageMaker endpoint.
 *
 * Arbitraries produce plain descriptions (data), and `build*` turn them into spec objects inside the
 * property, because the factories themselves validate and may throw. Counterexamples therefore
 * print as readable data.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import fc from 'fast-check';
import {
  ArtifactLayout,
  AuthMode,
  Compute,
  GpuKind,
  InstanceOffer,
  ModelArtifact,
  ModelDeploymentValidationError,
  NetworkAccess,
  Rollout,
  ScalingTarget,
  ServingContainer,
} from '../lib';
import { findInstance } from '../lib/spec/instance-catalog';
import {
  ArtifactDesc, ComputeDesc, Opts, Preset, RolloutDesc, ScalingTargetDesc, ServingDesc, SpecDesc, TargetFactory,
  buildSpec, opt, optRecord, validEndpointName, validMonitoring, validRollout,
} from './support/spec-arbitraries';
import { resolveSpec } from '../lib/spec/spec';
import { DlcFramework, listDlcVersions } from '../lib/targets/sagemaker/image-catalog';
import { SAGEMAKER_INSTANCE_TYPES } from '../lib/targets/sagemaker/instance-types';
import { SageMakerModelEndpoint, SageMakerModelEndpointProps } from '../lib/targets/sagemaker';
import { TerraformStack, Testing } from 'cdktf';
import { AzureMlModelEndpoint } from '../lib/targets/azure-ml';
import { REGISTRY_ID, STORAGE_ID, WORKSPACE_ID, danglingReferences } from './azure-ml/support';
import { validateAzapiStack } from './support/azure/azapi-validator';
import { VertexAiModelEndpoint } from '../lib/targets/vertex-ai';
import { vertexBridgeRequestProblems } from '../lib/targets/vertex-ai/bridge-request';
import { danglingReferences as vertexDanglingReferences } from './vertex-ai/support';

/** Multiplies every numRuns, e.g. PROPERTY_RUNS_SCALE=10 for a long local hunt. */
const SCALE = Number(process.env.PROPERTY_RUNS_SCALE ?? '1');
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));

const SPEC_RUNS = runs(5000);
const SYNTH_RUNS = runs(500);
const VALID_RUNS = runs(400);
const AZURE_RUNS = runs(300);
const VERTEX_RUNS = runs(300);

const FIXTURE = path.join(__dirname, 'fixtures', 'linear-model');
const MISSING = path.join(__dirname, 'fixtures', 'no-such-model');
const ENV = { account: '111111111111', region: 'us-east-1' };
const ECR = '123456789012.dkr.ecr.us-east-1.amazonaws.com';

let outdir: string;
beforeAll(() => {
  outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'property-test-'));
});
afterAll(() => {
  fs.rmSync(outdir, { recursive: true, force: true });
});

// =================================================================================================
// Arbitraries: values of every kind, valid and invalid
// =================================================================================================

/** A number for a field whose valid range is [min, max]: in range, at the edges, just outside, or anything. */
function num(min: number, max: number, int = true): fc.Arbitrary<unknown> {
  const inRange = int ? fc.integer({ min, max }) : fc.double({ min, max, noNaN: true });
  const edges = fc.constantFrom(min, max, min - 1, max + 1, int ? min + 0.5 : min - 0.001);
  const anything = fc.oneof(
    fc.integer({ min: -1000, max: 100000 }),
    fc.double(),
    fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, Number.MAX_SAFE_INTEGER),
    fc.constantFrom('5' as unknown, null, true, {}, []),
  );
  return fc.oneof({ arbitrary: inRange, weight: 5 }, { arbitrary: edges, weight: 2 }, { arbitrary: anything, weight: 1 });
}


const anyString = fc.oneof(
  { arbitrary: fc.string({ maxLength: 30 }), weight: 4 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 12 }), weight: 1 },
  { arbitrary: fc.constantFrom('', ' ', '-', '/', 'a_b', 'A', '0', '*'), weight: 1 },
);

const lower = 'abcdefghijklmnopqrstuvwxyz0123456789';
const segment = fc.string({ unit: fc.constantFrom(...`${lower}._-`.split('')), minLength: 1, maxLength: 10 });
const bucket = fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,18}[a-z0-9]$/);
/** An S3 key (no leading slash) made of ordinary characters, never ending in '/'. */
const plainKey = fc.array(segment, { minLength: 1, maxLength: 4 }).map(parts => parts.join('/'));
/**
 * An S3 key with characters S3 allows but that mean something elsewhere: `*` and `?` are IAM
 * wildcards, `${...}` an IAM policy variable, spaces and `+` need URL encoding.
 */
const specialKey = fc.array(
  fc.oneof(
    fc.string({ unit: fc.constantFrom(...`${lower}._-*?$ +=!()'{}`.split('')), minLength: 1, maxLength: 10 }),
    fc.constantFrom('*', 'model?', '${aws:username}', 'a b', 'x+y', "(1)'"),
  ),
  { minLength: 1, maxLength: 3 },
).map(parts => parts.join('/'));

interface ValidUri { readonly uri: string; readonly layout?: ArtifactLayout; readonly effectiveLayout: ArtifactLayout }

/** Valid S3 artifact URIs for SageMaker: a .tar.gz object, a prefix, or a single file. */
function validS3Uri(key: fc.Arbitrary<string> = plainKey): fc.Arbitrary<ValidUri> {
  return fc.oneof(
    fc.tuple(bucket, key).map(([b, k]) => ({ uri: `s3://${b}/${k}.tar.gz`, effectiveLayout: ArtifactLayout.TAR_GZ })),
    fc.tuple(bucket, key, fc.boolean()).map(([b, k, explicit]) => ({
      uri: `s3://${b}/${k}/`, layout: explicit ? ArtifactLayout.PREFIX : undefined, effectiveLayout: ArtifactLayout.PREFIX,
    })),
    fc.tuple(bucket, key, fc.constantFrom('.onnx', '.bin', '', '.pt')).filter(([, k, ext]) => !`${k}${ext}`.endsWith('.tar.gz'))
      .map(([b, k, ext]) => ({ uri: `s3://${b}/${k}${ext}`, effectiveLayout: ArtifactLayout.FILES })),
    // A compressed archive whose name does not say so.
    fc.tuple(bucket, key).map(([b, k]) => ({ uri: `s3://${b}/${k}.model`, layout: ArtifactLayout.TAR_GZ, effectiveLayout: ArtifactLayout.TAR_GZ })),
  );
}

const anyArtifact: fc.Arbitrary<ArtifactDesc> = fc.oneof(
  { arbitrary: validS3Uri().map(v => ({ kind: 'uri' as const, uri: v.uri, layout: v.layout })), weight: 10 },
  { arbitrary: fc.record({ kind: fc.constant('uri' as const), uri: anyString }), weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant('uri' as const),
      uri: fc.oneof(
        fc.tuple(bucket, plainKey).map(([b, k]) => `gs://${b}/${k}`),
        fc.tuple(bucket, plainKey).map(([b, k]) => `https://${b.replace(/[^a-z0-9]/g, 'x').slice(0, 20)}acct.blob.core.windows.net/models/${k}`),
        fc.constantFrom('azureml://registries/r/models/m/versions/1', 'https://example.com/model.tar.gz', 's3://my-bucket', 's3://my-bucket/', 'ftp://x/y'),
        fc.tuple(bucket, anyString).map(([b, k]) => `s3://${b}/${k}`),
      ),
      layout: opt(fc.constantFrom(...Object.values(ArtifactLayout), 'zip' as ArtifactLayout)),
    }, { requiredKeys: ['kind', 'uri'] }),
    weight: 3,
  },
  { arbitrary: fc.constantFrom<ArtifactDesc>({ kind: 'local', path: FIXTURE }, { kind: 'local', path: MISSING }, { kind: 'local', path: '' }, { kind: 'local', path: '  ' }), weight: 2 },
);

const validEcrImage = fc.tuple(
  fc.array(segment.filter(s => /^[a-z0-9]/.test(s) && /[a-z0-9]$/.test(s) && !/[._-]{2}/.test(s)), { minLength: 1, maxLength: 2 }),
  fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}$/),
).map(([repo, tag]) => `${ECR}/${repo.join('/')}:${tag}`);

const anyImage = fc.oneof(
  { arbitrary: validEcrImage, weight: 4 },
  { arbitrary: fc.constantFrom('nginx', 'ghcr.io/org/model:1', `${ECR}/repo`, `${ECR}/Repo:1`, `${ECR}/repo@sha256:${'a'.repeat(64)}`, '123.dkr.ecr.us-east-1.amazonaws.com/r:1'), weight: 2 },
  { arbitrary: anyString, weight: 1 },
);

const envName = fc.oneof(
  { arbitrary: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/), weight: 5 },
  { arbitrary: anyString, weight: 1 },
);
const envValue = fc.oneof(
  { arbitrary: fc.string({ maxLength: 40 }), weight: 6 },
  { arbitrary: fc.constantFrom('x'.repeat(1024), 'x'.repeat(1025)), weight: 1 },
  { arbitrary: fc.constantFrom(5 as unknown, null, undefined), weight: 1 },
);
const anyEnvironment = fc.oneof(
  { arbitrary: fc.dictionary(envName, envValue, { maxKeys: 3 }), weight: 6 },
  { arbitrary: fc.constantFrom('A=1' as unknown, ['A=1'], null), weight: 1 },
);

const knownVersions = Object.values(DlcFramework).flatMap(f => listDlcVersions(f));
const anyFrameworkVersion = fc.oneof(
  { arbitrary: fc.constantFrom(...knownVersions, '2.3', '1.2-1'), weight: 3 },
  { arbitrary: anyString, weight: 1 },
);

const baseServingOptions = {
  image: anyImage,
  frameworkVersion: anyFrameworkVersion,
  environment: anyEnvironment,
  startupTimeoutSeconds: num(30, 7200),
};

const anyModelName = fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/), anyString);
const anyUrlPath = fc.oneof(
  { arbitrary: fc.constantFrom('/ping', '/invocations', '/health'), weight: 3 },
  { arbitrary: fc.stringMatching(/^\/[A-Za-z0-9._~-]{0,12}$/), weight: 1 },
  { arbitrary: anyString, weight: 1 },
);

/** Options that are sometimes not an object at all. */
function optionsOrJunk(arb: fc.Arbitrary<Opts>): fc.Arbitrary<Opts | undefined> {
  return fc.oneof({ arbitrary: arb, weight: 12 }, { arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: fc.constantFrom(null as unknown as Opts), weight: 1 });
}

const anyServing: fc.Arbitrary<ServingDesc> = fc.oneof(
  fc.record({ preset: fc.constantFrom<Preset>('triton', 'torchServe', 'tfServing'), options: optionsOrJunk(optRecord({ ...baseServingOptions, modelName: anyModelName })) }),
  fc.record({ preset: fc.constantFrom<Preset>('sklearn', 'xgboost'), options: optionsOrJunk(optRecord(baseServingOptions)) }),
  fc.record({ preset: fc.constant<Preset>('vllm'), options: optionsOrJunk(optRecord({ ...baseServingOptions, modelId: fc.oneof(fc.constantFrom('meta-llama/Llama-3.1-8B-Instruct'), anyString) })) }),
  fc.record({
    preset: fc.constant<Preset>('custom'),
    options: optionsOrJunk(optRecord({
      ...baseServingOptions,
      image: anyImage,
      port: fc.oneof({ arbitrary: fc.constant(8080), weight: 3 }, { arbitrary: num(1, 65535), weight: 1 }),
      healthPath: anyUrlPath,
      predictPath: anyUrlPath,
    })),
  }),
);

const anyGpuKind = fc.oneof({ arbitrary: fc.constantFrom(...Object.values(GpuKind)), weight: 8 }, { arbitrary: fc.constantFrom('nvidia-v100', 'A10G', '', undefined), weight: 1 });

const anyCompute: fc.Arbitrary<ComputeDesc | undefined> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('cpu' as const), options: optionsOrJunk(optRecord({ vcpus: num(1, 96), memoryGiB: num(0.5, 768, false) })) }), weight: 4 },
  {
    arbitrary: fc.record({
      kind: fc.constant('gpu' as const),
      options: optionsOrJunk(fc.record({ gpu: anyGpuKind, count: opt(fc.oneof(fc.constantFrom(1, 1, 2, 4, 8), num(1, 16))), vcpus: opt(num(1, 64)), memoryGiB: opt(num(0.5, 512, false)) }) as fc.Arbitrary<Opts>),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant('raw' as const), value: fc.constantFrom({ kind: 'cpu', vcpus: 2 } as unknown, 'cpu', null) }), weight: 1 },
);

const anyScalingTarget: fc.Arbitrary<ScalingTargetDesc> = fc.oneof(
  { arbitrary: fc.record({ factory: fc.constantFrom<TargetFactory>('cpuPercent', 'gpuPercent'), value: num(1, 100, false) }), weight: 4 },
  { arbitrary: fc.record({ factory: fc.constant<TargetFactory>('invocationsPerReplicaPerMinute'), value: num(1, 1_000_000, false) }), weight: 2 },
  { arbitrary: fc.record({ raw: fc.constantFrom({ metric: 'cpu-percent', value: 50 } as unknown, 70, 'gpu') }), weight: 1 },
);

const anyScaling = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 3 },
  {
    arbitrary: fc.record({
      props: optRecord({
        minReplicas: num(0, 4),
        maxReplicas: num(1, 8),
        scaleInCooldownSeconds: num(0, 86400),
        scaleOutCooldownSeconds: num(0, 86400),
      }),
      target: opt(anyScalingTarget),
    }, { requiredKeys: ['props'] }),
    weight: 6,
  },
  { arbitrary: fc.record({ raw: fc.constantFrom(3 as unknown, null, 'auto', []) }), weight: 1 },
);

const rolloutCommon = { rollbackOnAlarms: fc.oneof(fc.boolean(), fc.constantFrom('yes' as unknown, 1)), terminationWaitMinutes: num(0, 60) };
const anyRollout: fc.Arbitrary<RolloutDesc | undefined> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 3 },
  { arbitrary: fc.record({ factory: fc.constant('allAtOnce' as const), options: optionsOrJunk(optRecord({ ...rolloutCommon, bakeMinutes: num(0, 60) })) }), weight: 2 },
  { arbitrary: fc.record({ factory: fc.constant('canary' as const), options: optionsOrJunk(optRecord({ ...rolloutCommon, percent: num(1, 50), bakeMinutes: num(0, 60) })) }), weight: 2 },
  { arbitrary: fc.record({ factory: fc.constant('linear' as const), options: optionsOrJunk(optRecord({ ...rolloutCommon, stepPercent: num(10, 50), intervalMinutes: num(0, 60) })) }), weight: 2 },
  { arbitrary: fc.record({ raw: fc.constantFrom({ strategy: 'canary' } as unknown, 'canary') }), weight: 1 },
);

const anyAccess = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 2 },
  {
    arbitrary: optRecord({
      auth: fc.constantFrom<unknown>(AuthMode.IAM, AuthMode.IAM, AuthMode.KEY, AuthMode.TOKEN, 'none', 'IAM'),
      network: fc.constantFrom<unknown>(NetworkAccess.PRIVATE, NetworkAccess.PUBLIC, NetworkAccess.PUBLIC, 'internet'),
    }),
    weight: 6,
  },
  { arbitrary: fc.constantFrom<unknown>({ netwrok: 'public' }, 'public', null), weight: 1 },
);

const anyCapture = fc.oneof(
  { arbitrary: optRecord({ samplingPercent: num(1, 100), requests: fc.oneof(fc.boolean(), fc.constant('no' as unknown)), responses: fc.boolean() }), weight: 5 },
  { arbitrary: fc.constantFrom<unknown>(true, 'all'), weight: 1 },
);
const anyMonitoring = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 2 },
  {
    arbitrary: optRecord({
      alarms: fc.oneof(fc.boolean(), fc.constant('on' as unknown)),
      errorRatePercent: num(0.01, 100, false),
      latencyP99Ms: num(1, 3_600_000, false),
      evaluationMinutes: num(1, 1440),
      capture: anyCapture,
    }),
    weight: 6,
  },
  { arbitrary: fc.constantFrom<unknown>({ alarm: true }, false), weight: 1 },
);

const anyEndpointName = fc.oneof(
  { arbitrary: validEndpointName, weight: 4 },
  { arbitrary: fc.constantFrom('a'.repeat(63), 'a'.repeat(64), 'my_endpoint', '1abc', 'a-', ''), weight: 1 },
  { arbitrary: anyString, weight: 1 },
);

const validTagKey = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 _.:/=+@-]{0,20}$/);
const validTagValue = fc.stringMatching(/^[A-Za-z0-9 _.:/=+@-]{0,20}$/);
const anyTags = fc.oneof(
  { arbitrary: fc.dictionary(validTagKey, validTagValue, { maxKeys: 3 }), weight: 4 },
  { arbitrary: fc.dictionary(fc.oneof(validTagKey, anyString), fc.oneof(validTagValue, anyString, fc.constant(7 as unknown as string)), { maxKeys: 3 }), weight: 2 },
  { arbitrary: fc.constantFrom<unknown>('team=ml', null, ['a'], Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']))), weight: 1 },
);

const anyExtra = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 20 },
  { arbitrary: fc.constantFrom<Opts>({ computer: Compute.cpu() }, { scailng: {} }, { instancetype: 'ml.m5.large' }), weight: 1 },
);

const anySpecFields = {
  model: anyArtifact,
  serving: anyServing,
  compute: opt(anyCompute),
  scaling: anyScaling,
  rollout: anyRollout,
  access: anyAccess,
  monitoring: anyMonitoring,
  endpointName: opt(anyEndpointName),
  tags: opt(anyTags),
  extra: anyExtra,
};

// --- SageMaker options ---------------------------------------------------------------------------

const sageMakerNames = SAGEMAKER_INSTANCE_TYPES.map(o => o.name);
const anyInstanceType = fc.oneof(
  { arbitrary: fc.constantFrom(...sageMakerNames), weight: 4 },
  { arbitrary: fc.constantFrom('ml.m6i.large', 'ml.g5.xlarge', 'ml.p3.2xlarge', 'ml.inf2.xlarge', 'ml.c5d.large', 'ml.nope', 'm5.large', 'ML.M5.LARGE'), weight: 2 },
  { arbitrary: anyString, weight: 1 },
);

const anyServerless = fc.oneof(
  optRecord({ memoryGiB: num(1, 6), maxConcurrency: num(1, 200), provisionedConcurrency: num(1, 20) }),
  fc.constant({}),
);
const anyAsync = optRecord({ maxConcurrentInvocationsPerInstance: num(1, 1000) });

const anySageMakerOptions = fc.tuple(
  optRecord({
    instanceType: anyInstanceType,
    volumeSizeGiB: num(1, 512),
    modelDownloadTimeoutSeconds: num(60, 3600),
    networkIsolation: fc.boolean(),
    variantName: fc.oneof(fc.constantFrom('AllTraffic', 'Blue', 'a-b'), anyString),
    invokeVpcEndpointIds: fc.constantFrom(['vpce-0123456789abcdef0'], [] as string[]),
  }),
  // Real-time most of the time; serverless, async, and (refused) both, less often.
  fc.oneof(
    { arbitrary: fc.constant({}), weight: 12 },
    { arbitrary: anyServerless.map(serverless => ({ serverless })), weight: 3 },
    { arbitrary: anyAsync.map(asyncInference => ({ asyncInference })), weight: 3 },
    { arbitrary: fc.tuple(anyServerless, anyAsync).map(([serverless, asyncInference]) => ({ serverless, asyncInference })), weight: 1 },
  ),
).map(([options, mode]): Opts => ({ ...options, ...mode }));

interface SynthDesc {
  readonly spec: SpecDesc;
  readonly sageMaker: Opts;
  /** An environment-agnostic stack (region and account are tokens), instead of 111111111111/us-east-1. */
  readonly agnostic?: boolean;
}

// =================================================================================================
// Checking the outcome
// =================================================================================================

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.constructor.name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 6).join('\n')}`;
  return `non-Error thrown: ${String(e)}`;
}

/** Either fn succeeds, or it throws a well-formed ModelDeploymentValidationError. Returns the error, if any. */
function buildsOrRefusesCleanly(fn: () => void): ModelDeploymentValidationError | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (!(e instanceof ModelDeploymentValidationError)) {
      throw new Error(`expected success or ModelDeploymentValidationError, got ${describeError(e)}`, { cause: e });
    }
    if (typeof e.field !== 'string' || e.field.length === 0) throw new Error(`empty field in: ${e.message}`, { cause: e });
    if (typeof e.allowed !== 'string' || e.allowed.length === 0) throw new Error(`empty allowed in: ${e.message}`, { cause: e });
    if (!e.message.includes(e.field)) throw new Error(`message does not name the field ${e.field}: ${e.message}`, { cause: e });
    if (!e.message.includes(e.allowed)) throw new Error(`message does not say what is allowed: ${e.message}`, { cause: e });
    if (!e.message.includes(e.value)) throw new Error(`message does not show the value: ${e.message}`, { cause: e });
    return e;
  }
}

/**
 * A fresh app and stack. CloudFormation schema validation at synthesis is made strict, so a value
 * the spec accepts but CloudFormation would refuse fails the property instead of only warning.
 */
function newStack(agnostic = false): Stack {
  const app = new App({ outdir, context: { '@aws-cdk/core:validateAgainstDefaultRules': true } });
  return new Stack(app, 'S', agnostic ? {} : { env: ENV });
}

/** Outcome tallies, so a run that only ever hits one refusal would show up. */
function tally(): { count: (e: ModelDeploymentValidationError | undefined) => void; summary: () => { ok: number; refused: number; fields: number } } {
  let ok = 0;
  let refused = 0;
  const fields = new Set<string>();
  return {
    count: e => {
      if (e === undefined) ok++;
      else {
        refused++;
        fields.add(e.field);
      }
    },
    summary: () => ({ ok, refused, fields: fields.size }),
  };
}

// =================================================================================================
// Valid specs only
// =================================================================================================

const CPU_OFFERS = SAGEMAKER_INSTANCE_TYPES.filter(o => o.gpuCount === 0);
const GPU_OFFERS = SAGEMAKER_INSTANCE_TYPES.filter(o => o.gpuCount > 0);

type Mode = 'realtime' | 'serverless' | 'async';

interface ValidDesc extends SynthDesc {
  readonly mode: Mode;
  readonly effectiveLayout: ArtifactLayout;
  readonly minReplicas: number;
}

/** Options no larger than `offer`, so the catalog always finds an instance. */
function computeWithin(offer: InstanceOffer): fc.Arbitrary<ComputeDesc> {
  const size = {
    vcpus: opt(fc.integer({ min: 1, max: offer.vcpus })),
    memoryGiB: opt(fc.double({ min: 0.5, max: offer.memoryGiB, noNaN: true })),
  };
  if (offer.gpuCount === 0) return fc.record({ kind: fc.constant('cpu' as const), options: optRecord(size) });
  return fc.record({
    kind: fc.constant('gpu' as const),
    options: fc.record({ gpu: fc.constant(offer.gpu!), count: fc.constant(offer.gpuCount), ...size },
      { requiredKeys: offer.gpuCount === 1 ? ['gpu'] : ['gpu', 'count'] }) as fc.Arbitrary<Opts>,
  });
}

function versionsFor(framework: DlcFramework): fc.Arbitrary<string | undefined> {
  return opt(fc.constantFrom(...listDlcVersions(framework)));
}

/** A serving container SageMaker can run on `processor`, with a valid startup timeout. */
function validServing(processor: 'cpu' | 'gpu'): fc.Arbitrary<ServingDesc> {
  const env = opt(fc.dictionary(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/), fc.string({ maxLength: 40 }), { maxKeys: 3 }));
  const startupTimeoutSeconds = opt(fc.integer({ min: 60, max: 3600 }));
  const named = (preset: Preset, framework: DlcFramework) => fc.record({
    preset: fc.constant(preset),
    options: optRecord({ frameworkVersion: versionsFor(framework), modelName: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/), environment: env, startupTimeoutSeconds }),
  });
  const choices: Array<fc.Arbitrary<ServingDesc>> = [
    named('triton', DlcFramework.TRITON),
    named('torchServe', DlcFramework.PYTORCH),
    named('tfServing', DlcFramework.TENSORFLOW),
    fc.record({ preset: fc.constant<Preset>('xgboost'), options: optRecord({ frameworkVersion: versionsFor(DlcFramework.XGBOOST), environment: env, startupTimeoutSeconds }) }),
    fc.record({
      preset: fc.constant<Preset>('custom'),
      options: fc.record({
        image: validEcrImage, environment: env, startupTimeoutSeconds,
        port: opt(fc.constant(8080)), healthPath: opt(fc.constant('/ping')), predictPath: opt(fc.constant('/invocations')),
      }, { requiredKeys: ['image'] }) as fc.Arbitrary<Opts>,
    }),
    // A preset with the user's own ECR image.
    fc.record({ preset: fc.constantFrom<Preset>('torchServe', 'sklearn', 'xgboost'), options: fc.record({ image: validEcrImage, environment: env, startupTimeoutSeconds }, { requiredKeys: ['image'] }) as fc.Arbitrary<Opts> }),
  ];
  if (processor === 'cpu') {
    choices.push(fc.record({ preset: fc.constant<Preset>('sklearn'), options: optRecord({ frameworkVersion: versionsFor(DlcFramework.SKLEARN), environment: env, startupTimeoutSeconds }) }));
  } else {
    choices.push(fc.record({
      preset: fc.constant<Preset>('vllm'),
      options: fc.record({ modelId: fc.constantFrom('meta-llama/Llama-3.1-8B-Instruct', 'mistralai/Mistral-7B-v0.3', '/opt/ml/model'), frameworkVersion: versionsFor(DlcFramework.VLLM), environment: env, startupTimeoutSeconds }, { requiredKeys: ['modelId'] }) as fc.Arbitrary<Opts>,
    }));
  }
  return fc.oneof(...choices);
}

const validArtifact: fc.Arbitrary<{ desc: ArtifactDesc; effectiveLayout: ArtifactLayout }> = fc.oneof(
  { arbitrary: validS3Uri().map(v => ({ desc: { kind: 'uri' as const, uri: v.uri, layout: v.layout }, effectiveLayout: v.effectiveLayout })), weight: 27 },
  { arbitrary: validS3Uri(specialKey).map(v => ({ desc: { kind: 'uri' as const, uri: v.uri, layout: v.layout }, effectiveLayout: v.effectiveLayout })), weight: 3 },
  { arbitrary: fc.constant({ desc: { kind: 'local' as const, path: FIXTURE }, effectiveLayout: ArtifactLayout.FILES }), weight: 1 },
);


const validTags = opt(fc.dictionary(
  fc.oneof({ arbitrary: validTagKey, weight: 12 }, { arbitrary: fc.constantFrom('aws:team', 'Name', 'cost center', 'a=b'), weight: 1 }),
  validTagValue,
  { maxKeys: 3 },
));
const validVariant = opt(fc.stringMatching(/^[a-zA-Z0-9](-?[a-zA-Z0-9]){0,20}$/));

/** Seconds SageMaker needs for a blue/green rollout; the target refuses more than 8 hours. */
function rolloutSeconds(startup: number, rollout: RolloutDesc | undefined): number {
  if (rollout === undefined || 'raw' in rollout) return 2 * startup + 600;
  const o = (rollout.options ?? {}) as { bakeMinutes?: number; intervalMinutes?: number; stepPercent?: number; terminationWaitMinutes?: number };
  const wait = (rollout.factory === 'linear' ? o.intervalMinutes ?? 5 : rollout.factory === 'canary' ? o.bakeMinutes ?? 10 : o.bakeMinutes ?? 0) * 60;
  const steps = rollout.factory === 'linear' ? Math.ceil(100 / (o.stepPercent ?? 20)) : rollout.factory === 'canary' ? 2 : 1;
  return 2 * startup + steps * wait + (o.terminationWaitMinutes ?? 0) * 60 + 600;
}


/** Real-time or async: instances, chosen by the catalog or named. */
const validInstanceBacked: fc.Arbitrary<ValidDesc> = fc.tuple(fc.constantFrom<Mode>('realtime', 'realtime', 'async'), fc.constantFrom(...SAGEMAKER_INSTANCE_TYPES), fc.boolean())
  .chain(([mode, offer, nameIt]) => {
    const gpu = offer.gpuCount > 0;
    // A named instance: another catalog instance with at least the same GPUs (or the offer
    // itself), or one the catalog does not know (its GPU count then comes from the SDK's table).
    const catalogued = (gpu ? GPU_OFFERS.filter(o => o.gpu === offer.gpu && o.gpuCount >= offer.gpuCount) : CPU_OFFERS).map(o => o.name);
    const uncatalogued = gpu ? (offer.gpuCount === 1 ? ['ml.p3.2xlarge'] : []) : ['ml.m6i.large', 'ml.c7i.2xlarge', 'ml.inf2.xlarge', 'ml.m5d.large'];
    const named = nameIt
      ? fc.oneof({ arbitrary: fc.constantFrom(...catalogued), weight: 4 }, { arbitrary: fc.constantFrom(...(uncatalogued.length > 0 ? uncatalogued : catalogued)), weight: 1 })
      : fc.constant(undefined);
    const targets: Array<fc.Arbitrary<ScalingTargetDesc>> = [
      fc.record({ factory: fc.constant<TargetFactory>('cpuPercent'), value: fc.double({ min: 1, max: 100, noNaN: true }) }),
      fc.record({ factory: fc.constant<TargetFactory>('invocationsPerReplicaPerMinute'), value: fc.double({ min: 1, max: 1_000_000, noNaN: true }) }),
    ];
    if (gpu) targets.push(fc.record({ factory: fc.constant<TargetFactory>('gpuPercent'), value: fc.double({ min: 1, max: 100, noNaN: true }) }));
    return fc.record({
      artifact: validArtifact,
      serving: validServing(gpu ? 'gpu' : 'cpu'),
      compute: offer === CPU_OFFERS[0] ? fc.oneof(fc.constant(undefined), computeWithin(offer)) : computeWithin(offer),
      rollout: validRollout,
      minReplicas: fc.integer({ min: 1, max: 4 }),
      extraReplicas: opt(fc.integer({ min: 0, max: 4 })),
      cooldowns: optRecord({ scaleInCooldownSeconds: fc.integer({ min: 0, max: 86400 }), scaleOutCooldownSeconds: fc.integer({ min: 0, max: 86400 }) }),
      target: opt(fc.oneof(...targets)),
      auth: opt(fc.constant(AuthMode.IAM)),
      network: opt(fc.constantFrom(NetworkAccess.PRIVATE, NetworkAccess.PUBLIC)),
      monitoring: validMonitoring(true),
      endpointName: opt(validEndpointName),
      tags: validTags,
      instanceType: named,
      volumeSizeGiB: gpu ? fc.constant(undefined) : opt(fc.integer({ min: 1, max: 512 })),
      modelDownloadTimeoutSeconds: opt(fc.integer({ min: 60, max: 3600 })),
      isolation: opt(fc.boolean()),
      variantName: validVariant,
      vpce: fc.boolean(),
      asyncPerInstance: opt(fc.integer({ min: 1, max: 1000 })),
      agnostic: fc.boolean(),
    }).map((r): ValidDesc => {
      const strategyNeedsTwo = r.rollout !== undefined && !('raw' in r.rollout) && r.rollout.factory !== 'allAtOnce';
      const minReplicas = strategyNeedsTwo ? Math.max(2, r.minReplicas) : r.minReplicas;
      const known = r.instanceType === undefined || findInstance(SAGEMAKER_INSTANCE_TYPES, r.instanceType) !== undefined;
      // The catalog's vCPU and GPU counts turn a utilisation target into SageMaker's summed metric;
      // for an instance it does not know, only invocations per replica can be tracked.
      const target: ScalingTargetDesc | undefined = known ? r.target
        : r.target !== undefined && 'factory' in r.target && r.target.factory === 'invocationsPerReplicaPerMinute' ? r.target
          : { factory: 'invocationsPerReplicaPerMinute', value: 1000 };
      // Instance types with local NVMe storage take no volume size.
      const volumeSizeGiB = r.instanceType !== undefined && /^ml\.[a-z0-9]+d\./.test(r.instanceType) ? undefined : r.volumeSizeGiB;
      const network = r.network ?? NetworkAccess.PRIVATE;
      const spec: SpecDesc = {
        model: r.artifact.desc,
        serving: r.serving,
        compute: r.compute,
        scaling: {
          props: { minReplicas, maxReplicas: r.extraReplicas === undefined ? undefined : minReplicas + r.extraReplicas, ...r.cooldowns },
          target,
        },
        rollout: r.rollout,
        access: { auth: r.auth, network },
        monitoring: r.monitoring,
        endpointName: r.endpointName,
        tags: r.tags,
      };
      const sageMaker: Opts = {
        instanceType: r.instanceType,
        volumeSizeGiB,
        modelDownloadTimeoutSeconds: r.modelDownloadTimeoutSeconds,
        // Without isolation the container needs a public network (VPCs are left out here).
        networkIsolation: r.isolation === false && network === NetworkAccess.PRIVATE ? undefined : r.isolation,
        variantName: r.variantName,
        // PRIVATE needs the runtime VPC endpoints callers come through (one or two here).
        invokeVpcEndpointIds: network !== NetworkAccess.PRIVATE ? undefined : r.vpce ? ['vpce-0123456789abcdef0', 'vpce-0abc1234'] : ['vpce-0abc1234'],
        asyncInference: mode === 'async' ? { maxConcurrentInvocationsPerInstance: r.asyncPerInstance } : undefined,
      };
      return { mode, spec, sageMaker, effectiveLayout: r.artifact.effectiveLayout, minReplicas, agnostic: r.agnostic };
    });
  })
  .filter(d => {
    const startup = ((d.spec.serving.options ?? {}) as { startupTimeoutSeconds?: number }).startupTimeoutSeconds ?? 600;
    return rolloutSeconds(startup, d.spec.rollout) <= 28800;
  });

/** Serverless: CPU only, one "replica", all at once, public, no capture. */
const validServerless: fc.Arbitrary<ValidDesc> = fc.record({
  artifact: validArtifact,
  serving: validServing('cpu'),
  compute: opt(computeWithin(CPU_OFFERS[CPU_OFFERS.length - 1])),
  fixed: fc.boolean(),
  rollout: opt(fc.record({ factory: fc.constant('allAtOnce' as const), options: optRecord({ bakeMinutes: fc.integer({ min: 0, max: 60 }), terminationWaitMinutes: fc.integer({ min: 0, max: 60 }) }) })),
  monitoring: validMonitoring(false),
  endpointName: opt(validEndpointName),
  tags: validTags,
  memoryGiB: opt(fc.integer({ min: 1, max: 6 })),
  maxConcurrency: fc.integer({ min: 1, max: 200 }),
  provisioned: opt(fc.integer({ min: 1, max: 200 })),
  isolation: opt(fc.constant(false)),
  agnostic: fc.boolean(),
}).map((r): ValidDesc => ({
  mode: 'serverless',
  agnostic: r.agnostic,
  effectiveLayout: r.artifact.effectiveLayout,
  minReplicas: 1,
  spec: {
    model: r.artifact.desc,
    serving: r.serving,
    compute: r.compute,
    scaling: r.fixed ? { props: { minReplicas: 1, maxReplicas: 1 } } : undefined,
    rollout: r.rollout,
    access: { network: NetworkAccess.PUBLIC },
    monitoring: r.monitoring,
    endpointName: r.endpointName,
    tags: r.tags,
  },
  sageMaker: {
    serverless: { memoryGiB: r.memoryGiB, maxConcurrency: r.maxConcurrency, provisionedConcurrency: r.provisioned === undefined ? undefined : Math.min(r.provisioned, r.maxConcurrency) },
    networkIsolation: r.isolation,
  },
}));

const validSynth: fc.Arbitrary<ValidDesc> = fc.oneof({ arbitrary: validInstanceBacked, weight: 4 }, { arbitrary: validServerless, weight: 1 });

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Fields of a valid description that hold edge values the spec accepts today but that the library
 * may rightly refuse instead (with ModelDeploymentValidationError naming the field): S3 keys with
 * IAM wildcard or policy-variable characters, empty tag values, `aws:` tag keys. Synthesizing them
 * must still meet every assertion below.
 */
function mayRefuse(desc: SynthDesc): string[] {
  const fields: string[] = [];
  if (/[*?$]/.test(artifactKey(desc.spec.model) ?? '')) fields.push('model.uri');
  const tags = (desc.spec.tags ?? {}) as Record<string, string>;
  if (Object.entries(tags).some(([k, v]) => v === '' || k.toLowerCase().startsWith('aws:'))) fields.push('tags');
  return fields;
}

/** A resource literal with IAM's escapes for literal characters (`${*}`, `${?}`, `${$}`) taken out. */
function unescapedIam(literal: string): string {
  return literal.replace(/\$\{[*?$]\}/g, '');
}

/** The literal strings of an IAM Resource: a string, or the literal parts of an Fn::Join. */
function literalParts(resource: Json): string[] {
  if (typeof resource === 'string') return [resource];
  if (resource && typeof resource === 'object' && !Array.isArray(resource) && 'Fn::Join' in resource) {
    const [, parts] = resource['Fn::Join'] as [string, Json[]];
    return parts.flatMap(literalParts);
  }
  return []; // Ref, Fn::GetAtt, Fn::FindInMap...: not literals
}

function asArray(x: Json): Json[] {
  return Array.isArray(x) ? x : [x];
}

function artifactKey(desc: ArtifactDesc): string | undefined {
  return desc.kind === 'uri' ? /^s3:\/\/[^/]+\/(.*)$/.exec(desc.uri as string)?.[1] : undefined;
}

describe('valid specs only', () => {
  test(`always synthesize one least-privilege SageMaker endpoint (${VALID_RUNS} runs)`, () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(validSynth, desc => {
        const props = { ...buildSpec(desc.spec), ...desc.sageMaker } as SageMakerModelEndpointProps;
        const stack = newStack(desc.agnostic);
        let endpoint: SageMakerModelEndpoint;
        let template: Template;
        try {
          endpoint = new SageMakerModelEndpoint(stack, 'E', props);
          template = Template.fromStack(stack);
        } catch (e) {
          const edge = mayRefuse(desc);
          if (e instanceof ModelDeploymentValidationError && edge.some(field => e.field === field || e.field.startsWith(`${field}.`))) return;
          throw new Error(`a valid spec did not synthesize: ${describeError(e)}`, { cause: e });
        }
        seen.add(desc.mode);
        const json = template.toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, Json> }> };
        const resources = Object.values(json.Resources);
        const ofType = (type: string) => resources.filter(r => r.Type === type);

        expect(ofType('AWS::SageMaker::Endpoint')).toHaveLength(1);
        const configs = ofType('AWS::SageMaker::EndpointConfig');
        expect(configs).toHaveLength(1);
        const variants = configs[0].Properties.ProductionVariants as Array<Record<string, Json>>;
        expect(variants).toHaveLength(1);
        const variant = variants[0];
        if (desc.mode === 'serverless') {
          expect(variant.InstanceType).toBeUndefined();
          expect(variant.ServerlessConfig).toBeDefined();
        } else {
          expect(typeof variant.InstanceType).toBe('string');
          expect((variant.InstanceType as string).startsWith('ml.')).toBe(true);
          expect(variant.InstanceType).toBe(endpoint.instanceType);
          expect(variant.InitialInstanceCount).toBe(desc.minReplicas);
          if (desc.sageMaker.instanceType !== undefined) expect(variant.InstanceType).toBe(desc.sageMaker.instanceType);
        }
        if (desc.mode === 'async') expect(configs[0].Properties.AsyncInferenceConfig).toBeDefined();

        // access.network: a PRIVATE endpoint's invoke grant holds only through its VPC endpoints; a PUBLIC one has no network condition.
        const invoke = endpoint.invokeStatement().toStatementJson() as { Condition?: Json };
        if ((desc.spec.access as { network?: NetworkAccess } | undefined)?.network === NetworkAccess.PRIVATE) {
          expect(invoke.Condition).toEqual({ StringEquals: { 'aws:SourceVpce': desc.sageMaker.invokeVpcEndpointIds } });
        } else {
          expect(invoke.Condition).toBeUndefined();
        }

        // Least privilege: the execution policy has no wildcard action and no wildcard resource,
        // except the prefix a PREFIX-layout artifact is read from.
        const policies = ofType('AWS::IAM::ManagedPolicy');
        expect(policies).toHaveLength(1);
        const statements = (policies[0].Properties.PolicyDocument as { Statement: Array<Record<string, Json>> }).Statement;
        expect(statements.length).toBeGreaterThan(0);
        const key = artifactKey(desc.spec.model);
        for (const statement of statements) {
          expect(statement.Effect).toBe('Allow');
          for (const action of asArray(statement.Action)) {
            expect(typeof action).toBe('string');
            expect(action as string).not.toContain('*');
          }
          for (const resource of asArray(statement.Resource)) {
            for (const literal of literalParts(resource).map(unescapedIam)) {
              // IAM reads `*` and `?` in a resource as wildcards, and `${...}` as a policy variable.
              if (literal.includes('?') || literal.includes('${')) {
                throw new Error(`IAM wildcard or policy variable in resource of statement ${String(statement.Sid)}: ${JSON.stringify(resource)}`);
              }
              if (!literal.includes('*')) continue;
              const prefixRead = desc.effectiveLayout === ArtifactLayout.PREFIX && statement.Sid === 'ReadOwnModel'
                && key !== undefined && literal.replace(/\$/g, '').endsWith(`/${key.replace(/[*?$]/g, '')}*`) && literal.indexOf('*') === literal.length - 1;
              if (!prefixRead) throw new Error(`wildcard resource in statement ${String(statement.Sid)}: ${JSON.stringify(resource)}`);
            }
          }
        }
        // No inline policies, no AWS-managed policy on the role.
        for (const role of ofType('AWS::IAM::Role')) {
          expect(role.Properties.Policies).toBeUndefined();
          expect(role.Properties.ManagedPolicyArns).toBeUndefined();
        }
      }),
      { numRuns: VALID_RUNS },
    );
    expect([...seen].sort()).toEqual(VALID_RUNS >= 100 ? ['async', 'realtime', 'serverless'] : expect.any(Array));
  });
});

// =================================================================================================
// Random specs: fully random, or valid ones with one or two fields replaced by anything
// =================================================================================================

type SpecField = keyof typeof anySpecFields;
const SPEC_FIELDS = Object.keys(anySpecFields) as SpecField[];

/** Every field drawn from values of every kind: mostly refused, often for several reasons at once. */
const fullyRandomSpec = fc.record(anySpecFields, { requiredKeys: ['model', 'serving'] }) as fc.Arbitrary<SpecDesc>;

/** A valid spec with one or two fields replaced: reaches each refusal on its own, and successes. */
const mutatedSpec: fc.Arbitrary<SynthDesc> = fc.tuple(validSynth, fc.subarray(SPEC_FIELDS, { minLength: 0, maxLength: 2 }))
  .chain(([valid, fields]) => fc.record(Object.fromEntries(fields.map(f => [f, anySpecFields[f]])) as Record<string, fc.Arbitrary<unknown>>)
    .map(replaced => ({ spec: { ...valid.spec, ...replaced } as SpecDesc, sageMaker: valid.sageMaker })));

const anySpec: fc.Arbitrary<SpecDesc> = fc.oneof(
  { arbitrary: fullyRandomSpec, weight: 1 },
  { arbitrary: mutatedSpec.map(d => d.spec), weight: 2 },
);

const SAGEMAKER_FIELDS = ['instanceType', 'volumeSizeGiB', 'modelDownloadTimeoutSeconds', 'networkIsolation', 'variantName', 'invokeVpcEndpointIds', 'serverless', 'asyncInference'];

const anySynth: fc.Arbitrary<SynthDesc> = fc.oneof(
  { arbitrary: fc.record({ spec: fullyRandomSpec, sageMaker: anySageMakerOptions }), weight: 1 },
  { arbitrary: mutatedSpec, weight: 2 },
  // A valid spec whose SageMaker options are replaced (all at once, or one of them).
  {
    arbitrary: fc.tuple(validSynth, anySageMakerOptions, fc.constantFrom('all', ...SAGEMAKER_FIELDS)).map(([valid, options, field]) => ({
      spec: valid.spec,
      sageMaker: field === 'all' ? options : { ...valid.sageMaker, [field]: options[field] },
    })),
    weight: 2,
  },
);

// Properties
// =================================================================================================

describe('random specs, valid and invalid', () => {
  test(`resolveSpec (factories included) builds or refuses with ModelDeploymentValidationError (${SPEC_RUNS} runs)`, () => {
    const t = tally();
    fc.assert(
      fc.property(anySpec, desc => {
        t.count(buildsOrRefusesCleanly(() => {
          resolveSpec(buildSpec(desc));
        }));
      }),
      { numRuns: SPEC_RUNS },
    );
    const s = t.summary();
    if (process.env.PROPERTY_VERBOSE) console.log(JSON.stringify(s));
    // The generators must reach both outcomes and many different refusals.
    expect(s.ok).toBeGreaterThan(SPEC_RUNS / 20);
    expect(s.refused).toBeGreaterThan(SPEC_RUNS / 20);
    if (SPEC_RUNS >= 1000) expect(s.fields).toBeGreaterThan(25);
  });

  test(`SageMakerModelEndpoint builds and synthesizes, or refuses with ModelDeploymentValidationError (${SYNTH_RUNS} runs)`, () => {
    const t = tally();
    fc.assert(
      fc.property(anySynth, desc => {
        t.count(buildsOrRefusesCleanly(() => {
          const props = { ...buildSpec(desc.spec), ...desc.sageMaker } as SageMakerModelEndpointProps;
          const stack = newStack(desc.agnostic);
          new SageMakerModelEndpoint(stack, 'E', props);
          Template.fromStack(stack);
        }));
      }),
      { numRuns: SYNTH_RUNS },
    );
    const s = t.summary();
    if (process.env.PROPERTY_VERBOSE) console.log(JSON.stringify(s));
    expect(s.ok).toBeGreaterThan(0);
    expect(s.refused).toBeGreaterThan(0);
  });
});

describe('random specs on the Azure ML target', () => {
  /** Option sets a user would write: new workspace, the image's registry, an existing workspace. */
  const azureOptions = fc.constantFrom<Record<string, unknown>>(
    { location: 'westeurope' },
    { location: 'westeurope', containerRegistryId: REGISTRY_ID },
    { location: 'eastus2', workspaceId: WORKSPACE_ID, storageAccountId: STORAGE_ID },
    { location: 'West Europe', instanceType: 'Standard_NC4as_T4_v3' },
  );

  test(`AzureMlModelEndpoint synthesizes (every reference resolving), or refuses with ModelDeploymentValidationError (${AZURE_RUNS} runs)`, () => {
    const t = tally();
    fc.assert(
      fc.property(anySpec, azureOptions, (desc, options) => {
        t.count(buildsOrRefusesCleanly(() => {
          const stack = new TerraformStack(Testing.app(), 'azure');
          new AzureMlModelEndpoint(stack, 'E', { ...buildSpec(desc), ...options } as never);
          const json = JSON.parse(Testing.synth(stack));
          if (danglingReferences(json).length > 0) throw new Error(`dangling references: ${danglingReferences(json).join(', ')}`);
          if (validateAzapiStack(json).length > 0) throw new Error(`azapi bodies refused: ${validateAzapiStack(json).join('; ')}`);
        }));
      }),
      { numRuns: AZURE_RUNS },
    );
    const s = t.summary();
    if (process.env.PROPERTY_VERBOSE) console.log(JSON.stringify(s));
    // The random specs are drawn for SageMaker (s3:// models, ECR images, A10G and L4 GPUs): Azure
    // refuses nearly all of them, each cleanly; the valid ones are the next property's.
    expect(s.refused).toBeGreaterThan(AZURE_RUNS / 2);
  });

  /** Specs drawn only from what Azure ML takes, as data; `build` calls the factories. */
  const azureGpu = fc.constantFrom(
    { gpu: GpuKind.NVIDIA_T4, count: 1 }, { gpu: GpuKind.NVIDIA_T4, count: 4 }, { gpu: GpuKind.NVIDIA_A100_80GB, count: 1 },
    { gpu: GpuKind.NVIDIA_A100_80GB, count: 2 }, { gpu: GpuKind.NVIDIA_A100_80GB, count: 8 }, { gpu: GpuKind.NVIDIA_H100_80GB, count: 2 },
  );
  const validAzure = fc.record({
    model: fc.constantFrom('local', 'azureml://registries/azureml/models/fraud/versions/3', 'https://contosomodels.blob.core.windows.net/fraud/v7/'),
    serving: fc.constantFrom('custom', 'triton', 'vllm'),
    environment: fc.dictionary(fc.constantFrom('LOG_LEVEL', 'MODE', 'X_1'), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
    compute: fc.oneof(fc.record({ vcpus: fc.integer({ min: 1, max: 16 }), memoryGiB: fc.integer({ min: 1, max: 64 }) }), azureGpu),
    minReplicas: fc.integer({ min: 1, max: 5 }),
    extra: fc.integer({ min: 0, max: 4 }),
    auth: fc.option(fc.constantFrom(AuthMode.IAM, AuthMode.KEY, AuthMode.TOKEN), { nil: undefined }),
    network: fc.option(fc.constantFrom(NetworkAccess.PUBLIC, NetworkAccess.PRIVATE), { nil: undefined }),
    alarms: fc.boolean(),
    evaluationMinutes: fc.integer({ min: 1, max: 90 }),
    endpointName: fc.option(fc.stringMatching(/^[a-z][a-z0-9]{1,10}(-[a-z0-9]{1,10}){0,2}$/), { nil: undefined }),
    existingWorkspace: fc.boolean(),
  });

  test(`valid specs always synthesize on Azure ML: capacity, instance type and traffic as asked, every reference resolving, every azapi body valid (${AZURE_RUNS} runs)`, () => {
    fc.assert(
      fc.property(validAzure, d => {
        const image = d.serving === 'custom' ? 'contosoacr.azurecr.io/fraud:1.0' : 'mcr.microsoft.com/contoso/server:2.1';
        const serving = d.serving === 'custom' ? ServingContainer.custom({ image, environment: d.environment })
          : d.serving === 'triton' ? ServingContainer.triton({ image, environment: d.environment })
            : ServingContainer.vllm({ image, modelId: '/var/azureml-app/model', environment: d.environment });
        const compute = 'gpu' in d.compute ? Compute.gpu(d.compute) : Compute.cpu(d.compute);
        const stack = new TerraformStack(Testing.app(), 'azure');
        const endpoint = new AzureMlModelEndpoint(stack, 'E', {
          model: d.model === 'local' ? ModelArtifact.fromLocalPath(FIXTURE) : ModelArtifact.fromUri(d.model),
          serving, compute,
          scaling: { minReplicas: d.minReplicas, maxReplicas: d.minReplicas + d.extra },
          access: { auth: d.auth, network: d.network },
          monitoring: { alarms: d.alarms, evaluationMinutes: d.evaluationMinutes },
          // Azure ML's endpoint names are 3 to 32 characters; the generator's can reach 34.
          endpointName: d.endpointName && d.endpointName.length >= 3 && d.endpointName.length <= 32 ? d.endpointName : undefined,
          location: 'westeurope',
          containerRegistryId: d.serving === 'custom' ? REGISTRY_ID : undefined,
          ...(d.existingWorkspace ? { workspaceId: WORKSPACE_ID, storageAccountId: STORAGE_ID } : d.model.startsWith('https') ? { storageAccountId: STORAGE_ID } : {}),
        });
        const json = JSON.parse(Testing.synth(stack));
        expect(danglingReferences(json)).toEqual([]);
        expect(validateAzapiStack(json)).toEqual([]);
        const deployments = Object.values<any>(json.resource.azapi_resource).filter(r => r.type.includes('/deployments@'));
        expect(deployments).toHaveLength(1);
        expect(deployments[0].body.sku).toEqual({ name: 'Default', capacity: d.minReplicas });
        expect(deployments[0].body.properties.instanceType).toBe(endpoint.instanceType);
        expect(Object.values<any>(json.resource.azapi_update_resource)[0].body.properties.traffic).toEqual({ [deployments[0].name]: 100 });
        expect(json.resource.azurerm_monitor_autoscale_setting === undefined).toBe(d.extra === 0);
      }),
      { numRuns: AZURE_RUNS },
    );
  });
});

describe('random specs on the Vertex AI target', () => {
  const PROJECT = 'ml-prod-4711';
  const AR_IMAGE = 'europe-west4-docker.pkg.dev/ml-prod-4711/serving/model:1';
  /** Option sets a user would write: defaults, an existing bucket and account, CMEK and channels, a machine override, a wrong region. */
  const vertexOptions = fc.oneof(
    { arbitrary: fc.constantFrom<Record<string, unknown>>(
      { project: PROJECT, location: 'europe-west4' },
      { project: PROJECT, location: 'us-central1', artifactBucket: 'gs://team-models', servingServiceAccountEmail: `serving@${PROJECT}.iam.gserviceaccount.com` },
      { project: PROJECT, location: 'europe-west4', encryptionKeyName: 'projects/k-project/locations/europe-west4/keyRings/r/cryptoKeys/k', alertNotificationChannels: [`projects/${PROJECT}/notificationChannels/1`] },
      { project: PROJECT, location: 'europe-west4', machineType: 'g2-standard-4' },
    ), weight: 4 },
    { arbitrary: fc.constant<Record<string, unknown>>({ project: PROJECT, location: 'Europe West' }), weight: 1 },
  );

  /** A random spec with the local fixture as its model, an Artifact Registry image where it names one, and no rollout: the rest stays random. */
  const towardsVertex = (d: SpecDesc): SpecDesc => {
    const options = d.serving.options;
    const image = options !== null && typeof options === 'object' && typeof options.image === 'string' ? { ...options, image: AR_IMAGE } : options;
    return { ...d, model: { kind: 'local', path: FIXTURE }, serving: { ...d.serving, options: image }, rollout: undefined };
  };

  /** Synthesizes, and fails (not a validation error) when a reference dangles or the bridge would refuse its request. */
  function synthVertex(props: Record<string, unknown>): void {
    const stack = new TerraformStack(Testing.app(), 'vertex');
    new VertexAiModelEndpoint(stack, 'E', props as never);
    const json = JSON.parse(Testing.synth(stack));
    if (vertexDanglingReferences(json).length > 0) throw new Error(`dangling references: ${vertexDanglingReferences(json).join(', ')}`);
    const problems = vertexBridgeRequestProblems(unescapedInput(json));
    if (problems.length > 0) throw new Error(`the bridge would refuse the request: ${problems.join('; ')}`);
  }

  /** The terraform_data's input as the bridge sees it: escaped for Terraform in the JSON, unescaped by jsonencode(self.input). */
  function unescapedInput(json: any): any {
    const input = (Object.values(json.resource.terraform_data)[0] as { input: unknown }).input;
    return JSON.parse(JSON.stringify(input).replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{'));
  }

  test(`VertexAiModelEndpoint synthesizes (every reference resolving, the request valid for the bridge), or refuses with ModelDeploymentValidationError (${VERTEX_RUNS} runs)`, () => {
    const t = tally();
    fc.assert(
      fc.property(fc.oneof({ arbitrary: anySpec, weight: 1 }, { arbitrary: anySpec.map(towardsVertex), weight: 3 }), vertexOptions, (desc, options) => {
        t.count(buildsOrRefusesCleanly(() => synthVertex({ ...buildSpec(desc), ...options })));
      }),
      { numRuns: VERTEX_RUNS },
    );
    const s = t.summary();
    if (process.env.PROPERTY_VERBOSE) console.log(JSON.stringify(s));
    // The random specs are drawn for SageMaker (s3:// models, ECR images): Vertex AI refuses most of
    // them, each cleanly; those moved towards Vertex (a local model, an Artifact Registry image) reach the render too.
    expect(s.refused).toBeGreaterThan(VERTEX_RUNS / 4);
    expect(s.ok).toBeGreaterThan(VERTEX_RUNS / 100);
  });

  /** Specs drawn only from what Vertex AI takes, as data; the property calls the factories. */
  const vertexGpu = fc.constantFrom(
    { gpu: GpuKind.NVIDIA_T4, count: 1 }, { gpu: GpuKind.NVIDIA_T4, count: 4 }, { gpu: GpuKind.NVIDIA_L4, count: 1 }, { gpu: GpuKind.NVIDIA_L4, count: 2 },
    { gpu: GpuKind.NVIDIA_L4, count: 8 }, { gpu: GpuKind.NVIDIA_A100_40GB, count: 2 }, { gpu: GpuKind.NVIDIA_A100_80GB, count: 1 }, { gpu: GpuKind.NVIDIA_H100_80GB, count: 8 },
  );
  const validVertex = fc.record({
    model: fc.constantFrom('local', 'gs://team-models/fraud/v7/'),
    serving: fc.constantFrom('custom', 'triton', 'sklearn', 'tfServing'),
    // Vertex AI refuses an empty value (EnvVar.value is REQUIRED; found by the property below): valid values are non-empty.
    environment: fc.dictionary(fc.constantFrom('LOG_LEVEL', 'MODE', 'X_1'), fc.string({ minLength: 1, maxLength: 20 }), { maxKeys: 3 }),
    compute: fc.oneof(fc.record({ vcpus: fc.integer({ min: 1, max: 16 }), memoryGiB: fc.integer({ min: 1, max: 64 }) }), vertexGpu),
    minReplicas: fc.integer({ min: 1, max: 5 }),
    extra: fc.integer({ min: 0, max: 4 }),
    target: fc.integer({ min: 1, max: 100 }),
    auth: fc.option(fc.constant(AuthMode.IAM), { nil: undefined }),
    network: fc.option(fc.constantFrom(NetworkAccess.PUBLIC, NetworkAccess.PRIVATE), { nil: undefined }),
    alarms: fc.boolean(),
    capture: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
    evaluationMinutes: fc.integer({ min: 1, max: 90 }),
    endpointName: fc.option(fc.stringMatching(/^[a-z][a-z0-9]{1,10}(-[a-z0-9]{1,10}){0,2}$/), { nil: undefined }),
  });

  test(`valid specs always synthesize on Vertex AI: machine, replicas and metric as asked, every reference resolving, the request valid for the bridge (${VERTEX_RUNS} runs)`, () => {
    fc.assert(
      fc.property(validVertex, d => {
        const gpu = 'gpu' in d.compute;
        // tfServing (CPU and GPU) and sklearn (CPU) get Vertex's prebuilt images; the others name an image.
        const prebuilt = (d.serving === 'sklearn' && !gpu) || d.serving === 'tfServing';
        const image = prebuilt ? undefined : AR_IMAGE;
        const serving = d.serving === 'custom' ? ServingContainer.custom({ image: AR_IMAGE, environment: d.environment })
          : d.serving === 'triton' ? ServingContainer.triton({ image: AR_IMAGE, environment: d.environment })
            : d.serving === 'sklearn' ? ServingContainer.sklearn({ image, environment: d.environment })
              : ServingContainer.tfServing({ image, environment: d.environment });
        const compute = 'gpu' in d.compute ? Compute.gpu(d.compute) : Compute.cpu(d.compute);
        const stack = new TerraformStack(Testing.app(), 'vertex');
        const endpoint = new VertexAiModelEndpoint(stack, 'E', {
          model: d.model === 'local' ? ModelArtifact.fromLocalPath(FIXTURE) : ModelArtifact.fromUri(d.model),
          serving, compute,
          scaling: { minReplicas: d.minReplicas, maxReplicas: d.minReplicas + d.extra, target: gpu ? ScalingTarget.gpuPercent(d.target) : ScalingTarget.cpuPercent(d.target) },
          access: { auth: d.auth, network: d.network },
          monitoring: { alarms: d.alarms, evaluationMinutes: d.evaluationMinutes, capture: d.capture === undefined ? undefined : { samplingPercent: d.capture } },
          endpointName: d.endpointName,
          project: PROJECT,
          location: 'europe-west4',
        });
        const json = JSON.parse(Testing.synth(stack));
        expect(vertexDanglingReferences(json)).toEqual([]);
        const request = unescapedInput(json);
        expect(vertexBridgeRequestProblems(request)).toEqual([]);
        expect(request.deployment.machineSpec.machineType).toBe(endpoint.machineType);
        expect(request.deployment.machineSpec.acceleratorCount).toBe(gpu ? compute.gpuCount : undefined);
        expect(request.deployment).toMatchObject({ minReplicaCount: d.minReplicas, maxReplicaCount: d.minReplicas + d.extra });
        expect(request.deployment.autoscalingMetricSpecs).toEqual(d.extra === 0 ? [] : [{
          metricName: `aiplatform.googleapis.com/prediction/online/${gpu ? 'accelerator/duty_cycle' : 'cpu/utilization'}`, target: d.target,
        }]);
        expect(json.resource.google_monitoring_alert_policy === undefined).toBe(!d.alarms);
      }),
      { numRuns: VERTEX_RUNS },
    );
  });
});

// =================================================================================================
// Counterexamples found by the properties (and, for aws: tags, by probing), as plain tests. Each
// accepts either fix: the library handles the input correctly, or refuses it with
// ModelDeploymentValidationError.
// =================================================================================================

describe('regressions: counterexamples found by the properties and by probing', () => {
  function synth(props: SageMakerModelEndpointProps): { endpoint: SageMakerModelEndpoint; template: Template } {
    const stack = newStack();
    const endpoint = new SageMakerModelEndpoint(stack, 'E', props);
    return { endpoint, template: Template.fromStack(stack) };
  }

  const base = (): SageMakerModelEndpointProps => ({
    model: ModelArtifact.fromUri('s3://my-models/churn/model.tar.gz'), serving: ServingContainer.sklearn(), invokeVpcEndpointIds: ['vpce-0abc1234'],
  });

  test.each([
    ['ServingContainer.triton', () => ServingContainer.triton(null as never)],
    ['ServingContainer.torchServe', () => ServingContainer.torchServe(null as never)],
    ['ServingContainer.tfServing', () => ServingContainer.tfServing(null as never)],
    ['ServingContainer.sklearn', () => ServingContainer.sklearn(null as never)],
    ['ServingContainer.xgboost', () => ServingContainer.xgboost(null as never)],
    ['Compute.cpu', () => Compute.cpu(null as never)],
    ['Rollout.allAtOnce', () => Rollout.allAtOnce(null as never)],
    ['Rollout.canary', () => Rollout.canary(null as never)],
    ['Rollout.linear', () => Rollout.linear(null as never)],
  ])('%s(null) from JavaScript builds or refuses cleanly, never a TypeError', (_name, make) => {
    buildsOrRefusesCleanly(make);
  });

  test('a local model path that does not exist is refused with ModelDeploymentValidationError naming the model', () => {
    const err = buildsOrRefusesCleanly(() => synth({ ...base(), model: ModelArtifact.fromLocalPath(MISSING) }));
    expect(err).toBeDefined();
    expect(err!.field).toMatch(/^model/);
    expect(err!.message).toContain('no-such-model');
  });

  test.each([
    ['an empty tag value (CloudFormation: AWS::CloudWatch::Alarm tag values are 1-256 characters)', { team: '' }],
    ['51 tags (CloudFormation: at most 50 tags per resource)', Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']))],
  ])('%s synthesizes cleanly or is refused naming tags', (_label, tags) => {
    const err = buildsOrRefusesCleanly(() => synth({ ...base(), tags }));
    if (err) expect(err.field).toMatch(/^tags/);
  });

  test('a tag key with the reserved aws: prefix is refused (AWS refuses it at deploy time)', () => {
    const err = buildsOrRefusesCleanly(() => synth({ ...base(), tags: { 'aws:team': 'ml' } }));
    expect(err).toBeDefined();
    expect(err!.field).toMatch(/^tags/);
  });

  test.each([
    ['*', 's3://my-models/churn/*.tar.gz'],
    ['?', 's3://my-models/churn/model?.tar.gz'],
    ['${...}', 's3://my-models/${aws:username}/model.tar.gz'],
    ['* in a FILES key', 's3://my-models/churn/*'],
  ])('an S3 key with %s does not become an IAM wildcard or policy variable in the execution policy', (_label, uri) => {
    let template: Template | undefined;
    const err = buildsOrRefusesCleanly(() => {
      template = synth({ ...base(), model: ModelArtifact.fromUri(uri) }).template;
    });
    if (err) {
      expect(err.field).toBe('model.uri');
      return;
    }
    const policies = Object.values(template!.findResources('AWS::IAM::ManagedPolicy')) as Array<{ Properties: { PolicyDocument: { Statement: Array<{ Sid?: string; Resource: Json }> } } }>;
    const read = policies.flatMap(p => p.Properties.PolicyDocument.Statement).filter(s => s.Sid === 'ReadOwnModel');
    expect(read).toHaveLength(1);
    for (const literal of asArray(read[0].Resource).flatMap(literalParts).map(unescapedIam)) {
      expect(literal).not.toMatch(/[*?]|\$\{/);
    }
  });
});
