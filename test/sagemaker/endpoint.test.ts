import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CfnResource, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import {
  AuthMode, Compute, GpuKind, ModelArtifact, ModelDeploymentValidationError, NetworkAccess, Rollout, ScalingTarget, ServingContainer,
} from '../../lib';
import { SageMakerModelEndpoint, SageMakerModelEndpointProps } from '../../lib/targets/sagemaker';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'linear-model');
const ENV = { account: '111111111111', region: 'us-east-1' };

/** The runtime VPC endpoint PRIVATE (the default) needs; `synth` adds it unless a test sets the key or PUBLIC. */
const RUNTIME_VPCE = 'vpce-0123456789abcdef0';

/** Builds one endpoint (env null: an environment-agnostic stack), lets `extra` add to the stack, then synthesizes. */
function synth(props: Partial<SageMakerModelEndpointProps> = {}, env: typeof ENV | null = ENV, extra?: (stack: Stack, endpoint: SageMakerModelEndpoint) => void) {
  const app = new App();
  const stack = new Stack(app, 'S', { env: env ?? undefined });
  const needsVpce = props.access?.network !== NetworkAccess.PUBLIC && !props.serverless && !('invokeVpcEndpointIds' in props);
  const endpoint = new SageMakerModelEndpoint(stack, 'Ep', {
    model: ModelArtifact.fromUri('s3://my-models/churn/v3/model.tar.gz'),
    serving: ServingContainer.xgboost(),
    ...(needsVpce ? { invokeVpcEndpointIds: [RUNTIME_VPCE] } : {}),
    ...props,
  });
  extra?.(stack, endpoint);
  return { stack, endpoint, template: Template.fromStack(stack) };
}

function only(template: Template, type: string): { id: string; props: any; res: any } {
  const found = template.findResources(type);
  const ids = Object.keys(found);
  expect(ids).toHaveLength(1);
  return { id: ids[0], props: found[ids[0]].Properties, res: found[ids[0]] };
}

function variant(template: Template): any {
  return only(template, 'AWS::SageMaker::EndpointConfig').props.ProductionVariants[0];
}

function policyStatements(template: Template): any[] {
  return only(template, 'AWS::IAM::ManagedPolicy').props.PolicyDocument.Statement;
}

function statement(template: Template, sid: string): any {
  const found = policyStatements(template).find(s => s.Sid === sid);
  expect(found).toBeDefined();
  return found;
}

function expectRefusal(fn: () => unknown, field: string, allowed: RegExp) {
  let error: unknown;
  try { fn(); } catch (e) { error = e; }
  expect(error).toBeInstanceOf(ModelDeploymentValidationError);
  const e = error as ModelDeploymentValidationError;
  expect(e.field).toBe(field);
  expect(e.target).toBe('sageMaker');
  expect(e.allowed).toMatch(allowed);
  expect(e.message).toContain(field);
}

