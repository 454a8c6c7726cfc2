import * as path from 'path';
import { App, TerraformStack } from 'cdktf';
import { Compute, DeploymentTarget, GpuKind, ModelArtifact, ModelDeployment, ScalingTarget, ServingContainer } from '../lib';
import { VertexAiModelEndpoint } from '../lib/targets/vertex-ai';

const PROJECT = 'ml-prod-4711';

/**
 * A model on a Vertex AI endpoint: one NVIDIA L4 per replica (g2-standard-4), two to four replicas
 * on accelerator duty cycle, a custom image from the team's Artifact Registry, reachable only
 * through Private Service Connect from the serving project and one client project (access.network
 * PRIVATE, the default), encrypted with the team's key. The model's files are uploaded to a new
 * bucket; the alert policies page the on-call channel, and one service account may call the endpoint.
 */
export function vertexAiGpu(app: App): TerraformStack {
  const stack = new TerraformStack(app, 'model-deployment-vertex-ai');
  const deployment = new ModelDeployment(stack, 'Fraud', {
    model: ModelArtifact.fromLocalPath(path.join(__dirname, '..', 'test', 'fixtures', 'linear-model')),
    serving: ServingContainer.custom({
      image: `europe-west4-docker.pkg.dev/${PROJECT}/serving/fraud-scorer:4.2.0`,
      port: 8080, healthPath: '/ping', predictPath: '/invocations',
      environment: { LOG_LEVEL: 'info' },
      startupTimeoutSeconds: 600,
    }),
    compute: Compute.gpu({ gpu: GpuKind.NVIDIA_L4, count: 1 }),
    scaling: { minReplicas: 2, maxReplicas: 4, target: ScalingTarget.gpuPercent(60) },
    endpointName: 'fraud-scorer',
    tags: { team: 'risk' },
    target: DeploymentTarget.vertexAi({
      project: PROJECT,
      location: 'europe-west4',
      encryptionKeyName: 'projects/ml-keys-0001/locations/europe-west4/keyRings/ml/cryptoKeys/models',
      privateServiceConnectProjects: [PROJECT, 'ml-clients-0001'],
      alertNotificationChannels: [`projects/${PROJECT}/notificationChannels/1234567890`],
    }),
  });
  // The scoring service may call the endpoint (roles/aiplatform.user on the project: see the README).
  VertexAiModelEndpoint.of(deployment).grantInvoke(`serviceAccount:scoring@ml-clients-0001.iam.gserviceaccount.com`, 'InvokeScoringService');
  return stack;
}
