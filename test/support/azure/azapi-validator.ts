/**
 * What azapi checks in a body before Terraform plans it, without the provider binary; then the rules
 * the type data leaves open, which are ours.
 *
 * Part 1 ports terraform-provider-azapi (Azure/terraform-provider-azapi, 2.x):
 * - internal/azure/types/*.go: each type's `Validate(body attr.Value, path string) []error`;
 * - internal/azure/utils/errors.go: the messages, word for word, and getSuggestion/editDistance;
 * - internal/services: `schemaValidate(config)`, which merges name, location, tags and identity into
 *   the body, validates it from the ResourceType down and drops "`location` is required" and
 *   "`tags` is required"; `validateDuplicatedDefinitions` and `DynamicIsNotStringValidator`, which
 *   run before it in `AzapiResource.ValidateConfig`.
 * Differences, none of which changes whether a body passes: azapi joins the errors into one message
 * ("embedded schema validation failed: the argument "body" is invalid: ..."), here each is an entry;
 * Go ranges over maps in random order, so its errors and its "Do you mean" pick among ties come in
 * any order, here in the order of the body and of the type data; Go's RE2 patterns run as JavaScript
 * regular expressions (the same for the patterns this data holds); and the data here holds one API
 * version, so another version is refused listing only that one.
 * Not ported: the plan-time checks outside the body (parent_id and identity block validators,
 * default name, location and tags, preflight), which need the provider's configuration.
 *
 * Found while porting: azapi_update_resource has no plan-time body validation at all (neither 1.x
 * nor 2.x calls schemaValidate for it); at apply it merges the body into the resource it reads and
 * drops, through GetWriteOnly, the keys the type does not define or marks read only, so a misspelt
 * key is lost without an error. Checking update bodies is therefore one of our rules (part 2).
 *
 * Part 2, our rules: closed values for the open-ended enums we use, ISO-8601 durations, integers
 * where azapi lets any number through, endpoint and deployment names, traffic and mirror traffic.
 */
import { ArmType, ObjectProperty, READ_ONLY, REQUIRED, findResourceType, resolve, resourceTypeNames, splitType } from './arm-types';

// ---------------------------------------------------------------------------------------------
// Part 1: the port of azapi.
// ---------------------------------------------------------------------------------------------

// internal/azure/utils/errors.go; each trims one leading '.' from the path (strings.TrimPrefix).
const trim = (key: string) => key.replace(/^\./, '');
const errorCommon = (key: string, message: string) => `\`${trim(key)}\` is invalid, ${message}`;
const errorMismatch = (key: string, expected: string, actual: string) =>
  `\`${trim(key)}\` is invalid, expect \`${expected}\` but got \`${actual}\``;
const errorNotMatchAny = (key: string) => `\`${trim(key)}\` doesn't match any accepted values`;
const errorNotMatchAnyValues = (key: string, value: string, options: string[]) =>
  `\`${trim(key)}\`'s value \`${value}\` is invalid. The supported values are [${options.join(', ')}]. Do you mean \`${getSuggestion(value, options)}\`? `;
const errorShouldNotDefineReadOnly = (key: string) => `\`${trim(key)}\` is not expected here, it's read only`;
const errorShouldNotDefine = (key: string, options: string[]) =>
  `\`${trim(key)}\` is not expected here. Do you mean \`${trim(getSuggestion(key, options))}\`? `;
const errorShouldDefine = (key: string) => `\`${trim(key)}\` is required, but no definition was found`;

/** getSuggestion: the first option at the smallest editDistance. */
function getSuggestion(value: string, options: string[]): string {
  let suggestion = '';
  let distance = 1 << 16;
  for (const option of options) {
    const d = editDistance(value, option);
    if (d < distance) [distance, suggestion] = [d, option];
  }
  return suggestion;
}

/** editDistance as azapi writes it: row 0 and column 0 stay 0, so a prefix or a suffix is free. */
function editDistance(a: string, b: string): number {
  const f = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i && j ? 1 << 16 : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      if (a[i - 1] === b[j - 1]) f[i][j] = f[i - 1][j - 1];
      f[i][j] = Math.min(f[i][j], f[i - 1][j] + 1, f[i][j - 1] + 1, f[i - 1][j - 1] + 1);
    }
  }
  return f[a.length][b.length];
}

