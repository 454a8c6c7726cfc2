import { RemovalPolicy, Stack, Token, Tokenization } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ModelDeploymentValidationError } from '../../spec/errors';
import { TARGET } from './name';

/*
 * SageMaker's own limits on what the endpoint construct is given, checked at synth so that
 * CloudFormation never gets a template SageMaker would refuse at deploy time.
 */

// CreateModel, ContainerDefinition.Environment: at most 100 entries; keys and values at most 1024
// bytes each; all keys and values together at most 32 KB.
const MAX_ENV_VARIABLES = 100;
const MAX_ENV_ENTRY_BYTES = 1024;
const MAX_ENV_TOTAL_BYTES = 32 * 1024;

/**
 * Checks the container's environment as SageMaker will get it: the variables the image needs
 * (`imageEnvironment`) merged under the user's (`serving.environment`).
 */
export function checkEnvironment(imageEnvironment: { [name: string]: string }, userEnvironment: { [name: string]: string }): { [name: string]: string } {
  const merged = { ...imageEnvironment, ...userEnvironment };
  const names = Object.keys(merged);
  const fromImage = Object.keys(imageEnvironment).filter(name => !(name in userEnvironment)).length;
  const imageNote = fromImage > 0 ? `, ${fromImage} of them set by the serving image` : '';
  if (names.length > MAX_ENV_VARIABLES) {
    throw new ModelDeploymentValidationError('serving.environment', `${names.length} variables`,
      `at most ${MAX_ENV_VARIABLES} variables (SageMaker CreateModel limit${imageNote})`, TARGET);
  }
  let total = 0;
  for (const name of names) {
    const value = merged[name];
    // A deploy-time value's length is unknown at synth; its placeholder is counted instead.
    const valueBytes = Buffer.byteLength(value, 'utf8');
    if (!Token.isUnresolved(value) && valueBytes > MAX_ENV_ENTRY_BYTES) {
      throw new ModelDeploymentValidationError(`serving.environment.${name}`, `${valueBytes} bytes`,
        `a value of at most ${MAX_ENV_ENTRY_BYTES} bytes in UTF-8 (SageMaker CreateModel limit)`, TARGET);
    }
    total += Buffer.byteLength(name, 'utf8') + valueBytes;
  }
  if (total > MAX_ENV_TOTAL_BYTES) {
    throw new ModelDeploymentValidationError('serving.environment', `${total} bytes of names and values`,
      `at most 32 KB (${MAX_ENV_TOTAL_BYTES} bytes) of names and values together, in UTF-8 (SageMaker CreateModel limit${imageNote})`, TARGET);
  }
  return merged;
}

// vpce- and 8 or 17 lower-case hex digits, as EC2 issues them.
const VPC_ENDPOINT_ID = /^vpce-[0-9a-f]{8}([0-9a-f]{9})?$/;

/**
 * The VPC endpoint ids for the `aws:SourceVpce` condition. A literal must be a VPC endpoint id: a
 * string would otherwise be spread into characters, and a policy variable such as
 * `${aws:SourceVpce}` would make the condition always true. A deploy-time value is accepted only
 * when it is one whole token (such as `InterfaceVpcEndpoint.vpcEndpointId`), nothing around it.
 */
export function checkVpcEndpointIds(ids: unknown): string[] {
  if (ids === undefined) return [];
  if (!Array.isArray(ids)) {
    throw new ModelDeploymentValidationError('invokeVpcEndpointIds', ids, 'an array of VPC endpoint ids such as ["vpce-0123456789abcdef0"]', TARGET);
  }
  return ids.map((id, i) => {
    const wholeToken = typeof id === 'string' && Token.isUnresolved(id) && isSingleToken(id);
    if (!wholeToken && (typeof id !== 'string' || !VPC_ENDPOINT_ID.test(id))) {
      throw new ModelDeploymentValidationError(`invokeVpcEndpointIds[${i}]`, id,
        'a VPC endpoint id: "vpce-" and 8 or 17 lower-case hex digits (no wildcard, policy variable or ARN), or an InterfaceVpcEndpoint\'s vpcEndpointId', TARGET);
    }
    return id as string;
  });
}

function isSingleToken(value: string): boolean {
  const fragments = Tokenization.reverseString(value);
  return fragments.length === 1 && fragments.tokens.length === 1;
}

/** Endpoint names claimed per stack, with the path of the construct that claimed each. */
const claimedNames = new WeakMap<Stack, Map<string, string>>();

/** SageMaker endpoint names are unique per account and region: refuse a second one in the same stack. */
export function claimEndpointName(scope: Construct, endpointName: string): void {
  const stack = Stack.of(scope);
  const claimed = claimedNames.get(stack) ?? new Map<string, string>();
  claimedNames.set(stack, claimed);
  const first = claimed.get(endpointName);
  if (first !== undefined) {
    throw new ModelDeploymentValidationError('endpointName', endpointName,
      `a name not used by another endpoint in this stack (${first} already uses it): SageMaker endpoint names are unique per account and region`, TARGET);
  }
  claimed.set(endpointName, scope.node.path);
}

const RETENTION_DAYS: readonly number[] = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number');

/** logRetention must be one of CloudWatch Logs' retention periods. */
export function checkLogRetention(retention: unknown): logs.RetentionDays {
  if (retention === undefined) return logs.RetentionDays.ONE_YEAR;
  if (typeof retention !== 'number' || !RETENTION_DAYS.includes(retention)) {
    const days = RETENTION_DAYS.filter(d => d !== logs.RetentionDays.INFINITE).join(', ');
    throw new ModelDeploymentValidationError('logRetention', retention,
      `a logs.RetentionDays value: ${days} days, or RetentionDays.INFINITE (${logs.RetentionDays.INFINITE})`, TARGET);
  }
  return retention;
}

const LOG_GROUP_REMOVAL_POLICIES: readonly RemovalPolicy[] = [RemovalPolicy.RETAIN, RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE, RemovalPolicy.DESTROY];

/** What happens to the endpoint's log group when the stack is deleted (log groups have no snapshots). */
export function checkLogGroupRemovalPolicy(policy: unknown): RemovalPolicy {
  if (policy === undefined) return RemovalPolicy.RETAIN;
  if (!LOG_GROUP_REMOVAL_POLICIES.includes(policy as RemovalPolicy)) {
    throw new ModelDeploymentValidationError('logGroupRemovalPolicy', policy,
      'RemovalPolicy.RETAIN, RETAIN_ON_UPDATE_OR_DELETE or DESTROY (CloudWatch log groups have no snapshots)', TARGET);
  }
  return policy as RemovalPolicy;
}
