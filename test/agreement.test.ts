/**
 * One spec, four targets, one meaning. Each spec is synthesized with SageMaker (a CloudFormation
 * template), Azure ML, Vertex AI and on-prem (Terraform JSON), with each target's minimal valid
 * options; the synthesized output alone is read back into a `Meaning` (test/support/agreement/meaning.ts)
 * and compared with what the spec asked, and between the targets. The differences a target is
 * allowed are listed below, in EXCEPTIONS and in `expectedMeaning`: any other change to one target's
 * mapping fails this test.
 *
 * Specs: hand-written ones (SPECS, with the targets expected to refuse each, and on which field),
 * and random ones drawn with the property tests' arbitraries (test/support/spec-arbitraries.ts),
 * each compared on the targets that accept it.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { TerraformStack, Testing } from 'cdktf';
import fc from 'fast-check';
import { AuthMode, GpuKind, ModelDeploymentValidationError, NetworkAccess, PredictionSample, VerificationProps } from '../lib';
import { AZURE_ML_INSTANCE_TYPES } from '../lib/targets/azure-ml/instance-types';
import { AzureMlModelEndpoint } from '../lib/targets/azure-ml';
import { OnPremModelEndpoint } from '../lib/targets/on-prem';
import { SAGEMAKER_INSTANCE_TYPES } from '../lib/targets/sagemaker/instance-types';
import { SageMakerModelEndpoint } from '../lib/targets/sagemaker';
import { VERTEX_AI_MACHINE_TYPES } from '../lib/targets/vertex-ai/machine-types';
import { VertexAiModelEndpoint } from '../lib/targets/vertex-ai';
import { Meaning, SampleMeaning, readAzureMl, readOnPrem, readSageMaker, readVertexAi, round } from './support/agreement/meaning';
import { Opts, RolloutDesc, SpecDesc, buildSpec, opt, validEndpointName, validMonitoring, validRollout } from './support/spec-arbitraries';

const SCALE = Number(process.env.PROPERTY_RUNS_SCALE ?? '1');
const RANDOM_RUNS = Math.max(1, Math.round(15 * SCALE));

const FIXTURE = path.join(__dirname, 'fixtures', 'linear-model');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agreement-'));
const API_KEYS = path.join(tmp, 'api-keys');
fs.writeFileSync(API_KEYS, 'agreement-test-key-0123456789\n');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// =================================================================================================
// Specs, as data
// =================================================================================================

/** A spec as data: everything the spec says, and (customerKey) whether each cloud is given a customer-managed key. */
interface AgreementSpec {
  readonly gpu?: { readonly gpu: GpuKind; readonly count: number };
  readonly cpu?: { readonly vcpus?: number; readonly memoryGiB?: number };
  /** A custom container's routes; left out, the custom container's defaults (8080, /ping, /invocations). */
  readonly routes?: { readonly port: number; readonly healthPath: string; readonly predictPath: string };
  readonly minReplicas?: number;
  readonly maxReplicas?: number;
  readonly rollout?: RolloutDesc;
  readonly auth?: AuthMode;
  readonly network?: NetworkAccess;
  readonly monitoring?: Opts;
  readonly verification?: VerificationProps;
  readonly endpointName?: string;
  readonly customerKey?: boolean;
}

type TargetName = 'sagemaker' | 'azure-ml' | 'vertex-ai' | 'on-prem';
const TARGETS: readonly TargetName[] = ['sagemaker', 'azure-ml', 'vertex-ai', 'on-prem'];

/** Each target's registry: the one part of the spec that is re-pointed per target (every target pulls from its own). */
const IMAGES: Record<TargetName, string> = {
  'sagemaker': '123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud-scorer:4.2.0',
  'azure-ml': 'contosoacr.azurecr.io/fraud-scorer:4.2.0',
  'vertex-ai': 'europe-west4-docker.pkg.dev/ml-prod-4711/serving/fraud-scorer:4.2.0',
  'on-prem': 'registry.internal/fraud-scorer:4.2.0',
};
const SUB = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-shared/providers';

