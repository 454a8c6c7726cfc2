/**
 * What a deployment means, read back from each target's synthesized output (a CloudFormation
 * template, a Terraform JSON configuration), never from the library's objects: the agreement test
 * (test/agreement.test.ts) compares these records between the targets and with the spec.
 *
 * Where an output does not carry a fact because the platform fixes it (SageMaker's routes, IAM on
 * SageMaker and Vertex AI, 100% of traffic to the new version where the target only does
 * blue/green), the reader says so in a comment and returns the platform's contract: those are the
 * documented exceptions, listed again in the test.
 */
import { AuthMode, GpuKind } from '../../../lib';
import { GPU_FACTS, InstanceOffer } from '../../../lib/spec/instance-catalog';
import { AZURE_ML_INSTANCE_TYPES } from '../../../lib/targets/azure-ml/instance-types';
import { SAGEMAKER_INSTANCE_TYPES } from '../../../lib/targets/sagemaker/instance-types';

/** One sample prediction as the output carries it (request and expected response parsed). */
export interface SampleMeaning {
  readonly name: string;
  readonly request: unknown;
  readonly expected: unknown;
  readonly absoluteTolerance: number;
  readonly relativeTolerance: number;
}

/** How data is protected at rest: a key the customer controls, the platform's own key, or (on-prem) files only the deploy user can read. */
export type AtRest = 'customer-managed-key' | 'platform-key' | 'private-files';

export interface Meaning {
  /** Replicas at deploy time, and the autoscaling bounds (both the initial count where there is no autoscaling). */
  readonly replicas: { readonly initial: number; readonly min: number; readonly max: number };
  /** The GPUs of one replica: none for CPU compute. */
  readonly gpu: { readonly kind: GpuKind | 'none'; readonly count: number };
  readonly routes: { readonly health: string; readonly predict: string; readonly port: number };
  /** The share of traffic (%) the new version has after each step, and the wait between steps. */
  readonly rollout: { readonly steps: readonly number[]; readonly waitMinutes: number };
  readonly auth: AuthMode;
  readonly encryption: { readonly atRest: AtRest; readonly inTransit: boolean };
  /** Thresholds (% of requests, ms) and how many minutes must breach; undefined where no alarm exists. */
  readonly alarms?: {
    readonly errorRatePercent: number; readonly errorEvaluationMinutes: number;
    readonly latencyP99Ms: number; readonly latencyEvaluationMinutes: number;
  };
  readonly verification?: { readonly latencyBudgetMs: number; readonly samples: readonly SampleMeaning[] };
}

/** Numbers read back through a unit change (Vertex AI's error rate is a fraction) compare at 12 significant digits. */
export const round = (n: number): number => Number(n.toPrecision(12));

