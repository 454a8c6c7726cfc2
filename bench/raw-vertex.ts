/**
 * The Vertex AI bench's comparison: the resources one DeploymentTarget.vertexAi() deployment with a
 * `gs://` model synthesizes, declared by hand with @cdktf/provider-google (the deep imports the target
 * uses) and cdktf's own DataResource for `terraform_data`. Used by bench/child.ts only.
 *
 * Per deployment: the serving service account, its bucket IAM member (conditioned on the model
 * prefix), the endpoint (dedicated, fixed numeric name, traffic_split ignored), the terraform_data
 * that runs the upload/deploy bridge at create and destroy, the error-rate and p99 latency alert
 * policies and three outputs. The google provider and the aiplatform project service are declared
 * once per stack, as the target does. Same resource count and types.
 *
 * What differs, on purpose (it is what a hand-written stack leaves out, and what the bench measures):
 * - ids and names are fixed strings built from the index (the target derives the endpoint id, the
 *   service account id, the model id and the deployed model id with sha256 from the construct path,
 *   the model and the deployment's settings);
 * - no validation of anything (the target resolves and checks the spec, the options, the machine type
 *   and accelerator catalog and Vertex's limits before it creates a resource), no provider lookup
 *   across the stack (the target looks for a user-declared provider first);
 * - the bridge request is a literal object (the target builds it from the serving contract, the
 *   catalog and the scaling spec).
 */
