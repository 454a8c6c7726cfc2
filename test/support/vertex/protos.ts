/**
 * Vertex AI's v1 API as Google ships it: the .proto SOURCES in @google-cloud/aiplatform's
 * build/protos and google-gax's build/protos (google/longrunning, google/api, google/protobuf),
 * loaded with protobufjs. From the sources, not the package's protos.json: protos.json keeps only the
 * last `google.api.field_behavior` of a field (a field both REQUIRED and IMMUTABLE loses REQUIRED),
 * while protobufjs' `parsedOptions` keeps them all.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as protobuf from 'protobufjs';

export const V1 = 'google.cloud.aiplatform.v1';

export function protoIncludeDirs(): string[] {
  const aiplatform = path.dirname(require.resolve('@google-cloud/aiplatform/package.json'));
  // google-gax has an exports map without ./package.json: go up from its main file (build/src/index.js).
  const gax = path.resolve(path.dirname(require.resolve('google-gax', { paths: [aiplatform] })), '..', '..');
  return [path.join(aiplatform, 'build', 'protos'), path.join(gax, 'build', 'protos')];
}

let cached: protobuf.Root | undefined;

/** ModelService, EndpointService, PredictionService and google.longrunning.Operations, with everything they import. */
export function vertexProtoRoot(): protobuf.Root {
  if (cached) return cached;
  const dirs = protoIncludeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const d of dirs) {
      const p = path.join(d, target);
      if (fs.existsSync(p)) return p;
    }
    return target;
  };
  root.loadSync(
    ['google/cloud/aiplatform/v1/model_service.proto', 'google/cloud/aiplatform/v1/endpoint_service.proto', 'google/cloud/aiplatform/v1/prediction_service.proto', 'google/longrunning/operations.proto'],
    { keepCase: false },
  );
  root.resolveAll();
  cached = root;
  return root;
}

/** Whether the proto source marks the field REQUIRED (among all its field_behavior annotations). */
export function isRequired(field: protobuf.Field): boolean {
  const options = (field.parsedOptions ?? []) as Record<string, unknown>[];
  return options.some(o => o['(google.api.field_behavior)'] === 'REQUIRED');
}

/**
 * What the service would refuse in a request as it arrives on the wire, by path: fields the proto does
 * not have (the re-encoded message is shorter: protobufjs drops unknown fields when decoding), values
 * the proto does not know (`verify`: e.g. an enum number outside the enum), and REQUIRED fields that
 * are missing or at their default (proto3 cannot tell the two apart), in every message that is set.
 */
export function requestProblems(type: protobuf.Type, bytes: Uint8Array): { message: protobuf.Message; problems: string[] } {
  const message = type.decode(bytes);
  const problems: string[] = [];
  const reencoded = type.encode(message).finish();
  if (reencoded.length !== bytes.length) problems.push(`${type.name}: ${bytes.length - reencoded.length} bytes of fields the proto does not have`);
  const verified = type.verify(message);
  if (verified) problems.push(`${type.name}: ${verified}`);
  missingRequired(type, message as unknown as Record<string, unknown>, type.name, problems);
  return { message, problems };
}

function isDefault(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object' && (v as { low?: number; high?: number }).low === 0 && (v as { high?: number }).high === 0) return true; // Long zero
  if (typeof v === 'object' && v.constructor === Object) return Object.keys(v).length === 0; // map
  if (v instanceof Uint8Array) return v.length === 0;
  return false;
}

function missingRequired(type: protobuf.Type, msg: Record<string, unknown>, at: string, problems: string[]): void {
  for (const field of type.fieldsArray) {
    const v = msg[field.name];
    if (isRequired(field) && isDefault(v)) problems.push(`${at}.${field.name} is required`);
    if (!(field.resolvedType instanceof protobuf.Type) || v === undefined || v === null) continue;
    const sub = field.resolvedType;
    if (field.map) for (const [k, x] of Object.entries(v as object)) missingRequired(sub, x, `${at}.${field.name}[${k}]`, problems);
    else if (field.repeated) (v as Record<string, unknown>[]).forEach((x, i) => missingRequired(sub, x, `${at}.${field.name}[${i}]`, problems));
    else missingRequired(sub, v as Record<string, unknown>, `${at}.${field.name}`, problems);
  }
}
