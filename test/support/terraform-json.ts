/**
 * Reading a synthesized cdktf stack (Terraform JSON) in the Terraform targets' tests: one resource of
 * a type, a resource's address, and the references that name nothing (what `terraform validate`
 * would check first).
 */
/** The one resource of a type (fails when there is not exactly one). */
export function only(json: any, type: string): any {
  const all = Object.values(json.resource?.[type] ?? {});
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0];
}

/** `TYPE.NAME` of the resource whose value is `resource`. */
export function addressOf(json: any, resource: any): string {
  for (const [type, byName] of Object.entries<any>(json.resource)) {
    for (const [name, value] of Object.entries(byName)) if (value === resource) return `${type}.${name}`;
  }
  throw new Error('not in the stack');
}

/**
 * Every `${...}` reference in the JSON (escaped `$${` skipped) that names a resource or data source of
 * one of `providers` (or Terraform's built-in `terraform_data`), and whether the stack has it.
 */
export function danglingReferences(json: any, providers: readonly string[]): string[] {
  const refs = new Set<string>();
  const resource = new RegExp(`(?<![\\w.])((?:data\\.)?(?:${[...providers, 'terraform'].join('|')})_[a-z_]+\\.[A-Za-z0-9_-]+)`, 'g');
  const walk = (v: unknown) => {
    if (typeof v === 'string') {
      for (const m of v.matchAll(/(?<!\$)\$\{([^}]*)\}/g)) {
        for (const r of m[1].matchAll(resource)) refs.add(r[1]);
      }
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(json.resource);
  walk(json.data);
  walk(json.output);
  // depends_on lists name resources without ${}.
  for (const byName of Object.values<any>({ ...json.resource, ...json.data })) {
    for (const r of Object.values<any>(byName)) for (const d of r.depends_on ?? []) refs.add(d);
  }
  return [...refs].filter(ref => {
    const [a, b, c] = ref.split('.');
    return a === 'data' ? json.data?.[b]?.[c] === undefined : json.resource?.[a]?.[b] === undefined;
  });
}
