// The public type of AzureMlModelEndpoint.alarms, in a file of its own so that the target's index
// re-exports it with `export *`: jsii maps a type to its submodule only through `export *` (a named
// re-export leaves the type outside the `azureMl` submodule; docs/jsii.md).
import { MonitorMetricAlert } from '@cdktf/provider-azurerm/lib/monitor-metric-alert';
import { MonitorScheduledQueryRulesAlertV2 } from '@cdktf/provider-azurerm/lib/monitor-scheduled-query-rules-alert-v2';

/** The alerts: p99 latency (a metric alert) and, where a Log Analytics workspace is known, the 5xx rate (a log alert). */
export interface RenderedAlarms {
  /** The p99 latency metric alert. */
  readonly latency: MonitorMetricAlert;
  /** The 5xx-rate log alert. @default - none, where no Log Analytics workspace is known */
  readonly errorRate?: MonitorScheduledQueryRulesAlertV2;
}
