// The package root types DeploymentTarget.sageMaker() with these options, so this file's declarations
// are loaded by every user, and aws-cdk-lib is an optional peer: a Terraform-only user does not have
// it. Each `@ts-ignore` below is a one-line JSDoc comment because tsc keeps those in the emitted
// .d.ts (it drops `//` comments): without aws-cdk-lib these types become `any` instead of TS2307 under
// skipLibCheck false; with it, they are aws-cdk-lib's own (test/package/consumer.test.ts checks both).
/* eslint-disable @typescript-eslint/ban-ts-comment -- @ts-expect-error would fail for users who have aws-cdk-lib */
/** @ts-ignore aws-cdk-lib is an optional peer dependency. */
import type { RemovalPolicy } from 'aws-cdk-lib';
/** @ts-ignore aws-cdk-lib is an optional peer dependency. */
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
/** @ts-ignore aws-cdk-lib is an optional peer dependency. */
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
/** @ts-ignore aws-cdk-lib is an optional peer dependency. */
import type * as iam from 'aws-cdk-lib/aws-iam';
/** @ts-ignore aws-cdk-lib is an optional peer dependency. */
import type * as kms from 'aws-cdk-lib/aws-kms';
/** @ts-ignore aws-cdk-lib is an optional peer dependency. */
import type * as logs from 'aws-cdk-lib/aws-logs';
/** @ts-ignore aws-cdk-lib is an optional peer dependency. */
import type * as s3 from 'aws-cdk-lib/aws-s3';
/** @ts-ignore aws-cdk-lib is an optional peer dependency. */
import type * as sns from 'aws-cdk-lib/aws-sns';
/* eslint-enable @typescript-eslint/ban-ts-comment */

/** Serverless inference: SageMaker runs the model on demand, CPU only. */
export interface SageMakerServerlessOptions {
  /**
   * Memory per invocation environment, 1 to 6 GiB.
   * @default - the spec's compute.memoryGiB rounded up, at least 1 and at most 6
   */
  readonly memoryGiB?: number;
  /**
   * The most concurrent invocations, 1 to 200.
   * @default 20
   */
  readonly maxConcurrency?: number;
  /**
   * Concurrent invocations kept warm, 1 to maxConcurrency.
   * @default - none kept warm
   */
  readonly provisionedConcurrency?: number;
}

/** Asynchronous inference: requests and results go through S3; good for large payloads and long runs. */
export interface SageMakerAsyncInferenceOptions {
  /**
   * Concurrent requests one instance takes from the queue, 1 to 1000.
   * @default - chosen by SageMaker
   */
  readonly maxConcurrentInvocationsPerInstance?: number;
  /**
   * Topic told about each success.
   * @default - no notification
   */
  readonly successTopic?: sns.ITopic;
  /**
   * Topic told about each failure.
   * @default - no notification
   */
  readonly errorTopic?: sns.ITopic;
}

/**
 * Where the function that checks the spec's `verification` samples runs. It is a Lambda function
 * in a VPC (the HIPAA, NIST 800-53 and PCI DSS packs require one): its subnets need a route to
 * Amazon S3 (it answers CloudFormation through a pre-signed S3 URL: a NAT gateway or an S3 gateway
 * endpoint) and to the SageMaker runtime (with `access.network` PRIVATE, one of
 * `invokeVpcEndpointIds` must be an interface endpoint in this VPC with private DNS on).
 */
export interface SageMakerVerificationFunctionOptions {
  /**
   * The VPC the function runs in.
   * @default - the endpoint's `vpc`; one of the two is required with `verification`
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Which subnets of the VPC.
   * @default - the VPC's private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Security groups for the function.
   * @default - a new group with no inbound rule and outbound HTTPS (443) only
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /**
   * An existing execution role for the function that already holds the network-interface
   * permissions Lambda needs in a VPC (ec2:CreateNetworkInterface, ec2:DescribeNetworkInterfaces,
   * ec2:DescribeSubnets, ec2:DeleteNetworkInterface, ec2:AssignPrivateIpAddresses,
   * ec2:UnassignPrivateIpAddresses). This construct attaches a customer-managed policy with the
   * rest (InvokeEndpoint on this endpoint, its log group, its dead-letter queue and key).
   * @default - a new role; its policy then also has those EC2 permissions, whose Describe actions
   * AWS allows only on "*" (cdk-nag AwsSolutions-IAM5 reports that statement)
   */
  readonly role?: iam.IRole;
}

