import * as path from 'path';
import { App, TerraformStack } from 'cdktf';
import { Compute, DeploymentTarget, GpuKind, ModelArtifact, ModelDeployment, ScalingTarget, ServingContainer } from '../lib';
import { AzureMlModelEndpoint } from '../lib/targets/azure-ml';

const SUBSCRIPTION = '00000000-0000-0000-0000-000000000000';

/**
 * A model on an Azure ML managed online endpoint: one NVIDIA T4 per instance, two to four instances
 * on GPU utilisation, a custom image from the team's container registry, Entra ID tokens only, and
 * reachable only through the workspace's private endpoint (access.network PRIVATE, the default).
 * The workspace, its storage, key vault and monitoring are created with it; the alerts notify an
 * existing action group, and one service principal may call the endpoint.
 */
export function azureMlGpu(app: App): TerraformStack {
  const stack = new TerraformStack(app, 'model-deployment-azure-ml');
  const deployment = new ModelDeployment(stack, 'Fraud', {
    model: ModelArtifact.fromLocalPath(path.join(__dirname, '..', 'test', 'fixtures', 'linear-model')),
    serving: ServingContainer.custom({
      image: 'contosoml.azurecr.io/fraud-scorer:4.2.0',
      port: 8080, healthPath: '/ping', predictPath: '/invocations',
      environment: { LOG_LEVEL: 'info' },
      startupTimeoutSeconds: 600,
    }),
    compute: Compute.gpu({ gpu: GpuKind.NVIDIA_T4, count: 1 }),
    scaling: { minReplicas: 2, maxReplicas: 4, target: ScalingTarget.gpuPercent(60) },
    endpointName: 'fraud-scorer',
    tags: { team: 'risk' },
    target: DeploymentTarget.azureMl({
      location: 'westeurope',
      containerRegistryId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-shared/providers/Microsoft.ContainerRegistry/registries/contosoml`,
      alarmActionGroupId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-shared/providers/Microsoft.Insights/actionGroups/ml-oncall`,
    }),
  });
  // The scoring service's Entra ID service principal (its object id) may call this endpoint, and nothing else.
  AzureMlModelEndpoint.of(deployment).grantInvoke('11111111-2222-3333-4444-555555555555', 'InvokeScoringService');
  return stack;
}
