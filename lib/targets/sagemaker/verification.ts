import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Aws, CustomResource, Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { sha256Hex } from '../../common/naming';
import { checkSamples, verificationFailedMessage } from '../../common/sample-check';
import { Problems, checkOptions } from '../../spec/check';
import { ResolvedVerification, responseMismatch } from '../../spec/verification';
import { SageMakerVerificationFunctionOptions } from './options';
import { runVerification } from './verification-handler';

/*
 * The SageMaker half of `verification`: a CloudFormation custom resource, answered by one Lambda
 * function of this library (no custom_resources.Provider: its extra functions and AWS-managed
 * policies would fail the compliance packs). It depends on the endpoint and its properties carry
 * the endpoint config name and the samples, so CloudFormation runs it after every endpoint update
 * and every change of the samples; a wrong answer fails the stack operation and CloudFormation
 * rolls the endpoint back to its previous config. See verification-handler.ts for the handler.
 */

/** CloudFormation invokes a custom resource's function asynchronously: the request must fit Lambda's 256 KiB event limit. */
export const MAX_VERIFICATION_EVENT_BYTES = 256 * 1024;
/** What an Update request carries besides the two copies of the Samples property (ids, URL, other properties). */
const EVENT_OVERHEAD_BYTES = 8 * 1024;
/** SageMaker gives a real-time or serverless invocation at most 60 s; the handler waits 5 s more, then gives up on a sample. */
const SAMPLE_WAIT_CAP_MS = 60_000;
const SAMPLE_GRACE_MS = 5_000;
/** Time the handler keeps for answering CloudFormation (15 s) and for starting up. */
const FUNCTION_RESERVE_SECONDS = 45;

/** The verification, checked against what the SageMaker target can do, with the function's settings. */
export interface ResolvedSageMakerVerification {
  readonly verification: ResolvedVerification;
  /** The Samples property: the samples as the handler reads them (JSON text). */
  readonly samplesJson: string;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly securityGroups?: ec2.ISecurityGroup[];
  readonly role?: iam.IRole;
  readonly timeoutSeconds: number;
}

/**
 * Refuses, at synth, what the verification function could not do: async endpoints (InvokeEndpoint
 * cannot reach them), no VPC to run in, samples whose custom-resource request would exceed Lambda's
 * event limit, and `verificationFunction` without `verification`.
 */
export function resolveSageMakerVerification(problems: Problems, verification: ResolvedVerification | undefined, asyncInference: boolean,
  endpointVpc: ec2.IVpc | undefined, value: SageMakerVerificationFunctionOptions | undefined): ResolvedSageMakerVerification | undefined {
  const options = problems.attempt(() => checkOptions<SageMakerVerificationFunctionOptions>('verificationFunction', value, ['vpc', 'vpcSubnets', 'securityGroups', 'role']));
  if (verification === undefined) {
    if (value !== undefined) problems.add('verificationFunction', 'set without verification', 'only together with the spec\'s verification samples');
    return undefined;
  }
  if (asyncInference) {
    problems.add('verification', `${verification.samples.length} samples`,
      'left out with asyncInference: an asynchronous endpoint cannot be invoked synchronously (InvokeEndpoint), so CloudFormation cannot check it during the update; check it with the probe after the deploy');
    return undefined;
  }
  const vpc = options?.vpc ?? endpointVpc;
  if (vpc === undefined) {
    problems.add('verificationFunction.vpc', undefined,
      'a VPC for the verification function (or the endpoint\'s vpc): the HIPAA, NIST 800-53 and PCI DSS packs require Lambda functions in a VPC. ' +
      'Its private subnets need a route to Amazon S3 (a NAT gateway or an S3 gateway endpoint) and, with access.network PRIVATE, ' +
      'one of invokeVpcEndpointIds in that VPC with private DNS on; or leave verification out');
    return undefined;
  }
  const samplesJson = JSON.stringify(verification.samples.map(s => ({
    name: s.name, requestJson: s.requestJson, expectedResponse: s.expectedResponse, absoluteTolerance: s.absoluteTolerance, relativeTolerance: s.relativeTolerance,
  })));
  // An Update request carries the property twice (ResourceProperties and OldResourceProperties), each escaped once more as a JSON string.
  const eventBytes = 2 * Buffer.byteLength(JSON.stringify(samplesJson), 'utf8') + EVENT_OVERHEAD_BYTES;
  if (eventBytes > MAX_VERIFICATION_EVENT_BYTES) {
    problems.add('verification.samples', `${eventBytes} bytes in CloudFormation's update request`,
      `samples whose request fits Lambda's ${MAX_VERIFICATION_EVENT_BYTES}-byte event limit (the JSON is escaped twice on the way: fewer backslashes and quotes, or fewer or smaller samples)`);
    return undefined;
  }
  const perSampleMs = Math.min(verification.latencyBudgetMs, SAMPLE_WAIT_CAP_MS) + SAMPLE_GRACE_MS;
  const timeoutSeconds = Math.min(900, Math.ceil(verification.samples.length * perSampleMs / 1000) + FUNCTION_RESERVE_SECONDS);
  return {
    verification,
    samplesJson,
    vpc,
    vpcSubnets: options?.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    securityGroups: options?.securityGroups,
    role: options?.role,
    timeoutSeconds,
  };
}

