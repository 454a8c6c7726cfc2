/**
 * A small typed binding for the azapi Terraform provider (Azure/azapi), which has no prebuilt cdktf
 * bindings: its provider, `azapi_resource` and `azapi_update_resource`. Attributes are written in
 * Terraform's snake_case; `body` is an object (azapi 2.x takes HCL objects, not JSON strings).
 */
import { TerraformMetaArguments, TerraformProvider, TerraformResource, Token } from 'cdktf';
import { Construct } from 'constructs';

/** The provider's registry source and the versions this binding is written for. */
export const AZAPI_PROVIDER = {
  /** The provider's registry address. */
  source: 'Azure/azapi',
  /** The version constraint written into `required_providers`. */
  versionConstraint: '~> 2.5',
} as const;

/** azapi provider settings (all optional: it reads the same environment variables and CLI login as azurerm). */
export interface AzapiProviderConfig {
  /** A provider alias. @default - the default configuration */
  readonly alias?: string;
  /** @default - ARM_SUBSCRIPTION_ID or the CLI's subscription */
  readonly subscriptionId?: string;
  /** @default - ARM_TENANT_ID or the CLI's tenant */
  readonly tenantId?: string;
  /** Authenticate with a managed identity. @default false */
  readonly useMsi?: boolean;
  /** Authenticate with OIDC (workload identity federation). @default false */
  readonly useOidc?: boolean;
  /** Authenticate with the Azure CLI's login. @default true */
  readonly useCli?: boolean;
}

/** The azapi provider. */
export class AzapiProvider extends TerraformProvider {
  constructor(scope: Construct, id: string, private readonly config: AzapiProviderConfig = {}) {
    super(scope, id, {
      terraformResourceType: 'azapi',
      terraformGeneratorMetadata: { providerName: 'azapi', providerVersionConstraint: AZAPI_PROVIDER.versionConstraint },
      terraformProviderSource: AZAPI_PROVIDER.source,
    });
    this.alias = config.alias;
  }

  /** The block's attributes as Terraform JSON (the `TerraformElement` contract). */
  protected synthesizeAttributes(): { [name: string]: unknown } {
    const c = this.config;
    return prune({ alias: this.alias, subscription_id: c.subscriptionId, tenant_id: c.tenantId, use_msi: c.useMsi, use_oidc: c.useOidc, use_cli: c.useCli });
  }
}

/** A managed identity block. */
export interface AzapiIdentity {
  /** The identity kind. */
  readonly type: 'SystemAssigned' | 'UserAssigned' | 'SystemAssigned, UserAssigned';
  /** User-assigned identity ids, for `UserAssigned`. @default - none */
  readonly identityIds?: string[];
}

/** Settings of one `azapi_resource`. Type the body with the interfaces of bodies.ts before passing it. */
export interface AzapiResourceConfig extends TerraformMetaArguments {
  /** `PROVIDER/TYPE@API_VERSION`. */
  readonly type: string;
  /** The resource's name. */
  readonly name: string;
  /** The parent resource's id (a workspace, an endpoint, a resource group). */
  readonly parentId: string;
  /** The region, for tracked resources. @default - none (proxy resources) */
  readonly location?: string;
  /** The request body, less name, location, tags and identity. */
  readonly body: object;
  /** The managed identity. @default - none */
  readonly identity?: AzapiIdentity;
  /** Tags. @default - none */
  readonly tags?: Record<string, string>;
  /** Paths of the response that `output` exposes, e.g. `properties.scoringUri`. @default - none */
  readonly responseExportValues?: string[];
}

/** Settings of one `azapi_update_resource`: a PATCH-like update of part of an existing resource's body. */
export interface AzapiUpdateResourceConfig extends TerraformMetaArguments {
  /** `PROVIDER/TYPE@API_VERSION`. */
  readonly type: string;
  /** The id of the resource to update. */
  readonly resourceId: string;
  /** The part of the body to set. */
  readonly body: object;
  /** Paths of the response that `output` exposes. @default - none */
  readonly responseExportValues?: string[];
}

abstract class AzapiResourceBase extends TerraformResource {
  constructor(scope: Construct, id: string, terraformResourceType: string, meta: TerraformMetaArguments) {
    super(scope, id, {
      terraformResourceType,
      terraformGeneratorMetadata: { providerName: 'azapi', providerVersionConstraint: AZAPI_PROVIDER.versionConstraint },
      provider: meta.provider, dependsOn: meta.dependsOn, count: meta.count, lifecycle: meta.lifecycle, forEach: meta.forEach,
    });
  }

