import { AnyMap, TerraformMetaArguments, TerraformResource, anyToHclTerraform, anyToTerraform, hashMapper, hashMapperHcl } from 'cdktf';
import { Construct } from 'constructs';

/** Settings of a {@link TerraformData}: as cdktf's DataConfig. */
export interface TerraformDataConfig extends TerraformMetaArguments {
  /** Stored in the state and reflected in `output` after apply. @default - none */
  readonly input?: { [key: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any -- as DataConfig: any JSON-able object
  /** Replaces the resource when it changes. @default - none */
  readonly triggersReplace?: { [key: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any -- as DataConfig
}

/**
 * Terraform's built-in `terraform_data`, written exactly as cdktf's DataResource writes it, minus the
 * Terraform version check DataResource adds to every instance: that check runs `terraform version` in
 * a child process per instance when the app synthesizes (about 50 ms each, measured by the bench), and
 * makes synth fail on a machine without terraform, which synth does not need.
 */
export class TerraformData extends TerraformResource {
  private readonly outputMap = new AnyMap(this, 'output');

  constructor(scope: Construct, id: string, private readonly config: TerraformDataConfig = {}) {
    super(scope, id, {
      terraformResourceType: 'terraform_data',
      terraformGeneratorMetadata: { providerName: 'terraform' },
      provider: config.provider,
      dependsOn: config.dependsOn,
      count: config.count,
      lifecycle: config.lifecycle,
      provisioners: config.provisioners,
      connection: config.connection,
      forEach: config.forEach,
    });
  }

  /** The resource id (a random UUID Terraform assigns). */
  public get id(): string {
    return this.getStringAttribute('id');
  }

  /** `input`, as stored after apply. */
  public get output(): AnyMap {
    return this.outputMap;
  }

  /** The resource's attributes as Terraform JSON (the `TerraformElement` contract). */
  protected synthesizeAttributes(): { [name: string]: unknown } {
    return {
      input: hashMapper(anyToTerraform)(this.config.input),
      triggers_replace: hashMapper(anyToTerraform)(this.config.triggersReplace),
    };
  }

  /** The resource's attributes for cdktf's HCL output, with their types. */
  protected synthesizeHclAttributes(): { [name: string]: unknown } {
    return {
      input: hashMapperHcl(anyToHclTerraform)(this.config.input),
      triggers_replace: hashMapperHcl(anyToHclTerraform)(this.config.triggersReplace),
    };
  }
}