/** Terraform's template escapes undone (`$${` and `%%{`), as Terraform itself reads a string of its JSON. */
export function terraformUnescape(text: string): string {
  return text.replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{');
}

function fail(message: string): never {
  throw new Error(`agreement reader: ${message}`);
}

function only<T = any>(items: T[], what: string): T {
  if (items.length !== 1) fail(`expected one ${what}, found ${items.length}`);
  return items[0];
}

function minutesOf(iso: string): number {
  const m = /^PT(\d+)M$/.exec(iso) ?? /^PT(\d+)H$/.exec(iso);
  if (m === null) fail(`not an ISO 8601 duration in minutes or hours: ${iso}`);
  return Number(m[1]) * (iso.endsWith('H') ? 60 : 1);
}

function decodeBase64Json(text: string): unknown {
  return JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
}

/** Samples in the travelling form (Azure ML's verification input, Vertex AI's bridge request): JSON as base64. */
function travellingSamples(v: any): Meaning['verification'] {
  if (v === undefined) return undefined;
  return {
    latencyBudgetMs: v.latencyBudgetMs,
    samples: v.samples.map((s: any) => ({
      name: s.name, request: decodeBase64Json(s.requestBase64), expected: decodeBase64Json(s.expectedBase64),
      absoluteTolerance: s.absoluteTolerance, relativeTolerance: s.relativeTolerance,
    })),
  };
}

/** A GPU offer of a target's published instance table, by the name the output gives. */
function offerNamed(table: readonly InstanceOffer[], name: string): InstanceOffer {
  const offers = table.filter(o => o.name === name);
  if (offers.length === 0) fail(`instance type ${name} is not in the target's published table`);
  return only(offers, `offer named ${name}`);
}

// ================================================================================================
// SageMaker: a CloudFormation template
// ================================================================================================

/**
 * AWS's accelerated-computing families and their GPU (AWS instance-type pages), independent of the
 * target's table: the family in the template's instance type must carry the GPU kind the table says.
 */
const SAGEMAKER_GPU_FAMILIES: Record<string, GpuKind> = {
  g4dn: GpuKind.NVIDIA_T4, g5: GpuKind.NVIDIA_A10G, g6: GpuKind.NVIDIA_L4, p4d: GpuKind.NVIDIA_A100_40GB,
  p4de: GpuKind.NVIDIA_A100_80GB, p5: GpuKind.NVIDIA_H100_80GB, p5e: GpuKind.NVIDIA_H200_141GB,
};
/** Families with NVMe instance storage, which AWS encrypts with a hardware key (SageMaker refuses a KmsKeyId for them). */
const NVME_FAMILIES = /^ml\.(g4dn|g5|g6|p4d|p4de|p5|p5e|[a-z]\d+[a-z]*d)\./;

export function readSageMaker(template: any): Meaning {
  const resources = Object.entries<any>(template.Resources);
  const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
  const [, config] = only(ofType('AWS::SageMaker::EndpointConfig'), 'AWS::SageMaker::EndpointConfig');
  const [, endpoint] = only(ofType('AWS::SageMaker::Endpoint'), 'AWS::SageMaker::Endpoint');
  const variant = only(config.Properties.ProductionVariants as any[], 'production variant');
  const scalable = ofType('AWS::ApplicationAutoScaling::ScalableTarget').map(([, r]) => r.Properties);

  const instanceType: string = variant.InstanceType;
  const family = /^ml\.([a-z0-9]+)\./.exec(instanceType)?.[1] ?? fail(`instance type ${instanceType}`);
  const offer = offerNamed(SAGEMAKER_INSTANCE_TYPES, instanceType);
  if (offer.gpuCount > 0 && SAGEMAKER_GPU_FAMILIES[family] !== offer.gpu) fail(`${instanceType}: the table says ${offer.gpu}, AWS's family ${family} has ${SAGEMAKER_GPU_FAMILIES[family]}`);
  if (offer.gpuCount === 0 && SAGEMAKER_GPU_FAMILIES[family] !== undefined) fail(`${instanceType}: a GPU family without GPUs in the table`);

  const routing = endpoint.Properties.DeploymentConfig?.BlueGreenUpdatePolicy?.TrafficRoutingConfiguration ?? fail('no blue/green traffic routing');
  const steps = routing.Type === 'ALL_AT_ONCE' ? [100]
    : routing.Type === 'CANARY' ? [routing.CanarySize.Value, 100]
      : routing.Type === 'LINEAR' ? Array.from({ length: Math.ceil(100 / routing.LinearStepSize.Value) }, (_, i) => Math.min(100, (i + 1) * routing.LinearStepSize.Value))
        : fail(`traffic routing ${routing.Type}`);

  const keyIds = new Set(ofType('AWS::KMS::Key').map(([id]) => id));
  // The stack's own KMS key, or the one given (a key ARN): a customer-managed key either way.
  const usesOwnKey = (props: any) => (props?.KmsKeyId?.['Fn::GetAtt']?.[1] === 'Arn' && keyIds.has(props.KmsKeyId['Fn::GetAtt'][0]))
    || /^arn:aws:kms:[a-z0-9-]+:\d{12}:key\//.test(String(props?.KmsKeyId));
  const logsEncrypted = ofType('AWS::Logs::LogGroup').every(([, r]) => usesOwnKey(r.Properties));
  const atRest: AtRest = !logsEncrypted ? fail('a log group without the KMS key')
    : usesOwnKey(config.Properties) ? 'customer-managed-key'
      : NVME_FAMILIES.test(instanceType) && config.Properties.KmsKeyId === undefined ? 'platform-key'
        : fail(`endpoint config of ${instanceType} without a KMS key`);
  const invokeUrl = only(Object.entries<any>(template.Outputs ?? {}).filter(([id]) => id.includes('InvokeUrl')), 'InvokeUrl output')[1].Value;

  const alarms = ofType('AWS::CloudWatch::Alarm').map(([, r]) => r.Properties);
  const errorAlarm = alarms.filter(a => (a.Metrics ?? []).some((m: any) => m.MetricStat?.Metric.MetricName === 'Invocation5XXErrors'));
  const latencyAlarm = alarms.filter(a => a.MetricName === 'ModelLatency');
  if (errorAlarm.length !== latencyAlarm.length) fail('error-rate and latency alarms come in pairs');
  const check = ofType('Custom::SageMakerVerification').map(([, r]) => r.Properties);

  const initial: number = variant.InitialInstanceCount;
  return {
    replicas: scalable.length === 0 ? { initial, min: initial, max: initial }
      : { initial, min: only(scalable, 'scalable target').MinCapacity, max: scalable[0].MaxCapacity },
    gpu: offer.gpuCount === 0 ? { kind: 'none', count: 0 } : { kind: offer.gpu!, count: offer.gpuCount },
    // SageMaker's hosting contract: the container answers GET /ping and POST /invocations on port 8080. The template has no route.
    routes: { health: '/ping', predict: '/invocations', port: 8080 },
    rollout: { steps, waitMinutes: routing.WaitIntervalInSeconds / 60 },
    // SageMaker's InvokeEndpoint takes only SigV4-signed (IAM) requests. The template has no auth setting.
    auth: AuthMode.IAM,
    encryption: { atRest, inTransit: String(invokeUrl['Fn::Join']?.[1]?.[0] ?? invokeUrl).startsWith('https://') },
    alarms: errorAlarm.length === 0 ? undefined : {
      errorRatePercent: only(errorAlarm, 'error-rate alarm').Threshold,
      errorEvaluationMinutes: errorAlarm[0].EvaluationPeriods * errorAlarm[0].Metrics.find((m: any) => m.Id === 'errors').MetricStat.Period / 60,
      // ModelLatency is in microseconds.
      latencyP99Ms: round(only(latencyAlarm, 'latency alarm').Threshold / 1000),
      latencyEvaluationMinutes: latencyAlarm[0].EvaluationPeriods * latencyAlarm[0].Period / 60,
    },
    verification: check.length === 0 ? undefined : {
      latencyBudgetMs: only(check, 'verification custom resource').LatencyBudgetMs,
      samples: JSON.parse(check[0].Samples).map((s: any) => ({
        name: s.name, request: JSON.parse(s.requestJson), expected: s.expectedResponse, absoluteTolerance: s.absoluteTolerance, relativeTolerance: s.relativeTolerance,
      })),
    },
  };
}

// ================================================================================================
// Azure ML: Terraform JSON (azapi and azurerm)
// ================================================================================================

/** Azure ML's endpoint auth modes (the ARM schema's EndpointAuthMode) and what the spec calls them. */
const AZURE_AUTH: Record<string, AuthMode> = { AADToken: AuthMode.IAM, Key: AuthMode.KEY, AMLToken: AuthMode.TOKEN };
/** The GPU an Azure VM size's name announces (Azure's N-series naming). */
const AZURE_GPU_IN_NAME: Array<[RegExp, GpuKind]> = [[/_T4_/, GpuKind.NVIDIA_T4], [/_A100_/, GpuKind.NVIDIA_A100_80GB], [/_H100_/, GpuKind.NVIDIA_H100_80GB]];

export function readAzureMl(json: any): Meaning {
  const azapi = Object.values<any>(json.resource.azapi_resource);
  const ofArmType = (t: string) => azapi.filter(r => r.type.split('@')[0].endsWith(`/${t}`));
  const deployment = only(ofArmType('deployments'), 'deployment');
  const endpoint = only(ofArmType('onlineEndpoints'), 'online endpoint');
  const inference = only(ofArmType('versions').filter(r => r.type.includes('/environments/')), 'environment version').body.properties.inferenceConfig;
  const autoscale = Object.values<any>(json.resource.azurerm_monitor_autoscale_setting ?? {});

  const instanceType: string = deployment.body.properties.instanceType;
  const offer = offerNamed(AZURE_ML_INSTANCE_TYPES, instanceType);
  const named = AZURE_GPU_IN_NAME.find(([pattern]) => pattern.test(instanceType))?.[1];
  if (named !== offer.gpu) fail(`${instanceType}: the table says ${offer.gpu}, the name says ${named}`);

  const probes = [inference.livenessRoute, inference.readinessRoute, inference.startupRoute];
  if (probes.some(p => p.path !== inference.readinessRoute.path || p.port !== inference.scoringRoute.port)) fail(`probes disagree: ${JSON.stringify(inference)}`);

  const traffic = only(Object.values<any>(json.resource.azapi_update_resource), 'traffic update').body.properties.traffic;
  if (Object.values<number>(traffic).reduce((a, b) => a + b, 0) !== 100) fail(`traffic does not add up to 100: ${JSON.stringify(traffic)}`);

  const storage = only(Object.values<any>(json.resource.azurerm_storage_account ?? {}), 'storage account');
  const workspace = only(Object.values<any>(json.resource.azurerm_machine_learning_workspace ?? {}), 'workspace');
  const atRest: AtRest = workspace.encryption?.key_id !== undefined ? 'customer-managed-key'
    : storage.infrastructure_encryption_enabled === true ? 'platform-key' : fail('storage without infrastructure encryption');

  const latency = Object.values<any>(json.resource.azurerm_monitor_metric_alert ?? {});
  const errors = Object.values<any>(json.resource.azurerm_monitor_scheduled_query_rules_alert_v2 ?? {});
  if (latency.length !== errors.length) fail('error-rate and latency alerts come in pairs');
  const verify = Object.entries<any>(json.resource.terraform_data ?? {}).filter(([id]) => id.includes('_Verification_')).map(([, r]) => r.input);

  const initial: number = deployment.body.sku.capacity;
  const capacity = autoscale.length === 0 ? undefined : only(only(autoscale, 'autoscale setting').profile, 'autoscale profile').capacity;
  const errorCriteria = errors.length === 0 ? undefined : only(only(errors, 'error-rate alert').criteria, 'criteria');
  return {
    replicas: capacity === undefined ? { initial, min: initial, max: initial } : { initial, min: capacity.minimum, max: capacity.maximum },
    gpu: offer.gpuCount === 0 ? { kind: 'none', count: 0 } : { kind: offer.gpu!, count: offer.gpuCount },
    routes: { health: inference.readinessRoute.path, predict: inference.scoringRoute.path, port: inference.scoringRoute.port },
    // Blue/green in one apply: the traffic update gives the new deployment its share once it is provisioned (and verified).
    rollout: { steps: [traffic[deployment.name]], waitMinutes: 0 },
    auth: AZURE_AUTH[endpoint.body.properties.authMode] ?? fail(`auth mode ${endpoint.body.properties.authMode}`),
    // The scoring URI is Azure's https address; the stack's own data path, the storage account, takes HTTPS and TLS 1.2 only.
    encryption: { atRest, inTransit: storage.https_traffic_only_enabled === true && storage.min_tls_version === 'TLS1_2' },
    alarms: errorCriteria === undefined ? undefined : {
      errorRatePercent: errorCriteria.threshold,
      errorEvaluationMinutes: errorCriteria.failing_periods.minimum_failing_periods_to_trigger_alert * minutesOf(errors[0].window_duration),
      latencyP99Ms: only(only(latency, 'latency alert').criteria, 'criteria').threshold,
      latencyEvaluationMinutes: minutesOf(latency[0].window_size),
    },
    verification: verify.length === 0 ? undefined : travellingSamples(only(verify, 'verification').verification),
  };
}

// ================================================================================================
// Vertex AI: Terraform JSON (google provider and the bridge's terraform_data)
// ================================================================================================

/** Vertex AI's AcceleratorType enum values and the GPUs they name (Google's accelerator table). */
const VERTEX_ACCELERATORS: Record<string, GpuKind> = {
  NVIDIA_TESLA_T4: GpuKind.NVIDIA_T4, NVIDIA_L4: GpuKind.NVIDIA_L4, NVIDIA_TESLA_A100: GpuKind.NVIDIA_A100_40GB,
  NVIDIA_A100_80GB: GpuKind.NVIDIA_A100_80GB, NVIDIA_H100_80GB: GpuKind.NVIDIA_H100_80GB, NVIDIA_H200_141GB: GpuKind.NVIDIA_H200_141GB,
};

export function readVertexAi(json: any): Meaning {
  const data = Object.entries<any>(json.resource.terraform_data).filter(([id]) => id.includes('_Deployment_')).map(([, r]) => r.input);
  // The bridge reads the request as Terraform hands it over (jsonencode(self.input)): escapes undone.
  const request = JSON.parse(terraformUnescape(JSON.stringify(only(data, 'bridge deployment'))));
  const machine = request.deployment.machineSpec;
  const container = request.model.container;
  const endpoint = only(Object.values<any>(json.resource.google_vertex_ai_endpoint), 'endpoint');
  const bucket = only(Object.values<any>(json.resource.google_storage_bucket ?? {}), 'artifact bucket');
  const cmek = [endpoint.encryption_spec?.kms_key_name, bucket.encryption?.default_kms_key_name, request.model.encryptionSpec?.kmsKeyName];
  if (new Set(cmek).size !== 1) fail(`the endpoint, bucket and model do not share one key: ${JSON.stringify(cmek)}`);
  const predictUrl = only(Object.entries<any>(json.output ?? {}).filter(([id]) => id.includes('PredictUrl')), 'PredictUrl output')[1].value;

  const policies = Object.values<any>(json.resource.google_monitoring_alert_policy ?? {});
  const condition = (p: any) => only(p.conditions, 'condition').condition_threshold;
  const errorPolicy = policies.filter(p => condition(p).filter.includes('/error_count"'));
  const latencyPolicy = policies.filter(p => condition(p).filter.includes('/prediction_latencies"'));
  if (errorPolicy.length !== latencyPolicy.length || errorPolicy.length + latencyPolicy.length !== policies.length) fail('alert policies come in pairs');
  const seconds = (d: string) => Number(/^(\d+)s$/.exec(d)?.[1] ?? fail(`duration ${d}`));
  return {
    // Vertex AI starts a deployed model at its minReplicaCount.
    replicas: { initial: request.deployment.minReplicaCount, min: request.deployment.minReplicaCount, max: request.deployment.maxReplicaCount },
    gpu: machine.acceleratorType === undefined ? { kind: 'none', count: machine.acceleratorCount ?? 0 }
      : { kind: VERTEX_ACCELERATORS[machine.acceleratorType] ?? fail(`accelerator ${machine.acceleratorType}`), count: machine.acceleratorCount },
    routes: { health: container.healthRoute, predict: container.predictRoute, port: container.port },
    // The bridge request carries no traffic split: the bridge gives the new deployed model 100% once deployed (and verified).
    rollout: { steps: [100], waitMinutes: 0 },
    // Vertex AI authenticates every prediction with Google IAM; the configuration has no auth setting.
    auth: AuthMode.IAM,
    encryption: { atRest: cmek[0] !== undefined ? 'customer-managed-key' : 'platform-key', inTransit: String(predictUrl).startsWith('https://') },
    alarms: errorPolicy.length === 0 ? undefined : {
      errorRatePercent: round(condition(only(errorPolicy, 'error policy')).threshold_value * 100),
      errorEvaluationMinutes: seconds(condition(errorPolicy[0]).duration) / 60,
      latencyP99Ms: condition(only(latencyPolicy, 'latency policy')).threshold_value,
      latencyEvaluationMinutes: seconds(condition(latencyPolicy[0]).duration) / 60,
    },
    verification: travellingSamples(request.verification),
  };
}

// ================================================================================================
// On-prem: Terraform JSON (terraform_data with SSH provisioners; deploy.env and samples.tsv per host)
// ================================================================================================

function envFile(content: string): Record<string, string> {
  return Object.fromEntries(content.trim().split('\n').map(line => {
    const m = /^(\w+)='(.*)'$/.exec(line) ?? fail(`deploy.env line ${line}`);
    return [m[1], m[2]];
  }));
}

export function readOnPrem(json: any): Meaning {
  const data = Object.entries<any>(json.resource.terraform_data);
  const files = (r: any) => r.provisioner.filter((p: any) => p.file).map((p: any) => p.file);
  const hosts = data.filter(([id]) => /-deployment_/.test(id)).map(([, r]) => {
    const file = (name: string) => files(r).find((f: any) => f.destination.endsWith(`/${name}`));
    const created = r.provisioner.filter((p: any) => p['remote-exec']).flatMap((p: any) => p['remote-exec'].inline).join('\n');
    return { env: envFile(terraformUnescape(file('deploy.env').content)), samples: file('samples.tsv')?.content as string | undefined, created };
  });
  if (hosts.length === 0) fail('no host deployment');
  const keys = data.filter(([id]) => /-keys_/.test(id)).map(([, r]) => files(r).some((f: any) => f.destination.endsWith('/proxy/api-keys.upload')));
  const urls = Object.values<string>(only(Object.entries<any>(json.output ?? {}).filter(([id]) => id.includes('HostUrls')), 'HostUrls output')[1].value).map(u => new URL(u));

  const first = hosts[0].env;
  for (const h of hosts) {
    for (const key of ['MD_GPUS_PER_REPLICA', 'MD_GPU_NAMES', 'MD_CONTAINER_PORT', 'MD_HEALTH_PATH', 'MD_VERIFY_BUDGET_MS', 'MD_VERIFY_PATH']) {
      if (h.env[key] !== first[key]) fail(`hosts disagree on ${key}`);
    }
  }
  const replicas = hosts.reduce((sum, h) => sum + Number(h.env.MD_REPLICAS), 0);
  const gpuCount = Number(first.MD_GPUS_PER_REPLICA || '0');
  const names = first.MD_GPU_NAMES === '' ? [] : first.MD_GPU_NAMES.split('|');
  // nvidia-smi's names for a GPU kind are the spec's one definition of what a host must show.
  const kind = Object.values(GpuKind).find(k => GPU_FACTS[k].nvidiaSmiNames.join('|') === names.join('|'));
  const predict = new Set(urls.map(u => u.pathname));
  const privateFiles = hosts.every(h => /umask 077/.test(h.created) && /chmod 600 \S*\/deploy\.env \S*\/container\.env( \S*\/samples\.tsv)?/.test(h.created));
  const sampleCount = Number(first.MD_VERIFY_SAMPLES ?? '0');
  // The host sends the samples to the predict route, through the same proxy as callers.
  if (sampleCount > 0 && !predict.has(first.MD_VERIFY_PATH)) fail(`samples go to ${first.MD_VERIFY_PATH}, callers to ${[...predict].join(', ')}`);
  return {
    replicas: { initial: replicas, min: replicas, max: replicas },
    gpu: gpuCount === 0 ? { kind: 'none', count: 0 } : { kind: kind ?? fail(`GPU names ${names.join('|')}`), count: gpuCount },
    routes: { health: first.MD_HEALTH_PATH, predict: predict.size === 1 ? [...predict][0] : fail('hosts disagree on the predict path'), port: Number(first.MD_CONTAINER_PORT) },
    // Each host switches its proxy from the old colour to the new one at once (blue/green per host).
    rollout: { steps: [100], waitMinutes: 0 },
    auth: keys.length === hosts.length && keys.every(Boolean) ? AuthMode.KEY : fail('a host without the API key upload'),
    encryption: {
      atRest: privateFiles ? 'private-files' : fail('a host file not created private'),
      inTransit: first.MD_TLS_CERT !== '' && urls.every(u => u.protocol === 'https:'),
    },
    // No alarm service on-prem.
    alarms: undefined,
    verification: sampleCount === 0 ? undefined : {
      latencyBudgetMs: Number(first.MD_VERIFY_BUDGET_MS),
      samples: terraformUnescape(hosts[0].samples ?? fail('samples.tsv missing')).split('\n').filter(l => l !== '').map(line => {
        const [name, abs, rel, request, expected] = line.split('\t');
        return { name, request: JSON.parse(request), expected: JSON.parse(expected), absoluteTolerance: Number(abs), relativeTolerance: Number(rel) };
      }),
    },
  };
}
