/**
 * Alert policies of a Vertex AI endpoint (Cloud Monitoring), from the spec's `monitoring`.
 *
 * Metrics: Vertex AI's online prediction metrics on the monitored resource
 * `aiplatform.googleapis.com/Endpoint` (labels `endpoint_id`, `deployed_model_id`), as Google's
 * Cloud Monitoring metric list for `aiplatform` names them: `prediction/online/prediction_count`,
 * `prediction/online/error_count` (deltas) and `prediction/online/prediction_latencies` (a
 * distribution, in milliseconds).
 */
import { MonitoringAlertPolicy } from '@cdktf/provider-google/lib/monitoring-alert-policy';
import { Construct } from 'constructs';
import { escapeTerraformTemplate } from '../../common/terraform';
import { ResolvedMonitoring } from '../../spec/monitoring';

/** What the alerts watch and where they go. */
export interface MonitoredEndpoint {
  readonly project: string;
  /** The endpoint's display name (already escaped). */
  readonly displayName: string;
  /** The endpoint's numeric id (a literal: the target fixes it at synth). */
  readonly endpointId: string;
  readonly notificationChannels?: string[];
  readonly labels: Record<string, string>;
}

const METRIC = 'aiplatform.googleapis.com/prediction/online';
const RESOURCE = 'aiplatform.googleapis.com/Endpoint';

/** The two alert policies. */
export interface RenderedVertexAlarms {
  /** The error-rate policy (errors over predictions, per minute). */
  readonly errorRate: MonitoringAlertPolicy;
  /** The p99 latency policy. */
  readonly latency: MonitoringAlertPolicy;
}

/**
 * Error rate: error_count / prediction_count of the endpoint, summed over its deployed models per
 * minute, above `errorRatePercent` for `evaluationMinutes`. Latency: the 99th percentile of
 * prediction_latencies per minute above `latencyP99Ms` for `evaluationMinutes`.
 */
export function renderAlarms(scope: Construct, e: MonitoredEndpoint, monitoring: ResolvedMonitoring): RenderedVertexAlarms | undefined {
  if (!monitoring.alarms) return undefined;
  const minutes = monitoring.evaluationMinutes;
  const filter = (metric: string) => `resource.type = "${RESOURCE}" AND resource.labels.endpoint_id = "${e.endpointId}" AND metric.type = "${METRIC}/${metric}"`;
  const perMinute = (aligner: string, reducer: string) => [{ alignmentPeriod: '60s', perSeriesAligner: aligner, crossSeriesReducer: reducer, groupByFields: ['resource.labels.endpoint_id'] }];
  const common = {
    project: e.project,
    combiner: 'OR',
    severity: 'ERROR',
    notificationChannels: e.notificationChannels,
    userLabels: e.labels,
  };
  const errorRate = new MonitoringAlertPolicy(scope, 'ErrorRateAlarm', {
    ...common,
    displayName: `${e.displayName}: prediction error rate above ${monitoring.errorRatePercent}%`,
    documentation: { content: escapeTerraformTemplate(`Vertex AI endpoint ${e.endpointId}: errors above ${monitoring.errorRatePercent}% of predictions for ${minutes} minute(s).`), mimeType: 'text/markdown' },
    conditions: [{
      displayName: 'error_count / prediction_count',
      conditionThreshold: {
        filter: filter('error_count'),
        aggregations: perMinute('ALIGN_DELTA', 'REDUCE_SUM'),
        denominatorFilter: filter('prediction_count'),
        denominatorAggregations: perMinute('ALIGN_DELTA', 'REDUCE_SUM'),
        comparison: 'COMPARISON_GT',
        thresholdValue: monitoring.errorRatePercent / 100,
        duration: `${minutes * 60}s`,
        trigger: { count: 1 },
      },
    }],
  });
  const latency = new MonitoringAlertPolicy(scope, 'LatencyAlarm', {
    ...common,
    displayName: `${e.displayName}: p99 prediction latency above ${monitoring.latencyP99Ms} ms`,
    documentation: { content: escapeTerraformTemplate(`Vertex AI endpoint ${e.endpointId}: p99 latency above ${monitoring.latencyP99Ms} ms for ${minutes} minute(s).`), mimeType: 'text/markdown' },
    conditions: [{
      displayName: 'p99 prediction_latencies',
      conditionThreshold: {
        filter: filter('prediction_latencies'),
        aggregations: perMinute('ALIGN_DELTA', 'REDUCE_PERCENTILE_99'),
        comparison: 'COMPARISON_GT',
        thresholdValue: monitoring.latencyP99Ms,
        duration: `${minutes * 60}s`,
        trigger: { count: 1 },
      },
    }],
  });
  return { errorRate, latency };
}