function specDesc(a: AgreementSpec, target: TargetName): SpecDesc {
  return {
    model: { kind: 'local', path: FIXTURE },
    serving: { preset: 'custom', options: { image: IMAGES[target], ...a.routes } },
    compute: a.gpu !== undefined ? { kind: 'gpu', options: { ...a.gpu } } : a.cpu !== undefined ? { kind: 'cpu', options: { ...a.cpu } } : undefined,
    scaling: a.minReplicas === undefined && a.maxReplicas === undefined ? undefined : { props: { minReplicas: a.minReplicas, maxReplicas: a.maxReplicas } },
    rollout: a.rollout,
    access: a.auth === undefined && a.network === undefined ? undefined : { auth: a.auth, network: a.network },
    monitoring: a.monitoring,
    endpointName: a.endpointName,
    extra: a.verification === undefined ? undefined : { verification: a.verification },
  };
}

/** Synthesizes `a` with `target` and its minimal valid options; returns the output's meaning. Throws what the target throws. */
function synthesize(a: AgreementSpec, target: TargetName): Meaning {
  const spec = buildSpec(specDesc(a, target));
  const network = a.network ?? NetworkAccess.PRIVATE;
  switch (target) {
    case 'sagemaker': {
      const stack = new Stack(new App({ outdir: fs.mkdtempSync(path.join(tmp, 'cdk-')) }), 'S', { env: { account: '111111111111', region: 'us-east-1' } });
      const vpc = a.verification === undefined ? undefined : ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
        vpcId: 'vpc-0123456789abcdef0', availabilityZones: ['us-east-1a', 'us-east-1b'],
        privateSubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'], privateSubnetRouteTableIds: ['rtb-0123456789abcdef0', 'rtb-0123456789abcdef1'],
      });
      new SageMakerModelEndpoint(stack, 'E', {
        ...spec,
        invokeVpcEndpointIds: network === NetworkAccess.PRIVATE ? ['vpce-0123456789abcdef0'] : undefined,
        verificationFunction: vpc === undefined ? undefined : { vpc },
        encryptionKey: a.customerKey ? kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:111111111111:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0') : undefined,
      });
      return readSageMaker(Template.fromStack(stack).toJSON());
    }
    case 'azure-ml': {
      const stack = new TerraformStack(Testing.app(), 'azure');
      new AzureMlModelEndpoint(stack, 'E', {
        ...spec, location: 'westeurope', containerRegistryId: `${SUB}/Microsoft.ContainerRegistry/registries/contosoacr`,
        ...(a.customerKey ? { encryptionKeyId: 'https://kv-ml.vault.azure.net/keys/models/0123456789abcdef0123456789abcdef', encryptionKeyVaultId: `${SUB}/Microsoft.KeyVault/vaults/kv-ml` } : {}),
      });
      return readAzureMl(JSON.parse(Testing.synth(stack)));
    }
    case 'vertex-ai': {
      const stack = new TerraformStack(Testing.app(), 'vertex');
      new VertexAiModelEndpoint(stack, 'E', {
        ...spec, project: 'ml-prod-4711', location: 'europe-west4',
        encryptionKeyName: a.customerKey ? 'projects/ml-keys-0001/locations/europe-west4/keyRings/ml/cryptoKeys/models' : undefined,
      });
      return readVertexAi(JSON.parse(Testing.synth(stack)));
    }
    case 'on-prem': {
      const stack = new TerraformStack(Testing.app(), 'onprem');
      new OnPremModelEndpoint(stack, 'E', {
        ...spec,
        hosts: [{ name: 'gpu01', address: '10.20.0.11', user: 'deploy', hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmd7Ze0hR3x6nkd0oEvKVa5Zp7bIkFGU0f0d7bq4bXk' }],
        apiKeyFile: API_KEYS,
        // API keys never cross a public network in clear text: PUBLIC needs TLS on-prem.
        tls: network === NetworkAccess.PUBLIC ? { certificatePath: '/etc/ssl/md/cert.pem', keyPath: '/etc/ssl/md/key.pem' } : undefined,
      });
      return readOnPrem(JSON.parse(Testing.synth(stack)));
    }
  }
}

// =================================================================================================
// What the spec asks, and the exceptions each target is allowed
// =================================================================================================

/**
 * The documented exceptions: where a target's meaning differs from the spec's, by design. Each is
 * applied in `expectedMeaning` below, and nowhere else.
 */