describe('secure defaults', () => {
  const { template, endpoint } = synth();

  test('a customer-managed key with rotation encrypts the endpoint storage volume (CPU instance)', () => {
    const key = only(template, 'AWS::KMS::Key');
    expect(key.props.EnableKeyRotation).toBe(true);
    expect(key.res.DeletionPolicy).toBe('Retain');
    expect(only(template, 'AWS::SageMaker::EndpointConfig').props.KmsKeyId).toEqual({ 'Fn::GetAtt': [key.id, 'Arn'] });
  });

  test('the execution role has no AWS-managed policy, no inline policy, and only its own managed policy', () => {
    const role = only(template, 'AWS::IAM::Role');
    expect(role.props.ManagedPolicyArns).toBeUndefined();
    expect(role.props.Policies).toBeUndefined();
    expect(template.findResources('AWS::IAM::Policy')).toEqual({});
    const policy = only(template, 'AWS::IAM::ManagedPolicy');
    expect(policy.props.Roles).toEqual([{ Ref: role.id }]);
    expect(role.props.AssumeRolePolicyDocument.Statement).toEqual([expect.objectContaining({
      Principal: { Service: 'sagemaker.amazonaws.com' },
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    })]);
  });

  test('least privilege: no wildcard action, no wildcard resource, exact model object, image repository and log group', () => {
    for (const s of policyStatements(template)) {
      for (const action of [s.Action].flat()) expect(action).not.toContain('*');
      expect(JSON.stringify(s.Resource)).not.toContain('*');
    }
    expect(statement(template, 'ReadOwnModel')).toMatchObject({
      Action: 's3:GetObject',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::my-models/churn/v3/model.tar.gz']] },
    });
    expect(JSON.stringify(statement(template, 'PullOwnImage').Resource)).toContain(':683313688378:repository/sagemaker-xgboost');
    const logs = only(template, 'AWS::Logs::LogGroup');
    expect(statement(template, 'WriteOwnLogs').Resource).toEqual({ 'Fn::GetAtt': [logs.id, 'Arn'] });
  });

  test('the model runs with network isolation and the resolved DLC image', () => {
    const model = only(template, 'AWS::SageMaker::Model').props;
    expect(model.EnableNetworkIsolation).toBe(true);
    expect(model.PrimaryContainer.ModelDataUrl).toBe('s3://my-models/churn/v3/model.tar.gz');
    expect(JSON.stringify(model.PrimaryContainer.Image)).toContain('sagemaker-xgboost:3.2-0');
    expect(only(template, 'AWS::SageMaker::Model').res.DependsOn).toEqual(expect.arrayContaining([only(template, 'AWS::IAM::ManagedPolicy').id]));
  });

  test('an encrypted log group with retention exists before the endpoint', () => {
    const logs = only(template, 'AWS::Logs::LogGroup');
    expect(logs.props.LogGroupName).toBe(`/aws/sagemaker/Endpoints/${endpoint.endpointName}`);
    expect(logs.props.KmsKeyId).toEqual({ 'Fn::GetAtt': [only(template, 'AWS::KMS::Key').id, 'Arn'] });
    expect(logs.props.RetentionInDays).toBe(365);
    expect(only(template, 'AWS::SageMaker::Endpoint').res.DependsOn).toContain(logs.id);
  });

  test('the key policy lets only this log group and CloudWatch alarms use the key', () => {
    const statements = only(template, 'AWS::KMS::Key').props.KeyPolicy.Statement;
    const logs = statements.find((s: any) => s.Sid === 'Allow-logs');
    expect(JSON.stringify(logs.Condition)).toContain(`log-group:/aws/sagemaker/Endpoints/${endpoint.endpointName}`);
    expect(statements.find((s: any) => s.Sid === 'Allow-cloudwatch').Principal).toEqual({ Service: 'cloudwatch.amazonaws.com' });
  });

  test('blue/green all-at-once with automatic rollback on both alarms', () => {
    const config = only(template, 'AWS::SageMaker::Endpoint').props.DeploymentConfig;
    expect(config.BlueGreenUpdatePolicy.TrafficRoutingConfiguration).toEqual({ Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 0 });
    const alarmIds = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarmIds).toHaveLength(2);
    expect(config.AutoRollbackConfiguration.Alarms).toEqual(expect.arrayContaining(alarmIds.map(id => ({ AlarmName: { Ref: id } }))));
  });

  test('alarms: error rate over 5% of requests and p99 latency over 2 s, notifying an encrypted topic', () => {
    const topic = only(template, 'AWS::SNS::Topic');
    expect(topic.props.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [only(template, 'AWS::KMS::Key').id, 'Arn'] });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 5, EvaluationPeriods: 3, ComparisonOperator: 'GreaterThanThreshold', AlarmActions: [{ Ref: topic.id }],
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'IF(invocations > 0, 100 * errors / invocations, 0)' })]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ModelLatency', Namespace: 'AWS/SageMaker', ExtendedStatistic: 'p99', Threshold: 2_000_000, AlarmActions: [{ Ref: topic.id }],
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('outputs name the endpoint and its invoke URL', () => {
    template.hasOutput('*', { Value: endpoint.endpointName });
    expect(endpoint.endpointUrl).toContain(`/endpoints/${endpoint.endpointName}/invocations`);
  });
});

