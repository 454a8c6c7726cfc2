/** Bridge requests for the tests: one deployment ("owner") in two versions. */
import {
  VERTEX_BRIDGE_REQUEST_FORMAT, VERTEX_METRIC_ACCELERATOR_DUTY_CYCLE, VertexBridgeRequest,
} from '../../../lib/targets/vertex-ai/bridge-request';

export const ENDPOINT_ID = '4242424242';

/** Version `v` of the test deployment: the ids change with the version, as the construct derives them. */
export function vertexRequest(v = 1): VertexBridgeRequest {
  return {
    format: VERTEX_BRIDGE_REQUEST_FORMAT,
    project: 'md-test-project',
    location: 'europe-west4',
    endpointId: ENDPOINT_ID,
    owner: 'fraud-scorer',
    model: {
      modelId: `fraud-scorer-v${v}`,
      displayName: `fraud-scorer v${v}`,
      artifactUri: `gs://md-test-artifacts/fraud-scorer/sha256-${v}${v}${v}/`,
      container: {
        imageUri: 'europe-docker.pkg.dev/vertex-ai/prediction/pytorch-gpu.2-4:latest',
        predictRoute: '/predictions/model',
        healthRoute: '/ping',
        port: 8080,
        env: { MODEL_NAME: 'fraud-scorer', TS_NUMBER_OF_GPU: '1' },
      },
      labels: { team: 'risk' },
    },
    deployment: {
      deployedModelId: `10000000${v}`,
      displayName: `fraud-scorer-v${v}`,
      machineSpec: { machineType: 'g2-standard-8', acceleratorType: 'NVIDIA_L4', acceleratorCount: 1 },
      minReplicaCount: 1,
      maxReplicaCount: 3,
      autoscalingMetricSpecs: [{ metricName: VERTEX_METRIC_ACCELERATOR_DUTY_CYCLE, target: 70 }],
      serviceAccount: 'fraud-scorer-serving@md-test-project.iam.gserviceaccount.com',
    },
  };
}