const EXCEPTIONS: Record<TargetName, readonly string[]> = {
  'sagemaker': [
    'routes: SageMaker\'s hosting contract (GET /ping, POST /invocations, port 8080), which the target requires of the spec too',
    'auth: IAM only (SigV4): with access.auth left out, IAM',
    'encryption at rest: the endpoint\'s own KMS key (customer-managed) on CPU instances; GPU instances have NVMe instance storage, which AWS encrypts with a hardware key and SageMaker takes no KMS key for',
  ],
  'azure-ml': [
    'auth: with access.auth left out, IAM (Entra ID tokens, AADToken)',
    'encryption at rest: Microsoft-managed keys with infrastructure (double) encryption, or the given customer-managed key',
    'alarms: the latency alert\'s window is the evaluation minutes rounded up to a window Azure takes; the error-rate alert counts consecutive 1-minute breaches up to 6, beyond that one window rounded up to a size Azure takes',
    'rollout: blue/green all at once only (refuses canary, linear, bake and termination waits)',
  ],
  'vertex-ai': [
    'auth: IAM only (Google OAuth tokens)',
    'encryption at rest: Google-managed keys, or the given CMEK on the endpoint, the bucket and the model',
    'rollout: blue/green all at once only; the bridge moves 100% of traffic (its request has no split)',
  ],
  'on-prem': [
    'replicas: fixed (no autoscaler): maxReplicas must equal minReplicas',
    'auth: API keys only (the proxy checks them): with access.auth left out, KEY',
    'encryption at rest: no key service: the host files with the spec\'s data (deploy.env, samples.tsv, the keys) are created 0600 in 0700 directories; disks are the operator\'s',
    'encryption in transit: TLS when given (required with access.network PUBLIC); plain HTTP only on a private network',
    'alarms: none (no alarm service on the hosts)',
    'rollout: blue/green all at once per host only',
  ],
};

const STRONGEST_AUTH: Record<TargetName, AuthMode> = { 'sagemaker': AuthMode.IAM, 'azure-ml': AuthMode.IAM, 'vertex-ai': AuthMode.IAM, 'on-prem': AuthMode.KEY };
/** Azure Monitor's metric-alert window sizes, and its log-alert windows (minutes), from Azure's documentation. */
const AZURE_METRIC_WINDOWS = [1, 5, 15, 30, 60, 360, 720, 1440];
const AZURE_LOG_WINDOWS = [1, 5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 1440, 2880];
const atLeast = (windows: number[], minutes: number) => windows.find(w => w >= minutes) ?? windows[windows.length - 1];

/** A JSON value as it travels: what JSON text of it parses back to (-0 becomes 0). */
const asJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

function expectedRollout(r: RolloutDesc | undefined): Meaning['rollout'] {
  if (r === undefined || 'raw' in r) return { steps: [100], waitMinutes: 0 };
  const o = (r.options ?? {}) as { percent?: number; bakeMinutes?: number; stepPercent?: number; intervalMinutes?: number };
  if (r.factory === 'canary') return { steps: [o.percent ?? 10, 100], waitMinutes: o.bakeMinutes ?? 10 };
  if (r.factory === 'linear') {
    const step = o.stepPercent ?? 20;
    return { steps: Array.from({ length: Math.ceil(100 / step) }, (_, i) => Math.min(100, (i + 1) * step)), waitMinutes: o.intervalMinutes ?? 5 };
  }
  return { steps: [100], waitMinutes: o.bakeMinutes ?? 0 };
}

/** What `a` asks of `target`: the spec's values with the documented defaults, then the target's EXCEPTIONS. */
function expectedMeaning(a: AgreementSpec, target: TargetName): Meaning {
  const min = a.minReplicas ?? 1;
  const m = (a.monitoring ?? {}) as { alarms?: boolean; errorRatePercent?: number; latencyP99Ms?: number; evaluationMinutes?: number };
  const minutes = m.evaluationMinutes ?? 3;
  const network = a.network ?? NetworkAccess.PRIVATE;
  const atRest = target === 'on-prem' ? 'private-files'
    : target === 'sagemaker' ? (a.gpu !== undefined ? 'platform-key' : 'customer-managed-key')
      : a.customerKey ? 'customer-managed-key' : 'platform-key';
  return {
    replicas: { initial: min, min, max: a.maxReplicas ?? min },
    gpu: a.gpu === undefined ? { kind: 'none', count: 0 } : { kind: a.gpu.gpu, count: a.gpu.count },
    routes: a.routes === undefined || target === 'sagemaker' ? { health: '/ping', predict: '/invocations', port: 8080 }
      : { health: a.routes.healthPath, predict: a.routes.predictPath, port: a.routes.port },
    rollout: expectedRollout(a.rollout),
    auth: a.auth ?? STRONGEST_AUTH[target],
    encryption: { atRest, inTransit: target !== 'on-prem' || network === NetworkAccess.PUBLIC },
    alarms: m.alarms === false || target === 'on-prem' ? undefined : {
      errorRatePercent: round(m.errorRatePercent ?? 5),
      errorEvaluationMinutes: target === 'azure-ml' && minutes > 6 ? atLeast(AZURE_LOG_WINDOWS, minutes) : minutes,
      latencyP99Ms: round(m.latencyP99Ms ?? 2000),
      latencyEvaluationMinutes: target === 'azure-ml' ? atLeast(AZURE_METRIC_WINDOWS, minutes) : minutes,
    },
    verification: a.verification === undefined ? undefined : {
      latencyBudgetMs: a.verification.latencyBudgetMs ?? 5000,
      samples: a.verification.samples.map((s, i): SampleMeaning => ({
        name: s.name ?? `sample-${i + 1}`, request: asJson(s.request), expected: asJson(s.expectedResponse),
        absoluteTolerance: s.absoluteTolerance ?? 0, relativeTolerance: s.relativeTolerance ?? 0,
      })),
    },
  };
}