/** A value Terraform does not know before apply: a cdktf token or any `${...}` interpolation. */
export function isUnknown(value: unknown): boolean {
  return typeof value === 'string' && /(^|[^$])\$\{/.test(value);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `%T` of the terraform-plugin-framework value a JSON value becomes. */
function goType(value: unknown): string {
  if (typeof value === 'string') return 'basetypes.StringValue';
  if (typeof value === 'number') return 'basetypes.NumberValue';
  if (typeof value === 'boolean') return 'basetypes.BoolValue';
  if (Array.isArray(value)) return 'basetypes.TupleValue';
  return value === null ? 'basetypes.DynamicValue' : 'basetypes.ObjectValue';
}

/** `partial`: our relaxation for update bodies (part 2); azapi itself never sets it. */
interface Mode { partial: boolean }

/** TypeBase.Validate, dispatched on `$type`. Every Validate returns nothing for null or unknown values. */
function validateType(type: ArmType, body: unknown, path: string, mode: Mode): string[] {
  if (body === null || body === undefined || isUnknown(body)) return [];
  switch (type.$type) {
    case 'StringType': return validateString(type, body, path);
    case 'StringLiteralType': // StringLiteralType.Validate
      if (typeof body !== 'string') return [errorMismatch(path, 'string', goType(body))];
      return body === type.value ? [] : [errorMismatch(path, type.value, body)];
    case 'IntegerType': // IntegerType.Validate: a Terraform number (any JSON number) is let through,
      // min and max unchecked (the TODO about bicep-types-az#1404); only a non-number fails.
      return typeof body === 'number' ? [] : [errorMismatch(path, 'integer', goType(body))];
    case 'BooleanType': // BooleanType.Validate and AnyType.Validate return nil for anything.
    case 'AnyType':
      return [];
    case 'ArrayType': return validateArray(type, body, path, mode);
    case 'UnionType': return validateUnion(type, body, path, mode);
    case 'ObjectType': return validateObject(type, body, path, mode);
    case 'DiscriminatedObjectType': return validateDiscriminated(type, body, path, mode);
    case 'ResourceType': return validateType(resolve(type.body), body, path, mode); // ResourceType.Validate
    default: return [];
  }
}

/** StringType.Validate: length in bytes (Go's len), then the pattern; a pattern that does not compile is skipped. */
function validateString(type: Extract<ArmType, { $type: 'StringType' }>, body: unknown, path: string): string[] {
  if (typeof body !== 'string') return [errorMismatch(path, 'string', goType(body))];
  const length = Buffer.byteLength(body, 'utf8');
  if (type.minLength !== undefined && length < type.minLength) return [errorCommon(path, `string length is less than ${type.minLength}`)];
  if (type.maxLength !== undefined && length > type.maxLength) return [errorCommon(path, `string length is greater than ${type.maxLength}`)];
  if (type.pattern) {
    let pattern: RegExp;
    try { pattern = new RegExp(type.pattern); } catch { return []; }
    if (!pattern.test(body)) return [errorCommon(path, `string does not match pattern ${type.pattern}`)];
  }
  return [];
}

/** ArrayType.Validate: a non-array is reported and counts as empty for the length checks. */
function validateArray(type: Extract<ArmType, { $type: 'ArrayType' }>, body: unknown, path: string, mode: Mode): string[] {
  const errors = Array.isArray(body) ? [] : [errorMismatch(path, 'array', goType(body))];
  const items = Array.isArray(body) ? body : [];
  if (type.minLength !== undefined && items.length < type.minLength) errors.push(errorCommon(path, `array length is less than ${type.minLength}`));
  if (type.maxLength !== undefined && items.length > type.maxLength) errors.push(errorCommon(path, `array length is greater than ${type.maxLength}`));
  items.forEach((item, i) => errors.push(...validateType(resolve(type.itemType), item, `${path}.${i}`, mode)));
  return errors;
}

/** UnionType.Validate: valid if any element is; otherwise one error listing the string literals. */
function validateUnion(type: Extract<ArmType, { $type: 'UnionType' }>, body: unknown, path: string, mode: Mode): string[] {
  const elements = type.elements.map(resolve);
  if (elements.some((element) => validateType(element, body, path, mode).length === 0)) return [];
  const options = elements.flatMap((e) => (e.$type === 'StringLiteralType' ? [e.value] : []));
  if (options.length === 0) return [errorNotMatchAny(path)];
  return [errorNotMatchAnyValues(path, typeof body === 'string' ? body : '', options)];
}

/** The property loop ObjectType.Validate and DiscriminatedObjectType.Validate share. */
function validateProperty(property: ObjectProperty, value: unknown, path: string, mode: Mode): string[] {
  if (property.flags & READ_ONLY) return [errorShouldNotDefineReadOnly(path)];
  return validateType(resolve(property.type), value, path, mode);
}

/** ObjectType.Validate: defined keys, additionalProperties or "not expected", then the required keys. */
function validateObject(type: Extract<ArmType, { $type: 'ObjectType' }>, body: unknown, path: string, mode: Mode): string[] {
  if (!isObject(body)) return [errorMismatch(path, 'object', goType(body))];
  const errors: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (Object.hasOwn(type.properties, key)) errors.push(...validateProperty(type.properties[key], value, `${path}.${key}`, mode));
    else if (type.additionalProperties) errors.push(...validateType(resolve(type.additionalProperties), value, `${path}.${key}`, mode));
    else errors.push(errorShouldNotDefine(`${path}.${key}`, Object.keys(type.properties).map((k) => `${path}.${k}`)));
  }
  for (const [key, property] of Object.entries(type.properties)) {
    // A missing top-level `name` is never reported: azapi supplies it.
    if (property.flags & REQUIRED && !Object.hasOwn(body, key) && !(path === '' && key === 'name') && !mode.partial) {
      errors.push(errorShouldDefine(`${path}.${key}`));
    }
  }
  return errors;
}

/**
 * DiscriminatedObjectType.Validate: base properties as in an object; the other keys, discriminator
 * included, go to the element the discriminator names, validated at the same path. The value of an
 * unknown discriminator reads as '' (ValueString of an unknown String), which names no element.
 */
function validateDiscriminated(type: Extract<ArmType, { $type: 'DiscriminatedObjectType' }>, body: unknown, path: string, mode: Mode): string[] {
  if (!isObject(body)) return [errorMismatch(path, 'object', goType(body))];
  const errors: string[] = [];
  const others: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (Object.hasOwn(type.baseProperties, key)) errors.push(...validateProperty(type.baseProperties[key], value, `${path}.${key}`, mode));
    else others[key] = value;
  }
  for (const [key, property] of Object.entries(type.baseProperties)) {
    if (property.flags & REQUIRED && !Object.hasOwn(body, key) && !mode.partial) errors.push(errorShouldDefine(`${path}.${key}`));
  }
  const discriminatorPath = `${path}.${type.discriminator}`;
  if (!Object.hasOwn(others, type.discriminator)) {
    if (!mode.partial) return [...errors, errorShouldDefine(discriminatorPath)];
    // Ours (update bodies): no discriminator, so keep the element that fits the other keys best.
    const tries = Object.values(type.elements).map((ref) => validateType(resolve(ref), others, path, mode));
    return [...errors, ...tries.reduce((best, e) => (e.length < best.length ? e : best), tries[0] ?? [])];
  }
  const discriminator = others[type.discriminator];
  if (typeof discriminator !== 'string') return [...errors, errorMismatch(discriminatorPath, 'string', goType(discriminator))];
  const value = isUnknown(discriminator) ? '' : discriminator;
  const element = Object.hasOwn(type.elements, value) ? type.elements[value] : undefined;
  if (!element) return [...errors, errorNotMatchAnyValues(discriminatorPath, value, Object.keys(type.elements))];
  return [...errors, ...validateType(resolve(element), others, path, mode)];
}