describe('compute', () => {
  test('a GPU kind maps to its SageMaker instance, with no KMS key on its hardware-encrypted local storage', () => {
    const { template } = synth({ serving: ServingContainer.triton({ modelName: 'resnet' }), compute: Compute.gpu({ gpu: GpuKind.NVIDIA_A10G }) });
    expect(variant(template).InstanceType).toBe('ml.g5.xlarge');
    expect(only(template, 'AWS::SageMaker::EndpointConfig').props.KmsKeyId).toBeUndefined();
    const model = only(template, 'AWS::SageMaker::Model').props;
    expect(model.PrimaryContainer.Environment).toEqual({ SAGEMAKER_TRITON_DEFAULT_MODEL_NAME: 'resnet' });
    expect(JSON.stringify(model.PrimaryContainer.Image)).toMatch(/sagemaker-tritonserver:\d+\.\d+-py3"/);
  });

  test('GPU counts and kinds per catalog', () => {
    expect(variant(synth({ serving: ServingContainer.torchServe(), compute: Compute.gpu({ gpu: GpuKind.NVIDIA_H100_80GB, count: 8 }) }).template).InstanceType).toBe('ml.p5.48xlarge');
    expect(variant(synth({ serving: ServingContainer.torchServe(), compute: Compute.gpu({ gpu: GpuKind.NVIDIA_T4, count: 4 }) }).template).InstanceType).toBe('ml.g4dn.12xlarge');
    expectRefusal(() => synth({ serving: ServingContainer.torchServe(), compute: Compute.gpu({ gpu: GpuKind.NVIDIA_A10G, count: 2 }) }), 'compute.count', /1, 4, 8/);
  });

  test('an instance type override must have the asked GPUs', () => {
    expect(variant(synth({ serving: ServingContainer.torchServe(), compute: Compute.gpu({ gpu: GpuKind.NVIDIA_A10G }), instanceType: 'ml.g5.12xlarge' }).template).InstanceType).toBe('ml.g5.12xlarge');
    expectRefusal(() => synth({ serving: ServingContainer.torchServe(), compute: Compute.gpu({ gpu: GpuKind.NVIDIA_A10G, count: 4 }), instanceType: 'ml.g5.2xlarge' }), 'instanceType', /at least 4 GPU/);
    expectRefusal(() => synth({ serving: ServingContainer.torchServe(), compute: Compute.gpu({ gpu: GpuKind.NVIDIA_A10G }), instanceType: 'ml.g6.xlarge' }), 'instanceType', /nvidia-a10g/);
    expectRefusal(() => synth({ instanceType: 'm5.large' }), 'instanceType', /ml\.g5\.2xlarge/);
  });

  test('volume size and download/startup timeouts', () => {
    const v = variant(synth({ volumeSizeGiB: 100, modelDownloadTimeoutSeconds: 1200, serving: ServingContainer.xgboost({ startupTimeoutSeconds: 900 }) }).template);
    expect(v).toMatchObject({ VolumeSizeInGB: 100, ModelDataDownloadTimeoutInSeconds: 1200, ContainerStartupHealthCheckTimeoutInSeconds: 900 });
    expectRefusal(() => synth({ volumeSizeGiB: 100, serving: ServingContainer.torchServe(), compute: Compute.gpu({ gpu: GpuKind.NVIDIA_L4 }) }), 'volumeSizeGiB', /local NVMe/);
    expectRefusal(() => synth({ serving: ServingContainer.xgboost({ startupTimeoutSeconds: 5000 }) }), 'serving.startupTimeoutSeconds', /60 to 3600/);
  });
});

describe('artifacts', () => {
  test('a local directory becomes a deterministic model.tar.gz asset readable only by the role', () => {
    const copy = (dir: string) => { fs.cpSync(FIXTURE, dir, { recursive: true }); return dir; };
    const a = copy(fs.mkdtempSync(path.join(os.tmpdir(), 'model-a-')));
    const b = copy(fs.mkdtempSync(path.join(os.tmpdir(), 'model-b-')));
    fs.utimesSync(path.join(b, 'weights.bin'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    const urlOf = (dir: string) => only(synth({ model: ModelArtifact.fromLocalPath(dir) }).template, 'AWS::SageMaker::Model').props.PrimaryContainer.ModelDataUrl;
    const urlA = urlOf(a);
    expect(urlOf(b)).toEqual(urlA);
    fs.appendFileSync(path.join(b, 'weights.bin'), 'x');
    expect(urlOf(b)).not.toEqual(urlA);
    const { template } = synth({ model: ModelArtifact.fromLocalPath(a) });
    const key = JSON.stringify(urlA).match(/[0-9a-f]{64}\.gz/)![0];
    expect(JSON.stringify(statement(template, 'ReadOwnModel').Resource)).toContain(`/${key}`);
  });

  test('an uncompressed S3 prefix uses ModelDataSource, with reads bounded by the prefix', () => {
    const { template } = synth({ model: ModelArtifact.fromUri('s3://llm-weights/llama/v2/') });
    expect(only(template, 'AWS::SageMaker::Model').props.PrimaryContainer.ModelDataSource).toEqual({
      S3DataSource: { S3Uri: 's3://llm-weights/llama/v2/', S3DataType: 'S3Prefix', CompressionType: 'None' },
    });
    expect(JSON.stringify(statement(template, 'ReadOwnModel').Resource)).toContain(':s3:::llm-weights/llama/v2/*');
    expect(statement(template, 'ListOwnModel').Condition).toEqual({ StringLike: { 's3:prefix': ['llama/v2/*'] } });
  });

  test('artifacts outside S3 are refused', () => {
    expectRefusal(() => synth({ model: ModelArtifact.fromUri('gs://bucket/model.tar.gz') }), 'model.uri', /Amazon S3 only/);
  });
});

describe('images and contract', () => {
  test('a custom image must be in ECR and follow SageMaker\'s contract', () => {
    const image = '222222222222.dkr.ecr.eu-west-1.amazonaws.com/team/scorer:1.4.2';
    const { template } = synth({ serving: ServingContainer.custom({ image }) });
    expect(only(template, 'AWS::SageMaker::Model').props.PrimaryContainer.Image).toBe(image);
    expect(JSON.stringify(statement(template, 'PullOwnImage').Resource)).toContain(':ecr:eu-west-1:222222222222:repository/team/scorer');
    expectRefusal(() => synth({ serving: ServingContainer.custom({ image: 'docker.io/library/scorer:1' }) }), 'serving.image', /pulls only from ECR/);
    expectRefusal(() => synth({ serving: ServingContainer.custom({ image, port: 8000 }) }), 'serving.port', /8080/);
    expectRefusal(() => synth({ serving: ServingContainer.custom({ image, predictPath: '/predict' }) }), 'serving.predictPath', /invocations/);
  });

  test('an unknown framework version names the versions available; sklearn has no GPU image', () => {
    expectRefusal(() => synth({ serving: ServingContainer.xgboost({ frameworkVersion: '0.1' }) }), 'serving.frameworkVersion', /3\.2-0/);
    expectRefusal(() => synth({ serving: ServingContainer.sklearn(), compute: Compute.gpu({ gpu: GpuKind.NVIDIA_T4 }) }), 'compute', /no 'gpu' image.*cpu/);
  });

  test('a stack with a region gets the DLC image URI as a plain string, in that partition; an unpublished region is refused', () => {
    const { template } = synth();
    expect(only(template, 'AWS::SageMaker::Model').props.PrimaryContainer.Image)
      .toBe('683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0');
    const china = synth({}, { account: '111111111111', region: 'cn-north-1' }).template;
    expect(only(china, 'AWS::SageMaker::Model').props.PrimaryContainer.Image).toMatch(/^\d{12}\.dkr\.ecr\.cn-north-1\.amazonaws\.com\.cn\/sagemaker-xgboost:/);
    expectRefusal(() => synth({}, { account: '111111111111', region: 'xx-nowhere-1' }), 'stack.region', /Supported regions: .*us-east-1/);
  });

  test('an environment-agnostic stack looks the DLC account up per region at deploy time', () => {
    const { template } = synth({}, null);
    const mappings = template.toJSON().Mappings;
    const mapping = Object.values(mappings)[0] as any;
    expect(mapping['us-east-1']).toEqual({ account: '683313688378' });
    expect(JSON.stringify(only(template, 'AWS::SageMaker::Model').props.PrimaryContainer.Image)).toContain('Fn::FindInMap');
  });
});

describe('rollout', () => {
  test('canary: a share of capacity first, baked, rolled back on alarms', () => {
    const { template } = synth({ rollout: Rollout.canary({ percent: 25, bakeMinutes: 15 }), scaling: { minReplicas: 4 } });
    const policy = only(template, 'AWS::SageMaker::Endpoint').props.DeploymentConfig.BlueGreenUpdatePolicy;
    expect(policy.TrafficRoutingConfiguration).toEqual({ Type: 'CANARY', CanarySize: { Type: 'CAPACITY_PERCENT', Value: 25 }, WaitIntervalInSeconds: 900 });
    expect(policy.MaximumExecutionTimeoutInSeconds).toBeGreaterThanOrEqual(2 * 600 + 2 * 900);
    expect(policy.MaximumExecutionTimeoutInSeconds).toBeLessThanOrEqual(28800);
  });

  test('linear steps', () => {
    const { template } = synth({ rollout: Rollout.linear({ stepPercent: 20, intervalMinutes: 5 }), scaling: { minReplicas: 5 } });
    expect(only(template, 'AWS::SageMaker::Endpoint').props.DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration)
      .toEqual({ Type: 'LINEAR', LinearStepSize: { Type: 'CAPACITY_PERCENT', Value: 20 }, WaitIntervalInSeconds: 300 });
  });

  test('SageMaker limits on traffic shifting are refused at synth time', () => {
    expectRefusal(() => synth({ rollout: Rollout.canary({ percent: 60 }), scaling: { minReplicas: 4 } }), 'rollout.percent', /at most 50/);
    expectRefusal(() => synth({ rollout: Rollout.linear({ stepPercent: 5 }), scaling: { minReplicas: 4 } }), 'rollout.stepPercent', /10 to 50/);
    expectRefusal(() => synth({ rollout: Rollout.canary() }), 'scaling.minReplicas', /at least 2/);
    expectRefusal(() => synth({ rollout: Rollout.canary({ bakeMinutes: 90 }), scaling: { minReplicas: 2 } }), 'rollout.bakeMinutes', /at most 60/);
  });

  test('rollbackOnAlarms false leaves the alarms but not the rollback', () => {
    const { template } = synth({ rollout: Rollout.allAtOnce({ rollbackOnAlarms: false }) });
    expect(only(template, 'AWS::SageMaker::Endpoint').props.DeploymentConfig.AutoRollbackConfiguration).toBeUndefined();
    expect(Object.keys(template.findResources('AWS::CloudWatch::Alarm'))).toHaveLength(2);
  });

  test('the variant name is stable across model versions (blue/green needs it)', () => {
    const a = variant(synth({ model: ModelArtifact.fromUri('s3://models/v1/model.tar.gz') }).template).VariantName;
    const b = variant(synth({ model: ModelArtifact.fromUri('s3://models/v2/model.tar.gz') }).template).VariantName;
    expect(a).toBe('AllTraffic');
    expect(b).toBe(a);
  });
});

describe('autoscaling', () => {
  test('invocations per instance, through the service-linked role, with autoscaled counts kept on update', () => {
    const { template, endpoint } = synth({ scaling: { minReplicas: 2, maxReplicas: 8, target: ScalingTarget.invocationsPerReplicaPerMinute(300), scaleInCooldownSeconds: 600 } });
    const target = only(template, 'AWS::ApplicationAutoScaling::ScalableTarget');
    expect(target.props).toMatchObject({
      MinCapacity: 2, MaxCapacity: 8, ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      ResourceId: `endpoint/${endpoint.endpointName}/variant/AllTraffic`, ServiceNamespace: 'sagemaker',
    });
    expect(JSON.stringify(target.props.RoleARN)).toContain('AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint');
    expect(Object.keys(template.findResources('AWS::IAM::Role'))).toHaveLength(1);
    expect(only(template, 'AWS::ApplicationAutoScaling::ScalingPolicy').props.TargetTrackingScalingPolicyConfiguration).toMatchObject({
      PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' }, TargetValue: 300, ScaleInCooldown: 600, ScaleOutCooldown: 60,
    });
    expect(variant(template).InitialInstanceCount).toBe(2);
    expect(only(template, 'AWS::SageMaker::Endpoint').props).toMatchObject({
      RetainAllVariantProperties: true,
      ExcludeRetainedVariantProperties: [{ VariantPropertyType: 'DesiredWeight' }, { VariantPropertyType: 'DataCaptureConfig' }],
    });
  });

  test('CPU and GPU utilisation targets are scaled by the instance\'s vCPU and GPU counts', () => {
    const cpu = synth({ compute: Compute.cpu({ vcpus: 4, memoryGiB: 8 }), scaling: { minReplicas: 1, maxReplicas: 3 } }).template;
    expect(only(cpu, 'AWS::ApplicationAutoScaling::ScalingPolicy').props.TargetTrackingScalingPolicyConfiguration).toMatchObject({
      CustomizedMetricSpecification: { MetricName: 'CPUUtilization', Namespace: '/aws/sagemaker/Endpoints', Statistic: 'Average' }, TargetValue: 280,
    });
    const gpu = synth({ serving: ServingContainer.torchServe(), compute: Compute.gpu({ gpu: GpuKind.NVIDIA_A10G, count: 4 }), scaling: { minReplicas: 1, maxReplicas: 2, target: ScalingTarget.gpuPercent(60) } }).template;
    expect(only(gpu, 'AWS::ApplicationAutoScaling::ScalingPolicy').props.TargetTrackingScalingPolicyConfiguration).toMatchObject({
      CustomizedMetricSpecification: { MetricName: 'GPUUtilization' }, TargetValue: 240,
    });
  });

  test('fixed replica counts make no autoscaler; zero replicas are refused', () => {
    const { template } = synth({ scaling: { minReplicas: 3 } });
    expect(template.findResources('AWS::ApplicationAutoScaling::ScalableTarget')).toEqual({});
    expect(variant(template).InitialInstanceCount).toBe(3);
    expectRefusal(() => synth({ scaling: { minReplicas: 0, maxReplicas: 2 } }), 'scaling.minReplicas', /at least 1/);
  });
});

describe('modes, capture and access', () => {
  test('serverless: CPU only, no instances, no guardrails, and refusals for what it cannot do', () => {
    const { template } = synth({ serverless: { maxConcurrency: 50 }, access: { network: NetworkAccess.PUBLIC }, compute: Compute.cpu({ memoryGiB: 3 }) });
    expect(variant(template)).toEqual(expect.objectContaining({ ServerlessConfig: { MemorySizeInMB: 3072, MaxConcurrency: 50 } }));
    expect(variant(template).InstanceType).toBeUndefined();
    expect(only(template, 'AWS::SageMaker::Endpoint').props.DeploymentConfig).toBeUndefined();
    expect(only(template, 'AWS::SageMaker::Model').props.EnableNetworkIsolation).toBe(false);
    expectRefusal(() => synth({ serverless: {} }), 'access.network', /PUBLIC/);
    expectRefusal(() => synth({ serverless: {}, access: { network: NetworkAccess.PUBLIC }, serving: ServingContainer.torchServe(), compute: Compute.gpu({ gpu: GpuKind.NVIDIA_T4 }) }), 'compute', /CPU only/);
    expectRefusal(() => synth({ serverless: {}, access: { network: NetworkAccess.PUBLIC }, monitoring: { capture: { samplingPercent: 5 } } }), 'monitoring.capture', /no data capture/);
    expectRefusal(() => synth({ serverless: {}, asyncInference: {} }), 'serverless', /one of/);
  });

  test('data capture to an encrypted, TLS-only, private bucket that only this role may write to', () => {
    const { template, endpoint } = synth({ monitoring: { capture: { samplingPercent: 20, responses: false } } });
    const key = only(template, 'AWS::KMS::Key');
    const capture = only(template, 'AWS::SageMaker::EndpointConfig').props.DataCaptureConfig;
    expect(capture).toMatchObject({ EnableCapture: true, InitialSamplingPercentage: 20, CaptureOptions: [{ CaptureMode: 'Input' }], KmsKeyId: { 'Fn::GetAtt': [key.id, 'Arn'] } });
    const bucket = only(template, 'AWS::S3::Bucket');
    expect(bucket.props.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault).toEqual({ SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [key.id, 'Arn'] } });
    expect(bucket.props.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(bucket.props.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    const statements = only(template, 'AWS::S3::BucketPolicy').props.PolicyDocument.Statement;
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      expect.objectContaining({ Sid: 'WriteCapturedData', Effect: 'Allow', Action: 's3:PutObject', Principal: { AWS: { 'Fn::GetAtt': [only(template, 'AWS::IAM::Role').id, 'Arn'] } } }),
    ]));
    expect(JSON.stringify(statements.find((s: any) => s.Sid === 'WriteCapturedData').Resource)).toContain(`/data-capture/${endpoint.endpointName}/*`);
  });

  test('async inference writes results and failures under its own prefixes; grantInvoke gives InvokeEndpointAsync only', () => {
    const { template, endpoint } = synth({ asyncInference: { maxConcurrentInvocationsPerInstance: 4 } }, ENV, (stack, ep) => {
      ep.grantInvoke(new iam.Role(stack, 'Caller', { assumedBy: new iam.AccountRootPrincipal() }));
    });
    const config = only(template, 'AWS::SageMaker::EndpointConfig').props.AsyncInferenceConfig;
    expect(config.ClientConfig).toEqual({ MaxConcurrentInvocationsPerInstance: 4 });
    expect(JSON.stringify(config.OutputConfig.S3OutputPath)).toContain(`/async/${endpoint.endpointName}/output`);
    expect(JSON.stringify(config.OutputConfig.S3FailurePath)).toContain(`/async/${endpoint.endpointName}/failure`);
    const policy = template.findResources('AWS::IAM::Policy');
    expect(Object.values(policy)[0].Properties.PolicyDocument.Statement).toEqual([
      expect.objectContaining({ Action: 'sagemaker:InvokeEndpointAsync', Resource: { Ref: only(template, 'AWS::SageMaker::Endpoint').id } }),
    ]);
  });

  test('grantInvoke on a private endpoint is restricted to the given VPC endpoints', () => {
    const { template } = synth({ invokeVpcEndpointIds: ['vpce-0123abcd'] }, ENV, (stack, ep) => {
      ep.grantInvoke(new iam.Role(stack, 'Caller', { assumedBy: new iam.AccountRootPrincipal() }));
    });
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))[0].Properties.PolicyDocument.Statement;
    expect(statements).toEqual([expect.objectContaining({
      Action: ['sagemaker:InvokeEndpoint', 'sagemaker:InvokeEndpointWithResponseStream'],
      Condition: { StringEquals: { 'aws:SourceVpce': ['vpce-0123abcd'] } },
    })]);
    expectRefusal(() => synth({ invokeVpcEndpointIds: ['vpce-0123abcd'], access: { network: NetworkAccess.PUBLIC } }), 'invokeVpcEndpointIds', /PRIVATE/);
  });

  test('PRIVATE (the default) without runtime VPC endpoints is refused, saying what to add or to set PUBLIC', () => {
    for (const ids of [undefined, []]) {
      expectRefusal(() => synth({ invokeVpcEndpointIds: ids }), 'invokeVpcEndpointIds', /sagemaker\.runtime.*PRIVATE.*NetworkAccess\.PUBLIC/);
    }
  });

  test('PUBLIC: the invoke grant has no network condition, and there is no Deny statement to give', () => {
    const { endpoint } = synth({ access: { network: NetworkAccess.PUBLIC } });
    expect(endpoint.invokeStatement().toStatementJson().Condition).toBeUndefined();
    expectRefusal(() => endpoint.denyInvokeOutsideVpcEndpoints(), 'access.network', /PRIVATE/);
  });

  test('PRIVATE: a Deny statement for an SCP or boundary refuses every invocation from elsewhere', () => {
    const { endpoint, stack } = synth({ invokeVpcEndpointIds: ['vpce-0123abcd', 'vpce-0123456789abcdef0'] });
    const deny = stack.resolve(endpoint.denyInvokeOutsideVpcEndpoints().toStatementJson());
    expect(deny).toEqual({
      Sid: 'DenyInvokeOutsideVpcEndpoints',
      Effect: 'Deny',
      Action: ['sagemaker:InvokeEndpoint', 'sagemaker:InvokeEndpointWithResponseStream', 'sagemaker:InvokeEndpointAsync'],
      Resource: stack.resolve(endpoint.endpointArn),
      Condition: { StringNotEquals: { 'aws:SourceVpce': ['vpce-0123abcd', 'vpce-0123456789abcdef0'] } },
    });
  });

  test('SageMaker accepts only IAM (SigV4) authentication', () => {
    expectRefusal(() => synth({ access: { auth: AuthMode.KEY } }), 'access.auth', /SigV4/);
  });

  test('network isolation stays on unless the endpoint is public or in a VPC', () => {
    expectRefusal(() => synth({ networkIsolation: false }), 'networkIsolation', /PRIVATE/);
    const { template } = synth({ networkIsolation: false, access: { network: NetworkAccess.PUBLIC } });
    expect(only(template, 'AWS::SageMaker::Model').props.EnableNetworkIsolation).toBe(false);
  });

  test('in a VPC: private subnets and a security group with no egress', () => {
    const app = new App();
    const stack = new Stack(app, 'S', { env: ENV });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    new SageMakerModelEndpoint(stack, 'Ep', { model: ModelArtifact.fromUri('s3://models/model.tar.gz'), serving: ServingContainer.xgboost(), vpc, invokeVpcEndpointIds: [RUNTIME_VPCE] });
    const template = Template.fromStack(stack);
    const model = only(template, 'AWS::SageMaker::Model').props;
    expect(model.VpcConfig.Subnets).toHaveLength(2);
    expect(model.EnableNetworkIsolation).toBe(true);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('no inbound, no outbound'),
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '255.255.255.255/32' })],
    });
  });

  test('a key the user brings: the role gets its data-key permissions in its own policy, on that key only', () => {
    const app = new App();
    const stack = new Stack(app, 'S', { env: ENV });
    const encryptionKey = kms.Key.fromKeyArn(stack, 'K', 'arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    new SageMakerModelEndpoint(stack, 'Ep', { model: ModelArtifact.fromUri('s3://models/model.tar.gz'), serving: ServingContainer.xgboost(), encryptionKey, monitoring: { capture: { samplingPercent: 5 } }, invokeVpcEndpointIds: [RUNTIME_VPCE] });
    const template = Template.fromStack(stack);
    expect(template.findResources('AWS::KMS::Key')).toEqual({});
    expect(statement(template, 'UseDataKey')).toMatchObject({ Resource: encryptionKey.keyArn, Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'] });
  });

  test('tags reach the resources', () => {
    const { template } = synth({ tags: { team: 'risk', 'cost-center': '42' } });
    expect(only(template, 'AWS::SageMaker::Endpoint').props.Tags).toEqual(expect.arrayContaining([{ Key: 'team', Value: 'risk' }, { Key: 'cost-center', Value: '42' }]));
  });

  test('misspelt options are refused rather than ignored', () => {
    let error: unknown;
    try { synth({ instnceType: 'ml.m5.large' } as any); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(ModelDeploymentValidationError);
    expect((error as ModelDeploymentValidationError).field).toBe('props.instnceType');
  });
});

/** `arn:PARTITION:cloudwatch:REGION:ACCOUNT:alarm:*`, as the template writes it. */
const OWN_ALARMS = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':alarm:*']] };