import { DataResource, TerraformOutput, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { MonitoringAlertPolicy } from '@cdktf/provider-google/lib/monitoring-alert-policy';
import { ProjectService } from '@cdktf/provider-google/lib/project-service';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member';
import { VertexAiEndpoint } from '@cdktf/provider-google/lib/vertex-ai-endpoint';

/** What one raw deployment needs. */
export interface RawVertexDeployment {
  readonly project: string;
  readonly location: string;
  readonly image: string;
  /** The bucket and prefix of the model (`gs://<bucket>/<prefix>/`). */
  readonly bucket: string;
  readonly prefix: string;
}

const LABELS = { 'managed-by': 'bench-raw' };
const METRIC = 'aiplatform.googleapis.com/prediction/online';
const BRIDGE = 'node "./node_modules/cdk-model-deployment/dist/targets/vertex-ai/bridge/main.js"';

/** Declares deployment number `i` (and the provider and project service, on the first call in a stack). */
export function rawVertexDeployment(stack: TerraformStack, i: number, d: RawVertexDeployment): void {
  const { project, location } = d;
  let service = stack.node.tryFindChild('aiplatform') as ProjectService | undefined;
  if (service === undefined) {
    new GoogleProvider(stack, 'google', {});
    service = new ProjectService(stack, 'aiplatform', { project, service: 'aiplatform.googleapis.com', disableOnDestroy: false });
  }
  const scope = new Construct(stack, `Raw${i}`);
  const name = `bench-raw-${i}`;
  const endpointId = String(5_000_000_000 + i);
  const account = new ServiceAccount(scope, 'ServingAccount', {
    project, accountId: `bench-raw-serve-${i}`, displayName: `Serving ${name}`, description: 'Runs the model containers of a Vertex AI endpoint; reads its model prefix only',
  });
  const reads = new StorageBucketIamMember(scope, 'ServingReadsModel', {
    bucket: d.bucket,
    role: 'roles/storage.objectViewer',
    member: `serviceAccount:${account.email}`,
    condition: {
      title: 'model prefix only',
      description: 'Read the objects under this deployment\'s model prefix, and list that prefix',
      expression: `resource.name.startsWith("projects/_/buckets/${d.bucket}/objects/${d.prefix}/") || (resource.type == "storage.googleapis.com/Bucket" && api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("${d.prefix}/"))`,
    },
  });
  const endpoint = new VertexAiEndpoint(scope, 'Endpoint', {
    project, location, region: location, name: endpointId, displayName: name, description: 'Online prediction endpoint',
    dedicatedEndpointEnabled: true, labels: LABELS, dependsOn: [service], lifecycle: { ignoreChanges: ['traffic_split'] },
  });

  const deployedModelId = String(6_000_000_000 + i);
  const input = {
    format: 1, project, location, endpointId, owner: name,
    model: {
      modelId: `${name}-v1`, displayName: `${name} v1`, artifactUri: `gs://${d.bucket}/${d.prefix}/`, labels: LABELS,
      container: { imageUri: d.image, predictRoute: '/invocations', healthRoute: '/ping', port: 8080 },
    },
    deployment: {
      deployedModelId, displayName: `${name} v1`, machineSpec: { machineType: 'e2-standard-4' }, minReplicaCount: 2, maxReplicaCount: 4,
      autoscalingMetricSpecs: [{ metricName: `${METRIC}/cpu/utilization`, target: 60 }], serviceAccount: account.email,
    },
  };
  // cdktf's own terraform_data class, as the target uses: its synth-time check of the Terraform
  // version (`terraform version` in a child process, once per instance) is paid on both sides.
  const environment = { MD_VERTEX_REQUEST: '${jsonencode(self.input)}' };
  new DataResource(scope, 'Deployment', {
    input, triggersReplace: { version: 'v1' }, dependsOn: [endpoint, account, reads], lifecycle: { createBeforeDestroy: true },
    provisioners: [
      { type: 'local-exec', command: `${BRIDGE} create`, environment },
      { type: 'local-exec', command: `${BRIDGE} destroy`, environment, when: 'destroy' },
    ],
  });

  const resourceFilter = `resource.type = "aiplatform.googleapis.com/Endpoint" AND resource.labels.endpoint_id = "${endpointId}"`;
  const aggregation = (reducer: string) => ({ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_DELTA', crossSeriesReducer: reducer, groupByFields: ['resource.labels.endpoint_id'] });
  new MonitoringAlertPolicy(scope, 'ErrorRateAlarm', {
    project, displayName: `${name}: prediction error rate above 5%`, combiner: 'OR', severity: 'ERROR', userLabels: LABELS,
    documentation: { content: `Vertex AI endpoint ${endpointId}: errors above 5% of predictions for 3 minute(s).`, mimeType: 'text/markdown' },
    conditions: [{
      displayName: 'error_count / prediction_count',
      conditionThreshold: {
        filter: `${resourceFilter} AND metric.type = "${METRIC}/error_count"`,
        denominatorFilter: `${resourceFilter} AND metric.type = "${METRIC}/prediction_count"`,
        aggregations: [aggregation('REDUCE_SUM')], denominatorAggregations: [aggregation('REDUCE_SUM')],
        comparison: 'COMPARISON_GT', thresholdValue: 0.05, duration: '180s', trigger: { count: 1 },
      },
    }],
  });
  new MonitoringAlertPolicy(scope, 'LatencyAlarm', {
    project, displayName: `${name}: p99 prediction latency above 2000 ms`, combiner: 'OR', severity: 'ERROR', userLabels: LABELS,
    documentation: { content: `Vertex AI endpoint ${endpointId}: p99 latency above 2000 ms for 3 minute(s).`, mimeType: 'text/markdown' },
    conditions: [{
      displayName: 'p99 prediction_latencies',
      conditionThreshold: {
        filter: `${resourceFilter} AND metric.type = "${METRIC}/prediction_latencies"`,
        aggregations: [aggregation('REDUCE_PERCENTILE_99')],
        comparison: 'COMPARISON_GT', thresholdValue: 2000, duration: '180s', trigger: { count: 1 },
      },
    }],
  });

  new TerraformOutput(scope, 'EndpointId', { value: endpointId, description: 'The Vertex AI endpoint id' });
  new TerraformOutput(scope, 'PredictUrl', {
    value: `https://${endpoint.dedicatedEndpointDns}/v1/projects/${project}/locations/${location}/endpoints/${endpointId}:predict`,
    description: 'POST {"instances": [...]} here, with a Google OAuth access token',
  });
  new TerraformOutput(scope, 'DeployedModelId', { value: deployedModelId, description: 'The deployed model that takes all traffic' });
}
