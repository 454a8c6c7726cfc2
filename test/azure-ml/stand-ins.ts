/**
 * The synthesized Azure ML stack for the REAL terraform: azapi and azurerm cannot be downloaded here,
 * so every resource and data source becomes a built-in `terraform_data` stand-in that keeps what
 * decides the order: the same references (to `.id`), `depends_on`, `for_each`,
 * `create_before_destroy`, and a `triggers_replace` on the resource's name (azapi and azurerm
 * replace a resource whose name changes; any other change is an update, as the body of the traffic
 * update). The target's own terraform_data (the verification) is kept as it is, references rewritten.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FIXTURE } from './support';
const REF = /((?:data\.)?(?:azurerm|azapi)_[a-z_]+\.[A-Za-z0-9_-]+)(?:\.[A-Za-z0-9_.]+)?/g;
export const mangle = (address: string) => address.replace(/\./g, '__');

/** References inside `${...}` now point at the stand-in's id (in object keys too, which Terraform also evaluates); escaped `$${` is left alone. */
export function rewrite(value: unknown): unknown {
  if (typeof value === 'string') {
    return value.replace(/(?<!\$)\$\{([^}]*)\}/g, (_, expr: string) => `\${${expr.replace(REF, (_m, address: string) => `terraform_data.${mangle(address)}.id`)}}`);
  }
  if (Array.isArray(value)) return value.map(rewrite);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [rewrite(k) as string, rewrite(v)]));
  return value;
}

/** The stack with every azurerm and azapi resource and data source replaced by a terraform_data stand-in. */
export function standIns(json: any): object {
  const out: Record<string, object> = {};
  const add = (address: string, config: any) => {
    const { depends_on: dependsOn, lifecycle, for_each: forEach, ...attributes } = config;
    out[mangle(address)] = {
      input: rewrite(attributes),
      ...(attributes.name !== undefined ? { triggers_replace: rewrite(attributes.name) } : {}),
      ...(forEach !== undefined ? { for_each: rewrite(forEach) } : {}),
      ...(dependsOn ? { depends_on: dependsOn.map((d: string) => `terraform_data.${mangle(d)}`) } : {}),
      ...(lifecycle?.create_before_destroy ? { lifecycle: { create_before_destroy: true } } : {}),
    };
  };
  for (const [type, byName] of Object.entries<any>(json.resource)) {
    for (const [name, config] of Object.entries<any>(byName)) {
      // A terraform_data of the target's own (the verification) is itself: kept, its references and depends_on rewritten.
      if (type === 'terraform_data') {
        out[mangle(`${type}.${name}`)] = { ...(rewrite(config) as object), ...(config.depends_on ? { depends_on: config.depends_on.map((d: string) => `terraform_data.${mangle(d)}`) } : {}) };
      } else {
        add(`${type}.${name}`, config);
      }
    }
  }
  for (const [type, byName] of Object.entries<any>(json.data ?? {})) for (const [name, config] of Object.entries(byName)) add(`data.${type}.${name}`, config);
  return { resource: { terraform_data: out } };
}

/** A model directory under `dir`: the fixture's weights and a file whose content makes the version. */
export function modelVersionDir(dir: string, name: string, weights: string): string {
  const model = path.join(dir, 'models', name);
  fs.mkdirSync(model, { recursive: true });
  fs.copyFileSync(path.join(FIXTURE, 'weights.bin'), path.join(model, 'weights.bin'));
  fs.writeFileSync(path.join(model, 'extra.bin'), weights);
  return model;
}
