#!/usr/bin/env node
/**
 * The Vertex AI bridge: `node dist/targets/vertex-ai/bridge/main.js create|destroy|retire-all`, run by the
 * Vertex AI target's `terraform_data` create- and destroy-time `local-exec` provisioners (retire-all:
 * the destroy step of its second, version-independent `terraform_data`; see steps.ts) with the
 * request (bridge-request.ts) as JSON in $MD_VERTEX_REQUEST. It uploads the custom model and deploys it
 * to the endpoint (create), or undeploys and deletes it (destroy), with the official
 * `@google-cloud/aiplatform` client and Application Default Credentials. See steps.ts for the calls.
 *
 * Exit status: 0 done; 1 an API step failed (the message names the step, the resource and the API's
 * code and message), or a sample prediction failed (the message names each sample, what was expected
 * and what came, and what the rollback did); 2 the request, the client package or the credentials are missing or wrong (no call
 * made). Progress goes to stdout, errors to stderr, never a token, a header or request metadata.
 */
import { readRequest as readRequestFrom, runAsMain } from '../../../common/local-exec';
import { VERTEX_BRIDGE_REQUEST_ENV, VertexBridgeOwnerRequest, VertexBridgeRequest, vertexBridgeRequestProblems } from '../bridge-request';
import { BridgeSetupError, loadClientPackage, makeClients } from './client';
import { Bridge, StepError, VerificationError, retireAll } from './steps';

const PREFIX = 'vertex-ai bridge';

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const action = argv[0];
  if (argv.length !== 1 || (action !== 'create' && action !== 'destroy' && action !== 'retire-all')) {
    process.stderr.write(`${PREFIX}: usage: main.js create|destroy|retire-all (with the request JSON in $${VERTEX_BRIDGE_REQUEST_ENV})\n`);
    return 2;
  }
  try {
    const request = readRequest(env, action === 'retire-all' ? 'owner' : 'deployment');
    const aip = loadClientPackage();
    const clients = await makeClients(aip, request.location, env);
    try {
      const log = (line: string) => process.stdout.write(`${PREFIX} ${action}: ${line}\n`);
      if (action === 'retire-all') await retireAll(clients, request, log);
      else {
        const bridge = new Bridge(clients, request as VertexBridgeRequest, log);
        await (action === 'create' ? bridge.create() : bridge.destroy());
      }
    } finally {
      await clients.close();
    }
    return 0;
  } catch (e) {
    if (e instanceof StepError || e instanceof VerificationError) {
      process.stderr.write(`${PREFIX} ${action}: ${e.message}\n`);
      return 1;
    }
    if (e instanceof BridgeSetupError) {
      process.stderr.write(`${PREFIX} ${action}: ${e.message}\n`);
      return 2;
    }
    // Unexpected: the message only (an error object could carry request metadata).
    process.stderr.write(`${PREFIX} ${action}: unexpected error: ${(e as Error)?.message ?? String(e)}\n`);
    return 1;
  }
}

function readRequest(env: NodeJS.ProcessEnv, part: 'deployment' | 'owner'): VertexBridgeOwnerRequest {
  return readRequestFrom<VertexBridgeOwnerRequest>(env, VERTEX_BRIDGE_REQUEST_ENV, value => vertexBridgeRequestProblems(value, part));
}

if (require.main === module) runAsMain(PREFIX, main);
