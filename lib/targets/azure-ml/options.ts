// The package root types DeploymentTarget.azureMl() with these options, so this file holds plain
// types only: no cdktf, no provider package (a SageMaker user has neither).

/** Everything specific to the Azure Machine Learning target. */
export interface AzureMlTargetOptions {
  /**
   * The Azure region of the endpoint and of everything created with it, e.g. `westeurope`
   * (lower-case letters and digits, as `az account list-locations` prints `name`). With an
   * existing `workspaceId`, it must be the workspace's region.
   */
  readonly location: string;
  /**
   * An existing resource group to create the workspace and its neighbours in. Ignored with
   * `workspaceId` (nothing is created around an existing workspace).
   * @default - a new resource group `rg-<endpointName>`
   */
  readonly resourceGroupName?: string;
  /**
   * An existing Azure ML workspace (its resource id,
   * `/subscriptions/SUB/resourceGroups/RG/providers/Microsoft.MachineLearningServices/workspaces/NAME`).
   * Nothing around the workspace is created then: no resource group, storage account, key vault,
   * Log Analytics or Application Insights; `keyVaultId`, `applicationInsightsId` and
   * `encryptionKeyId` are refused with it. A local model then needs `storageAccountId`.
   * @default - a new workspace, with its storage account, key vault, Log Analytics workspace and Application Insights
   */
  readonly workspaceId?: string;
  /**
   * An existing storage account (resource id) that the local model is uploaded to (a private
   * container `modelContainerName` is created in it). When the workspace is created here, it is
   * also the workspace's storage account. Terraform uploads with Microsoft Entra ID (shared keys
   * stay off): whoever runs `cdktf apply` is granted Storage Blob Data Contributor on that container.
   * @default - a new storage account (no public blob access, TLS 1.2, shared keys off), unless `workspaceId` is set
   */
  readonly storageAccountId?: string;
  /**
   * The private container the local model is uploaded to.
   * @default 'models'
   */
  readonly modelContainerName?: string;
  /**
   * An existing key vault (resource id) for a workspace created here.
   * @default - a new key vault with RBAC authorization, purge protection and soft delete
   */
  readonly keyVaultId?: string;
  /**
   * An existing Application Insights component (resource id) for a workspace created here.
   * @default - a new Log Analytics workspace and a workspace-based Application Insights component
   */
  readonly applicationInsightsId?: string;
  /**
   * The Azure Container Registry (resource id) that `serving.image` is pulled from. The endpoint's
   * identity is granted AcrPull on it (and nothing else); a workspace created here uses it as its
   * registry. Required when `serving.image` is in an `*.azurecr.io` registry, and must be that registry.
   * @default - no registry: the image must be public (for example on mcr.microsoft.com)
   */
  readonly containerRegistryId?: string;
  /**
   * The VM size of the deployment's instances, instead of the catalog's choice for `compute`. It
   * must be one of the target's Azure ML sizes (`AZURE_ML_INSTANCE_TYPES` in `cdk-model-deployment/azure-ml`)
   * and have the spec's GPUs.
   * @default - the smallest catalog size that fits `compute`
   */
  readonly instanceType?: string;
  /**
   * A customer-managed key for a workspace created here: the versioned key URL,
   * `https://VAULT.vault.azure.net/keys/NAME/VERSION`. Needs `encryptionKeyVaultId`.
   * The vault must let the workspace's identity and Azure Cosmos DB wrap and unwrap with it
   * (Azure ML's documented prerequisites for customer-managed keys).
   * @default - Microsoft-managed keys
   */
  readonly encryptionKeyId?: string;
  /**
   * The key vault (resource id) that holds `encryptionKeyId`.
   * @default - none; required with `encryptionKeyId`
   */
  readonly encryptionKeyVaultId?: string;
  /**
   * With `access.network` PRIVATE: an existing subnet (resource id,
   * `/subscriptions/SUB/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/VNET/subnets/NAME`)
   * in which a private endpoint of the workspace (sub-resource `amlworkspace`) is created, in
   * `location`. Callers in that network (or peered with it) then reach the endpoint's scoring URI
   * privately; the workspace and the endpoint take no public traffic. Refused with PUBLIC.
   * @default - no private endpoint: with PRIVATE, the endpoint answers only through private endpoints you create (the synth warns)
   */
  readonly privateEndpointSubnetId?: string;
  /**
   * The private DNS zones (resource ids) the workspace's private endpoint registers in:
   * `privatelink.api.azureml.ms` (required among them) and optionally `privatelink.notebooks.azure.net`,
   * usually central zones of a hub network. Only with `privateEndpointSubnetId`.
   * @default - no DNS registration: resolve the workspace's private addresses yourself
   */
  readonly privateDnsZoneIds?: string[];
  /**
   * An existing Azure Monitor action group (resource id) that the error-rate and latency alerts notify.
   * @default - the alerts fire without notifying anyone (visible in Azure Monitor)
   */
  readonly alarmActionGroupId?: string;
}

// A record over the interface's keys: a prop added to or removed from it without this entry fails to compile.
const OPTION_KEYS: Record<keyof AzureMlTargetOptions, true> = {
  location: true, resourceGroupName: true, workspaceId: true, storageAccountId: true, modelContainerName: true, keyVaultId: true,
  applicationInsightsId: true, containerRegistryId: true, instanceType: true, encryptionKeyId: true, encryptionKeyVaultId: true,
  alarmActionGroupId: true, privateEndpointSubnetId: true, privateDnsZoneIds: true,
};
/** The keys of AzureMlTargetOptions, so the spec does not refuse them as unknown. */
export const AZURE_ML_OPTION_KEYS: readonly string[] = Object.keys(OPTION_KEYS);
