import { Aws, CfnOutput, Duration, Names, RemovalPolicy, Tags } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, IConstruct } from 'constructs';
import type { IModelEndpoint } from '../../model-endpoint';
import { AuthMode, NetworkAccess } from '../../spec/access';
import { ArtifactLayout, ArtifactScheme, ArtifactSource } from '../../spec/artifact';
import { checkInteger, checkOptions } from '../../spec/check';
import { ComputeKind } from '../../spec/compute';
import { ModelDeploymentValidationError } from '../../spec/errors';
import { CatalogPlatform, InstanceOffer, findInstance, selectInstance } from '../../spec/instance-catalog';
import { RolloutStrategy } from '../../spec/rollout';
import { ScalingMetric } from '../../spec/scaling';
import { ModelDeploymentSpecProps, ResolvedModelDeploymentSpec, resolveSpec } from '../../spec/spec';
import { packModelArchive } from '../../common/model-archive';
import { findTargetConstruct } from '../../common/target-construct';
import { TARGET, resolveSageMakerImage } from './image';
import { sageMakerInstanceGpus } from './image-catalog';
import { checkEnvironment, checkLogGroupRemovalPolicy, checkLogRetention, checkVpcEndpointIds, claimEndpointName } from './limits';
import { SAGEMAKER_OPTION_KEYS, SageMakerAsyncInferenceOptions, SageMakerServerlessOptions, SageMakerTargetOptions } from './options';

/** Props for {@link SageMakerModelEndpoint}: the spec plus the SageMaker options. */
export interface SageMakerModelEndpointProps extends ModelDeploymentSpecProps, SageMakerTargetOptions {}

/** How the endpoint serves. */
export enum SageMakerInferenceMode {
  /** Instances that answer synchronously. */
  REAL_TIME = 'real-time',
  /** Serverless, on demand, CPU only. */
  SERVERLESS = 'serverless',
  /** Queued requests whose results land in S3. */
  ASYNC = 'async',
}

// Instance families with local NVMe storage: SageMaker refuses a KMS key and a volume size for them
// (the instance store is encrypted in hardware).
const LOCAL_STORAGE_FAMILIES = /^ml\.(g4dn|g5|g6|g6e|p3dn|p4d|p4de|p5|p5e|p5en|[cmr][5-7][a-z]*d)\./;
const SAGEMAKER_INSTANCE = /^ml\.[a-z0-9]+\.[a-z0-9]+$/;
const VARIANT_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const ENDPOINTS_LOG_PREFIX = '/aws/sagemaker/Endpoints/';

/**
 * A model on an Amazon SageMaker endpoint, secure by default: its own KMS key, a least-privilege
 * execution role (exact object, repository and log-group resources, no AWS-managed policy, no
 * inline policy), network isolation, blue/green rollouts with alarm rollback, autoscaling,
 * alarms with a notification topic, and an encrypted log group with retention.
 */
export class SageMakerModelEndpoint extends Construct implements IModelEndpoint {
  /** The SageMakerModelEndpoint that a ModelDeployment (or any construct containing one) built. */
  public static of(scope: IConstruct): SageMakerModelEndpoint {
    return findTargetConstruct(scope, SageMakerModelEndpoint, TARGET);
  }

  public readonly targetName = TARGET;
  /** The endpoint's name. */
  public readonly endpointName: string;
  /** The endpoint's ARN. */
  public readonly endpointArn: string;
  /** The HTTPS URL for InvokeEndpoint (requests must be SigV4-signed). */
  public readonly endpointUrl: string;
  /** The production variant's name. */
  public readonly variantName: string;
  /** Real-time, serverless or async. */
  public readonly inferenceMode: SageMakerInferenceMode;
  /** The instance type, for instance-backed endpoints. */
  public readonly instanceType?: string;
  /** The execution role SageMaker uses to fetch the model and image and to write logs. */
  public readonly role: iam.Role;
  /** The customer-managed policy that holds every permission of the role. */
  public readonly executionPolicy: iam.ManagedPolicy;
  /** The KMS key for storage, logs, alarm topic and data. */
  public readonly encryptionKey: kms.IKey;
  /** The endpoint's log group. */
  public readonly logGroup: logs.LogGroup;
  /** The bucket for captured data and async results, when either is used. */
  public readonly dataBucket?: s3.IBucket;
  /** Where alarms notify, when alarms are on. */
  public readonly alarmTopic?: sns.ITopic;
  /** The server-error-rate alarm, when alarms are on. */
  public readonly errorRateAlarm?: cloudwatch.Alarm;
  /** The p99 latency alarm, when alarms are on. */
  public readonly latencyAlarm?: cloudwatch.Alarm;
  /** The autoscaling target, when minReplicas < maxReplicas. */
  public readonly scalableTarget?: appscaling.ScalableTarget;
  /** The L1 model (escape hatch). */
  public readonly cfnModel: sagemaker.CfnModel;
  /** The L1 endpoint configuration (escape hatch). */
  public readonly cfnEndpointConfig: sagemaker.CfnEndpointConfig;
  /** The L1 endpoint (escape hatch). */
  public readonly cfnEndpoint: sagemaker.CfnEndpoint;

