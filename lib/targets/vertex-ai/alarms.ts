// The public type of VertexAiModelEndpoint.alarms, in a file of its own so that the target's index
// re-exports it with `export *`: jsii maps a type to its submodule only through `export *` (a named
// re-export leaves the type outside the `vertexAi` submodule; docs/jsii.md).
import { MonitoringAlertPolicy } from '@cdktf/provider-google/lib/monitoring-alert-policy';

/** The two alert policies. */
export interface RenderedVertexAlarms {
  /** The error-rate policy (error_count / prediction_count above `errorRatePercent`). */
  readonly errorRate: MonitoringAlertPolicy;
  /** The p99-latency policy (prediction_latencies above `latencyP99Ms`). */
  readonly latency: MonitoringAlertPolicy;
}
