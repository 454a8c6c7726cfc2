/**
 * Autoscale and alerts of an Azure ML managed online deployment (azurerm, Azure Monitor).
 */
import { MonitorAutoscaleSetting, MonitorAutoscaleSettingProfileRule } from '@cdktf/provider-azurerm/lib/monitor-autoscale-setting';
import { MonitorDiagnosticSetting } from '@cdktf/provider-azurerm/lib/monitor-diagnostic-setting';
import { MonitorMetricAlert } from '@cdktf/provider-azurerm/lib/monitor-metric-alert';
import { MonitorScheduledQueryRulesAlertV2 } from '@cdktf/provider-azurerm/lib/monitor-scheduled-query-rules-alert-v2';
import type { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import { escapeTerraformTemplate } from '../../common/terraform';
import { ResolvedMonitoring } from '../../spec/monitoring';
import { ResolvedScaling, ScalingMetric } from '../../spec/scaling';

/** Where the alerts and the autoscale setting go, and what they watch. */
export interface MonitoredDeployment {
  readonly endpointName: string;
  readonly location: string;
  readonly resourceGroupName: string;
  readonly tags: Record<string, string>;
  readonly endpointId: string;
  readonly deploymentId: string;
  readonly deploymentName: string;
  /**
   * What the autoscale setting waits for before it moves to a new deployment: with verification,
   * the traffic update, so that a failed check leaves the autoscale on the deployment that still serves.
   * @default - the deployment only
   */
  readonly autoscaleAfter?: ITerraformDependable[];
}

const ENDPOINT_METRICS = 'Microsoft.MachineLearningServices/workspaces/onlineEndpoints';
const DEPLOYMENT_METRICS = 'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments';
/** The window sizes Azure Monitor metric alerts take, in minutes. */
const METRIC_ALERT_WINDOWS = [1, 5, 15, 30, 60, 360, 720, 1440];
/** Log alerts evaluate at most 6 periods, over windows of these sizes (minutes). */
const MAX_LOG_ALERT_PERIODS = 6;
const LOG_ALERT_WINDOWS = [1, 5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 1440, 2880];

/** Minutes as an ISO-8601 duration in Azure Monitor's form (PT5M, PT1H, P1D). */
export function isoMinutes(minutes: number): string {
  if (minutes % 1440 === 0) return `P${minutes / 1440}D`;
  if (minutes % 60 === 0) return `PT${minutes / 60}H`;
  return `PT${minutes}M`;
}

/**
 * Azure Monitor autoscale on the deployment, from `scaling` (max above min): scale out by one
 * instance when the tracked metric's 5-minute average is above the target, in by one when it is
 * below half the target. Requests per replica use the endpoint's RequestsPerMinute for this
 * deployment, divided by its instance count. Cooldowns are whole minutes (at least one).
 */
export function renderAutoscale(scope: Construct, d: MonitoredDeployment, scaling: ResolvedScaling): MonitorAutoscaleSetting | undefined {
  const target = scaling.target;
  if (target === undefined) return undefined;
  const trigger = (operator: string, threshold: number) => {
    const base = { operator, threshold, statistic: 'Average', timeAggregation: 'Average', timeGrain: 'PT1M', timeWindow: 'PT5M' };
    switch (target.metric) {
      case ScalingMetric.CPU_PERCENT:
        return { ...base, metricName: 'CpuUtilizationPercentage', metricNamespace: DEPLOYMENT_METRICS, metricResourceId: d.deploymentId };
      case ScalingMetric.GPU_PERCENT:
        return { ...base, metricName: 'GpuUtilizationPercentage', metricNamespace: DEPLOYMENT_METRICS, metricResourceId: d.deploymentId };
      default:
        return {
          ...base, metricName: 'RequestsPerMinute', metricNamespace: ENDPOINT_METRICS, metricResourceId: d.endpointId, divideByInstanceCount: true,
          dimensions: [{ name: 'deployment', operator: 'Equals', values: [d.deploymentName] }],
        };
    }
  };
  const cooldown = (seconds: number) => isoMinutes(Math.max(1, Math.ceil(seconds / 60)));
  const rules: MonitorAutoscaleSettingProfileRule[] = [
    { metricTrigger: trigger('GreaterThan', target.value), scaleAction: { direction: 'Increase', type: 'ChangeCount', value: 1, cooldown: cooldown(scaling.scaleOutCooldownSeconds) } },
    { metricTrigger: trigger('LessThan', target.value / 2), scaleAction: { direction: 'Decrease', type: 'ChangeCount', value: 1, cooldown: cooldown(scaling.scaleInCooldownSeconds) } },
  ];
  return new MonitorAutoscaleSetting(scope, 'Autoscale', {
    name: `autoscale-${d.endpointName}`,
    resourceGroupName: d.resourceGroupName,
    location: d.location,
    tags: d.tags,
    targetResourceId: d.deploymentId,
    dependsOn: d.autoscaleAfter,
    profile: [{
      name: 'default',
      capacity: { default: scaling.minReplicas, minimum: scaling.minReplicas, maximum: scaling.maxReplicas },
      rule: rules,
    }],
  });
}

/** The alerts: p99 latency (a metric alert) and, where a Log Analytics workspace is known, the 5xx rate (a log alert). */
export interface RenderedAlarms {
  /** The p99 latency metric alert. */
  readonly latency: MonitorMetricAlert;
  /** The 5xx-rate log alert. @default - none, where no Log Analytics workspace is known */
  readonly errorRate?: MonitorScheduledQueryRulesAlertV2;
}

/**
 * The spec's alarms. Latency: the endpoint's RequestLatency_P99 metric (its default aggregation,
 * Average, per Azure Monitor's metric table), firing when its average over the window is above the
 * threshold; the window is `evaluationMinutes` rounded up to a size Azure takes. Error rate: the endpoint's traffic log sent
 * to Log Analytics, and a log alert on the percentage of 5xx responses per minute, firing when
 * `evaluationMinutes` consecutive minutes breach (up to 6; beyond, one window of at least that
 * length, rounded up to a size Azure takes).
 */
export function renderAlarms(scope: Construct, d: MonitoredDeployment, monitoring: ResolvedMonitoring, actionGroupId?: string,
  logAnalyticsWorkspaceId?: string): RenderedAlarms | undefined {
  if (!monitoring.alarms) return undefined;
  const minutes = monitoring.evaluationMinutes;
  const window = METRIC_ALERT_WINDOWS.find(w => w >= minutes) ?? METRIC_ALERT_WINDOWS[METRIC_ALERT_WINDOWS.length - 1];
  const latency = new MonitorMetricAlert(scope, 'LatencyAlarm', {
    name: `p99-latency-${d.endpointName}`,
    resourceGroupName: d.resourceGroupName,
    scopes: [d.endpointId],
    description: escapeTerraformTemplate(`p99 request latency of ${d.endpointName} above ${monitoring.latencyP99Ms} ms for ${minutes} minute(s)`),
    severity: 2,
    frequency: 'PT1M',
    windowSize: isoMinutes(window),
    criteria: [{ metricNamespace: ENDPOINT_METRICS, metricName: 'RequestLatency_P99', aggregation: 'Average', operator: 'GreaterThan', threshold: monitoring.latencyP99Ms }],
    action: actionGroupId === undefined ? undefined : [{ actionGroupId }],
    tags: d.tags,
  });
  if (logAnalyticsWorkspaceId === undefined) return { latency };

  const diagnostics = new MonitorDiagnosticSetting(scope, 'TrafficLogs', {
    name: `traffic-${d.endpointName}`,
    targetResourceId: d.endpointId,
    logAnalyticsWorkspaceId,
    enabledLog: [{ category: 'AmlOnlineEndpointTrafficLog' }, { category: 'AmlOnlineEndpointConsoleLog' }],
  });
  const periods = minutes <= MAX_LOG_ALERT_PERIODS ? minutes : 1;
  const windowMinutes = minutes <= MAX_LOG_ALERT_PERIODS ? 1 : LOG_ALERT_WINDOWS.find(w => w >= minutes) ?? LOG_ALERT_WINDOWS[LOG_ALERT_WINDOWS.length - 1];
  // The endpoint name is letters, digits and hyphens (checked), so it sits safely in the KQL string.
  const query = [
    'AmlOnlineEndpointTrafficLog',
    `| where EndpointName == "${d.endpointName}"`,
    '| summarize total = count(), errors = countif(ResponseCode startswith "5")',
    '| extend errorRatePercent = iff(total == 0, 0.0, 100.0 * errors / total)',
  ].join('\n');
  const errorRate = new MonitorScheduledQueryRulesAlertV2(scope, 'ErrorRateAlarm', {
    name: `5xx-rate-${d.endpointName}`,
    resourceGroupName: d.resourceGroupName,
    location: d.location,
    scopes: [logAnalyticsWorkspaceId],
    description: escapeTerraformTemplate(`5xx responses of ${d.endpointName} above ${monitoring.errorRatePercent}% for ${minutes} minute(s)`),
    severity: 2,
    evaluationFrequency: isoMinutes(windowMinutes),
    windowDuration: isoMinutes(windowMinutes),
    criteria: [{
      query: escapeTerraformTemplate(query),
      timeAggregationMethod: 'Maximum',
      metricMeasureColumn: 'errorRatePercent',
      operator: 'GreaterThan',
      threshold: monitoring.errorRatePercent,
      failingPeriods: { numberOfEvaluationPeriods: periods, minimumFailingPeriodsToTriggerAlert: periods },
    }],
    action: actionGroupId === undefined ? undefined : { actionGroups: [actionGroupId] },
    tags: d.tags,
    dependsOn: [diagnostics],
  });
  return { latency, errorRate };
}
