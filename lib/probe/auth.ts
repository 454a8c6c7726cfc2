import * as crypto from 'crypto';
import { azureAccessToken, azureTokenSource } from '../common/azure-token';
import { ProbeAuth } from './engine';
import { ProbeInputError, loadOptional } from './errors';

type SourceData = string | ArrayBuffer | ArrayBufferView;

/** The SHA-256 the SigV4 signer asks for, from node:crypto (a keyed one is an HMAC). */
class NodeSha256 {
  private hash: crypto.Hash | crypto.Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  public update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  public async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  public reset(): void {
    this.hash = this.fresh();
  }
  private fresh(): crypto.Hash | crypto.Hmac {
    return this.secret === undefined ? crypto.createHash('sha256') : crypto.createHmac('sha256', bytes(this.secret));
  }
}

function bytes(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/**
 * SageMaker: every request signed with SigV4 (service `sagemaker`), with credentials from the AWS
 * SDK's default chain (environment, shared config and SSO profiles, container and instance roles).
 * Signatures are made for each sample and made again every minute (AWS accepts one for 15 minutes).
 */
export function sigV4Auth(region: string): ProbeAuth {
  const why = 'Probing SageMaker (SigV4 signing)';
  const { SignatureV4 } = loadOptional<typeof import('@smithy/signature-v4')>('@smithy/signature-v4', why);
  const { defaultProvider } = loadOptional<typeof import('@aws-sdk/credential-provider-node')>('@aws-sdk/credential-provider-node', why);
  const credentials = defaultProvider();
  const signer = new SignatureV4({ credentials, region, service: 'sagemaker', sha256: NodeSha256 });
  return {
    description: `SigV4 with the AWS SDK's credential chain (region ${region})`,
    hint: 'the AWS credentials (AWS_PROFILE, or AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN), that they allow sagemaker:InvokeEndpoint on this endpoint, the region, and the system clock',
    refreshMs: 60_000,
    headers: async (url, bodies) => {
      try {
        return await Promise.all(bodies.map(async body => (await signer.sign({
          method: 'POST', protocol: url.protocol, hostname: url.hostname, port: url.port ? Number(url.port) : undefined,
          path: url.pathname, query: Object.fromEntries(url.searchParams),
          headers: { 'host': url.host, 'content-type': 'application/json' }, body,
        })).headers));
      } catch (e) {
        throw new ProbeInputError(`no AWS credentials to sign with: ${(e as Error).message}. Set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials)`);
      }
    },
  };
}

/** A fixed key: on-prem sends `X-Api-Key`, Azure ML (key auth) `Authorization: Bearer`. Only the header's name is ever shown. */
export function apiKeyAuth(header: 'x-api-key' | 'authorization', key: string, hint: string): ProbeAuth {
  const value = header === 'authorization' ? `Bearer ${key}` : key;
  return {
    description: header === 'authorization' ? 'an API key as Authorization: Bearer' : 'an API key as X-Api-Key',
    hint,
    headers: async (_url, bodies) => {
      const headers = { [header]: value };
      return bodies.map(() => headers);
    },
  };
}

/** An OAuth bearer token from `get`, asked again every minute (the sources cache it until shortly before it expires). */
function tokenAuth(description: string, hint: string, get: () => Promise<string>): ProbeAuth {
  return {
    description,
    hint,
    refreshMs: 60_000,
    headers: async (_url, bodies) => {
      const headers = { authorization: `Bearer ${await get()}` };
      return bodies.map(() => headers);
    },
  };
}

/**
 * Vertex AI: a Google OAuth access token from application default credentials
 * (GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth application-default login`, the metadata server).
 */
export function googleAuth(): ProbeAuth {
  const { GoogleAuth } = loadOptional<typeof import('google-auth-library')>('google-auth-library', 'Probing Vertex AI (Google application default credentials)');
  const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
  return tokenAuth('a Google access token from application default credentials',
    'the application default credentials (GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login`) and that they have aiplatform.endpoints.predict on this endpoint',
    async () => {
      try {
        const token = await auth.getAccessToken();
        if (!token) throw new Error('no token returned');
        return token;
      } catch (e) {
        throw new ProbeInputError(`no Google access token from application default credentials: ${(e as Error).message}`);
      }
    });
}

const AZURE_ML_SCOPE = 'https://ml.azure.com';

/**
 * Azure ML with Entra ID auth (`aad_token`): a token for https://ml.azure.com from @azure/identity's
 * DefaultAzureCredential when that package is installed, else from the Azure CLI
 * (`az account get-access-token`): lib/common/azure-token.ts. Kept until ten minutes before it expires.
 */
export function entraAuth(): ProbeAuth {
  let cached: { token: string; expiresAt: number } | undefined;
  return tokenAuth(`an Entra ID token for ${AZURE_ML_SCOPE} from ${azureTokenSource()}`,
    'that you are signed in (`az login`), that the endpoint uses Entra ID auth (aad_token) and that your identity may score on it; for key auth pass --api-key',
    async () => {
      if (cached === undefined || cached.expiresAt - Date.now() < 10 * 60_000) {
        try {
          cached = await azureAccessToken(AZURE_ML_SCOPE);
        } catch (e) {
          throw new ProbeInputError(`no Entra ID token for ${AZURE_ML_SCOPE}: ${(e as Error).message}. Sign in with \`az login\`, or pass --api-key (or MD_PROBE_API_KEY) for an endpoint with key auth`);
        }
      }
      return cached.token;
    });
}
