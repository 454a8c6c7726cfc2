/**
 * Loading the optional peer `@google-cloud/aiplatform` and making its clients, with clear messages
 * when the package or the credentials are missing. Nothing here logs a token, an auth header or the
 * request metadata.
 */
import type * as Aiplatform from '@google-cloud/aiplatform';
import * as path from 'path';
import { ProgramSetupError, loadOptionalPeer } from '../../../common/local-exec';

export const CLIENT_PACKAGE = '@google-cloud/aiplatform';
export type AiplatformModule = typeof Aiplatform;
export type ModelServiceClient = InstanceType<typeof Aiplatform.v1.ModelServiceClient>;
export type EndpointServiceClient = InstanceType<typeof Aiplatform.v1.EndpointServiceClient>;
export type PredictionServiceClient = InstanceType<typeof Aiplatform.v1.PredictionServiceClient>;

/**
 * TEST ONLY. `host:port` of a fake Vertex AI gRPC server on the loopback interface
 * (test/support/vertex/fake-vertex.ts). When set, the clients talk plaintext gRPC to it instead of
 * `${location}-aiplatform.googleapis.com:443`; since a channel credential is given, the client attaches
 * no call credentials, so no token is ever minted or sent. The credentials are still loaded first,
 * exactly as in production. Only loopback addresses are accepted.
 */
export const TEST_API_ENDPOINT_ENV = 'MD_VERTEX_TEST_API_ENDPOINT';

/** A failure before any API call: the message is the whole story (no stack trace is printed). */
export const BridgeSetupError = ProgramSetupError;

export function loadClientPackage(): AiplatformModule {
  return loadOptionalPeer<AiplatformModule>({
    name: CLIENT_PACKAGE, range: '^6', need: 'the Vertex AI target needs the Google Cloud client at apply time', program: 'this bridge', dir: __dirname,
  });
}

export interface ConnectionOptions {
  readonly apiEndpoint: string;
  readonly port?: number;
  /** a grpc-js ChannelCredentials (test only: insecure) */
  readonly sslCreds?: unknown;
}

/** The regional API endpoint by default; the test seam when `TEST_API_ENDPOINT_ENV` is set. */
export function connectionOptions(location: string, env: NodeJS.ProcessEnv = process.env): ConnectionOptions {
  return hostConnection(`${location}-aiplatform.googleapis.com`, env);
}

/** `host` (TLS, port 443) by default; the test seam when `TEST_API_ENDPOINT_ENV` is set. */
export function hostConnection(host: string, env: NodeJS.ProcessEnv = process.env): ConnectionOptions {
  const test = env[TEST_API_ENDPOINT_ENV];
  if (!test) return { apiEndpoint: host };
  const m = /^(127\.0\.0\.1|localhost|\[::1\]):([0-9]{1,5})$/.exec(test);
  if (!m) throw new BridgeSetupError(`${TEST_API_ENDPOINT_ENV}=${JSON.stringify(test)} is not a loopback host:port (it is for tests only)`);
  // grpc-js as the client's own google-gax loads it, so the credentials object is of the same module.
  const gaxPath = require.resolve('google-gax', { paths: [path.dirname(require.resolve(CLIENT_PACKAGE))] });
  const gax = require(gaxPath) as { grpc: { credentials: { createInsecure(): unknown } } };
  return { apiEndpoint: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]), sslCreds: gax.grpc.credentials.createInsecure() };
}

export interface Clients {
  readonly models: ModelServiceClient;
  readonly endpoints: EndpointServiceClient;
  readonly protos: AiplatformModule['protos'];
  /** A PredictionService client for `host` (where an endpoint takes predictions; see steps.ts predictionHost), made on first use. */
  prediction(host: string): PredictionServiceClient;
  close(): Promise<void>;
}

/**
 * Makes the two clients, then loads Application Default Credentials before any call: with none, a
 * clear message and no request sent. Loading reads a key file or gcloud's ADC file (or asks the
 * metadata server on Google Cloud); it mints no token.
 */
export async function makeClients(aip: AiplatformModule, location: string, env: NodeJS.ProcessEnv = process.env): Promise<Clients> {
  const opts = connectionOptions(location, env);
  const models = new aip.v1.ModelServiceClient({ ...opts } as ConstructorParameters<typeof aip.v1.ModelServiceClient>[0]);
  const endpoints = new aip.v1.EndpointServiceClient({ ...opts } as ConstructorParameters<typeof aip.v1.EndpointServiceClient>[0]);
  const predictions = new Map<string, PredictionServiceClient>();
  const prediction = (host: string) => {
    let client = predictions.get(host);
    if (!client) {
      client = new aip.v1.PredictionServiceClient({ ...hostConnection(host, env) } as ConstructorParameters<typeof aip.v1.PredictionServiceClient>[0]);
      predictions.set(host, client);
    }
    return client;
  };
  const close = async () => {
    await Promise.allSettled([models.close(), endpoints.close(), ...[...predictions.values()].map(c => c.close())]);
  };
  try {
    await models.auth.getClient();
  } catch (e) {
    await close();
    throw new BridgeSetupError(
      'no Google Cloud credentials found. The bridge uses Application Default Credentials: run ' +
        '`gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, ' +
        `or run where the metadata server provides them. (${firstLine((e as Error).message)})`,
    );
  }
  return { models, endpoints, protos: aip.protos, prediction, close };
}

function firstLine(s: string): string {
  return String(s).split('\n')[0];
}