describe('issue 7, item 8: SageMaker limits refused at synth', () => {
  const env = (count: number, valueLength = 1) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`V${i}`, 'x'.repeat(valueLength)]));

  test('more than 100 environment variables are refused naming serving.environment and the limit', () => {
    expect(() => synth({ serving: ServingContainer.xgboost({ environment: env(100) }) })).not.toThrow();
    expectRefusal(() => synth({ serving: ServingContainer.xgboost({ environment: env(101) }) }), 'serving.environment', /at most 100 variables/);
  });

  test('the variables the image needs count toward the 100 (Triton adds its model name)', () => {
    expectRefusal(() => synth({ serving: ServingContainer.triton({ modelName: 'm', environment: env(100) }), compute: Compute.gpu({ gpu: GpuKind.NVIDIA_A10G }) }),
      'serving.environment', /at most 100 variables.*1 of them.*image/);
  });

  test('more than 32 KB of environment (keys and values, UTF-8) is refused naming serving.environment and the limit', () => {
    // 40 x (3-byte key + 800 bytes) = 32,120 bytes: under 32 KB; 41 of them are over.
    expect(() => synth({ serving: ServingContainer.xgboost({ environment: env(40, 800) }) })).not.toThrow();
    expectRefusal(() => synth({ serving: ServingContainer.xgboost({ environment: env(41, 800) }) }), 'serving.environment', /32 KB|32768 bytes/);
  });

  test('a value over 1024 bytes in UTF-8 is refused even when it is under 1024 characters', () => {
    expectRefusal(() => synth({ serving: ServingContainer.xgboost({ environment: { GREETING: 'é'.repeat(600) } }) }), 'serving.environment.GREETING', /1024 bytes/);
  });

  test('invokeVpcEndpointIds given as a string is refused, not spread into characters', () => {
    expectRefusal(() => synth({ invokeVpcEndpointIds: 'vpce-0abc' as any }), 'invokeVpcEndpointIds', /array/);
  });

  test.each([
    ['a policy variable', '${aws:SourceVpce}'],
    ['a short id', 'vpce-0abc'],
    ['upper case', 'vpce-0123ABCD'],
    ['a wildcard', 'vpce-*'],
    ['an ARN', 'arn:aws:ec2:us-east-1:111111111111:vpc-endpoint/vpce-01234567'],
  ])('an invokeVpcEndpointIds entry that is %s is refused', (_label, id) => {
    expectRefusal(() => synth({ invokeVpcEndpointIds: [id] }), 'invokeVpcEndpointIds[0]', /vpce-/);
  });

  test('well-formed VPC endpoint ids (8 or 17 hex digits) and a VPC endpoint of the same stack are accepted', () => {
    const { template } = synth({ invokeVpcEndpointIds: ['vpce-0123abcd', 'vpce-0123456789abcdef0'] }, ENV, (stack, ep) => {
      ep.grantInvoke(new iam.Role(stack, 'Caller', { assumedBy: new iam.AccountRootPrincipal() }));
    });
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))[0].Properties.PolicyDocument.Statement;
    expect(statements[0].Condition).toEqual({ StringEquals: { 'aws:SourceVpce': ['vpce-0123abcd', 'vpce-0123456789abcdef0'] } });

    const app = new App();
    const stack = new Stack(app, 'S', { env: ENV });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0 });
    const runtime = vpc.addInterfaceEndpoint('Runtime', { service: ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME });
    expect(() => new SageMakerModelEndpoint(stack, 'Ep', {
      model: ModelArtifact.fromUri('s3://models/model.tar.gz'), serving: ServingContainer.xgboost(), invokeVpcEndpointIds: [runtime.vpcEndpointId],
    })).not.toThrow();
    // A token with literal text around it is not an id.
    expectRefusal(() => new SageMakerModelEndpoint(stack, 'Ep2', {
      model: ModelArtifact.fromUri('s3://models/model.tar.gz'), serving: ServingContainer.xgboost(), invokeVpcEndpointIds: [`${runtime.vpcEndpointId}*`],
    }), 'invokeVpcEndpointIds[0]', /vpce-/);
  });

  test('the same endpointName twice in one stack is refused, naming the first construct', () => {
    const app = new App();
    const stack = new Stack(app, 'S', { env: ENV });
    const props = { model: ModelArtifact.fromUri('s3://models/model.tar.gz'), serving: ServingContainer.xgboost(), endpointName: 'churn', invokeVpcEndpointIds: [RUNTIME_VPCE] };
    new SageMakerModelEndpoint(stack, 'First', props);
    expectRefusal(() => new SageMakerModelEndpoint(stack, 'Second', props), 'endpointName', /S\/First/);
    // Another stack may use the name (another account or region, or the same stack moved).
    expect(() => new SageMakerModelEndpoint(new Stack(app, 'Other', { env: ENV }), 'First', props)).not.toThrow();
  });

  test('logRetention outside logs.RetentionDays is refused naming the field and the allowed values', () => {
    expectRefusal(() => synth({ logRetention: 'forever' as any }), 'logRetention', /RetentionDays.*365/);
    expectRefusal(() => synth({ logRetention: 42 as any }), 'logRetention', /RetentionDays/);
    const { template } = synth({ logRetention: 3653 as any });
    expect(only(template, 'AWS::Logs::LogGroup').props.RetentionInDays).toBe(3653);
  });

  test('the key lets CloudWatch use it only for alarms of this account and region (aws:SourceAccount, aws:SourceArn)', () => {
    const { template } = synth();
    const statements = only(template, 'AWS::KMS::Key').props.KeyPolicy.Statement;
    const cloudwatch = statements.find((s: any) => s.Sid === 'Allow-cloudwatch');
    expect(cloudwatch.Principal).toEqual({ Service: 'cloudwatch.amazonaws.com' });
    expect(cloudwatch.Condition).toEqual({
      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
      ArnLike: { 'aws:SourceArn': OWN_ALARMS },
    });
    // Every service principal in the key policy carries a condition that pins it to this account
    // (CloudWatch Logs: the encryption context, which is the log group's ARN).
    for (const s of statements.filter((x: any) => x.Principal?.Service)) {
      expect(JSON.stringify(s.Condition)).toContain('AWS::AccountId');
    }
  });

  test('the alarm topic lets CloudWatch publish only for alarms of this account and region', () => {
    const { template } = synth();
    const policy = only(template, 'AWS::SNS::TopicPolicy').props.PolicyDocument.Statement;
    const allow = policy.find((s: any) => s.Effect === 'Allow');
    expect(allow).toMatchObject({
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: 'sns:Publish',
      Condition: {
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnLike: { 'aws:SourceArn': OWN_ALARMS },
      },
    });
  });
});

