import * as path from 'path';
import { App, TerraformStack } from 'cdktf';
import { Compute, DeploymentTarget, GpuKind, ModelArtifact, ModelDeployment, ServingContainer } from '../lib';
import { ContainerRuntime } from '../lib/targets/on-prem';

/**
 * Two GPU hosts in a lab, one NVIDIA L4 per replica, two replicas per host, Triton from NVIDIA's
 * registry, API keys read from a local file at apply time. Host keys are pinned (get them with
 * ssh-keyscan and check them out of band).
 */
export function onPremGpu(app: App): TerraformStack {
  const stack = new TerraformStack(app, 'model-deployment-on-prem');
  const host = (name: string, address: string, hostKey: string) => ({ name, address, user: 'deploy', privateKeyPath: '~/.ssh/model-deploy', hostKey });
  new ModelDeployment(stack, 'Vision', {
    model: ModelArtifact.fromLocalPath(path.join(__dirname, '..', 'test', 'fixtures', 'linear-model')),
    serving: ServingContainer.triton({ image: 'nvcr.io/nvidia/tritonserver:24.08-py3', modelName: 'resnet50', startupTimeoutSeconds: 900 }),
    compute: Compute.gpu({ gpu: GpuKind.NVIDIA_L4, count: 1 }),
    scaling: { minReplicas: 4 },
    endpointName: 'vision',
    target: DeploymentTarget.onPrem({
      hosts: [
        host('gpu01', '192.0.2.11', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmd7Ze0hR3x6nkd0oEvKVa5Zp7bIkFGU0f0d7bq4bXk'),
        host('gpu02', '192.0.2.12', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0mF6dJd0wq1b6eBi7hWcKQGKa9yBC8mR0cX4Q2u1v'),
      ],
      runtime: ContainerRuntime.DOCKER,
      apiKeyFile: '~/.config/model-deploy/vision-api-keys',
      tls: { certificatePath: '/etc/ssl/model-deploy/vision.pem', keyPath: '/etc/ssl/model-deploy/vision.key' },
    }),
  });
  return stack;
}
