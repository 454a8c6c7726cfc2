import { AuthMode, NetworkAccess } from '../../lib/spec/access';
import { ArtifactLayout, ArtifactScheme, ArtifactSource, ModelArtifact } from '../../lib/spec/artifact';
import { Compute, ComputeKind, GpuKind } from '../../lib/spec/compute';
import { ModelDeploymentValidationError, renderValue } from '../../lib/spec/errors';
import { GPU_FACTS, InstanceCatalog, InstanceOffer, cpuOffer, findInstance, gpuOffer, selectInstance } from '../../lib/spec/instance-catalog';
import { resolveMonitoring } from '../../lib/spec/monitoring';
import { Rollout, RolloutStrategy } from '../../lib/spec/rollout';
import { ScalingMetric, ScalingTarget, resolveScaling } from '../../lib/spec/scaling';
import { ServingContainer, ServingFramework } from '../../lib/spec/serving';
import { ModelDeploymentSpecProps, resolveSpec } from '../../lib/spec/spec';
import { expectFits } from '../support/instance-table';
import { expectRefusal } from '../support/refusal';

const ECR_IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/my-model:1.0';

function base(extra: Partial<ModelDeploymentSpecProps> = {}): ModelDeploymentSpecProps {
  return { model: ModelArtifact.fromUri('s3://my-bucket/models/model.tar.gz'), serving: ServingContainer.sklearn(), ...extra };
}

// ------------------------------------------------------------------------------------------------

