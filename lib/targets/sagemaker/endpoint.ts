import { Aws, CfnOutput, CustomResource, Duration, Names, RemovalPolicy, Tags } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, IConstruct } from 'constructs';
import type { IModelEndpoint } from '../../model-endpoint';
import { AuthMode, NetworkAccess } from '../../spec/access';
import { ArtifactLayout, ArtifactScheme, ArtifactSource } from '../../spec/artifact';
import { Problems, checkInteger, checkOptions } from '../../spec/check';
import { ComputeKind } from '../../spec/compute';
import { ModelDeploymentValidationError } from '../../spec/errors';
import { InstanceOffer, findInstance, selectInstance } from '../../spec/instance-catalog';
import { RolloutStrategy } from '../../spec/rollout';
import { ScalingMetric, ScalingTarget } from '../../spec/scaling';
import { ModelDeploymentSpecProps, ResolvedModelDeploymentSpec, resolveSpec } from '../../spec/spec';
import { ModelArchive, packModelArchive } from '../../common/model-archive';
import { findTargetConstruct } from '../../common/target-construct';
import { ResolvedSageMakerImage, resolveSageMakerImage } from './image';
import { TARGET } from './name';
import { sageMakerInstanceGpus } from './image-catalog';
import { SAGEMAKER_INSTANCE_TYPES } from './instance-types';
import { checkEnvironment, checkLogGroupRemovalPolicy, checkLogRetention, checkVpcEndpointIds, claimEndpointName } from './limits';
import { SAGEMAKER_OPTION_KEYS, SageMakerAsyncInferenceOptions, SageMakerServerlessOptions, SageMakerTargetOptions } from './options';
import { ResolvedSageMakerVerification, SageMakerVerificationResources, renderSageMakerVerification, resolveSageMakerVerification } from './verification';

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
  /**
   * The custom resource that checks the spec's verification samples after each endpoint update,
   * when the spec has `verification`.
   */
  public readonly verificationCheck?: CustomResource;
  /** The Lambda function behind `verificationCheck` (escape hatch). */
  public readonly verificationFunction?: lambda.CfnFunction;

  private readonly ownsKey: boolean;
  private readonly invokeVpcEndpointIds: string[];

  constructor(scope: Construct, id: string, props: SageMakerModelEndpointProps) {
    super(scope, id);
    // Resolve, then render: every refusal is collected, and no resource is created before all pass.
    const r = this.resolve(props);
    this.inferenceMode = r.inferenceMode;
    this.instanceType = r.offer?.name;
    this.variantName = r.variantName;
    this.endpointName = r.endpointName;
    this.invokeVpcEndpointIds = r.invokeVpcEndpointIds;
    this.ownsKey = r.encryptionKey === undefined;

    this.encryptionKey = r.encryptionKey ?? this.createEncryptionKey();
    this.role = this.createExecutionRole();
    this.executionPolicy = new iam.ManagedPolicy(this, 'ExecutionPolicy', {
      description: `Least privilege for the SageMaker model behind ${this.endpointName}`,
      roles: [this.role],
    });
    this.logGroup = this.createLogGroup(r);
    this.cfnModel = this.renderModel(r);
    this.dataBucket = this.renderDataBucket(r);
    this.cfnEndpointConfig = this.renderEndpointConfig(r);
    if (r.spec.monitoring.alarms) {
      this.alarmTopic = r.alarmTopic ?? this.createAlarmTopic();
      const actions = [new cwActions.SnsAction(this.alarmTopic), ...r.alarmActions];
      this.errorRateAlarm = this.createErrorRateAlarm(r);
      this.latencyAlarm = this.createLatencyAlarm(r);
      for (const alarm of [this.errorRateAlarm, this.latencyAlarm]) alarm.addAlarmAction(...actions);
    }
    this.cfnEndpoint = this.renderEndpoint(r);
    this.endpointArn = this.cfnEndpoint.ref;
    this.endpointUrl = `https://runtime.sagemaker.${Aws.REGION}.${Aws.URL_SUFFIX}/endpoints/${this.endpointName}/invocations`;
    if (r.scaling !== undefined) this.scalableTarget = this.renderAutoscaling(r, r.scaling);
    if (r.verification !== undefined) {
      const verification = this.renderVerification(r, r.verification);
      this.verificationCheck = verification.check;
      this.verificationFunction = verification.function;
    }
    this.renderOutputs(r);
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

  /**
   * For a PRIVATE endpoint: a Deny statement for an SCP or a permissions boundary that refuses every
   * invocation of this endpoint not made through its `invokeVpcEndpointIds`. SageMaker endpoints
   * take no resource policy, so `grantInvoke` can restrict only the grants it makes; this closes the
   * gap left by broader grants elsewhere (for example `sagemaker:*` on an administrator role).
   */
  public denyInvokeOutsideVpcEndpoints(): iam.PolicyStatement {
    if (this.invokeVpcEndpointIds.length === 0) {
      throw new ModelDeploymentValidationError('access.network', NetworkAccess.PUBLIC, 'PRIVATE with invokeVpcEndpointIds, for a statement that denies other networks', TARGET);
    }
    return new iam.PolicyStatement({
      sid: 'DenyInvokeOutsideVpcEndpoints',
      effect: iam.Effect.DENY,
      actions: ['sagemaker:InvokeEndpoint', 'sagemaker:InvokeEndpointWithResponseStream', 'sagemaker:InvokeEndpointAsync'],
      resources: [this.endpointArn],
      conditions: { StringNotEquals: { 'aws:SourceVpce': this.invokeVpcEndpointIds } },
    });
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

  // --- resolve: every check, no resource --------------------------------------------------------------

  private resolve(props: SageMakerModelEndpointProps): ResolvedSageMakerEndpoint {
    const spec = resolveSpec(props, SAGEMAKER_OPTION_KEYS);
    const problems = new Problems(TARGET);
    if (props.serverless && props.asyncInference) problems.add('serverless', 'set together with asyncInference', 'one of serverless or asyncInference');
    const inferenceMode = props.serverless ? SageMakerInferenceMode.SERVERLESS
      : props.asyncInference ? SageMakerInferenceMode.ASYNC : SageMakerInferenceMode.REAL_TIME;
    const serverless = inferenceMode === SageMakerInferenceMode.SERVERLESS;
    const invokeVpcEndpointIds = problems.attempt(() => checkVpcEndpointIds(props.invokeVpcEndpointIds));
    checkTargetLimits(problems, spec, props, inferenceMode, invokeVpcEndpointIds);
    const logRetention = problems.attempt(() => checkLogRetention(props.logRetention));
    const logGroupRemovalPolicy = problems.attempt(() => checkLogGroupRemovalPolicy(props.logGroupRemovalPolicy));

    const offer = serverless ? undefined : problems.attempt(() => pickInstance(spec.compute, props.instanceType));
    const localStorage = offer !== undefined && LOCAL_STORAGE_FAMILIES.test(offer.name);
    const variantName = props.variantName ?? 'AllTraffic';
    if (!VARIANT_NAME.test(variantName)) problems.add('variantName', variantName, 'letters, digits and hyphens, at most 63 characters');
    const endpointName = spec.endpointName ?? Names.uniqueResourceName(this, { maxLength: 63, separator: '-', allowedSpecialCharacters: '-' });
    problems.check(() => claimEndpointName(this, endpointName));

    // In an environment-agnostic stack this adds the stack's DLC registry mapping (a mapping, not a resource).
    const image = problems.attempt(() => resolveSageMakerImage(this, spec));
    const model = problems.attempt(() => resolveModelData(spec));
    if (!props.vpc && (props.vpcSubnets || props.securityGroups)) {
      problems.add(props.vpcSubnets ? 'vpcSubnets' : 'securityGroups', 'set without vpc', 'only together with vpc');
    }
    const networkIsolation = props.networkIsolation ?? !serverless;
    if (!networkIsolation && spec.network === NetworkAccess.PRIVATE && props.vpc === undefined) {
      problems.add('networkIsolation', false, 'true while access.network is PRIVATE and no vpc is given: without isolation or a VPC the container could reach the internet');
    }
    const environment = image && problems.attempt(() => nonEmpty(checkEnvironment(image.environment, spec.serving.environment)));

    let instances: ResolvedInstances | undefined;
    if (offer !== undefined) {
      const startup = problems.attempt(() => checkInteger('serving.startupTimeoutSeconds', spec.serving.startupTimeoutSeconds, 60, 3600, TARGET));
      const download = startup === undefined && props.modelDownloadTimeoutSeconds === undefined ? undefined
        : problems.attempt(() => checkInteger('modelDownloadTimeoutSeconds', props.modelDownloadTimeoutSeconds ?? startup, 60, 3600, TARGET));
      instances = {
        offer,
        localStorage,
        startupTimeoutSeconds: startup!,
        downloadTimeoutSeconds: download!,
        volumeSizeGiB: resolveVolumeSize(problems, props.volumeSizeGiB, offer.name, localStorage),
      };
    }
    const serverlessConfig = serverless ? resolveServerless(problems, spec, props.serverless) : undefined;
    const asyncInference = props.asyncInference
      ? problems.attempt(() => checkOptions<SageMakerAsyncInferenceOptions>('asyncInference', props.asyncInference, ['maxConcurrentInvocationsPerInstance', 'successTopic', 'errorTopic']))
      : undefined;
    const perInstance = asyncInference?.maxConcurrentInvocationsPerInstance === undefined ? undefined
      : problems.attempt(() => checkInteger('asyncInference.maxConcurrentInvocationsPerInstance', asyncInference.maxConcurrentInvocationsPerInstance, 1, 1000, TARGET));
    const rollout = serverless ? undefined : resolveRollout(problems, spec);
    const scaling = spec.scaling.target !== undefined && offer !== undefined ? resolveScaling(problems, spec, offer, spec.scaling.target) : undefined;
    const verification = resolveSageMakerVerification(problems, spec.verification, inferenceMode === SageMakerInferenceMode.ASYNC, props.vpc, props.verificationFunction);
    problems.throwIfAny();

    return {
      spec,
      inferenceMode,
      variantName,
      endpointName,
      invokeVpcEndpointIds: invokeVpcEndpointIds!,
      logRetention: logRetention!,
      logGroupRemovalPolicy: logGroupRemovalPolicy!,
      image: image!,
      model: model!,
      environment,
      networkIsolation,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
      offer,
      instances,
      serverless: serverlessConfig,
      asyncInference: asyncInference === undefined ? undefined : { ...asyncInference, maxConcurrentInvocationsPerInstance: perInstance },
      rollout,
      scaling,
      verification,
      encryptionKey: props.encryptionKey,
      dataBucket: props.dataBucket,
      alarmTopic: props.alarmTopic,
      alarmActions: props.alarmActions ?? [],
    };
  }

  // --- render: reads only the resolved struct ---------------------------------------------------------

  private createEncryptionKey(): kms.Key {
    return new kms.Key(this, 'Key', {
      description: `Encrypts the SageMaker endpoint ${this.endpointName}: storage, logs, alarm notifications and data`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  private createExecutionRole(): iam.Role {
    return new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: `Execution role of the SageMaker model behind ${this.endpointName}`,
    });
  }

  private createLogGroup(r: ResolvedSageMakerEndpoint): logs.LogGroup {
    const logGroup = this.createEncryptedLogGroup(this, 'Logs', `${ENDPOINTS_LOG_PREFIX}${r.endpointName}`, r);
    // The group's own ARN (`...:log-group:NAME:*`) covers only this endpoint's streams.
    this.allow('WriteOwnLogs', ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'], [logGroup.logGroupArn]);
    return logGroup;
  }

  /** A log group encrypted with the endpoint's key, with its retention and removal policy. */
  private createEncryptedLogGroup(scope: Construct, id: string, logGroupName: string, r: ResolvedSageMakerEndpoint): logs.LogGroup {
    const sid = scope === this ? 'logs' : `logs-${scope.node.id}`;
    this.allowServiceToUseKey(sid, `logs.${Aws.REGION}.amazonaws.com`, ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'], {
      ArnEquals: { 'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:${logGroupName}` },
    });
    return new logs.LogGroup(scope, id, {
      logGroupName,
      encryptionKey: this.encryptionKey,
      retention: r.logRetention,
      // SageMaker writes to this fixed name. Kept by default (audit); see logGroupRemovalPolicy for redeploying.
      removalPolicy: r.logGroupRemovalPolicy,
    });
  }

  private renderVerification(r: ResolvedSageMakerEndpoint, verification: ResolvedSageMakerVerification): SageMakerVerificationResources {
    return renderSageMakerVerification(new Construct(this, 'Verification'), {
      endpointName: this.endpointName,
      cfnEndpoint: this.cfnEndpoint,
      cfnEndpointConfig: this.cfnEndpointConfig,
      encryptionKey: this.encryptionKey,
      invokeVpcEndpointIds: this.invokeVpcEndpointIds,
      createLogGroup: (scope, name) => this.createEncryptedLogGroup(scope, 'Logs', name, r),
    }, verification);
  }

  private renderModel(r: ResolvedSageMakerEndpoint): sagemaker.CfnModel {
    this.allow('PullOwnImage', ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'], [r.image.repositoryArn]);
    const modelData = this.renderModelData(r.model);
    const model = new sagemaker.CfnModel(this, 'Model', {
      executionRoleArn: this.role.roleArn,
      enableNetworkIsolation: r.networkIsolation,
      vpcConfig: this.renderVpcConfig(r),
      primaryContainer: {
        image: r.image.imageUri,
        mode: 'SingleModel',
        ...modelData,
        environment: r.environment,
      },
    });
    // SageMaker checks the role's access to the image and model when the model is created.
    model.node.addDependency(this.executionPolicy);
    return model;
  }

  private renderModelData(model: ResolvedModelData): Pick<sagemaker.CfnModel.ContainerDefinitionProperty, 'modelDataUrl' | 'modelDataSource'> {
    if (model.archive !== undefined) {
      const asset = new s3assets.Asset(this, 'ModelArtifact', {
        path: model.archive.archivePath,
        // The content hash does not depend on the zlib build: an unchanged model never redeploys.
        assetHash: model.archive.contentHash,
      });
      this.allow('ReadOwnModel', ['s3:GetObject'], [`arn:${Aws.PARTITION}:s3:::${asset.s3BucketName}/${asset.s3ObjectKey}`]);
      return { modelDataUrl: asset.s3ObjectUrl };
    }
    const { uri, bucket, key } = model;
    if (model.layout === ArtifactLayout.TAR_GZ) {
      this.allow('ReadOwnModel', ['s3:GetObject'], [`arn:${Aws.PARTITION}:s3:::${bucket}/${key}`]);
      return { modelDataUrl: uri };
    }
    if (model.layout === ArtifactLayout.PREFIX) {
      // Uncompressed files under a prefix: the only wildcard this role has, bounded by the prefix.
      this.allow('ReadOwnModel', ['s3:GetObject'], [`arn:${Aws.PARTITION}:s3:::${bucket}/${key}*`]);
      this.allow('ListOwnModel', ['s3:ListBucket'], [`arn:${Aws.PARTITION}:s3:::${bucket}`], { StringLike: { 's3:prefix': [`${key}*`] } });
      return { modelDataSource: { s3DataSource: { s3Uri: uri!, s3DataType: 'S3Prefix', compressionType: 'None' } } };
    }
    this.allow('ReadOwnModel', ['s3:GetObject'], [`arn:${Aws.PARTITION}:s3:::${bucket}/${key}`]);
    return { modelDataSource: { s3DataSource: { s3Uri: uri!, s3DataType: 'S3Object', compressionType: 'None' } } };
  }

  private renderVpcConfig(r: ResolvedSageMakerEndpoint): sagemaker.CfnModel.VpcConfigProperty | undefined {
    if (!r.vpc) return undefined;
    const subnets = r.vpc.selectSubnets(r.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
    const groups = r.securityGroups ?? [new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: r.vpc,
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

  /** The bucket for captured data and async results, when either is used. */
  private renderDataBucket(r: ResolvedSageMakerEndpoint): s3.IBucket | undefined {
    const needsData = r.spec.monitoring.capture !== undefined || r.inferenceMode === SageMakerInferenceMode.ASYNC;
    if (!needsData) return undefined;
    const bucket = r.dataBucket ?? this.createDataBucket();
    this.allowServiceToUseKey('role', this.role, ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'], undefined);
    return bucket;
  }

  private renderEndpointConfig(r: ResolvedSageMakerEndpoint): sagemaker.CfnEndpointConfig {
    const instances = r.instances;
    return new sagemaker.CfnEndpointConfig(this, 'Config', {
      // A local-storage instance's volume is hardware-encrypted and SageMaker refuses a key for it.
      kmsKeyId: instances?.localStorage ? undefined : this.encryptionKey.keyArn,
      productionVariants: [{
        variantName: r.variantName,
        modelName: this.cfnModel.attrModelName,
        initialVariantWeight: 1,
        ...(instances === undefined ? { serverlessConfig: r.serverless } : {
          instanceType: instances.offer.name,
          initialInstanceCount: r.spec.scaling.minReplicas,
          volumeSizeInGb: instances.volumeSizeGiB,
          containerStartupHealthCheckTimeoutInSeconds: instances.startupTimeoutSeconds,
          modelDataDownloadTimeoutInSeconds: instances.downloadTimeoutSeconds,
        }),
      }],
      dataCaptureConfig: this.renderDataCapture(r),
      asyncInferenceConfig: this.renderAsyncConfig(r),
    });
  }

  private renderEndpoint(r: ResolvedSageMakerEndpoint): sagemaker.CfnEndpoint {
    const autoscaled = r.spec.scaling.target !== undefined;
    const endpoint = new sagemaker.CfnEndpoint(this, 'Resource', {
      endpointName: r.endpointName,
      endpointConfigName: this.cfnEndpointConfig.attrEndpointConfigName,
      deploymentConfig: r.rollout === undefined ? undefined : this.renderDeploymentConfig(r, r.rollout),
      // Keep the instance count autoscaling chose; take weight and capture settings from the new config.
      retainAllVariantProperties: autoscaled ? true : undefined,
      excludeRetainedVariantProperties: autoscaled ? [{ variantPropertyType: 'DesiredWeight' }, { variantPropertyType: 'DataCaptureConfig' }] : undefined,
    });
    endpoint.node.addDependency(this.logGroup);
    return endpoint;
  }

  private renderOutputs(r: ResolvedSageMakerEndpoint): void {
    for (const [key, value] of Object.entries(r.spec.tags)) Tags.of(this).add(key, value);
    new CfnOutput(this, 'EndpointName', { value: this.endpointName, description: 'SageMaker endpoint name' });
    new CfnOutput(this, 'InvokeUrl', { value: this.endpointUrl, description: 'POST SigV4-signed requests here' });
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

  private renderDataCapture(r: ResolvedSageMakerEndpoint): sagemaker.CfnEndpointConfig.DataCaptureConfigProperty | undefined {
    const capture = r.spec.monitoring.capture;
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

  private renderAsyncConfig(r: ResolvedSageMakerEndpoint): sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty | undefined {
    const options = r.asyncInference;
    if (!options) return undefined;
    const base = `async/${this.endpointName}/`;
    this.allowOnData('ReadAsyncInputs', ['s3:GetObject'], `${base}input/`);
    this.allowOnData('WriteAsyncResults', ['s3:PutObject'], `${base}output/`);
    this.allowOnData('WriteAsyncFailures', ['s3:PutObject'], `${base}failure/`);
    const topics = [options.successTopic, options.errorTopic].filter((t): t is sns.ITopic => t !== undefined);
    if (topics.length > 0) this.allow('NotifyAsyncResults', ['sns:Publish'], topics.map(t => t.topicArn));
    const perInstance = options.maxConcurrentInvocationsPerInstance;
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

  private createErrorRateAlarm(r: ResolvedSageMakerEndpoint): cloudwatch.Alarm {
    const monitoring = r.spec.monitoring;
    return new cloudwatch.Alarm(this, 'ErrorRateAlarm', {
      alarmDescription: `Server errors above ${monitoring.errorRatePercent}% of requests on ${this.endpointName}`,
      metric: this.metricServerErrorRate(),
      threshold: monitoring.errorRatePercent,
      evaluationPeriods: monitoring.evaluationMinutes,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private createLatencyAlarm(r: ResolvedSageMakerEndpoint): cloudwatch.Alarm {
    const monitoring = r.spec.monitoring;
    return new cloudwatch.Alarm(this, 'LatencyAlarm', {
      alarmDescription: `p99 model latency above ${monitoring.latencyP99Ms} ms on ${this.endpointName}`,
      metric: this.metricModelLatency(),
      threshold: monitoring.latencyP99Ms * 1000, // ModelLatency is in microseconds
      evaluationPeriods: monitoring.evaluationMinutes,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private renderDeploymentConfig(r: ResolvedSageMakerEndpoint, resolved: ResolvedRollout): sagemaker.CfnEndpoint.DeploymentConfigProperty {
    const rollout = r.spec.rollout;
    const alarms = rollout.rollbackOnAlarms ? [this.errorRateAlarm, this.latencyAlarm].filter((a): a is cloudwatch.Alarm => a !== undefined) : [];
    return {
      blueGreenUpdatePolicy: {
        trafficRoutingConfiguration: {
          type: resolved.type,
          waitIntervalInSeconds: resolved.waitSeconds,
          canarySize: rollout.strategy === RolloutStrategy.CANARY ? { type: 'CAPACITY_PERCENT', value: rollout.stepPercent } : undefined,
          linearStepSize: rollout.strategy === RolloutStrategy.LINEAR ? { type: 'CAPACITY_PERCENT', value: rollout.stepPercent } : undefined,
        },
        terminationWaitInSeconds: rollout.terminationWaitMinutes * 60,
        maximumExecutionTimeoutInSeconds: resolved.timeoutSeconds,
      },
      autoRollbackConfiguration: alarms.length === 0 ? undefined : { alarms: alarms.map(a => ({ alarmName: a.alarmName })) },
    };
  }

  private renderAutoscaling(r: ResolvedSageMakerEndpoint, resolved: ResolvedScaling): appscaling.ScalableTarget {
    const scaling = r.spec.scaling;
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
    const metricTarget = resolved.target;
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
    target.scaleToTrackMetric(gpu ? 'GpuUtilization' : 'CpuUtilization', {
      customMetric: new cloudwatch.Metric({
        namespace: '/aws/sagemaker/Endpoints',
        metricName: gpu ? 'GPUUtilization' : 'CPUUtilization',
        dimensionsMap: { EndpointName: this.endpointName, VariantName: this.variantName },
        statistic: 'Average',
        period: Duration.minutes(1),
      }),
      targetValue: metricTarget.value * resolved.units,
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

function nonEmpty(env: { [name: string]: string }): { [name: string]: string } | undefined {
  return Object.keys(env).length > 0 ? env : undefined;
}

/** Instance-backed settings, checked. */
interface ResolvedInstances {
  readonly offer: InstanceOffer;
  /** Local NVMe storage: no KMS key and no volume size for it. */
  readonly localStorage: boolean;
  readonly startupTimeoutSeconds: number;
  readonly downloadTimeoutSeconds: number;
  readonly volumeSizeGiB?: number;
}

/** Where the model comes from: a local archive to upload, or an S3 object or prefix. */
interface ResolvedModelData {
  readonly archive?: ModelArchive;
  readonly uri?: string;
  readonly bucket?: string;
  readonly key?: string;
  readonly layout?: ArtifactLayout;
}

interface ResolvedRollout {
  readonly type: string;
  readonly waitSeconds: number;
  /** The blue/green update's timeout, long enough for every step. */
  readonly timeoutSeconds: number;
}

interface ResolvedScaling {
  readonly target: ScalingTarget;
  /** Cores or GPUs the utilisation metric is summed over (1 for invocations). */
  readonly units: number;
}

/**
 * The props validated and their defaults applied, once: everything the render reads. Built by
 * `resolve`, which refuses the props (every problem at once) before any resource exists.
 */
interface ResolvedSageMakerEndpoint {
  readonly spec: ResolvedModelDeploymentSpec;
  readonly inferenceMode: SageMakerInferenceMode;
  readonly variantName: string;
  readonly endpointName: string;
  readonly invokeVpcEndpointIds: string[];
  readonly logRetention: logs.RetentionDays;
  readonly logGroupRemovalPolicy: RemovalPolicy;
  readonly image: ResolvedSageMakerImage;
  readonly model: ResolvedModelData;
  readonly environment?: { [name: string]: string };
  readonly networkIsolation: boolean;
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroups?: ec2.ISecurityGroup[];
  /** The instance type, for instance-backed endpoints. */
  readonly offer?: InstanceOffer;
  readonly instances?: ResolvedInstances;
  readonly serverless?: sagemaker.CfnEndpointConfig.ServerlessConfigProperty;
  readonly asyncInference?: SageMakerAsyncInferenceOptions;
  /** The blue/green rollout, for instance-backed endpoints. */
  readonly rollout?: ResolvedRollout;
  /** Target tracking, when the spec scales on a metric. */
  readonly scaling?: ResolvedScaling;
  /** The sample check after each update, when the spec has verification. */
  readonly verification?: ResolvedSageMakerVerification;
  readonly encryptionKey?: kms.IKey;
  readonly dataBucket?: s3.IBucket;
  readonly alarmTopic?: sns.ITopic;
  readonly alarmActions: cloudwatch.IAlarmAction[];
}

/** Limits that are SageMaker's own; the spec has already checked everything else. */
function checkTargetLimits(problems: Problems, spec: ResolvedModelDeploymentSpec, props: SageMakerModelEndpointProps,
  mode: SageMakerInferenceMode, vpcEndpointIds: string[] | undefined): void {
  if (spec.auth !== undefined && spec.auth !== AuthMode.IAM) {
    problems.add('access.auth', spec.auth, 'IAM: SageMaker endpoints accept only SigV4-signed requests');
  }
  if (spec.scaling.minReplicas < 1) {
    problems.add('scaling.minReplicas', spec.scaling.minReplicas,
      'at least 1: SageMaker instance-backed endpoints keep one instance running (scale to zero needs inference components, not supported yet)');
  }
  const rollout = spec.rollout;
  if (rollout.strategy === RolloutStrategy.CANARY && rollout.stepPercent > 50) {
    problems.add('rollout.percent', rollout.stepPercent, 'at most 50: SageMaker canaries are at most half the fleet');
  }
  if (rollout.strategy === RolloutStrategy.LINEAR && (rollout.stepPercent < 10 || rollout.stepPercent > 50)) {
    problems.add('rollout.stepPercent', rollout.stepPercent, '10 to 50: SageMaker linear steps are 10-50% of the fleet');
  }
  if (rollout.strategy !== RolloutStrategy.ALL_AT_ONCE && spec.scaling.minReplicas < 2) {
    problems.add('scaling.minReplicas', spec.scaling.minReplicas,
      `at least 2 for a ${rollout.strategy} rollout on SageMaker: the first step must be at most half the fleet`);
  }
  if (rollout.waitMinutes > 60) {
    problems.add(rollout.strategy === RolloutStrategy.LINEAR ? 'rollout.intervalMinutes' : 'rollout.bakeMinutes', rollout.waitMinutes,
      'at most 60: SageMaker waits at most 3600 seconds between traffic steps');
  }
  if (rollout.terminationWaitMinutes > 60) {
    problems.add('rollout.terminationWaitMinutes', rollout.terminationWaitMinutes, 'at most 60 on SageMaker');
  }
  // Only when the ids themselves passed: a malformed id is already reported.
  if (vpcEndpointIds !== undefined && mode !== SageMakerInferenceMode.SERVERLESS) checkNetworkAccess(problems, spec.network, props, vpcEndpointIds);

  if (mode === SageMakerInferenceMode.SERVERLESS) {
    const refuse = (field: string, value: unknown, allowed: string) => problems.add(field, value, `${allowed} (SageMaker serverless inference)`);
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

/**
 * SageMaker's runtime API is a public AWS endpoint and endpoints take no resource policy: PRIVATE can
 * only be the `aws:SourceVpce` condition on every grant this construct makes, so it needs the VPC
 * endpoints callers come through. Without them PRIVATE would be a word, not a guarantee: refuse it.
 */
function checkNetworkAccess(problems: Problems, network: NetworkAccess, props: SageMakerModelEndpointProps, vpcEndpointIds: string[]): void {
  if (network === NetworkAccess.PRIVATE && vpcEndpointIds.length === 0) {
    problems.add('invokeVpcEndpointIds', props.invokeVpcEndpointIds,
      'one or more interface VPC endpoint ids for the SageMaker runtime (com.amazonaws.REGION.sagemaker.runtime) while access.network is PRIVATE, ' +
      'the default: grants then allow only requests through them (create one with vpc.addInterfaceEndpoint(\'Runtime\', ' +
      '{ service: ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME }) and pass its vpcEndpointId), ' +
      'or set access.network to NetworkAccess.PUBLIC (every request is still SigV4-signed and needs an IAM grant)');
  }
  if (network === NetworkAccess.PUBLIC && props.invokeVpcEndpointIds !== undefined) {
    problems.add('invokeVpcEndpointIds', props.invokeVpcEndpointIds, 'left out while access.network is PUBLIC (or set access.network PRIVATE to restrict callers to them)');
  }
}

function pickInstance(compute: ResolvedModelDeploymentSpec['compute'], instanceType: string | undefined): InstanceOffer {
  if (instanceType === undefined) return selectInstance(SAGEMAKER_INSTANCE_TYPES, compute, TARGET);
  if (!SAGEMAKER_INSTANCE.test(instanceType)) {
    throw new ModelDeploymentValidationError('instanceType', instanceType, 'a SageMaker instance type such as ml.g5.2xlarge', TARGET);
  }
  const known = findInstance(SAGEMAKER_INSTANCE_TYPES, instanceType);
  const gpus = known?.gpuCount ?? sageMakerInstanceGpus(instanceType)?.gpuCount ?? 0;
  if (compute.kind === ComputeKind.GPU && gpus < compute.gpuCount) {
    throw new ModelDeploymentValidationError('instanceType', instanceType, `an instance with at least ${compute.gpuCount} GPU(s) for compute ${compute.describe()}`, TARGET);
  }
  if (compute.kind === ComputeKind.GPU && known?.gpu !== undefined && known.gpu !== compute.gpu) {
    throw new ModelDeploymentValidationError('instanceType', instanceType, `an instance with ${compute.gpu} GPUs (this one has ${known.gpu})`, TARGET);
  }
  return known ?? { name: instanceType, vcpus: 0, memoryGiB: 0, gpuCount: gpus, gpu: compute.gpu };
}

function resolveModelData(spec: ResolvedModelDeploymentSpec): ResolvedModelData {
  const model = spec.model;
  if (model.source === ArtifactSource.LOCAL_PATH) return { archive: packModelArchive(model.localPath!) };
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
  return { uri: model.uri, bucket, key, layout: model.layout };
}

function resolveVolumeSize(problems: Problems, size: number | undefined, instanceType: string, localStorage: boolean): number | undefined {
  if (size === undefined) return undefined;
  if (localStorage) {
    problems.add('volumeSizeGiB', size, `left out for ${instanceType}: it has local NVMe storage, whose size is fixed`);
    return undefined;
  }
  return problems.attempt(() => checkInteger('volumeSizeGiB', size, 1, 512, TARGET));
}

function resolveServerless(problems: Problems, spec: ResolvedModelDeploymentSpec, value: SageMakerServerlessOptions | undefined):
sagemaker.CfnEndpointConfig.ServerlessConfigProperty | undefined {
  const options = problems.attempt(() => checkOptions<SageMakerServerlessOptions>('serverless', value, ['memoryGiB', 'maxConcurrency', 'provisionedConcurrency']));
  if (options === undefined) return undefined;
  const memoryGiB = problems.attempt(() => checkInteger('serverless.memoryGiB', options.memoryGiB ?? Math.min(6, Math.max(1, Math.ceil(spec.compute.memoryGiB))), 1, 6, TARGET));
  const maxConcurrency = problems.attempt(() => checkInteger('serverless.maxConcurrency', options.maxConcurrency ?? 20, 1, 200, TARGET));
  const provisioned = options.provisionedConcurrency === undefined || maxConcurrency === undefined ? undefined
    : problems.attempt(() => checkInteger('serverless.provisionedConcurrency', options.provisionedConcurrency, 1, maxConcurrency, TARGET));
  return { memorySizeInMb: memoryGiB! * 1024, maxConcurrency: maxConcurrency!, provisionedConcurrency: provisioned };
}

function resolveRollout(problems: Problems, spec: ResolvedModelDeploymentSpec): ResolvedRollout {
  const rollout = spec.rollout;
  const wait = rollout.waitMinutes * 60;
  const type = { [RolloutStrategy.ALL_AT_ONCE]: 'ALL_AT_ONCE', [RolloutStrategy.CANARY]: 'CANARY', [RolloutStrategy.LINEAR]: 'LINEAR' }[rollout.strategy];
  const steps = rollout.strategy === RolloutStrategy.LINEAR ? Math.ceil(100 / rollout.stepPercent) : rollout.strategy === RolloutStrategy.CANARY ? 2 : 1;
  // Long enough for new instances to start, every step to bake, and the old fleet to be kept.
  const needed = 2 * spec.serving.startupTimeoutSeconds + steps * wait + rollout.terminationWaitMinutes * 60 + 600;
  if (needed > 28800) {
    problems.add('rollout', `${steps} steps of ${rollout.waitMinutes} min`, 'a rollout that fits in SageMaker\'s 8-hour limit: fewer steps or shorter waits');
  }
  return { type, waitSeconds: wait, timeoutSeconds: Math.max(600, needed) };
}

function resolveScaling(problems: Problems, spec: ResolvedModelDeploymentSpec, offer: InstanceOffer, target: ScalingTarget): ResolvedScaling {
  if (target.metric === ScalingMetric.INVOCATIONS_PER_REPLICA_PER_MINUTE) return { target, units: 1 };
  // SageMaker reports CPUUtilization and GPUUtilization summed over cores/GPUs (0..100*N).
  const gpu = target.metric === ScalingMetric.GPU_PERCENT;
  const units = gpu ? offer.gpuCount : offer.vcpus;
  if (units < 1) {
    problems.add('scaling.target', target.metric,
      `ScalingTarget.invocationsPerReplicaPerMinute(...) for instance type ${offer.name}, whose ${gpu ? 'GPU' : 'vCPU'} count is not in the catalog`);
  }
  if (gpu && spec.compute.kind !== ComputeKind.GPU) {
    problems.add('scaling.target', target.metric, 'cpuPercent or invocationsPerReplicaPerMinute for CPU compute');
  }
  return { target, units };
}