/** The identity block of azapi_resource: `type` and `identity_ids` (cdktf may write it as a list of one). */
export interface AzapiIdentity { type?: string; identity_ids?: string[] }
/** The azapi_resource arguments schemaValidate merges into the body. */
export interface AzapiExtras { name?: string; location?: string; tags?: object; identity?: AzapiIdentity }

const NOT_A_STRING = 'The value must not be a string. From 2.0, the value only accepts an HCL object. Please refer to the '
  + 'documentation for more information: https://registry.terraform.io/providers/Azure/azapi/latest/docs/guides/2.0-upgrade-guide#dynamic-properties-support';

/**
 * Every error azapi reports for an `azapi_resource` of `type` (`...@2024-10-01`) with this body and
 * these arguments at validate and plan time: AzapiResource.ValidateConfig's DynamicIsNotStringValidator,
 * validateDuplicatedDefinitions and schemaValidate. [] when azapi would accept it.
 */
export function validateAzapiBody(type: string, body: unknown, extras: AzapiExtras = {}): string[] {
  if (typeof body === 'string' && !isUnknown(body)) return [`\`body\`: ${NOT_A_STRING}`];
  const duplicates = (['tags', 'location', 'identity'] as const)
    .filter((key) => extras[key] !== undefined && !isUnknown(extras[key]) && isObject(body) && body[key] !== undefined && body[key] !== null)
    .map((key) => `can't specify both the argument "${key}" and "${key}" in the argument "body"`);
  if (duplicates.length) return duplicates;

  const definition = findDefinition(type);
  if (typeof definition === 'string') return [definition];
  if (!isObject(body)) return validateType(definition, body, '', { partial: false });
  const merged: Record<string, unknown> = { ...body, name: extras.name ?? null };
  if (extras.location !== undefined) merged.location = extras.location;
  if (extras.tags !== undefined) merged.tags = extras.tags;
  if (extras.identity !== undefined) {
    const ids = extras.identity.identity_ids ?? [];
    merged.identity = { type: extras.identity.type, ...(ids.length ? { userAssignedIdentities: Object.fromEntries(ids.map((id) => [id, null])) } : {}) };
  }
  // "skip error that location is not in the body, because user might use the default location feature; same for tags"
  return validateType(definition, merged, '', { partial: false })
    .filter((e) => !e.includes('`location` is required') && !e.includes('`tags` is required'));
}