/** Numbers read back through a unit change compare at 12 significant digits. */
function normalized(meaning: Meaning): Meaning {
  if (meaning.alarms === undefined) return meaning;
  const a = meaning.alarms;
  return { ...meaning, alarms: { ...a, errorRatePercent: round(a.errorRatePercent), latencyP99Ms: round(a.latencyP99Ms) } };
}

/** The parts of a meaning no exception touches: every target that accepts a spec must give the same. */
function shared(meaning: Meaning) {
  return { replicas: meaning.replicas, gpu: meaning.gpu, verification: meaning.verification, trafficSteps: meaning.rollout.steps };
}

type Outcome = { readonly meaning: Meaning } | { readonly refused: ModelDeploymentValidationError };

function outcome(a: AgreementSpec, target: TargetName): Outcome {
  try {
    return { meaning: synthesize(a, target) };
  } catch (e) {
    if (e instanceof ModelDeploymentValidationError) return { refused: e };
    throw e;
  }
}

/** Every target's outcome for `a`; each accepting target's meaning equals what the spec asks of it, and the shared parts agree. */
function checkAgreement(a: AgreementSpec): Record<TargetName, Outcome> {
  const outcomes = Object.fromEntries(TARGETS.map(t => [t, outcome(a, t)])) as Record<TargetName, Outcome>;
  const accepted = TARGETS.filter(t => 'meaning' in outcomes[t]);
  for (const t of accepted) {
    const meaning = (outcomes[t] as { meaning: Meaning }).meaning;
    // The target's documented exceptions ride along, so that a failure shows what the target may do differently.
    expect({ target: t, meaning: normalized(meaning), exceptions: EXCEPTIONS[t] }).toEqual({ target: t, meaning: expectedMeaning(a, t), exceptions: EXCEPTIONS[t] });
  }
  const sharedParts = accepted.map(t => ({ target: t, ...shared((outcomes[t] as { meaning: Meaning }).meaning) }));
  for (const other of sharedParts.slice(1)) expect({ ...other, target: sharedParts[0].target }).toEqual(sharedParts[0]);
  return outcomes;
}

// =================================================================================================
// Hand-written specs
// =================================================================================================

const SAMPLES: PredictionSample[] = [
  { name: 'fraud', request: { instances: [[0.1, 2, 3.5]] }, expectedResponse: { predictions: [0.93] }, absoluteTolerance: 0.01 },
  { request: [{ text: 'template ${var} and %{ if x }' }], expectedResponse: ['ok'], relativeTolerance: 0.05 },
];

