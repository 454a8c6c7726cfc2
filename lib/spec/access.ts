/** How callers prove who they are. */
export enum AuthMode {
  /**
   * The cloud's own identity: AWS SigV4 (IAM), Microsoft Entra ID tokens, Google IAM. Not
   * available on on-prem hosts.
   */
  IAM = 'iam',
  /** A static API key in a request header. */
  KEY = 'key',
  /** A short-lived token issued by the platform (Azure ML's AMLToken). */
  TOKEN = 'token',
}

/** Where the endpoint can be reached from. */
export enum NetworkAccess {
  /** Reachable from the internet; every request is still authenticated. */
  PUBLIC = 'public',
  /** Reachable only from your private network (VPC, VNet, Private Service Connect, host LAN). */
  PRIVATE = 'private',
}

/** Who may call the endpoint, and from where. */
export interface AccessProps {
  /**
   * How callers authenticate. There is never an unauthenticated endpoint.
   * @default - the strongest the target offers: IAM on the clouds, KEY on on-prem hosts
   */
  readonly auth?: AuthMode;
  /**
   * Where the endpoint can be reached from. Each target's README section says exactly what
   * PRIVATE means there and what it needs (for example subnets or a private endpoint).
   * @default NetworkAccess.PRIVATE
   */
  readonly network?: NetworkAccess;
}