/** schemaValidate's checks of `type`; a message where azapi would stop there, else the ResourceType. */
function findDefinition(type: string): string | ArmType {
  // utils.GetAzureResourceTypeApiVersion: exactly one '@'.
  if (type.split('@').length !== 2) return 'the argument "type" is invalid: `type` is invalid, it should be like `ResourceProvider/resourceTypes@ApiVersion`';
  const [resourceType] = splitType(type);
  const definition = findResourceType(type);
  if (definition) return definition;
  const versions = resourceTypeNames().map(splitType).filter(([t]) => t.toLowerCase() === resourceType.toLowerCase()).map(([, v]) => v);
  if (!resourceType.toLowerCase().startsWith('microsoft.machinelearningservices/')) {
    return `no type data here for ${resourceType}: scripts/data/azure-ml-arm-types holds Microsoft.MachineLearningServices only`;
  }
  if (versions.length === 0) return `the argument "type" is invalid.\n resource type ${resourceType} can't be found.\n`;
  return `the argument "type"'s api-version is invalid.\n The supported versions are [${versions.join(', ')}].\n`;
}

// ---------------------------------------------------------------------------------------------
// Part 2: our rules, for what the type data leaves open. None of these is an azapi check.
// ---------------------------------------------------------------------------------------------

const ENDPOINT = 'microsoft.machinelearningservices/workspaces/onlineendpoints';
const DEPLOYMENT = `${ENDPOINT}/deployments`;
const baseType = (type: unknown) => (typeof type === 'string' ? splitType(type)[0].toLowerCase() : '');

