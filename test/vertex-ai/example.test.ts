import { Testing } from 'cdktf';
import { vertexAiGpu } from '../../examples/vertex-ai';
import { danglingReferences, only, request } from './support';

describe('examples/vertex-ai.ts', () => {
  const json = JSON.parse(Testing.synth(vertexAiGpu(Testing.app())));

  test('synthesizes an L4 deployment with autoscaling, PSC, CMEK, alerts and one invoke grant; every reference resolves', () => {
    const r = request(json);
    expect(r.deployment.machineSpec).toEqual({ machineType: 'g2-standard-4', acceleratorType: 'NVIDIA_L4', acceleratorCount: 1 });
    expect(r.deployment).toMatchObject({ minReplicaCount: 2, maxReplicaCount: 4, autoscalingMetricSpecs: [{ metricName: 'aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle', target: 60 }] });
    expect(only(json, 'google_vertex_ai_endpoint').private_service_connect_config.project_allowlist).toEqual(['ml-prod-4711', 'ml-clients-0001']);
    expect(only(json, 'google_vertex_ai_endpoint').display_name).toBe('fraud-scorer');
    expect(Object.keys(json.resource.google_monitoring_alert_policy)).toHaveLength(2);
    expect(only(json, 'google_project_iam_member')).toMatchObject({ role: 'roles/aiplatform.user', member: 'serviceAccount:scoring@ml-clients-0001.iam.gserviceaccount.com' });
    expect(danglingReferences(json)).toEqual([]);
  });
});