  /** The resource id. */
  public get id(): string {
    return this.getStringAttribute('id');
  }

  /** A value of the response exported with `responseExportValues`, e.g. `output('properties.scoringUri')`. */
  public output(path: string): string {
    return Token.asString(this.interpolationForAttribute(`output.${path}`));
  }
}

/** `azapi_resource`: creates, updates and deletes one ARM resource from its body. */
export class AzapiResource extends AzapiResourceBase {
  /** The Terraform resource type. */
  public static readonly tfResourceType = 'azapi_resource';

  /** The resource's name, as written. */
  public readonly name: string;
  /** The body as written. */
  public readonly body: object;

  constructor(scope: Construct, id: string, private readonly config: AzapiResourceConfig) {
    super(scope, id, AzapiResource.tfResourceType, config);
    this.name = config.name;
    this.body = config.body;
  }

  /** The principal id of the system-assigned identity (with `identity.type` SystemAssigned). */
  public get identityPrincipalId(): string {
    return this.getStringAttribute('identity.0.principal_id');
  }

  /** The block's attributes as Terraform JSON (the `TerraformElement` contract). */
  protected synthesizeAttributes(): { [name: string]: unknown } {
    const c = this.config;
    return prune({
      type: c.type,
      name: c.name,
      parent_id: c.parentId,
      location: c.location,
      body: c.body,
      identity: c.identity ? [prune({ type: c.identity.type, identity_ids: c.identity.identityIds })] : undefined,
      tags: c.tags && Object.keys(c.tags).length > 0 ? c.tags : undefined,
      response_export_values: c.responseExportValues,
    });
  }
}

/** `azapi_update_resource`: sets part of an existing resource's body; removing it changes nothing in Azure. */
export class AzapiUpdateResource extends AzapiResourceBase {
  /** The Terraform resource type. */
  public static readonly tfResourceType = 'azapi_update_resource';

  /** The body as written. */
  public readonly body: object;

  constructor(scope: Construct, id: string, private readonly config: AzapiUpdateResourceConfig) {
    super(scope, id, AzapiUpdateResource.tfResourceType, config);
    this.body = config.body;
  }

  /** The block's attributes as Terraform JSON (the `TerraformElement` contract). */
  protected synthesizeAttributes(): { [name: string]: unknown } {
    const c = this.config;
    return prune({ type: c.type, resource_id: c.resourceId, body: c.body, response_export_values: c.responseExportValues });
  }
}

/** Settings of one `azapi_resource_action`: one request to an existing resource, at apply or at destroy. */
export interface AzapiResourceActionConfig extends TerraformMetaArguments {
  /** `PROVIDER/TYPE@API_VERSION` of the resource the request goes to. */
  readonly type: string;
  /** The id of that resource. */
  readonly resourceId: string;
  /** The HTTP method. */
  readonly method: 'POST' | 'PUT' | 'PATCH' | 'GET' | 'DELETE';
  /** The request body (with PUT: the whole resource, as for azapi_resource, location and identity included). */
  readonly body: object;
  /** When the request is sent: at apply, or when this resource is destroyed. */
  readonly when: 'apply' | 'destroy';
}

/**
 * `azapi_resource_action`: one request to the resource itself (no `action` path). With `when:
 * 'destroy'` the request is sent when Terraform destroys this resource, which is before whatever
 * it depends on is destroyed: a hook that runs in the provider, so unlike a destroy provisioner it
 * also runs for a replaced object.
 */
export class AzapiResourceAction extends AzapiResourceBase {
  /** The Terraform resource type. */
  public static readonly tfResourceType = 'azapi_resource_action';

  /** The body as written. */
  public readonly body: object;

  constructor(scope: Construct, id: string, private readonly config: AzapiResourceActionConfig) {
    super(scope, id, AzapiResourceAction.tfResourceType, config);
    this.body = config.body;
  }

  /** The block's attributes as Terraform JSON (the `TerraformElement` contract). */
  protected synthesizeAttributes(): { [name: string]: unknown } {
    const c = this.config;
    return prune({ type: c.type, resource_id: c.resourceId, method: c.method, body: c.body, when: c.when });
  }
}

function prune(o: { [name: string]: unknown }): { [name: string]: unknown } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
