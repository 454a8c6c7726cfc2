/**
 * The Vertex AI bridge's time per deploy, against the fake Vertex of the tests
 * (test/support/vertex/fake-vertex.ts: a gRPC server on 127.0.0.1 built from the official .proto
 * files, with real long-running operations). The bridge runs as Terraform's local-exec runs it:
 * `node .../bridge/main.js create` in a child process with the request in $MD_VERTEX_REQUEST and the
 * REAL @google-cloud/aiplatform client (test/support/vertex/bridge-process.ts: transpiled once, plain
 * `node` per run). Called by bench/run.ts when BENCH_ONLY includes `vertex`.
 *
 * Per run, a fresh fake with one empty endpoint, then:
 *   create      version 1: UploadModel, DeployModel, traffic to it (what the first `apply` runs);
 *   blue/green  version 2: UploadModel, DeployModel next to v1, traffic to v2, UndeployModel and
 *               DeleteModel of v1 (what an `apply` of a new model version runs).
 * Times are the child's wall time, spawn to exit: most of it is loading the official client and its
 * protos; the fake answers each call at once, so this is the bridge's own cost, not Vertex's.
 */
import { bridgeEnv, bridgeWorkspace, runBridge } from '../test/support/vertex/bridge-process';
import { FakeVertex } from '../test/support/vertex/fake-vertex';
import { ENDPOINT_ID, vertexRequest } from '../test/support/vertex/requests';

export type BridgePhase = 'create' | 'blueGreen';

export interface BridgeSample {
  /** wall ms of the bridge process, spawn to exit */
  readonly ms: number;
  /** gRPC calls the fake answered during the run (GetOperation polls included) */
  readonly calls: number;
}

export async function benchVertexBridge(runs: number): Promise<Record<BridgePhase, BridgeSample[]>> {
  const ws = bridgeWorkspace();
  const samples: Record<BridgePhase, BridgeSample[]> = { create: [], blueGreen: [] };
  try {
    const v1 = vertexRequest(1);
    // One unrecorded run first: warms the OS file cache for the client's modules and protos.
    for (let r = -1; r < runs; r++) {
      const fake = await FakeVertex.start({ project: v1.project, location: v1.location, endpoints: [{ id: ENDPOINT_ID }] });
      try {
        const env = bridgeEnv(ws, { apiEndpoint: fake.address });
        for (const [phase, version] of [['create', 1], ['blueGreen', 2]] as const) {
          const from = fake.calls.length;
          const run = await runBridge(ws, 'create', vertexRequest(version), env, 60_000);
          if (run.code !== 0) throw new Error(`bridge ${phase} (v${version}) exited ${run.code}\n${run.stdout}\n${run.stderr}`);
          if (r >= 0) samples[phase].push({ ms: run.ms, calls: fake.calls.length - from });
        }
      } finally {
        await fake.stop();
      }
    }
  } finally {
    ws.cleanup();
  }
  return samples;
}