  private readonly spec: ResolvedModelDeploymentSpec;
  private readonly ownsKey: boolean;
  private readonly invokeVpcEndpointIds: string[];

  constructor(scope: Construct, id: string, props: SageMakerModelEndpointProps) {
    super(scope, id);
    this.spec = resolveSpec(props, SAGEMAKER_OPTION_KEYS);
    const spec = this.spec;

    this.inferenceMode = props.serverless && props.asyncInference ? failBothModes()
      : props.serverless ? SageMakerInferenceMode.SERVERLESS
        : props.asyncInference ? SageMakerInferenceMode.ASYNC : SageMakerInferenceMode.REAL_TIME;
    const serverless = this.inferenceMode === SageMakerInferenceMode.SERVERLESS;
    this.invokeVpcEndpointIds = checkVpcEndpointIds(props.invokeVpcEndpointIds);
    this.checkTargetLimits(props);
    const logRetention = checkLogRetention(props.logRetention);
    const logGroupRemovalPolicy = checkLogGroupRemovalPolicy(props.logGroupRemovalPolicy);

    const offer = serverless ? undefined : this.pickInstance(props.instanceType);
    this.instanceType = offer?.name;
    const localStorage = offer !== undefined && LOCAL_STORAGE_FAMILIES.test(offer.name);

    this.variantName = props.variantName ?? 'AllTraffic';
    if (!VARIANT_NAME.test(this.variantName)) {
      throw new ModelDeploymentValidationError('variantName', this.variantName, 'letters, digits and hyphens, at most 63 characters', TARGET);
    }
    this.endpointName = spec.endpointName ?? Names.uniqueResourceName(this, { maxLength: 63, separator: '-', allowedSpecialCharacters: '-' });
    claimEndpointName(this, this.endpointName);

    // --- key ------------------------------------------------------------------------------------
    this.ownsKey = props.encryptionKey === undefined;
    this.encryptionKey = props.encryptionKey ?? new kms.Key(this, 'Key', {
      description: `Encrypts the SageMaker endpoint ${this.endpointName}: storage, logs, alarm notifications and data`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // --- identity ---------------------------------------------------------------------------------
    this.role = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: `Execution role of the SageMaker model behind ${this.endpointName}`,
    });
    this.executionPolicy = new iam.ManagedPolicy(this, 'ExecutionPolicy', {
      description: `Least privilege for the SageMaker model behind ${this.endpointName}`,
      roles: [this.role],
    });

    // --- logs -------------------------------------------------------------------------------------
    const logGroupName = `${ENDPOINTS_LOG_PREFIX}${this.endpointName}`;
    this.allowServiceToUseKey('logs', `logs.${Aws.REGION}.amazonaws.com`, ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'], {
      ArnEquals: { 'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:${logGroupName}` },
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName,
      encryptionKey: this.encryptionKey,
      retention: logRetention,
      // SageMaker writes to this fixed name. Kept by default (audit); see logGroupRemovalPolicy for redeploying.
      removalPolicy: logGroupRemovalPolicy,
    });
    // The group's own ARN (`...:log-group:NAME:*`) covers only this endpoint's streams.
    this.allow('WriteOwnLogs', ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'], [this.logGroup.logGroupArn]);

    // --- model ------------------------------------------------------------------------------------
    const image = resolveSageMakerImage(this, spec);
    this.allow('PullOwnImage', ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'], [image.repositoryArn]);
    const modelData = this.modelData();
    const vpcConfig = this.vpcConfig(props);
    const networkIsolation = props.networkIsolation ?? !serverless;
    if (!networkIsolation && spec.network === NetworkAccess.PRIVATE && vpcConfig === undefined) {
      throw new ModelDeploymentValidationError('networkIsolation', false,
        'true while access.network is PRIVATE and no vpc is given: without isolation or a VPC the container could reach the internet', TARGET);
    }

    this.cfnModel = new sagemaker.CfnModel(this, 'Model', {
      executionRoleArn: this.role.roleArn,
      enableNetworkIsolation: networkIsolation,
      vpcConfig,
      primaryContainer: {
        image: image.imageUri,
        mode: 'SingleModel',
        ...modelData,
        environment: nonEmpty(checkEnvironment(image.environment, spec.serving.environment)),
      },
    });
    // SageMaker checks the role's access to the image and model when the model is created.
    this.cfnModel.node.addDependency(this.executionPolicy);

    // --- data bucket (capture, async) -----------------------------------------------------------------
    const needsData = spec.monitoring.capture !== undefined || this.inferenceMode === SageMakerInferenceMode.ASYNC;
    this.dataBucket = needsData ? props.dataBucket ?? this.createDataBucket() : undefined;
    if (this.dataBucket) this.allowServiceToUseKey('role', this.role, ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'], undefined);

    // --- endpoint configuration -----------------------------------------------------------------------
    const timeouts = this.timeouts(props, serverless);
    this.cfnEndpointConfig = new sagemaker.CfnEndpointConfig(this, 'Config', {
      // A local-storage instance's volume is hardware-encrypted and SageMaker refuses a key for it.
      kmsKeyId: localStorage ? undefined : this.encryptionKey.keyArn,
      productionVariants: [{
        variantName: this.variantName,
        modelName: this.cfnModel.attrModelName,
        initialVariantWeight: 1,
        ...(serverless ? { serverlessConfig: this.serverlessConfig(props) } : {
          instanceType: offer!.name,
          initialInstanceCount: spec.scaling.minReplicas,
          volumeSizeInGb: this.volumeSize(props.volumeSizeGiB, offer!.name, localStorage),
          ...timeouts,
        }),
      }],
      dataCaptureConfig: this.dataCaptureConfig(),
      asyncInferenceConfig: this.asyncConfig(props),
    });

    // --- alarms ----------------------------------------------------------------------------------------
    if (spec.monitoring.alarms) {
      this.alarmTopic = props.alarmTopic ?? this.createAlarmTopic();
      const actions = [new cwActions.SnsAction(this.alarmTopic), ...(props.alarmActions ?? [])];
      this.errorRateAlarm = this.createErrorRateAlarm();
      this.latencyAlarm = this.createLatencyAlarm();
      for (const alarm of [this.errorRateAlarm, this.latencyAlarm]) alarm.addAlarmAction(...actions);
    }

    // --- endpoint --------------------------------------------------------------------------------------
    const autoscaled = spec.scaling.target !== undefined;
    this.cfnEndpoint = new sagemaker.CfnEndpoint(this, 'Resource', {
      endpointName: this.endpointName,
      endpointConfigName: this.cfnEndpointConfig.attrEndpointConfigName,
      deploymentConfig: serverless ? undefined : this.deploymentConfig(),
      // Keep the instance count autoscaling chose; take weight and capture settings from the new config.
      retainAllVariantProperties: autoscaled ? true : undefined,
      excludeRetainedVariantProperties: autoscaled ? [{ variantPropertyType: 'DesiredWeight' }, { variantPropertyType: 'DataCaptureConfig' }] : undefined,
    });
    this.cfnEndpoint.node.addDependency(this.logGroup);
    this.endpointArn = this.cfnEndpoint.ref;
    this.endpointUrl = `https://runtime.sagemaker.${Aws.REGION}.${Aws.URL_SUFFIX}/endpoints/${this.endpointName}/invocations`;

    if (autoscaled) this.scalableTarget = this.configureAutoscaling(offer!);

    for (const [key, value] of Object.entries(spec.tags)) Tags.of(this).add(key, value);
    new CfnOutput(this, 'EndpointName', { value: this.endpointName, description: 'SageMaker endpoint name' });
    new CfnOutput(this, 'InvokeUrl', { value: this.endpointUrl, description: 'POST SigV4-signed requests here' });
  }

  /**
   * Lets `grantee` invoke this endpoint (InvokeEndpoint, with response streaming, and async when
   * the endpoint is async) and nothing else. With `access.network` PRIVATE and
   * `invokeVpcEndpointIds`, only requests through those VPC endpoints are allowed.
   */
  public grantInvoke(grantee: iam.IGrantable): iam.Grant {
    const statement = this.invokeStatement();
    return iam.Grant.addToPrincipal({
      grantee,
      actions: statement.actions,
      resourceArns: statement.resources,
      conditions: statement.conditions,
    });
  }

  /**
   * The statement that `grantInvoke` grants, for a customer-managed policy of your own (which
   * keeps a stack free of inline policies: `policy.addStatements(endpoint.invokeStatement())`).
   */
  public invokeStatement(): iam.PolicyStatement {
    const actions = this.inferenceMode === SageMakerInferenceMode.ASYNC
      ? ['sagemaker:InvokeEndpointAsync']
      : ['sagemaker:InvokeEndpoint', 'sagemaker:InvokeEndpointWithResponseStream'];
    const statement = new iam.PolicyStatement({ actions, resources: [this.endpointArn] });
    if (this.invokeVpcEndpointIds.length > 0) statement.addCondition('StringEquals', { 'aws:SourceVpce': this.invokeVpcEndpointIds });
    return statement;
  }

  /** A metric of this endpoint's variant in the AWS/SageMaker namespace (Invocations, ModelLatency...). */
  public metric(metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/SageMaker',
      metricName,
      dimensionsMap: { EndpointName: this.endpointName, VariantName: this.variantName },
      period: Duration.minutes(1),
      ...props,
    });
  }

  /** Requests per period. */
  public metricInvocations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Invocations', { statistic: 'Sum', ...props });
  }