describe('issue 7, item 9: destroy, then deploy the same endpoint again', () => {
  test('by default the log group is kept on delete and replace, under a literal name CloudFormation can adopt again', () => {
    const { template } = synth({ endpointName: 'churn' });
    const group = only(template, 'AWS::Logs::LogGroup');
    expect(group.res.DeletionPolicy).toBe('Retain');
    expect(group.res.UpdateReplacePolicy).toBe('Retain');
    // `cdk deploy --import-existing-resources` adopts only resources whose name is a literal.
    expect(group.props.LogGroupName).toBe('/aws/sagemaker/Endpoints/churn');
    expect(only(template, 'AWS::SageMaker::Endpoint').props.EndpointName).toBe('churn');
  });

  test('logGroupRemovalPolicy DESTROY deletes the group with the stack, so a plain redeploy creates it again', () => {
    const { template } = synth({ endpointName: 'churn', logGroupRemovalPolicy: RemovalPolicy.DESTROY });
    const group = only(template, 'AWS::Logs::LogGroup');
    expect(group.res.DeletionPolicy).toBe('Delete');
    expect(group.res.UpdateReplacePolicy).toBe('Delete');
    expect(group.props.LogGroupName).toBe('/aws/sagemaker/Endpoints/churn');
  });

  test('RETAIN_ON_UPDATE_OR_DELETE keeps the group except when a first deployment rolls back', () => {
    const { template } = synth({ logGroupRemovalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE });
    expect(only(template, 'AWS::Logs::LogGroup').res.DeletionPolicy).toBe('RetainExceptOnCreate');
  });

  test('a generated endpoint name is a literal too, the same on every synth', () => {
    const a = only(synth().template, 'AWS::Logs::LogGroup').props.LogGroupName;
    expect(typeof a).toBe('string');
    expect(only(synth().template, 'AWS::Logs::LogGroup').props.LogGroupName).toBe(a);
  });

  test('SNAPSHOT (which log groups do not support) and other values are refused', () => {
    expectRefusal(() => synth({ logGroupRemovalPolicy: RemovalPolicy.SNAPSHOT }), 'logGroupRemovalPolicy', /RETAIN.*DESTROY/);
    expectRefusal(() => synth({ logGroupRemovalPolicy: 'keep' as any }), 'logGroupRemovalPolicy', /RETAIN.*DESTROY/);
  });
});