describe('ModelDeploymentValidationError', () => {
  test('carries field, rendered value, allowed and target, and puts them all in the message', () => {
    const err = new ModelDeploymentValidationError('compute.count', 3, 'an integer from 1 to 16', 'sageMaker');
    expect(err).toBeInstanceOf(ModelDeploymentValidationError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ModelDeploymentValidationError');
    expect(err.field).toBe('compute.count');
    expect(err.value).toBe('3');
    expect(err.allowed).toBe('an integer from 1 to 16');
    expect(err.target).toBe('sageMaker');
    expect(err.message).toBe('sageMaker target: invalid compute.count: 3. Allowed: an integer from 1 to 16');
  });

  test('renderValue quotes strings, shortens long objects and survives cycles', () => {
    expect(renderValue('x')).toBe('"x"');
    expect(renderValue(undefined)).toBe('undefined');
    expect(renderValue(null)).toBe('null');
    expect(renderValue(false)).toBe('false');
    expect(renderValue(1.5)).toBe('1.5');
    expect(renderValue({ a: 1 })).toBe('{"a":1}');
    const long = renderValue({ text: 'y'.repeat(500) });
    expect(long.length).toBe(200);
    expect(long.endsWith('...')).toBe(true);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(renderValue(cyclic)).toBe('[object Object]');
  });
});

describe('resolveSpec defaults', () => {
  test('a minimal spec gets every default', () => {
    const spec = resolveSpec(base());
    expect(spec.compute.kind).toBe(ComputeKind.CPU);
    expect(spec.compute.vcpus).toBe(2);
    expect(spec.compute.memoryGiB).toBe(4);
    expect(spec.compute.gpuCount).toBe(0);
    expect(spec.compute.gpu).toBeUndefined();
    expect(spec.scaling).toEqual({ minReplicas: 1, maxReplicas: 1, target: undefined, scaleInCooldownSeconds: 300, scaleOutCooldownSeconds: 60 });
    expect(spec.rollout.strategy).toBe(RolloutStrategy.ALL_AT_ONCE);
    expect(spec.rollout.stepPercent).toBe(100);
    expect(spec.rollout.waitMinutes).toBe(0);
    expect(spec.rollout.rollbackOnAlarms).toBe(true);
    expect(spec.rollout.terminationWaitMinutes).toBe(0);
    expect(spec.network).toBe(NetworkAccess.PRIVATE);
    expect(spec.auth).toBeUndefined();
    expect(spec.monitoring).toEqual({ alarms: true, errorRatePercent: 5, latencyP99Ms: 2000, evaluationMinutes: 3, capture: undefined });
    expect(spec.endpointName).toBeUndefined();
    expect(spec.tags).toEqual({});
  });

  test('keeps what was given', () => {
    const compute = Compute.gpu({ gpu: GpuKind.NVIDIA_L4, count: 4 });
    const rollout = Rollout.canary({ percent: 25, bakeMinutes: 15, rollbackOnAlarms: false, terminationWaitMinutes: 5 });
    const spec = resolveSpec(base({
      compute,
      rollout,
      scaling: { minReplicas: 2, maxReplicas: 6, target: ScalingTarget.invocationsPerReplicaPerMinute(500), scaleInCooldownSeconds: 0, scaleOutCooldownSeconds: 86400 },
      access: { auth: AuthMode.IAM, network: NetworkAccess.PUBLIC },
      monitoring: { alarms: false, errorRatePercent: 0.5, latencyP99Ms: 150, evaluationMinutes: 10, capture: { samplingPercent: 20, responses: false } },
      endpointName: 'My-Endpoint-1',
      tags: { team: 'ml', 'cost:center': '1234' },
    }));
    expect(spec.compute).toBe(compute);
    expect(spec.rollout).toBe(rollout);
    expect(spec.rollout).toMatchObject({ strategy: RolloutStrategy.CANARY, stepPercent: 25, waitMinutes: 15, rollbackOnAlarms: false, terminationWaitMinutes: 5 });
    expect(spec.scaling.minReplicas).toBe(2);
    expect(spec.scaling.maxReplicas).toBe(6);
    expect(spec.scaling.target?.metric).toBe(ScalingMetric.INVOCATIONS_PER_REPLICA_PER_MINUTE);
    expect(spec.scaling.target?.value).toBe(500);
    expect(spec.scaling.scaleInCooldownSeconds).toBe(0);
    expect(spec.scaling.scaleOutCooldownSeconds).toBe(86400);
    expect(spec.auth).toBe(AuthMode.IAM);
    expect(spec.network).toBe(NetworkAccess.PUBLIC);
    expect(spec.monitoring).toEqual({
      alarms: false, errorRatePercent: 0.5, latencyP99Ms: 150, evaluationMinutes: 10,
      capture: { samplingPercent: 20, requests: true, responses: false },
    });
    expect(spec.endpointName).toBe('My-Endpoint-1');
    expect(spec.tags).toEqual({ team: 'ml', 'cost:center': '1234' });
  });

  test('the tags are copied, not shared', () => {
    const tags: Record<string, string> = { a: 'b' };
    const spec = resolveSpec(base({ tags }));
    tags.c = 'd';
    expect(spec.tags).toEqual({ a: 'b' });
  });

  test('extra keys a target declares are not refused; undefined unknown keys are ignored', () => {
    const props = { ...base(), instanceType: 'ml.m5.large', notThere: undefined } as unknown as ModelDeploymentSpecProps;
    expect(() => resolveSpec(props, ['instanceType'])).not.toThrow();
    expectRefusal(() => resolveSpec(props), 'props.instanceType', { rawValue: 'ml.m5.large', allowed: 'no such property' });
  });

  test('default scaling target: gpuPercent(70) for GPU, cpuPercent(70) for CPU, only when max > min', () => {
    const gpu = resolveSpec(base({ compute: Compute.gpu({ gpu: GpuKind.NVIDIA_A10G }), scaling: { minReplicas: 1, maxReplicas: 3 } }));
    expect(gpu.scaling.target?.metric).toBe(ScalingMetric.GPU_PERCENT);
    expect(gpu.scaling.target?.value).toBe(70);

    const cpu = resolveSpec(base({ scaling: { maxReplicas: 4 } }));
    expect(cpu.scaling.minReplicas).toBe(1);
    expect(cpu.scaling.target?.metric).toBe(ScalingMetric.CPU_PERCENT);
    expect(cpu.scaling.target?.value).toBe(70);

    const defaultCpu = resolveSpec(base({ compute: undefined, scaling: { minReplicas: 2, maxReplicas: 3 } }));
    expect(defaultCpu.scaling.target?.metric).toBe(ScalingMetric.CPU_PERCENT);

    const fixed = resolveSpec(base({ compute: Compute.gpu({ gpu: GpuKind.NVIDIA_A10G }), scaling: { minReplicas: 3, maxReplicas: 3, target: ScalingTarget.gpuPercent(50) } }));
    expect(fixed.scaling.target).toBeUndefined();

    const explicit = resolveSpec(base({ compute: Compute.gpu({ gpu: GpuKind.NVIDIA_A10G }), scaling: { maxReplicas: 2, target: ScalingTarget.cpuPercent(40) } }));
    expect(explicit.scaling.target?.metric).toBe(ScalingMetric.CPU_PERCENT);
    expect(explicit.scaling.target?.value).toBe(40);
  });

  test('minReplicas alone sets maxReplicas to the same (at least 1)', () => {
    expect(resolveScaling({ minReplicas: 5 }, ScalingTarget.cpuPercent(70))).toMatchObject({ minReplicas: 5, maxReplicas: 5, target: undefined });
    const zero = resolveScaling({ minReplicas: 0 }, ScalingTarget.cpuPercent(70));
    expect(zero).toMatchObject({ minReplicas: 0, maxReplicas: 1 });
    expect(zero.target?.metric).toBe(ScalingMetric.CPU_PERCENT);
  });

  test('the rollout factories fill their defaults', () => {
    expect(Rollout.canary()).toMatchObject({ strategy: RolloutStrategy.CANARY, stepPercent: 10, waitMinutes: 10, rollbackOnAlarms: true, terminationWaitMinutes: 0 });
    expect(Rollout.linear()).toMatchObject({ strategy: RolloutStrategy.LINEAR, stepPercent: 20, waitMinutes: 5, rollbackOnAlarms: true });
    expect(Rollout.allAtOnce({ bakeMinutes: 7 })).toMatchObject({ strategy: RolloutStrategy.ALL_AT_ONCE, stepPercent: 100, waitMinutes: 7 });
  });

  test('Compute.describe', () => {
    expect(Compute.cpu().describe()).toBe('2 vCPU / 4 GiB');
    expect(Compute.gpu({ gpu: GpuKind.NVIDIA_A10G, count: 4 }).describe()).toBe('4 x nvidia-a10g');
    const g = Compute.gpu({ gpu: GpuKind.NVIDIA_T4 });
    expect(g).toMatchObject({ kind: ComputeKind.GPU, gpu: GpuKind.NVIDIA_T4, gpuCount: 1, vcpus: 1, memoryGiB: 1 });
  });
});

describe('ModelArtifact', () => {
  test.each([
    ['s3://my-bucket/models/model.tar.gz', ArtifactScheme.S3, ArtifactLayout.TAR_GZ],
    ['s3://my-bucket/models/llama/', ArtifactScheme.S3, ArtifactLayout.PREFIX],
    ['s3://my-bucket/models/model.onnx', ArtifactScheme.S3, ArtifactLayout.FILES],
    ['gs://my-bucket/model/', ArtifactScheme.GCS, ArtifactLayout.PREFIX],
    ['https://myaccount.blob.core.windows.net/models/model.tar.gz', ArtifactScheme.AZURE_BLOB, ArtifactLayout.TAR_GZ],
    ['azureml://registries/azureml/models/phi/versions/1', ArtifactScheme.AZURE_ML, ArtifactLayout.FILES],
    ['https://example.com/models/model.onnx', ArtifactScheme.HTTPS, ArtifactLayout.FILES],
  ])('fromUri(%s) infers scheme and layout', (uri, scheme, layout) => {
    const artifact = ModelArtifact.fromUri(uri);
    expect(artifact.source).toBe(ArtifactSource.URI);
    expect(artifact.uri).toBe(uri);
    expect(artifact.scheme).toBe(scheme);
    expect(artifact.layout).toBe(layout);
    expect(artifact.localPath).toBeUndefined();
  });

  test('fromLocalPath keeps the path; a .tar.gz is TAR_GZ, anything else FILES', () => {
    expect(ModelArtifact.fromLocalPath('test/fixtures/linear-model')).toMatchObject({ source: ArtifactSource.LOCAL_PATH, localPath: 'test/fixtures/linear-model', layout: ArtifactLayout.FILES });
    expect(ModelArtifact.fromLocalPath('/tmp/model.tar.gz').layout).toBe(ArtifactLayout.TAR_GZ);
  });

  test.each(['ftp://host/model.tar.gz', 'http://example.com/model', 'S3://bucket/key', 'my-bucket/key', '', 's3://UPPER/key', 'https://host'])(
    'fromUri refuses %j naming model.uri and the accepted schemes', (uri) => {
      expectRefusal(() => ModelArtifact.fromUri(uri), 'model.uri', { rawValue: uri, allowed: 's3://BUCKET/KEY' });
    });

  test('fromUri refuses a non-string', () => {
    expectRefusal(() => ModelArtifact.fromUri(42 as unknown as string), 'model.uri', { value: '42', allowed: 'gs://BUCKET/OBJECT' });
  });

  test('PREFIX layout needs a trailing slash', () => {
    expectRefusal(() => ModelArtifact.fromUri('s3://my-bucket/models/llama', { layout: ArtifactLayout.PREFIX }), 'model.uri',
      { rawValue: 's3://my-bucket/models/llama', allowed: 'ends with "/"' });
    expect(ModelArtifact.fromUri('s3://my-bucket/models/llama/', { layout: ArtifactLayout.PREFIX }).layout).toBe(ArtifactLayout.PREFIX);
  });

  test('an explicit layout overrides the inferred one; an unknown layout is refused', () => {
    expect(ModelArtifact.fromUri('s3://my-bucket/models/model.bin', { layout: ArtifactLayout.TAR_GZ }).layout).toBe(ArtifactLayout.TAR_GZ);
    expectRefusal(() => ModelArtifact.fromUri('s3://my-bucket/m', { layout: 'zip' as ArtifactLayout }), 'model.layout',
      { rawValue: 'zip', allowedExact: 'tar.gz, prefix, files' });
  });

  test.each(['', '   ', '\t\n'])('fromLocalPath refuses the empty path %j', (p) => {
    expectRefusal(() => ModelArtifact.fromLocalPath(p), 'model.path', { rawValue: p, allowed: 'non-empty path' });
  });

  test('fromLocalPath refuses a non-string', () => {
    expectRefusal(() => ModelArtifact.fromLocalPath(undefined as unknown as string), 'model.path', { value: 'undefined' });
  });
});

describe('ServingContainer presets', () => {
  test('triton: port 8000, /v2/health/ready, /v2/models/NAME/infer', () => {
    const t = ServingContainer.triton();
    expect(t).toMatchObject({ framework: ServingFramework.TRITON, port: 8000, healthPath: '/v2/health/ready', predictPath: '/v2/models/model/infer', modelName: 'model', startupTimeoutSeconds: 600, environment: {} });
    expect(t.image).toBeUndefined();
    const named = ServingContainer.triton({ modelName: 'resnet50' });
    expect(named.predictPath).toBe('/v2/models/resnet50/infer');
    expect(named.modelName).toBe('resnet50');
  });

  test('torchServe: port 8080, /ping, /predictions/NAME', () => {
    expect(ServingContainer.torchServe({ modelName: 'bert' })).toMatchObject({ framework: ServingFramework.TORCHSERVE, port: 8080, healthPath: '/ping', predictPath: '/predictions/bert', modelName: 'bert' });
    expect(ServingContainer.torchServe().predictPath).toBe('/predictions/model');
  });

  test('tfServing: port 8501, /v1/models/NAME and :predict', () => {
    expect(ServingContainer.tfServing({ modelName: 'half_plus_two' })).toMatchObject({
      framework: ServingFramework.TENSORFLOW_SERVING, port: 8501, healthPath: '/v1/models/half_plus_two', predictPath: '/v1/models/half_plus_two:predict',
    });
  });

  test.each([
    ['sklearn', () => ServingContainer.sklearn(), ServingFramework.SKLEARN],
    ['xgboost', () => ServingContainer.xgboost(), ServingFramework.XGBOOST],
  ])('%s: port 8080, /ping, /invocations', (_name, make, framework) => {
    const s = make();
    expect(s).toMatchObject({ framework, port: 8080, healthPath: '/ping', predictPath: '/invocations' });
    expect(s.modelName).toBeUndefined();
  });

  test('vllm requires a modelId; serves on 8000 /health /v1/completions', () => {
    expectRefusal(() => ServingContainer.vllm({} as never), 'serving.modelId', { value: 'undefined', allowed: 'model id' });
    expectRefusal(() => ServingContainer.vllm({ modelId: '  ' }), 'serving.modelId', { rawValue: '  ' });
    expectRefusal(() => ServingContainer.vllm(undefined as never), 'serving.modelId', { value: 'undefined' });
    expect(ServingContainer.vllm({ modelId: 'meta-llama/Llama-3.1-8B-Instruct' })).toMatchObject({
      framework: ServingFramework.VLLM, port: 8000, healthPath: '/health', predictPath: '/v1/completions', modelName: 'meta-llama/Llama-3.1-8B-Instruct',
    });
  });

  test('custom requires an image and defaults to 8080 /ping /invocations', () => {
    expectRefusal(() => ServingContainer.custom({} as never), 'serving.image', { value: 'undefined', allowed: 'container image reference' });
    expectRefusal(() => ServingContainer.custom(undefined as never), 'serving.image', { value: 'undefined' });
    expect(ServingContainer.custom({ image: ECR_IMAGE })).toMatchObject({ framework: ServingFramework.CUSTOM, image: ECR_IMAGE, port: 8080, healthPath: '/ping', predictPath: '/invocations' });
    expect(ServingContainer.custom({ image: 'ghcr.io/org/model:2', port: 9000, healthPath: '/healthz', predictPath: '/v1/predict' }))
      .toMatchObject({ port: 9000, healthPath: '/healthz', predictPath: '/v1/predict' });
  });

  test('options are kept: image, frameworkVersion, environment (copied), startup timeout', () => {
    const environment = { LOG_LEVEL: 'debug', _X1: '' };
    const s = ServingContainer.torchServe({ image: ECR_IMAGE, frameworkVersion: '2.3', environment, startupTimeoutSeconds: 30 });
    environment.LOG_LEVEL = 'changed';
    expect(s).toMatchObject({ image: ECR_IMAGE, frameworkVersion: '2.3', environment: { LOG_LEVEL: 'debug', _X1: '' }, startupTimeoutSeconds: 30 });
    expect(ServingContainer.sklearn({ startupTimeoutSeconds: 7200 }).startupTimeoutSeconds).toBe(7200);
  });

  test.each([0, 70000, -1, 80.5])('custom port %p is refused', (port) => {
    expectRefusal(() => ServingContainer.custom({ image: ECR_IMAGE, port }), 'serving.port', { rawValue: port, allowedExact: 'an integer from 1 to 65535' });
  });

  test.each([
    ['healthPath', 'ping'],
    ['healthPath', ''],
    ['predictPath', 'invocations'],
    ['predictPath', '/has space'],
  ] as const)('custom %s %j (no leading slash or bad character) is refused', (key, value) => {
    expectRefusal(() => ServingContainer.custom({ image: ECR_IMAGE, [key]: value }), `serving.${key}`, { rawValue: value, allowed: 'absolute URL path' });
  });

  test.each(['1BAD', 'BAD-NAME', 'has space', ''])('environment variable name %j is refused', (name) => {
    expectRefusal(() => ServingContainer.sklearn({ environment: { [name]: 'x' } }), 'serving.environment', { rawValue: name, allowed: 'variable names' });
  });

  test('an environment value over 1024 characters is refused naming the variable', () => {
    const long = 'v'.repeat(1025);
    expectRefusal(() => ServingContainer.sklearn({ environment: { BIG: long } }), 'serving.environment.BIG', { rawValue: long, allowedExact: 'a string of at most 1024 characters' });
    expect(ServingContainer.sklearn({ environment: { BIG: 'v'.repeat(1024) } }).environment.BIG).toHaveLength(1024);
  });

  test('a non-string environment value is refused', () => {
    expectRefusal(() => ServingContainer.sklearn({ environment: { N: 5 as unknown as string } }), 'serving.environment.N', { value: '5' });
  });

  test('an environment that is not an object is refused', () => {
    expectRefusal(() => ServingContainer.sklearn({ environment: ['A=1'] as unknown as Record<string, string> }), 'serving.environment', { value: '["A=1"]', allowed: 'an object' });
  });

  test.each([
    'registry.example.com/MyRepo:1.0',
    'MyModel',
    'repo:tag with space',
    'repo@sha256:abc',
    '',
    'repo:',
  ])('image reference %j is refused', (image) => {
    expectRefusal(() => ServingContainer.custom({ image }), 'serving.image', { rawValue: image, allowed: 'lower-case repository' });
  });

  test.each([ECR_IMAGE, 'nginx', 'localhost:5000/a/b-c_d.e:v1', `repo@sha256:${'a'.repeat(64)}`, 'Registry.Example.com/lower/repo'])('image reference %j is accepted', (image) => {
    expect(ServingContainer.custom({ image }).image).toBe(image);
  });

  test.each([29, 7201, 0, 100.5])('startup timeout %p is refused', (startupTimeoutSeconds) => {
    expectRefusal(() => ServingContainer.sklearn({ startupTimeoutSeconds }), 'serving.startupTimeoutSeconds', { rawValue: startupTimeoutSeconds, allowedExact: 'an integer from 30 to 7200' });
  });

  test.each(['', '-1', 'has space', '/model', 'x'.repeat(129)])('modelName %j is refused', (modelName) => {
    expectRefusal(() => ServingContainer.triton({ modelName }), 'serving.modelName', { rawValue: modelName, allowed: 'letters, digits' });
  });

  test.each(['', 'v 1', '.1', 'x'.repeat(33)])('frameworkVersion %j is refused', (frameworkVersion) => {
    expectRefusal(() => ServingContainer.torchServe({ frameworkVersion }), 'serving.frameworkVersion', { rawValue: frameworkVersion });
  });
});

describe('Compute validation', () => {
  test.each([0, 17, -1, 1.5])('GPU count %p is refused', (count) => {
    expectRefusal(() => Compute.gpu({ gpu: GpuKind.NVIDIA_A10G, count }), 'compute.count', { rawValue: count, allowedExact: 'an integer from 1 to 16' });
  });

  test('an unknown GPU kind (from JavaScript) is refused, listing the kinds', () => {
    const err = expectRefusal(() => Compute.gpu({ gpu: 'nvidia-v100' as GpuKind }), 'compute.gpu', { rawValue: 'nvidia-v100' });
    for (const kind of Object.values(GpuKind)) expect(err.allowed).toContain(kind);
    expectRefusal(() => Compute.gpu(undefined as never), 'compute.gpu', { value: 'undefined' });
  });

  test.each([0, 449, 2.5])('CPU vcpus %p is refused', (vcpus) => {
    expectRefusal(() => Compute.cpu({ vcpus }), 'compute.vcpus', { rawValue: vcpus, allowedExact: 'an integer from 1 to 448' });
  });

  test('GPU vcpus 0 is refused too', () => {
    expectRefusal(() => Compute.gpu({ gpu: GpuKind.NVIDIA_T4, vcpus: 0 }), 'compute.vcpus', { value: '0' });
  });

  test.each([0, 0.25, 12289, Number.NaN, Number.POSITIVE_INFINITY])('memoryGiB %p is refused', (memoryGiB) => {
    expectRefusal(() => Compute.cpu({ memoryGiB }), 'compute.memoryGiB', { rawValue: memoryGiB, allowedExact: 'a number from 0.5 to 12288' });
  });

  test('a non-Compute compute is refused by resolveSpec', () => {
    expectRefusal(() => resolveSpec(base({ compute: { kind: 'cpu', vcpus: 2 } as unknown as Compute })), 'compute', { allowed: 'Compute.cpu' });
  });
});

describe('Scaling validation', () => {
  const cpu70 = ScalingTarget.cpuPercent(70);

  test('maxReplicas below minReplicas is refused', () => {
    expectRefusal(() => resolveSpec(base({ scaling: { minReplicas: 3, maxReplicas: 2 } })), 'scaling.maxReplicas', { value: '2', allowedExact: 'an integer from 3 to 1000' });
  });

  test('maxReplicas 0 is refused even with minReplicas 0', () => {
    expectRefusal(() => resolveScaling({ minReplicas: 0, maxReplicas: 0 }, cpu70), 'scaling.maxReplicas', { value: '0', allowedExact: 'an integer from 1 to 1000' });
  });

  test.each([-1, 1001, 1.5, Number.NaN])('minReplicas %p is refused', (minReplicas) => {
    expectRefusal(() => resolveScaling({ minReplicas }, cpu70), 'scaling.minReplicas', { rawValue: minReplicas, allowedExact: 'an integer from 0 to 1000' });
  });

  test('non-integer maxReplicas is refused', () => {
    expectRefusal(() => resolveScaling({ minReplicas: 1, maxReplicas: 2.5 }, cpu70), 'scaling.maxReplicas', { value: '2.5' });
  });

  test('a string replica count (from JavaScript) is refused', () => {
    expectRefusal(() => resolveScaling({ minReplicas: '2' as unknown as number }, cpu70), 'scaling.minReplicas', { value: '"2"' });
  });

  test.each([
    ['scaleInCooldownSeconds', -1],
    ['scaleOutCooldownSeconds', 86401],
    ['scaleInCooldownSeconds', 0.5],
  ] as const)('%s %p is refused', (key, value) => {
    expectRefusal(() => resolveScaling({ [key]: value }, cpu70), `scaling.${key}`, { rawValue: value, allowedExact: 'an integer from 0 to 86400' });
  });

  test('a target that is not a ScalingTarget is refused', () => {
    expectRefusal(() => resolveScaling({ maxReplicas: 2, target: { metric: 'cpu-percent', value: 50 } as unknown as ScalingTarget }, cpu70), 'scaling.target', { allowed: 'ScalingTarget' });
  });

  test.each([
    ['cpuPercent', (v: number) => ScalingTarget.cpuPercent(v), 0, 'a number from 1 to 100'],
    ['cpuPercent', (v: number) => ScalingTarget.cpuPercent(v), 101, 'a number from 1 to 100'],
    ['gpuPercent', (v: number) => ScalingTarget.gpuPercent(v), 0.5, 'a number from 1 to 100'],
    ['invocationsPerReplicaPerMinute', (v: number) => ScalingTarget.invocationsPerReplicaPerMinute(v), 0, 'a number from 1 to 1000000'],
    ['invocationsPerReplicaPerMinute', (v: number) => ScalingTarget.invocationsPerReplicaPerMinute(v), Number.POSITIVE_INFINITY, 'a number from 1 to 1000000'],
  ] as const)('ScalingTarget.%s(%p) is refused', (_name, make, value, allowed) => {
    expectRefusal(() => make(value), 'scaling.target.value', { rawValue: value, allowedExact: allowed });
  });

  test('scaling that is not an object is refused', () => {
    expectRefusal(() => resolveSpec(base({ scaling: 3 as unknown as object })), 'scaling', { value: '3', allowedExact: 'an object' });
  });
});

describe('Rollout validation', () => {
  test.each([0, 100, -5, 10.5])('canary percent %p is refused', (percent) => {
    expectRefusal(() => Rollout.canary({ percent }), 'rollout.percent', { rawValue: percent, allowedExact: 'an integer from 1 to 99' });
  });

  test.each([0, 100, 33.3])('linear stepPercent %p is refused', (stepPercent) => {
    expectRefusal(() => Rollout.linear({ stepPercent }), 'rollout.stepPercent', { rawValue: stepPercent, allowedExact: 'an integer from 1 to 99' });
  });

  test('linear intervalMinutes out of range is refused', () => {
    expectRefusal(() => Rollout.linear({ intervalMinutes: 1441 }), 'rollout.intervalMinutes', { value: '1441', allowedExact: 'an integer from 0 to 1440' });
  });

  test.each([
    ['allAtOnce', () => Rollout.allAtOnce({ bakeMinutes: 1441 })],
    ['canary', () => Rollout.canary({ bakeMinutes: 1441 })],
  ])('%s bakeMinutes > 1440 is refused', (_name, make) => {
    expectRefusal(make, 'rollout.bakeMinutes', { value: '1441', allowedExact: 'an integer from 0 to 1440' });
  });

  test('negative bakeMinutes is refused', () => {
    expectRefusal(() => Rollout.allAtOnce({ bakeMinutes: -1 }), 'rollout.bakeMinutes', { value: '-1' });
  });

  test('terminationWaitMinutes and rollbackOnAlarms are checked', () => {
    expectRefusal(() => Rollout.canary({ terminationWaitMinutes: 2000 }), 'rollout.terminationWaitMinutes', { value: '2000', allowedExact: 'an integer from 0 to 1440' });
    expectRefusal(() => Rollout.linear({ rollbackOnAlarms: 'yes' as unknown as boolean }), 'rollout.rollbackOnAlarms', { value: '"yes"', allowedExact: 'true or false' });
  });

  test('a non-Rollout rollout is refused by resolveSpec', () => {
    expectRefusal(() => resolveSpec(base({ rollout: { strategy: 'canary' } as unknown as Rollout })), 'rollout', { allowed: 'Rollout.allAtOnce()' });
  });
});

describe('Monitoring validation', () => {
  test.each([0, 101, 12.5])('capture samplingPercent %p is refused', (samplingPercent) => {
    expectRefusal(() => resolveSpec(base({ monitoring: { capture: { samplingPercent } } })), 'monitoring.capture.samplingPercent',
      { rawValue: samplingPercent, allowedExact: 'an integer from 1 to 100' });
  });

  test('capture with both requests and responses false is refused', () => {
    const capture = { samplingPercent: 10, requests: false, responses: false };
    expectRefusal(() => resolveSpec(base({ monitoring: { capture } })), 'monitoring.capture', { rawValue: capture, allowed: 'requests, responses or both' });
  });

  test('capture defaults requests and responses to true', () => {
    expect(resolveMonitoring({ capture: { samplingPercent: 100 } }).capture).toEqual({ samplingPercent: 100, requests: true, responses: true });
  });

  test.each([
    ['errorRatePercent', 0, 'a number from 0.01 to 100'],
    ['errorRatePercent', 100.5, 'a number from 0.01 to 100'],
    ['latencyP99Ms', 0, 'a number from 1 to 3600000'],
    ['evaluationMinutes', 0, 'an integer from 1 to 1440'],
    ['evaluationMinutes', 2.5, 'an integer from 1 to 1440'],
  ] as const)('monitoring.%s %p is refused', (key, value, allowed) => {
    expectRefusal(() => resolveSpec(base({ monitoring: { [key]: value } })), `monitoring.${key}`, { rawValue: value, allowedExact: allowed });
  });

  test('monitoring.alarms must be a boolean', () => {
    expectRefusal(() => resolveSpec(base({ monitoring: { alarms: 1 as unknown as boolean } })), 'monitoring.alarms', { value: '1', allowedExact: 'true or false' });
  });

  test('an unknown monitoring key is refused', () => {
    expectRefusal(() => resolveSpec(base({ monitoring: { alarm: true } as never })), 'monitoring.alarm', { value: 'true', allowed: 'no such property' });
  });
});

describe('Access, endpoint name, tags and unknown props', () => {
  test.each(['my_endpoint', 'a'.repeat(64), '1endpoint', '-a', 'a-', 'a--b', ''])('endpointName %j is refused', (endpointName) => {
    expectRefusal(() => resolveSpec(base({ endpointName })), 'endpointName', { rawValue: endpointName });
  });

  test('a 64-character endpointName is refused for its length', () => {
    expectRefusal(() => resolveSpec(base({ endpointName: 'a'.repeat(64) })), 'endpointName', { allowedExact: 'at most 63 characters' });
    expect(resolveSpec(base({ endpointName: 'a'.repeat(63) })).endpointName).toHaveLength(63);
  });

  test('an underscore or leading digit gets the character rule', () => {
    expectRefusal(() => resolveSpec(base({ endpointName: 'my_endpoint' })), 'endpointName', { allowed: 'starting with a letter' });
    expectRefusal(() => resolveSpec(base({ endpointName: '1endpoint' })), 'endpointName', { allowed: 'starting with a letter' });
  });

  test('a misspelt top-level prop (computer) is refused naming props.computer', () => {
    const err = expectRefusal(() => resolveSpec({ ...base(), computer: Compute.cpu() } as unknown as ModelDeploymentSpecProps), 'props.computer', { allowed: 'no such property' });
    expect(err.allowed).toContain('compute');
    expect(err.value).toContain('"kind":"cpu"');
  });

  test('props that are not an object are refused', () => {
    expectRefusal(() => resolveSpec(null as never), 'props', { value: 'null', allowedExact: 'an object' });
    expectRefusal(() => resolveSpec([] as never), 'props', { value: '[]' });
  });

  test('model and serving must be instances of their classes', () => {
    expectRefusal(() => resolveSpec({ model: { uri: 's3://b/k' }, serving: ServingContainer.sklearn() } as never), 'model', { allowed: 'ModelArtifact.fromLocalPath' });
    expectRefusal(() => resolveSpec({ model: ModelArtifact.fromUri('s3://bkt/k'), serving: 'sklearn' } as never), 'serving', { value: '"sklearn"', allowed: 'ServingContainer' });
    expectRefusal(() => resolveSpec({ serving: ServingContainer.sklearn() } as never), 'model', { value: 'undefined' });
  });

  test('an unknown access key is refused', () => {
    expectRefusal(() => resolveSpec(base({ access: { auth: AuthMode.IAM, netwrok: 'public' } as never })), 'access.netwrok', { rawValue: 'public', allowed: 'auth, network' });
  });

  test('unknown auth and network values are refused', () => {
    expectRefusal(() => resolveSpec(base({ access: { auth: 'none' as AuthMode } })), 'access.auth', { rawValue: 'none', allowedExact: 'one of iam, key, token' });
    expectRefusal(() => resolveSpec(base({ access: { network: 'internet' as NetworkAccess } })), 'access.network', { rawValue: 'internet', allowedExact: 'one of public, private' });
  });

  test.each(['-bad', '', 'bad!', 'x'.repeat(129)])('tag key %j is refused', (key) => {
    expectRefusal(() => resolveSpec(base({ tags: { [key]: 'v' } })), 'tags', { rawValue: key, allowed: 'tag keys' });
  });

  test('a bad tag value is refused naming its key', () => {
    expectRefusal(() => resolveSpec(base({ tags: { team: 'a\nb' } })), 'tags.team', { rawValue: 'a\nb', allowed: '1 to 256' });
    expectRefusal(() => resolveSpec(base({ tags: { team: 'x'.repeat(257) } })), 'tags.team');
    expectRefusal(() => resolveSpec(base({ tags: { team: 7 as unknown as string } })), 'tags.team', { value: '7' });
  });
});

// ------------------------------------------------------------------------------------------------

// The selection is generic: it is tested here on a made-up table. Each target's real table is
// tested in that target's folder (test/sagemaker, test/azure-ml, test/vertex-ai).
describe('selectInstance', () => {
  const { NVIDIA_T4: T4, NVIDIA_L4: L4 } = GpuKind;
  const OFFERS: InstanceOffer[] = [
    cpuOffer('cpu-2-8', 2, 8), cpuOffer('cpu-2-4', 2, 4), cpuOffer('cpu-8-32', 8, 32), cpuOffer('cpu-8-16', 8, 16),
    gpuOffer('t4x1-16', T4, 1, 16, 64), gpuOffer('t4x1-4', T4, 1, 4, 16), gpuOffer('t4x4-48', T4, 4, 48, 192),
    gpuOffer('l4x2-24', L4, 2, 24, 96),
  ];

  test.each([
    [Compute.cpu({ vcpus: 2, memoryGiB: 4 }), 'cpu-2-4'],
    [Compute.cpu({ vcpus: 2, memoryGiB: 5 }), 'cpu-2-8'],
    [Compute.cpu({ vcpus: 3, memoryGiB: 1 }), 'cpu-8-16'],
    [Compute.gpu({ gpu: T4 }), 't4x1-4'],
    [Compute.gpu({ gpu: T4, vcpus: 10 }), 't4x1-16'],
    [Compute.gpu({ gpu: T4, count: 4 }), 't4x4-48'],
    [Compute.gpu({ gpu: L4, count: 2 }), 'l4x2-24'],
  ])('%p -> %s', (compute, name) => {
    const offer = selectInstance(OFFERS, compute, 'test');
    expect(offer.name).toBe(name);
    expectFits(offer, compute);
  });

  test('returns the offer object itself, so a target\'s extended offer keeps its extra fields', () => {
    const extended = [{ ...gpuOffer('x', T4, 1, 4, 16), extra: 'kept' }];
    expect(selectInstance(extended, Compute.gpu({ gpu: T4 }), 'test').extra).toBe('kept');
  });

  test('a GPU count not offered is refused, naming the target and listing the counts offered', () => {
    const err = expectRefusal(() => selectInstance(OFFERS, Compute.gpu({ gpu: T4, count: 2 }), 'someTarget'), 'compute.count',
      { value: '2', allowed: 'nvidia-t4 counts this platform offers: 1, 4', target: 'someTarget' });
    expect(err.allowed).toContain('instanceType');
  });

  test('a GPU kind not offered is refused, listing the kinds offered', () => {
    const err = expectRefusal(() => selectInstance(OFFERS, Compute.gpu({ gpu: GpuKind.NVIDIA_A10G }), 'someTarget'), 'compute.gpu',
      { value: '"nvidia-a10g"', target: 'someTarget' });
    expect(err.allowed).toContain(`${T4}, ${L4}`);
    expect(err.allowed).not.toContain('nvidia-a10g');
  });

  test('an ask larger than any offer is refused, naming the largest', () => {
    const err = expectRefusal(() => selectInstance(OFFERS, Compute.cpu({ vcpus: 200, memoryGiB: 4 }), 'someTarget'), 'compute',
      { allowed: 'at most 8 vCPU / 32 GiB (cpu-8-32)', target: 'someTarget' });
    expect(err.value).toContain('200 vCPU');
    expectRefusal(() => selectInstance(OFFERS, Compute.gpu({ gpu: T4, vcpus: 100 }), 'someTarget'), 'compute', { allowed: 't4x1-16', target: 'someTarget' });
  });

  test('CPU compute on a table with no CPU offer, or on an empty table, is refused, not a crash', () => {
    const gpuOnly = OFFERS.filter(o => o.gpuCount > 0);
    expectRefusal(() => selectInstance(gpuOnly, Compute.cpu(), 'someTarget'), 'compute', { allowed: 'no CPU instances', target: 'someTarget' });
    expectRefusal(() => selectInstance([], Compute.cpu(), 'someTarget'), 'compute', { allowed: 'GPU kinds: none', target: 'someTarget' });
    expectRefusal(() => selectInstance([], Compute.gpu({ gpu: T4 }), 'someTarget'), 'compute.gpu', { allowed: 'offers: none', target: 'someTarget' });
  });

  test('findInstance looks a name up in a table', () => {
    expect(findInstance(OFFERS, 't4x1-4')).toEqual({ name: 't4x1-4', gpu: T4, gpuCount: 1, vcpus: 4, memoryGiB: 16 });
    expect(findInstance(OFFERS, 'nope')).toBeUndefined();
  });

  test('InstanceCatalog.select is selectInstance; InstanceCatalog.gpuFacts is GPU_FACTS', () => {
    expect(InstanceCatalog.select(OFFERS, Compute.gpu({ gpu: T4, count: 4 }), 'test')).toBe(findInstance(OFFERS, 't4x4-48'));
    expectRefusal(() => InstanceCatalog.select(OFFERS, Compute.gpu({ gpu: T4, count: 2 }), 'someTarget'), 'compute.count', { target: 'someTarget' });
    for (const kind of Object.values(GpuKind)) expect(InstanceCatalog.gpuFacts(kind)).toBe(GPU_FACTS[kind]);
  });

  test('cpuOffer and gpuOffer build plain offers', () => {
    expect(cpuOffer('c', 2, 4)).toEqual({ name: 'c', vcpus: 2, memoryGiB: 4, gpuCount: 0 });
    expect(gpuOffer('g', L4, 2, 24, 96)).toEqual({ name: 'g', vcpus: 24, memoryGiB: 96, gpuCount: 2, gpu: L4 });
  });
});

describe('GPU_FACTS', () => {
  test('every GpuKind has GPU_FACTS with an nvidia-smi name and a reported memory below the sold memory', () => {
    expect(Object.keys(GPU_FACTS).sort()).toEqual([...Object.values(GpuKind)].sort());
    for (const kind of Object.values(GpuKind)) {
      const facts = GPU_FACTS[kind];
      expect(facts).toBeDefined();
      expect(facts.displayName).toMatch(/\S/);
      expect(facts.nvidiaSmiNames.length).toBeGreaterThanOrEqual(1);
      for (const name of facts.nvidiaSmiNames) expect(name).toMatch(/\S/);
      expect(new Set(facts.nvidiaSmiNames).size).toBe(facts.nvidiaSmiNames.length);
      expect(facts.memoryGiB).toBeGreaterThan(0);
      expect(facts.minReportedMemoryMiB).toBeGreaterThan(0);
      expect(facts.minReportedMemoryMiB).toBeLessThan(facts.memoryGiB * 1024);
    }
  });

  test('no nvidia-smi name belongs to two GPU kinds', () => {
    const owner = new Map<string, GpuKind>();
    const clashes: string[] = [];
    for (const kind of Object.values(GpuKind)) {
      for (const name of GPU_FACTS[kind].nvidiaSmiNames) {
        if (owner.has(name)) clashes.push(`${name}: ${owner.get(name)} and ${kind}`);
        owner.set(name, kind);
      }
    }
    expect(clashes).toEqual([]);
  });

  test('an H100 NVL host (94 GB boards, as on Azure NC*ads_H100_v5) counts as H100 80GB: its name is known and its memory is enough', () => {
    const h100 = GPU_FACTS[GpuKind.NVIDIA_H100_80GB];
    expect(h100.nvidiaSmiNames).toContain('NVIDIA H100 NVL');
    // nvidia-smi --query-gpu=memory.total on an H100 NVL reports 95830 MiB.
    expect(95830).toBeGreaterThanOrEqual(h100.minReportedMemoryMiB);
  });
});