/** ISO-8601 durations as ARM reads them (PT5S, PT0.5S, PT1M30S, P1D); not "5s", "5000" or "PT". */
const DURATION = /^P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?D)?(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$/;
/**
 * Online endpoint and deployment names: 3 to 32 characters, a letter first, then letters, digits and
 * hyphens, not ending in a hyphen. azure-ai-ml validate_endpoint_or_deployment_name
 * (entities/_endpoint/_endpoint_helpers.py) with EndpointConfigurations (constants/_endpoint.py);
 * the type data allows ^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$.
 */
const NAME = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'].map((probe) => `properties.${probe}`);
const ROUTES = ['livenessRoute', 'readinessRoute', 'startupRoute', 'scoringRoute'].map((route) => `properties.inferenceConfig.${route}`);

interface OwnRules {
  /** Whose naming rule `name` follows. */
  name?: 'online endpoint' | 'online deployment';
  /** Closed sets for enums the type data leaves open (a union with a plain string). */
  closed?: Record<string, string[]>;
  durations?: string[];
  /** Where Azure wants an integer; azapi lets any number through IntegerType. */
  integers?: string[];
  /** azapi's BooleanType accepts any value. */
  booleans?: string[];
}

/**
 * Per resource type. Closed values: the Known* enums of @azure/arm-machinelearning 2.1.1
 * (KnownEndpointAuthMode, KnownPublicNetworkAccessType, KnownEgressPublicNetworkAccessType,
 * KnownOperatingSystemType); modelType: the model asset types of azure-ai-ml (custom_model,
 * mlflow_model, triton_model; the SDK types it as a plain string); sku.name: azure-ai-ml always
 * sends "Default" for an online deployment (online_deployment.py). endpointComputeType and
 * scaleType need no rule: the discriminators already close them (Managed or Kubernetes; Default or
 * TargetUtilization).
 */
const OWN_RULES: Record<string, OwnRules> = {
  [ENDPOINT]: {
    name: 'online endpoint',
    closed: { 'properties.authMode': ['Key', 'AMLToken', 'AADToken'], 'properties.publicNetworkAccess': ['Enabled', 'Disabled'] },
  },
  [DEPLOYMENT]: {
    name: 'online deployment',
    closed: { 'properties.egressPublicNetworkAccess': ['Enabled', 'Disabled'], 'sku.name': ['Default'] },
    durations: ['properties.requestSettings.requestTimeout', 'properties.requestSettings.maxQueueWait', 'properties.scaleSettings.pollingInterval',
      ...PROBES.flatMap((p) => [`${p}.initialDelay`, `${p}.period`, `${p}.timeout`])],
    integers: ['sku.capacity', 'properties.requestSettings.maxConcurrentRequestsPerInstance',
      ...PROBES.flatMap((p) => [`${p}.failureThreshold`, `${p}.successThreshold`]),
      ...['minInstances', 'maxInstances', 'targetUtilizationPercentage'].map((k) => `properties.scaleSettings.${k}`)],
    booleans: ['properties.appInsightsEnabled'],
  },
  'microsoft.machinelearningservices/workspaces/environments/versions': {
    closed: { 'properties.osType': ['Linux', 'Windows'] },
    integers: ROUTES.map((route) => `${route}.port`),
    booleans: ['properties.isAnonymous', 'properties.isArchived'],
  },
  'microsoft.machinelearningservices/workspaces/models/versions': {
    closed: { 'properties.modelType': ['custom_model', 'mlflow_model', 'triton_model'] },
    booleans: ['properties.isAnonymous', 'properties.isArchived'],
  },
};

/** The known value at a dotted path, or undefined. */
function at(body: unknown, path: string): unknown {
  const value = path.split('.').reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), body);
  return value === null || isUnknown(value) ? undefined : value;
}