describe('issue 7, item 11: the SageMaker options are resolved and checked before any resource exists', () => {
  test('several refusals are reported at once: the first is thrown and its message lists the others', () => {
    let error: unknown;
    try {
      synth({ variantName: 'no_underscores', model: ModelArtifact.fromUri('gs://bucket/model.tar.gz'), volumeSizeGiB: 9999 });
    } catch (e) { error = e; }
    expect(error).toBeInstanceOf(ModelDeploymentValidationError);
    const e = error as ModelDeploymentValidationError;
    expect(e.field).toBe('variantName');
    expect(e.target).toBe('sageMaker');
    expect(e.message).toMatch(/\(and 2 more:\n {2}.*invalid model\.uri: .*Amazon S3 only.*\n {2}.*invalid volumeSizeGiB: 9999/);
  });

  test('a refusal found late (the model\'s location) leaves no resource behind', () => {
    const stack = new Stack(new App(), 'S', { env: ENV });
    expectRefusal(() => new SageMakerModelEndpoint(stack, 'Ep', {
      model: ModelArtifact.fromUri('gs://bucket/model.tar.gz'),
      serving: ServingContainer.xgboost(),
      invokeVpcEndpointIds: [RUNTIME_VPCE],
    }), 'model.uri', /Amazon S3 only/);
    expect(stack.node.findAll().filter(c => c instanceof CfnResource)).toEqual([]);
  });
});