/** Hand-written specs, and the targets that must refuse each (with the field they name). */
const SPECS: ReadonlyArray<readonly [string, AgreementSpec, Partial<Record<TargetName, string>>]> = [
  ['CPU, defaults everywhere', {}, {}],
  ['CPU with a size, two replicas, verification, tuned alarms', {
    cpu: { vcpus: 4, memoryGiB: 8 }, minReplicas: 2, verification: { samples: SAMPLES, latencyBudgetMs: 2500 },
    monitoring: { errorRatePercent: 2.5, latencyP99Ms: 750, evaluationMinutes: 5 }, endpointName: 'fraud-scorer',
  }, {}],
  ['one T4, two replicas, verification', { gpu: { gpu: GpuKind.NVIDIA_T4, count: 1 }, minReplicas: 2, verification: { samples: SAMPLES } }, {}],
  ['eight H100s, alarms over 20 minutes', { gpu: { gpu: GpuKind.NVIDIA_H100_80GB, count: 8 }, monitoring: { evaluationMinutes: 20 } }, {}],
  ['four T4s, public, alarms off', { gpu: { gpu: GpuKind.NVIDIA_T4, count: 4 }, network: NetworkAccess.PUBLIC, monitoring: { alarms: false } }, {}],
  ['customer-managed keys on every cloud', { customerKey: true, verification: { samples: [SAMPLES[0]] } }, {}],
  ['autoscaling 2 to 6', { minReplicas: 2, maxReplicas: 6 }, { 'on-prem': 'scaling.maxReplicas' }],
  ['a custom container\'s own routes', { routes: { port: 5001, healthPath: '/healthz', predictPath: '/score' }, verification: { samples: [SAMPLES[0]] } }, { sagemaker: 'serving.port' }],
  ['canary 10% for 5 minutes', { minReplicas: 2, rollout: { factory: 'canary', options: { percent: 10, bakeMinutes: 5 } } },
    { 'azure-ml': 'rollout', 'vertex-ai': 'rollout', 'on-prem': 'rollout' }],
  ['linear 25% steps', { minReplicas: 2, rollout: { factory: 'linear', options: { stepPercent: 25, intervalMinutes: 2 } } },
    { 'azure-ml': 'rollout', 'vertex-ai': 'rollout', 'on-prem': 'rollout' }],
  ['API keys', { auth: AuthMode.KEY }, { 'sagemaker': 'access.auth', 'vertex-ai': 'access.auth' }],
  ['IAM asked for', { auth: AuthMode.IAM }, { 'on-prem': 'access.auth' }],
  ['an A10G (AWS only)', { gpu: { gpu: GpuKind.NVIDIA_A10G, count: 1 } }, { 'azure-ml': 'compute', 'vertex-ai': 'compute' }],
];

describe('hand-written specs: every target that accepts one means the same; the others refuse it, naming the field', () => {
  test.each(SPECS)('%s', (_name, spec, refusals) => {
    const outcomes = checkAgreement(spec);
    const refused = Object.fromEntries(TARGETS.filter(t => 'refused' in outcomes[t]).map(t => [t, (outcomes[t] as { refused: ModelDeploymentValidationError }).refused.field]));
    expect(Object.keys(refused).sort()).toEqual(Object.keys(refusals).sort());
    for (const [target, field] of Object.entries(refusals)) expect({ target, field: refused[target] }).toEqual({ target, field: expect.stringMatching(new RegExp(`^${field}`)) });
  });
});

// =================================================================================================
// Random specs
// =================================================================================================

/** Every (GPU kind, count) a managed target offers, from the targets' published tables. */
const GPU_CHOICES = [...new Map([...SAGEMAKER_INSTANCE_TYPES, ...AZURE_ML_INSTANCE_TYPES, ...VERTEX_AI_MACHINE_TYPES]
  .filter(o => o.gpu !== undefined).map(o => [`${o.gpu}/${o.gpuCount}`, { gpu: o.gpu!, count: o.gpuCount }])).values()];
/** The GPUs all three clouds offer. */
const COMMON_GPUS = GPU_CHOICES.filter(c => [SAGEMAKER_INSTANCE_TYPES, AZURE_ML_INSTANCE_TYPES, VERTEX_AI_MACHINE_TYPES]
  .every(table => table.some(o => o.gpu === c.gpu && o.gpuCount === c.count)));

const jsonLeaf = fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.boolean(), fc.constant(null),
  fc.string({ maxLength: 12 }), fc.constantFrom('${x}', '%{ if y }', 'a\tb', 'é\u2028'));
const jsonValue = fc.oneof(jsonLeaf, fc.array(jsonLeaf, { maxLength: 3 }), fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), jsonLeaf, { maxKeys: 3 }));
const sample = fc.record({
  name: opt(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,12}$/)),
  request: fc.oneof(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), jsonValue, { maxKeys: 3 }), fc.array(jsonValue, { maxLength: 3 })),
  expectedResponse: jsonValue,
  absoluteTolerance: opt(fc.double({ min: 0, max: 10, noNaN: true })),
  relativeTolerance: opt(fc.double({ min: 0, max: 1, noNaN: true })),
}, { requiredKeys: ['request', 'expectedResponse'] });
const verification = fc.record({
  samples: fc.uniqueArray(sample, { minLength: 1, maxLength: 3, selector: s => s.name ?? Symbol('unnamed') })
    // Unnamed samples are called sample-N: a given name must not take one of those.
    .filter(samples => samples.every(s => s.name === undefined || !/^sample-\d+$/.test(s.name))),
  latencyBudgetMs: opt(fc.integer({ min: 100, max: 60_000 })),
}, { requiredKeys: ['samples'] }) as fc.Arbitrary<VerificationProps>;