/** Our rules for one body of `type` (and the resource's name, where a rule covers it). */
export function validateOwnRules(type: string, body: unknown, extras: { name?: string } = {}): string[] {
  const rules = OWN_RULES[baseType(type)];
  if (!rules) return [];
  const errors: string[] = [];
  const { name } = extras;
  if (rules.name && typeof name === 'string' && !isUnknown(name) && (name.length < 3 || name.length > 32 || !NAME.test(name))) {
    errors.push(`\`name\` \`${name}\` is not a valid ${rules.name} name: 3 to 32 characters, a letter first, then letters, digits and hyphens, not ending in a hyphen`);
  }
  for (const [path, values] of Object.entries(rules.closed ?? {})) {
    const value = at(body, path);
    if (typeof value === 'string' && !values.includes(value)) errors.push(`\`${path}\`'s value \`${value}\` is not one of [${values.join(', ')}]`);
  }
  for (const path of rules.durations ?? []) {
    const value = at(body, path);
    if (value !== undefined && !(typeof value === 'string' && DURATION.test(value))) {
      errors.push(`\`${path}\` is ${JSON.stringify(value)}, not an ISO-8601 duration such as "PT5S"`);
    }
  }
  for (const path of rules.integers ?? []) {
    const value = at(body, path);
    if (typeof value === 'number' && !Number.isInteger(value)) errors.push(`\`${path}\` is ${value}, not an integer`);
  }
  for (const path of rules.booleans ?? []) {
    const value = at(body, path);
    if (value !== undefined && typeof value !== 'boolean') errors.push(`\`${path}\` is ${JSON.stringify(value)}, not a boolean`);
  }
  return errors;
}

/** One `azapi_resource` or `azapi_update_resource` of a synthesized cdktf stack. */
interface AzapiConfig {
  type?: string; name?: string; parent_id?: string; resource_id?: string; location?: string; tags?: object;
  identity?: AzapiIdentity | AzapiIdentity[]; body?: unknown; schema_validation_enabled?: boolean;
}

/**
 * Every error in the azapi bodies of a synthesized cdktf stack (the parsed cdk.tf.json), each
 * prefixed with the resource's address; `[own rule]` marks ours. azapi_resource: azapi's checks,
 * then ours. azapi_update_resource: azapi checks nothing before apply but a string body, so ours
 * stand in: the body against the type with required keys relaxed, then the per-body rules. Traffic
 * and mirror traffic: see trafficErrors.
 */
export function validateAzapiStack(tfJson: object): string[] {
  const resources = isObject((tfJson as { resource?: unknown }).resource) ? (tfJson as { resource: Record<string, unknown> }).resource : {};
  const created = (isObject(resources.azapi_resource) ? resources.azapi_resource : {}) as Record<string, AzapiConfig>;
  const updates = (isObject(resources.azapi_update_resource) ? resources.azapi_update_resource : {}) as Record<string, AzapiConfig>;
  const actions = (isObject(resources.azapi_resource_action) ? resources.azapi_resource_action : {}) as Record<string, AzapiConfig & { method?: string; action?: string }>;
  const errors: string[] = [];
  const report = (address: string, own: boolean, messages: string[]) =>
    errors.push(...messages.map((m) => `${address}: ${own ? '[own rule] ' : ''}${m}`));

  for (const [id, r] of Object.entries(created)) {
    const address = `azapi_resource.${id}`;
    const type = r.type ?? '';
    if (r.schema_validation_enabled === false) {
      report(address, true, ['schema_validation_enabled = false turns azapi\'s body check off']);
    } else {
      const identity = Array.isArray(r.identity) ? r.identity[0] : r.identity;
      report(address, false, validateAzapiBody(type, r.body, { name: r.name, location: r.location, tags: r.tags, identity }));
    }
    report(address, true, validateOwnRules(type, r.body, { name: r.name }));
    const props = at(r.body, 'properties');
    if (baseType(type) === ENDPOINT && isObject(props) && [props.traffic, props.mirrorTraffic].some((m) => isObject(m) && Object.keys(m).length)) {
      report(address, true, ['`properties.traffic` and `properties.mirrorTraffic` can only name deployments that exist, and the '
        + 'deployments are created after their endpoint: set them with an azapi_update_resource that depends on the deployments']);
    }
  }
  for (const [id, r] of Object.entries(updates)) {
    const address = `azapi_update_resource.${id}`;
    const type = r.type ?? '';
    if (typeof r.body === 'string' && !isUnknown(r.body)) {
      report(address, false, [`\`body\`: ${NOT_A_STRING}`]);
      continue;
    }
    const definition = findDefinition(type);
    report(address, true, typeof definition === 'string' ? [definition] : validateType(definition, r.body, '', { partial: true }));
    report(address, true, validateOwnRules(type, r.body));
    if (baseType(type) === ENDPOINT) report(address, true, trafficErrors(at(r.body, 'properties'), r.resource_id, created));
  }
  // azapi_resource_action: azapi sends the body as it is, unchecked. A PUT to the resource itself
  // (no action path) replaces the whole resource, so ours hold it to the type like a create.
  for (const [id, r] of Object.entries(actions)) {
    const address = `azapi_resource_action.${id}`;
    const type = r.type ?? '';
    if (r.method !== 'PUT' || (r.action ?? '') !== '') continue;
    // The body is the whole resource in ARM's shape (location, tags and identity inside); the name is in the id.
    report(address, true, validateAzapiBody(type, r.body, { name: 'from-the-resource-id' }));
    report(address, true, validateOwnRules(type, r.body));
    if (baseType(type) === ENDPOINT) report(address, true, trafficErrors(at(r.body, 'properties'), r.resource_id, created));
  }
  return errors;
}