/** Everything specific to the SageMaker target. */
export interface SageMakerTargetOptions {
  /**
   * The instance type, instead of the one the instance catalog picks for the spec's compute.
   * It must still have the GPUs the spec asks for.
   * @default - the smallest catalog instance that fits `compute`
   */
  readonly instanceType?: string;
  /**
   * The customer-managed KMS key for the endpoint's storage volume, logs, alarm topic, captured
   * data and async results. Instance types with local NVMe storage (g4dn, g5, g6, p4d, p5...)
   * encrypt their volumes in hardware, and SageMaker refuses a KMS key for them; the key still
   * protects everything else.
   * @default - a new key with yearly rotation, retained when the stack is deleted
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * The VPC whose subnets the model containers attach to.
   * @default - no VPC: the containers run with network isolation only
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Which subnets of `vpc` to use.
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Security groups for the containers' network interfaces.
   * @default - a new group with no inbound rules and no outbound rules
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /**
   * Run the container with no network access at all (it can still read its model and write logs
   * through SageMaker). Turn it off only for containers that must reach other services; that
   * needs `access.network` PUBLIC or a VPC.
   * @default true (false for serverless, which does not support it)
   */
  readonly networkIsolation?: boolean;
  /**
   * Size of the ML storage volume per instance, 1 to 512 GiB. Not available on instance types
   * with local NVMe storage.
   * @default - SageMaker's default for the instance type
   */
  readonly volumeSizeGiB?: number;
  /**
   * How long SageMaker may take to download the model onto an instance, 60 to 3600 seconds.
   * @default - the spec's serving.startupTimeoutSeconds
   */
  readonly modelDownloadTimeoutSeconds?: number;
  /**
   * Serve through serverless inference instead of instances.
   * @default - real-time instances
   */
  readonly serverless?: SageMakerServerlessOptions;
  /**
   * Serve through asynchronous inference (requests queued, results written to S3).
   * @default - real-time
   */
  readonly asyncInference?: SageMakerAsyncInferenceOptions;
  /**
   * The bucket for captured requests/responses and for async inputs and results.
   * @default - a new bucket, KMS-encrypted, versioned, TLS-only, no public access, retained
   */
  readonly dataBucket?: s3.IBucket;
  /**
   * The production variant's name. Keep it stable: SageMaker's blue/green updates and the
   * autoscaling target are keyed by it.
   * @default 'AllTraffic'
   */
  readonly variantName?: string;
  /**
   * How long the endpoint's CloudWatch logs are kept: a `logs.RetentionDays` value.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the endpoint's log group (`/aws/sagemaker/Endpoints/NAME`, a name SageMaker
   * fixes) when the stack is deleted or the group replaced. RETAIN keeps the logs for audit; the
   * group then still exists when the same endpoint is deployed again, and
   * `cdk deploy --import-existing-resources` adopts it (or delete it first). DESTROY deletes the
   * logs with the stack, so a plain redeploy works. RETAIN_ON_UPDATE_OR_DELETE keeps them too,
   * except when the stack's first deployment rolls back. SNAPSHOT is refused: log groups have none.
   * @default RemovalPolicy.RETAIN
   */
  readonly logGroupRemovalPolicy?: RemovalPolicy;
  /**
   * Where alarms notify.
   * @default - a new KMS-encrypted, TLS-only SNS topic
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Extra actions for the alarms (for example a PagerDuty integration).
   * @default - only the alarm topic
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
  /**
   * The interface VPC endpoints for the SageMaker runtime (`com.amazonaws.REGION.sagemaker.runtime`)
   * that callers come through. Required while `access.network` is PRIVATE (the default): every
   * grant this construct makes (`grantInvoke`, `invokeStatement`) then carries an `aws:SourceVpce`
   * condition on them, and `denyInvokeOutsideVpcEndpoints()` gives the matching Deny for an SCP or
   * permissions boundary. Refused with PUBLIC.
   * @default - none: valid only with `access.network` PUBLIC (or serverless, which is always PUBLIC)
   */
  readonly invokeVpcEndpointIds?: string[];
  /**
   * Where the function that checks the spec's `verification` samples after each endpoint update
   * runs (see README). Only together with `verification`.
   * @default - in the endpoint's `vpc`, with a new role and security group
   */
  readonly verificationFunction?: SageMakerVerificationFunctionOptions;
}

// A record over the interface's keys: a prop added to or removed from it without this entry fails to compile.
const OPTION_KEYS: Record<keyof SageMakerTargetOptions, true> = {
  instanceType: true, encryptionKey: true, vpc: true, vpcSubnets: true, securityGroups: true, networkIsolation: true, volumeSizeGiB: true,
  modelDownloadTimeoutSeconds: true, serverless: true, asyncInference: true, dataBucket: true, variantName: true, logRetention: true,
  logGroupRemovalPolicy: true, alarmTopic: true, alarmActions: true, invokeVpcEndpointIds: true, verificationFunction: true,
};
/** The keys of SageMakerTargetOptions, so the spec does not refuse them as unknown. */
export const SAGEMAKER_OPTION_KEYS: readonly string[] = Object.keys(OPTION_KEYS);