/** Inside what all four targets take: fixed replicas, blue/green at once, the strongest auth, the custom container's routes, a GPU all clouds offer. */
const everyTarget: fc.Arbitrary<AgreementSpec> = fc.record({
  gpu: opt(fc.constantFrom(...COMMON_GPUS)),
  cpu: opt(fc.record({ vcpus: opt(fc.integer({ min: 1, max: 8 })), memoryGiB: opt(fc.integer({ min: 1, max: 16 })) })),
  minReplicas: opt(fc.integer({ min: 1, max: 4 })),
  network: opt(fc.constantFrom(NetworkAccess.PRIVATE, NetworkAccess.PUBLIC)),
  monitoring: validMonitoring(false).map(m => m === undefined ? undefined : { ...m, evaluationMinutes: Math.min(90, Number(m.evaluationMinutes ?? 3)) }),
  verification: opt(verification),
  endpointName: opt(validEndpointName.filter(n => n.length >= 3 && n.length <= 32).map(n => n.toLowerCase())),
});

/** Anything the spec allows in the fields where the targets differ: autoscaling, canary and linear, KEY and TOKEN, own routes, any GPU. */
/** Each field where the targets differ leaves what all four take a third of the time, so that most specs still reach several targets. */
const sometimes = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: arb, weight: 1 });
const anyTarget: fc.Arbitrary<AgreementSpec> = fc.record({
  base: everyTarget,
  gpu: sometimes(fc.constantFrom(...GPU_CHOICES)),
  extra: fc.oneof({ arbitrary: fc.constant(0), weight: 2 }, { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 1 }),
  rollout: sometimes(validRollout),
  auth: sometimes(fc.constantFrom(AuthMode.IAM, AuthMode.KEY, AuthMode.TOKEN)),
  routes: sometimes(fc.record({ port: fc.integer({ min: 1024, max: 9000 }), healthPath: fc.stringMatching(/^\/[a-z][a-z0-9_]{0,8}$/), predictPath: fc.stringMatching(/^\/[a-z][a-z0-9_]{0,8}$/) })),
}).map(({ base, gpu, extra, rollout, auth, routes }) => {
  // Canary and linear need two replicas to shift traffic between.
  const minReplicas = rollout !== undefined && 'factory' in rollout && rollout.factory !== 'allAtOnce' ? Math.max(2, base.minReplicas ?? 1) : base.minReplicas;
  return { ...base, gpu: gpu ?? base.gpu, minReplicas, maxReplicas: (minReplicas ?? 1) + extra, rollout, auth, routes };
});

describe('random specs (the property tests\' arbitraries): every target that accepts one means what it asks, and the targets agree', () => {
  test(`specs inside what every target takes are accepted by all four, and mean the same (${RANDOM_RUNS} runs)`, () => {
    fc.assert(fc.property(everyTarget, spec => {
      const outcomes = checkAgreement(spec);
      expect(TARGETS.filter(t => 'refused' in outcomes[t]).map(t => `${t}: ${(outcomes[t] as { refused: Error }).refused.message}`)).toEqual([]);
    }), { numRuns: RANDOM_RUNS });
  });

  test(`specs across everything the spec allows: each target accepts or refuses cleanly, and those that accept agree (${RANDOM_RUNS} runs)`, () => {
    const accepted: Record<TargetName, number> = { 'sagemaker': 0, 'azure-ml': 0, 'vertex-ai': 0, 'on-prem': 0 };
    const refusedBy: string[] = [];
    fc.assert(fc.property(anyTarget, spec => {
      const outcomes = checkAgreement(spec);
      for (const t of TARGETS) {
        if ('meaning' in outcomes[t]) accepted[t]++;
        else refusedBy.push(`${t}:${(outcomes[t] as { refused: ModelDeploymentValidationError }).refused.field}`);
      }
    }), { numRuns: RANDOM_RUNS });
    // Both outcomes are reached: not every spec is refused by every target.
    if (process.env.PROPERTY_VERBOSE) console.log(JSON.stringify({ accepted, refusedBy }));
    expect(Object.values(accepted).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });
});