/** What the verification needs of the endpoint construct. */
export interface VerifiedEndpoint {
  readonly endpointName: string;
  readonly cfnEndpoint: sagemaker.CfnEndpoint;
  readonly cfnEndpointConfig: sagemaker.CfnEndpointConfig;
  readonly encryptionKey: kms.IKey;
  readonly invokeVpcEndpointIds: readonly string[];
  /** Makes an encrypted log group with retention (the same as the endpoint's own). */
  readonly createLogGroup: (scope: Construct, logGroupName: string) => logs.LogGroup;
}

/** The verification's resources, for tests and escape hatches. */
export interface SageMakerVerificationResources {
  readonly function: lambda.CfnFunction;
  readonly role: iam.IRole;
  readonly policy: iam.ManagedPolicy;
  readonly deadLetterQueue: sqs.Queue;
  readonly logGroup: logs.LogGroup;
  readonly check: CustomResource;
}

/** Builds the function, its role, policy, log group, dead-letter queue and the custom resource. */
export function renderSageMakerVerification(scope: Construct, endpoint: VerifiedEndpoint, r: ResolvedSageMakerVerification): SageMakerVerificationResources {
  const logGroup = endpoint.createLogGroup(scope, `/cdk-model-deployment/sagemaker/${endpoint.endpointName}/verification`);
  const deadLetterQueue = new sqs.Queue(scope, 'DeadLetters', {
    encryption: sqs.QueueEncryption.KMS,
    encryptionMasterKey: endpoint.encryptionKey,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  const subnets = r.vpc.selectSubnets(r.vpcSubnets);
  const securityGroups = r.securityGroups ?? [createSecurityGroup(scope, r.vpc, endpoint.endpointName)];
  const role = r.role ?? new iam.Role(scope, 'Role', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } } }),
    description: `Verification function of the SageMaker endpoint ${endpoint.endpointName}`,
  });
  const policy = new iam.ManagedPolicy(scope, 'Policy', {
    description: `Least privilege for the verification function of ${endpoint.endpointName}`,
    roles: [role],
  });
  const allow = (sid: string, actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
    policy.addStatements(new iam.PolicyStatement({ sid, actions, resources, conditions }));
  // The same network restriction as every other grant on a PRIVATE endpoint.
  allow('InvokeOwnEndpoint', ['sagemaker:InvokeEndpoint'], [endpoint.cfnEndpoint.ref],
    endpoint.invokeVpcEndpointIds.length > 0 ? { StringEquals: { 'aws:SourceVpce': [...endpoint.invokeVpcEndpointIds] } } : undefined);
  allow('WriteOwnLogs', ['logs:CreateLogStream', 'logs:PutLogEvents'], [logGroup.logGroupArn]);
  allow('SendToOwnDeadLetterQueue', ['sqs:SendMessage'], [deadLetterQueue.queueArn]);
  // The key also protects the model's storage and data: only through SQS.
  allow('EncryptDeadLetters', ['kms:GenerateDataKey', 'kms:Decrypt'], [endpoint.encryptionKey.keyArn], { StringEquals: { 'kms:ViaService': `sqs.${Aws.REGION}.amazonaws.com` } });
  if (r.role === undefined) allowNetworkInterfaces(allow, subnets.subnetIds, securityGroups);

  const asset = new s3assets.Asset(scope, 'Code', { path: writeVerificationCode() });
  const fn = new lambda.CfnFunction(scope, 'Function', {
    description: `Checks the sample predictions of the SageMaker endpoint ${endpoint.endpointName} after each update`,
    runtime: lambda.Runtime.NODEJS_LATEST.name,
    handler: 'index.handler',
    role: role.roleArn,
    code: { s3Bucket: asset.s3BucketName, s3Key: asset.s3ObjectKey },
    timeout: r.timeoutSeconds,
    memorySize: 256,
    // One check at a time per endpoint.
    reservedConcurrentExecutions: 1,
    deadLetterConfig: { targetArn: deadLetterQueue.queueArn },
    vpcConfig: { subnetIds: subnets.subnetIds, securityGroupIds: securityGroups.map(g => g.securityGroupId) },
    loggingConfig: { logGroup: logGroup.logGroupName, logFormat: 'Text' },
  });
  // Lambda checks the role's network-interface and queue permissions when it creates the function.
  fn.node.addDependency(policy);

  const check = new CustomResource(scope, 'Check', {
    serviceToken: fn.attrArn,
    resourceType: 'Custom::SageMakerVerification',
    // CloudFormation stops waiting soon after the function's own time, not after an hour.
    serviceTimeout: Duration.seconds(r.timeoutSeconds + 60),
    properties: {
      EndpointName: endpoint.cfnEndpoint.attrEndpointName,
      // A new model, image, instance type or count means a new endpoint config, so a new check.
      EndpointConfigName: endpoint.cfnEndpointConfig.attrEndpointConfigName,
      Samples: r.samplesJson,
      LatencyBudgetMs: r.verification.latencyBudgetMs,
    },
  });
  check.node.addDependency(endpoint.cfnEndpoint);
  return { function: fn, role, policy, deadLetterQueue, logGroup, check };
}