/**
 * Ours: live traffic is whole percentages that sum to 100 (or no entries); mirror traffic goes to
 * one deployment and sums to at most 50 (the type data's own descriptions: "Traffic values need to
 * sum to 100", "... to utmost 50"; one mirrored deployment: Azure ML's safe-rollout guide). Every
 * key must name a deployment this stack creates under the endpoint (`resource_id` matched against
 * the deployments' `parent_id`; all the stack's deployments where none matches). A key may be a
 * deployment's literal name or `${azapi_resource.<id>.name}`.
 */
function trafficErrors(properties: unknown, endpointId: string | undefined, created: Record<string, AzapiConfig>): string[] {
  if (!isObject(properties)) return [];
  const all = Object.entries(created).filter(([, r]) => baseType(r.type) === DEPLOYMENT);
  const underEndpoint = all.filter(([, r]) => endpointId !== undefined && r.parent_id === endpointId);
  const deployments = underEndpoint.length ? underEndpoint : all;
  const names = deployments.map(([, r]) => r.name);
  const exists = (key: string) => {
    const ref = /^\$\{azapi_resource\.([\w-]+)\.name\}$/.exec(key);
    if (ref) return deployments.some(([id]) => id === ref[1]);
    return names.includes(key) || names.some((n) => typeof n !== 'string' || isUnknown(n)) || isUnknown(key);
  };
  const errors: string[] = [];
  for (const field of ['traffic', 'mirrorTraffic'] as const) {
    const map = properties[field];
    if (!isObject(map)) continue;
    const path = `properties.${field}`;
    const entries = Object.entries(map);
    for (const [key, value] of entries) {
      if (!exists(key)) errors.push(`\`${path}.${key}\` names a deployment this stack does not create under the endpoint (it creates: ${names.join(', ') || 'none'})`);
      if (typeof value === 'number' && !Number.isInteger(value)) errors.push(`\`${path}.${key}\` is ${value}, not a whole percentage`);
    }
    const values = entries.map(([, v]) => v);
    if (!values.every((v) => typeof v === 'number')) continue; // unknown or wrong-typed values: nothing to add up
    const sum = (values as number[]).reduce((a, b) => a + b, 0);
    if (field === 'traffic' && entries.length && sum !== 100) errors.push(`\`${path}\` sums to ${sum}, not 100`);
    if (field === 'mirrorTraffic' && sum > 50) errors.push(`\`${path}\` sums to ${sum}, more than 50`);
    if (field === 'mirrorTraffic' && values.filter((v) => v !== 0).length > 1) errors.push(`\`${path}\` mirrors to more than one deployment`);
  }
  return errors;
}
