import { Testing } from 'cdktf';
import { azureMlGpu } from '../../examples/azure-ml';
import { validateAzapiStack } from '../support/azure/azapi-validator';
import { azapi, danglingReferences, only } from './support';

describe('examples/azure-ml.ts', () => {
  const json = JSON.parse(Testing.synth(azureMlGpu(Testing.app())));

  test('synthesizes a T4 deployment with autoscale, alerts and one invoke grant; every reference resolves', () => {
    expect(azapi(json, 'deployments').body.properties.instanceType).toBe('Standard_NC4as_T4_v3');
    expect(only(json, 'azurerm_monitor_autoscale_setting').profile[0].capacity).toEqual({ default: 2, minimum: 2, maximum: 4 });
    expect(only(json, 'azurerm_monitor_metric_alert').action[0].action_group_id).toMatch(/actionGroups\/ml-oncall$/);
    expect(only(json, 'azurerm_role_definition').permissions[0].actions).toEqual(['Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action']);
    expect(danglingReferences(json)).toEqual([]);
    expect(validateAzapiStack(json)).toEqual([]);
  });
});
