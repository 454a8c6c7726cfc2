/**
 * The Bicep type data of Microsoft.MachineLearningServices 2024-10-01, vendored under
 * scripts/data/azure-ml-arm-types/ (see its README): loading it and looking a resource type up.
 * The same data azapi embeds for its plan-time body validation (internal/azure/types in
 * terraform-provider-azapi); azapi-validator.ts walks it.
 */
import * as fs from 'fs';
import * as path from 'path';

export const ARM_TYPES_FILE = path.join(
  __dirname, '..', '..', '..', 'scripts', 'data', 'azure-ml-arm-types', 'machinelearningservices-2024-10-01.types.json');

/** `{"$ref": "#/N"}`: element N of the array. */
export interface TypeRef { $ref: string }
/** flags: bit 1 Required, 2 ReadOnly, 4 WriteOnly, 8 DeployTimeConstant, 16 Identifier. */
export interface ObjectProperty { type: TypeRef; flags: number; description?: string }

export type ArmType =
  | { $type: 'StringType'; pattern?: string; minLength?: number; maxLength?: number; sensitive?: boolean }
  | { $type: 'StringLiteralType'; value: string }
  | { $type: 'IntegerType'; minValue?: number; maxValue?: number }
  | { $type: 'BooleanType' }
  | { $type: 'AnyType' }
  | { $type: 'ArrayType'; itemType: TypeRef; minLength?: number; maxLength?: number }
  | { $type: 'UnionType'; elements: TypeRef[] }
  | { $type: 'ObjectType'; name: string; properties: Record<string, ObjectProperty>; additionalProperties?: TypeRef; sensitive?: boolean }
  | { $type: 'DiscriminatedObjectType'; name: string; discriminator: string; baseProperties: Record<string, ObjectProperty>; elements: Record<string, TypeRef> }
  | { $type: 'ResourceType'; name: string; body: TypeRef; readableScopes?: number; writableScopes?: number }
  | { $type: 'ResourceFunctionType'; name: string };

export const REQUIRED = 1;
export const READ_ONLY = 2;

let cache: ArmType[] | undefined;

/** The whole array, parsed once. */
export function armTypes(): ArmType[] {
  cache ??= JSON.parse(fs.readFileSync(ARM_TYPES_FILE, 'utf8')) as ArmType[];
  return cache;
}

/** The element a `$ref` points at (TypeReference in azapi's types package). */
export function resolve(ref: TypeRef): ArmType {
  const match = /^#\/(\d+)$/.exec(ref.$ref);
  const found = match ? armTypes()[Number(match[1])] : undefined;
  if (!found) throw new Error(`type reference ${ref.$ref} points at nothing`);
  return found;
}

/** Every `Type@apiVersion` the data holds a ResourceType for. */
export function resourceTypeNames(): string[] {
  return armTypes().flatMap((t) => (t.$type === 'ResourceType' ? [t.name] : []));
}

/**
 * The ResourceType for `Microsoft.MachineLearningServices/workspaces/onlineEndpoints@2024-10-01`
 * and the like; undefined where the data has none. The type is matched without regard to case,
 * as ARM resource types are; the API version exactly.
 */
export function findResourceType(typeWithVersion: string): Extract<ArmType, { $type: 'ResourceType' }> | undefined {
  const [type, version] = splitType(typeWithVersion);
  return armTypes().find((t): t is Extract<ArmType, { $type: 'ResourceType' }> => {
    if (t.$type !== 'ResourceType') return false;
    const [name, apiVersion] = splitType(t.name);
    return name.toLowerCase() === type.toLowerCase() && apiVersion === version;
  });
}

/** `A/b@2024-10-01` to [`A/b`, `2024-10-01`]; the version is '' where there is no `@`. */
export function splitType(typeWithVersion: string): [string, string] {
  const at = typeWithVersion.lastIndexOf('@');
  return at < 0 ? [typeWithVersion, ''] : [typeWithVersion.slice(0, at), typeWithVersion.slice(at + 1)];
}