  /** Requests answered with HTTP 5xx. */
  public metricServerErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Invocation5XXErrors', { statistic: 'Sum', ...props });
  }

  /** Requests answered with HTTP 4xx. */
  public metricClientErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Invocation4XXErrors', { statistic: 'Sum', ...props });
  }

  /** Time the model took, in microseconds (SageMaker's unit). */
  public metricModelLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ModelLatency', { statistic: 'p99', ...props });
  }

  /** Server errors as a percent of requests. */
  public metricServerErrorRate(): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
      usingMetrics: { errors: this.metricServerErrors(), invocations: this.metricInvocations() },
      label: 'Server error rate (%)',
      period: Duration.minutes(1),
    });
  }

  // ---------------------------------------------------------------------------------------------------

  /** Limits that are SageMaker's own; the spec has already checked everything else. */
  private checkTargetLimits(props: SageMakerModelEndpointProps): void {
    const spec = this.spec;
    if (spec.auth !== undefined && spec.auth !== AuthMode.IAM) {
      throw new ModelDeploymentValidationError('access.auth', spec.auth, 'IAM: SageMaker endpoints accept only SigV4-signed requests', TARGET);
    }
    if (spec.scaling.minReplicas < 1) {
      throw new ModelDeploymentValidationError('scaling.minReplicas', spec.scaling.minReplicas,
        'at least 1: SageMaker instance-backed endpoints keep one instance running (scale to zero needs inference components, not supported yet)', TARGET);
    }
    const rollout = spec.rollout;
    if (rollout.strategy === RolloutStrategy.CANARY && rollout.stepPercent > 50) {
      throw new ModelDeploymentValidationError('rollout.percent', rollout.stepPercent, 'at most 50: SageMaker canaries are at most half the fleet', TARGET);
    }
    if (rollout.strategy === RolloutStrategy.LINEAR && (rollout.stepPercent < 10 || rollout.stepPercent > 50)) {
      throw new ModelDeploymentValidationError('rollout.stepPercent', rollout.stepPercent, '10 to 50: SageMaker linear steps are 10-50% of the fleet', TARGET);
    }
    if (rollout.strategy !== RolloutStrategy.ALL_AT_ONCE && spec.scaling.minReplicas < 2) {
      throw new ModelDeploymentValidationError('scaling.minReplicas', spec.scaling.minReplicas,
        `at least 2 for a ${rollout.strategy} rollout on SageMaker: the first step must be at most half the fleet`, TARGET);
    }
    if (rollout.waitMinutes > 60) {
      throw new ModelDeploymentValidationError(rollout.strategy === RolloutStrategy.LINEAR ? 'rollout.intervalMinutes' : 'rollout.bakeMinutes', rollout.waitMinutes,
        'at most 60: SageMaker waits at most 3600 seconds between traffic steps', TARGET);
    }
    if (rollout.terminationWaitMinutes > 60) {
      throw new ModelDeploymentValidationError('rollout.terminationWaitMinutes', rollout.terminationWaitMinutes, 'at most 60 on SageMaker', TARGET);
    }
    if (props.invokeVpcEndpointIds !== undefined) {
      if (spec.network !== NetworkAccess.PRIVATE || this.invokeVpcEndpointIds.length === 0) {
        throw new ModelDeploymentValidationError('invokeVpcEndpointIds', props.invokeVpcEndpointIds, 'one or more VPC endpoint ids, with access.network PRIVATE', TARGET);
      }
    }

    if (this.inferenceMode === SageMakerInferenceMode.SERVERLESS) {
      const refuse = (field: string, value: unknown, allowed: string) => {
        throw new ModelDeploymentValidationError(field, value, `${allowed} (SageMaker serverless inference)`, TARGET);
      };
      if (spec.compute.kind === ComputeKind.GPU) refuse('compute', spec.compute.describe(), 'CPU only: serverless has no GPUs');
      if (spec.scaling.maxReplicas !== spec.scaling.minReplicas || spec.scaling.minReplicas !== 1) {
        refuse('scaling', `${spec.scaling.minReplicas}..${spec.scaling.maxReplicas}`, 'left out: serverless scales by concurrency (serverless.maxConcurrency)');
      }
      if (spec.rollout.strategy !== RolloutStrategy.ALL_AT_ONCE) refuse('rollout', spec.rollout.strategy, 'Rollout.allAtOnce(): canary and linear need instances');
      if (spec.monitoring.capture) refuse('monitoring.capture', spec.monitoring.capture, 'left out: serverless has no data capture');
      if (props.vpc) refuse('vpc', 'a VPC', 'left out: serverless cannot attach to a VPC');
      if (props.networkIsolation) refuse('networkIsolation', true, 'false: serverless does not support network isolation');
      if (spec.network === NetworkAccess.PRIVATE) refuse('access.network', spec.network, 'PUBLIC: serverless endpoints can be neither isolated nor placed in a VPC; set it to accept that');
      if (props.instanceType) refuse('instanceType', props.instanceType, 'left out');
    }
  }

  private pickInstance(instanceType: string | undefined): InstanceOffer {
    const compute = this.spec.compute;
    if (instanceType === undefined) return selectInstance(CatalogPlatform.SAGEMAKER, compute, TARGET);
    if (!SAGEMAKER_INSTANCE.test(instanceType)) {
      throw new ModelDeploymentValidationError('instanceType', instanceType, 'a SageMaker instance type such as ml.g5.2xlarge', TARGET);
    }
    const known = findInstance(CatalogPlatform.SAGEMAKER, instanceType);
    const gpus = known?.gpuCount ?? sageMakerInstanceGpus(instanceType)?.gpuCount ?? 0;
    if (compute.kind === ComputeKind.GPU && gpus < compute.gpuCount) {
      throw new ModelDeploymentValidationError('instanceType', instanceType, `an instance with at least ${compute.gpuCount} GPU(s) for compute ${compute.describe()}`, TARGET);
    }
    if (compute.kind === ComputeKind.GPU && known?.gpu !== undefined && known.gpu !== compute.gpu) {
      throw new ModelDeploymentValidationError('instanceType', instanceType, `an instance with ${compute.gpu} GPUs (this one has ${known.gpu})`, TARGET);
    }
    return known ?? { name: instanceType, vcpus: 0, memoryGiB: 0, gpuCount: gpus, gpu: compute.gpu };
  }

  private modelData(): Pick<sagemaker.CfnModel.ContainerDefinitionProperty, 'modelDataUrl' | 'modelDataSource'> {
    const model = this.spec.model;
    if (model.source === ArtifactSource.LOCAL_PATH) {
      const archive = packModelArchive(model.localPath!);
      const asset = new s3assets.Asset(this, 'ModelArtifact', {
        path: archive.archivePath,
        // The content hash does not depend on the zlib build: an unchanged model never redeploys.
        assetHash: archive.contentHash,
      });
      this.allow('ReadOwnModel', ['s3:GetObject'], [`arn:${Aws.PARTITION}:s3:::${asset.s3BucketName}/${asset.s3ObjectKey}`]);
      return { modelDataUrl: asset.s3ObjectUrl };
    }
    if (model.scheme !== ArtifactScheme.S3) {
      throw new ModelDeploymentValidationError('model.uri', model.uri, 's3://BUCKET/KEY: SageMaker reads model artifacts from Amazon S3 only', TARGET);
    }
    const [, bucket, key] = /^s3:\/\/([^/]+)\/?(.*)$/.exec(model.uri!)!;
    if (/[*?$]/.test(key)) {
      // They would become IAM wildcards or policy variables in the role's permissions.
      throw new ModelDeploymentValidationError('model.uri', model.uri, 'an S3 key without "*", "?" or "$"', TARGET);
    }
    if (key === '') {
      throw new ModelDeploymentValidationError('model.uri', model.uri, 's3://BUCKET/KEY or s3://BUCKET/PREFIX/ (a whole bucket is not a model)', TARGET);
    }
    if (model.layout === ArtifactLayout.TAR_GZ) {
      this.allow('ReadOwnModel', ['s3:GetObject'], [`arn:${Aws.PARTITION}:s3:::${bucket}/${key}`]);
      return { modelDataUrl: model.uri };
    }
    if (model.layout === ArtifactLayout.PREFIX) {
      // Uncompressed files under a prefix: the only wildcard this role has, bounded by the prefix.
      this.allow('ReadOwnModel', ['s3:GetObject'], [`arn:${Aws.PARTITION}:s3:::${bucket}/${key}*`]);
      this.allow('ListOwnModel', ['s3:ListBucket'], [`arn:${Aws.PARTITION}:s3:::${bucket}`], { StringLike: { 's3:prefix': [`${key}*`] } });
      return { modelDataSource: { s3DataSource: { s3Uri: model.uri!, s3DataType: 'S3Prefix', compressionType: 'None' } } };
    }
    this.allow('ReadOwnModel', ['s3:GetObject'], [`arn:${Aws.PARTITION}:s3:::${bucket}/${key}`]);
    return { modelDataSource: { s3DataSource: { s3Uri: model.uri!, s3DataType: 'S3Object', compressionType: 'None' } } };
  }

  private vpcConfig(props: SageMakerModelEndpointProps): sagemaker.CfnModel.VpcConfigProperty | undefined {
    if (!props.vpc) {
      if (props.vpcSubnets || props.securityGroups) {
        throw new ModelDeploymentValidationError(props.vpcSubnets ? 'vpcSubnets' : 'securityGroups', 'set without vpc', 'only together with vpc', TARGET);
      }
      return undefined;
    }
    const subnets = props.vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
    const groups = props.securityGroups ?? [new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `SageMaker model behind ${this.endpointName}: no inbound, no outbound`,
      allowAllOutbound: false,
    })];
    // Creating ENIs in your subnets needs these EC2 actions; AWS does not let them be scoped further.
    this.allow('ManageOwnNetworkInterfaces', [
      'ec2:CreateNetworkInterface', 'ec2:CreateNetworkInterfacePermission', 'ec2:DeleteNetworkInterface',
      'ec2:DeleteNetworkInterfacePermission', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeVpcs',
      'ec2:DescribeDhcpOptions', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups',
    ], ['*']);
    return { subnets: subnets.subnetIds, securityGroupIds: groups.map(g => g.securityGroupId) };
  }

  private timeouts(props: SageMakerModelEndpointProps, serverless: boolean) {
    if (serverless) return {};
    const startup = checkInteger('serving.startupTimeoutSeconds', this.spec.serving.startupTimeoutSeconds, 60, 3600, TARGET);
    const download = checkInteger('modelDownloadTimeoutSeconds', props.modelDownloadTimeoutSeconds ?? startup, 60, 3600, TARGET);
    return { containerStartupHealthCheckTimeoutInSeconds: startup, modelDataDownloadTimeoutInSeconds: download };
  }

  private volumeSize(size: number | undefined, instanceType: string, localStorage: boolean): number | undefined {
    if (size === undefined) return undefined;
    if (localStorage) {
      throw new ModelDeploymentValidationError('volumeSizeGiB', size, `left out for ${instanceType}: it has local NVMe storage, whose size is fixed`, TARGET);
    }
    return checkInteger('volumeSizeGiB', size, 1, 512, TARGET);
  }

  private serverlessConfig(props: SageMakerModelEndpointProps): sagemaker.CfnEndpointConfig.ServerlessConfigProperty {
    const options = checkOptions<SageMakerServerlessOptions>('serverless', props.serverless, ['memoryGiB', 'maxConcurrency', 'provisionedConcurrency']);
    const memoryGiB = checkInteger('serverless.memoryGiB', options.memoryGiB ?? Math.min(6, Math.max(1, Math.ceil(this.spec.compute.memoryGiB))), 1, 6, TARGET);
    const maxConcurrency = checkInteger('serverless.maxConcurrency', options.maxConcurrency ?? 20, 1, 200, TARGET);
    const provisioned = options.provisionedConcurrency === undefined ? undefined
      : checkInteger('serverless.provisionedConcurrency', options.provisionedConcurrency, 1, maxConcurrency, TARGET);
    return { memorySizeInMb: memoryGiB * 1024, maxConcurrency, provisionedConcurrency: provisioned };
  }

  private createDataBucket(): s3.Bucket {
    return new s3.Bucket(this, 'DataBucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.encryptionKey,
      bucketKeyEnabled: true,
      versioned: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** Lets the role use objects under `prefix` of the data bucket: through the bucket's policy when it is ours, else the role's. */
  private allowOnData(sid: string, actions: string[], prefix: string): void {
    const bucket = this.dataBucket!;
    const statement = new iam.PolicyStatement({ sid, actions, resources: [bucket.arnForObjects(`${prefix}*`)], principals: [this.role] });
    const added = bucket.addToResourcePolicy(statement).statementAdded;
    if (!added) this.allow(sid, actions, [bucket.arnForObjects(`${prefix}*`)]);
  }

  private dataCaptureConfig(): sagemaker.CfnEndpointConfig.DataCaptureConfigProperty | undefined {
    const capture = this.spec.monitoring.capture;
    if (!capture) return undefined;
    const prefix = `data-capture/${this.endpointName}/`;
    this.allowOnData('WriteCapturedData', ['s3:PutObject'], prefix);
    return {
      enableCapture: true,
      initialSamplingPercentage: capture.samplingPercent,
      destinationS3Uri: this.dataBucket!.s3UrlForObject(prefix.slice(0, -1)),
      kmsKeyId: this.encryptionKey.keyArn,
      captureOptions: [
        ...(capture.requests ? [{ captureMode: 'Input' }] : []),
        ...(capture.responses ? [{ captureMode: 'Output' }] : []),
      ],
    };
  }

  private asyncConfig(props: SageMakerModelEndpointProps): sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty | undefined {
    if (!props.asyncInference) return undefined;
    const options = checkOptions<SageMakerAsyncInferenceOptions>('asyncInference', props.asyncInference, ['maxConcurrentInvocationsPerInstance', 'successTopic', 'errorTopic']);
    const base = `async/${this.endpointName}/`;
    this.allowOnData('ReadAsyncInputs', ['s3:GetObject'], `${base}input/`);
    this.allowOnData('WriteAsyncResults', ['s3:PutObject'], `${base}output/`);
    this.allowOnData('WriteAsyncFailures', ['s3:PutObject'], `${base}failure/`);
    const topics = [options.successTopic, options.errorTopic].filter((t): t is sns.ITopic => t !== undefined);
    if (topics.length > 0) this.allow('NotifyAsyncResults', ['sns:Publish'], topics.map(t => t.topicArn));
    const perInstance = options.maxConcurrentInvocationsPerInstance === undefined ? undefined
      : checkInteger('asyncInference.maxConcurrentInvocationsPerInstance', options.maxConcurrentInvocationsPerInstance, 1, 1000, TARGET);
    return {
      clientConfig: perInstance === undefined ? undefined : { maxConcurrentInvocationsPerInstance: perInstance },
      outputConfig: {
        s3OutputPath: this.dataBucket!.s3UrlForObject(`${base}output`),
        s3FailurePath: this.dataBucket!.s3UrlForObject(`${base}failure`),
        kmsKeyId: this.encryptionKey.keyArn,
        notificationConfig: topics.length === 0 ? undefined : {
          successTopic: options.successTopic?.topicArn,
          errorTopic: options.errorTopic?.topicArn,
        },
      },
    };
  }

  private createAlarmTopic(): sns.Topic {
    // CloudWatch alarms publish as the service itself: only for alarms of this account and region
    // (aws:SourceAccount, aws:SourceArn), as AWS documents for alarm actions to an encrypted topic.
    const fromOwnAlarms = {
      StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
      ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*` },
    };
    this.allowServiceToUseKey('cloudwatch', 'cloudwatch.amazonaws.com', ['kms:Decrypt', 'kms:GenerateDataKey*'], fromOwnAlarms);
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `Alarms of SageMaker endpoint ${this.endpointName}`,
      masterKey: this.encryptionKey,
      enforceSSL: true,
    });
    // enforceSSL gives the topic a policy of its own, which replaces SNS's default one (that let
    // services of this account publish): say who may publish again.
    topic.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowOwnAlarms',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: fromOwnAlarms,
    }));
    return topic;
  }

  private createErrorRateAlarm(): cloudwatch.Alarm {
    const monitoring = this.spec.monitoring;
    return new cloudwatch.Alarm(this, 'ErrorRateAlarm', {
      alarmDescription: `Server errors above ${monitoring.errorRatePercent}% of requests on ${this.endpointName}`,
      metric: this.metricServerErrorRate(),
      threshold: monitoring.errorRatePercent,
      evaluationPeriods: monitoring.evaluationMinutes,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private createLatencyAlarm(): cloudwatch.Alarm {
    const monitoring = this.spec.monitoring;
    return new cloudwatch.Alarm(this, 'LatencyAlarm', {
      alarmDescription: `p99 model latency above ${monitoring.latencyP99Ms} ms on ${this.endpointName}`,
      metric: this.metricModelLatency(),
      threshold: monitoring.latencyP99Ms * 1000, // ModelLatency is in microseconds
      evaluationPeriods: monitoring.evaluationMinutes,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private deploymentConfig(): sagemaker.CfnEndpoint.DeploymentConfigProperty {
    const rollout = this.spec.rollout;
    const wait = rollout.waitMinutes * 60;
    const type = { [RolloutStrategy.ALL_AT_ONCE]: 'ALL_AT_ONCE', [RolloutStrategy.CANARY]: 'CANARY', [RolloutStrategy.LINEAR]: 'LINEAR' }[rollout.strategy];
    const steps = rollout.strategy === RolloutStrategy.LINEAR ? Math.ceil(100 / rollout.stepPercent) : rollout.strategy === RolloutStrategy.CANARY ? 2 : 1;
    // Long enough for new instances to start, every step to bake, and the old fleet to be kept.
    const needed = 2 * this.spec.serving.startupTimeoutSeconds + steps * wait + rollout.terminationWaitMinutes * 60 + 600;
    if (needed > 28800) {
      throw new ModelDeploymentValidationError('rollout', `${steps} steps of ${rollout.waitMinutes} min`, 'a rollout that fits in SageMaker\'s 8-hour limit: fewer steps or shorter waits', TARGET);
    }
    const alarms = this.spec.rollout.rollbackOnAlarms ? [this.errorRateAlarm, this.latencyAlarm].filter((a): a is cloudwatch.Alarm => a !== undefined) : [];
    return {
      blueGreenUpdatePolicy: {
        trafficRoutingConfiguration: {
          type,
          waitIntervalInSeconds: wait,
          canarySize: rollout.strategy === RolloutStrategy.CANARY ? { type: 'CAPACITY_PERCENT', value: rollout.stepPercent } : undefined,
          linearStepSize: rollout.strategy === RolloutStrategy.LINEAR ? { type: 'CAPACITY_PERCENT', value: rollout.stepPercent } : undefined,
        },
        terminationWaitInSeconds: rollout.terminationWaitMinutes * 60,
        maximumExecutionTimeoutInSeconds: Math.max(600, needed),
      },
      autoRollbackConfiguration: alarms.length === 0 ? undefined : { alarms: alarms.map(a => ({ alarmName: a.alarmName })) },
    };
  }

  private configureAutoscaling(offer: InstanceOffer): appscaling.ScalableTarget {
    const scaling = this.spec.scaling;
    const target = new appscaling.ScalableTarget(this, 'ScalableTarget', {
      serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
      resourceId: `endpoint/${this.endpointName}/variant/${this.variantName}`,
      scalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      minCapacity: scaling.minReplicas,
      maxCapacity: scaling.maxReplicas,
      // Application Auto Scaling's own service-linked role: no IAM resource of ours.
      role: iam.Role.fromRoleArn(this, 'AutoscalingRole',
        `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint`),
    });
    target.node.addDependency(this.cfnEndpoint);
    const cooldowns = { scaleInCooldown: Duration.seconds(scaling.scaleInCooldownSeconds), scaleOutCooldown: Duration.seconds(scaling.scaleOutCooldownSeconds) };
    const metricTarget = scaling.target!;
    if (metricTarget.metric === ScalingMetric.INVOCATIONS_PER_REPLICA_PER_MINUTE) {
      target.scaleToTrackMetric('InvocationsPerInstance', {
        predefinedMetric: appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
        targetValue: metricTarget.value,
        ...cooldowns,
      });
      return target;
    }
    // SageMaker reports CPUUtilization and GPUUtilization summed over cores/GPUs (0..100*N).
    const gpu = metricTarget.metric === ScalingMetric.GPU_PERCENT;
    const units = gpu ? offer.gpuCount : offer.vcpus;
    if (units < 1) {
      throw new ModelDeploymentValidationError('scaling.target', metricTarget.metric,
        `ScalingTarget.invocationsPerReplicaPerMinute(...) for instance type ${offer.name}, whose ${gpu ? 'GPU' : 'vCPU'} count is not in the catalog`, TARGET);
    }
    if (gpu && this.spec.compute.kind !== ComputeKind.GPU) {
      throw new ModelDeploymentValidationError('scaling.target', metricTarget.metric, 'cpuPercent or invocationsPerReplicaPerMinute for CPU compute', TARGET);
    }
    target.scaleToTrackMetric(gpu ? 'GpuUtilization' : 'CpuUtilization', {
      customMetric: new cloudwatch.Metric({
        namespace: '/aws/sagemaker/Endpoints',
        metricName: gpu ? 'GPUUtilization' : 'CPUUtilization',
        dimensionsMap: { EndpointName: this.endpointName, VariantName: this.variantName },
        statistic: 'Average',
        period: Duration.minutes(1),
      }),
      targetValue: metricTarget.value * units,
      ...cooldowns,
    });
    return target;
  }

  /** Adds a statement to the role's customer-managed policy. */
  private allow(sid: string, actions: string[], resources: string[], conditions?: Record<string, unknown>): void {
    this.executionPolicy.addStatements(new iam.PolicyStatement({ sid, actions, resources, conditions }));
  }

  /**
   * Lets a service (or the role) use the key. On our own key this goes into the key policy; on a
   * key the user brought, the role's permission goes into its managed policy instead, and the
   * services' permissions are the key owner's to give (see README).
   */
  private allowServiceToUseKey(sid: string, principal: string | iam.IPrincipal, actions: string[], conditions: Record<string, unknown> | undefined): void {
    const grantee = typeof principal === 'string' ? new iam.ServicePrincipal(principal) : principal;
    if (this.ownsKey) {
      this.encryptionKey.addToResourcePolicy(new iam.PolicyStatement({ sid: `Allow-${sid}`, principals: [grantee], actions, resources: ['*'], conditions }));
    } else if (typeof principal !== 'string') {
      this.allow('UseDataKey', actions, [this.encryptionKey.keyArn]);
    }
  }
}

function failBothModes(): never {
  throw new ModelDeploymentValidationError('serverless', 'set together with asyncInference', 'one of serverless or asyncInference', TARGET);
}

function nonEmpty(env: { [name: string]: string }): { [name: string]: string } | undefined {
  return Object.keys(env).length > 0 ? env : undefined;
}