function createSecurityGroup(scope: Construct, vpc: ec2.IVpc, endpointName: string): ec2.SecurityGroup {
  const group = new ec2.SecurityGroup(scope, 'SecurityGroup', {
    vpc,
    description: `Verification function of ${endpointName}: no inbound, outbound HTTPS only`,
    allowAllOutbound: false,
  });
  group.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to the SageMaker runtime and to CloudFormation\'s response URL (S3)');
  return group;
}

/**
 * What Lambda needs to attach the function to the VPC, as narrow as EC2 allows: creating interfaces
 * only in the function's subnets and security groups; the Describe actions have no resource-level
 * permissions, so they are on "*".
 */
function allowNetworkInterfaces(allow: (sid: string, actions: string[], resources: string[]) => void, subnetIds: string[], groups: ec2.ISecurityGroup[]): void {
  const ec2Arn = (resource: string) => `arn:${Aws.PARTITION}:ec2:${Aws.REGION}:${Aws.ACCOUNT_ID}:${resource}`;
  allow('CreateOwnNetworkInterfaces', ['ec2:CreateNetworkInterface'], [
    ec2Arn('network-interface/*'), ...subnetIds.map(id => ec2Arn(`subnet/${id}`)), ...groups.map(g => ec2Arn(`security-group/${g.securityGroupId}`)),
  ]);
  allow('ManageOwnNetworkInterfaces', ['ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'], [ec2Arn('network-interface/*')]);
  allow('DescribeNetworkInterfaces', ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'], ['*']);
}

/**
 * The function's index.js: the source text of the handler and of the one sample checker
 * (checkSamples, verificationFailedMessage, responseMismatch), so the function compares exactly as
 * every other target does. Same source, same bytes, same asset hash.
 */
export function verificationCode(): string {
  return [
    '\'use strict\';',
    '// Generated by cdk-model-deployment at synth from its own source: the SageMaker verification function.',
    `const responseMismatch = ${responseMismatch.toString()};`,
    `const checkSamples = ${checkSamples.toString()};`,
    `const verificationFailedMessage = ${verificationFailedMessage.toString()};`,
    `const runVerification = ${runVerification.toString()};`,
    'exports.handler = (event, context) => runVerification(event, context, {',
    '  sdk: require(\'@aws-sdk/client-sagemaker-runtime\'), http: require(\'http\'), https: require(\'https\'), crypto: require(\'crypto\'),',
    '  checkSamples, verificationFailedMessage, responseMismatch, log: line => console.log(line),',
    '});',
    '',
  ].join('\n');
}

/** The directory this process wrote the code to: the code is the same for every endpoint. */
let writtenCodeDir: string | undefined;

/** Writes the code into a directory named by its hash (written once, atomically) and returns the directory. */
export function writeVerificationCode(): string {
  if (writtenCodeDir !== undefined && fs.existsSync(path.join(writtenCodeDir, 'index.js'))) return writtenCodeDir;
  const code = verificationCode();
  const hash = sha256Hex(code).slice(0, 16);
  const dir = path.join(os.tmpdir(), `cdk-model-deployment-sagemaker-verification-${hash}`);
  const file = path.join(dir, 'index.js');
  writtenCodeDir = dir;
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === code) return dir;
  fs.mkdirSync(dir, { recursive: true });
  // Written beside the directory, not in it: a leftover would become part of the asset.
  const temporary = `${dir}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, code);
  fs.renameSync(temporary, file);
  return dir;
}
