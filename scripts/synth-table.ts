/**
 * The last step of `npm run synth`: one line per synthesized stack, read back from what was written
 * (cdk.out/ for CloudFormation, cdktf.out/ for Terraform JSON), not from the library's objects:
 *
 *   target, stack, resources, endpoint output, warnings
 *
 *   ts-node --transpile-only scripts/synth-table.ts [CDK_OUT] [CDKTF_OUT]     (default cdk.out, cdktf.out)
 *
 * Warnings are the synth's annotations at warning level (aws:cdk:warning in the stack's metadata;
 * @cdktf/warn in cdktf.out/manifest.json); they are listed in full under the table.
 */
import * as fs from 'fs';
import * as path from 'path';

export interface SynthRow {
  /** sageMaker, azureMl, vertexAi or onPrem: read from the synthesized resources and providers. */
  readonly target: string;
  readonly stack: string;
  /** Resources in the template (CloudFormation Resources; Terraform `resource` blocks of every type). */
  readonly resources: number;
  /** The stack output that carries the endpoint's URL, as text (tokens shown as `${...}`). */
  readonly endpointOutput: string;
  /** The synth's warnings for the stack. */
  readonly warnings: string[];
}

const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;

/** The parts of cdk.out/manifest.json and a template that the table reads. */
interface CdkManifest {
  readonly artifacts?: { [id: string]: { type: string; displayName?: string; properties?: { templateFile: string }; metadata?: CdkMetadata } };
}
type CdkMetadata = { [constructPath: string]: Array<{ type: string; data: unknown }> };
interface CfnTemplate { Resources?: { [id: string]: { Type: string } }; Outputs?: { [id: string]: { Value: unknown } } }
/** The parts of cdktf.out/manifest.json and a cdk.tf.json that the table reads. */
interface CdktfManifest {
  readonly stacks?: { [name: string]: { synthesizedStackPath: string; annotations?: Array<{ level: string; constructPath: string; message: string }> } };
}
interface TerraformJson { provider?: object; resource?: { [type: string]: object }; output?: { [name: string]: { value: unknown } } }

/** A CloudFormation value as text: Fn::Join flattened, Ref as ${Name}. */
function cfnText(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as { 'Fn::Join'?: [string, unknown[]]; 'Ref'?: unknown; 'Fn::GetAtt'?: string[] } | null;
  if (v && Array.isArray(v['Fn::Join'])) return v['Fn::Join'][1].map(cfnText).join(v['Fn::Join'][0]);
  if (v && typeof v.Ref === 'string') return `\${${v.Ref}}`;
  if (v && Array.isArray(v['Fn::GetAtt'])) return `\${${v['Fn::GetAtt'].join('.')}}`;
  return JSON.stringify(value);
}

/** A Terraform output value as text: a map of per-host URLs becomes `host=url, ...`. */
function tfText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') return Object.entries(value).map(([k, v]) => `${k}=${tfText(v)}`).join(', ');
  return JSON.stringify(value);
}

/** The output holding the endpoint URL: the first whose name says URL or URI. */
function endpointOutput<T>(outputs: { [name: string]: T } | undefined, text: (o: T) => string): string {
  const entry = Object.entries(outputs ?? {}).find(([name]) => /Ur[il]/.test(name));
  return entry ? text(entry[1]) : '-';
}

export function cloudFormationRows(cdkOut: string): SynthRow[] {
  const manifestFile = path.join(cdkOut, 'manifest.json');
  if (!fs.existsSync(manifestFile)) return [];
  const manifest = readJson<CdkManifest>(manifestFile);
  const rows: SynthRow[] = [];
  for (const [id, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type !== 'aws:cloudformation:stack' || !artifact.properties) continue;
    const template = readJson<CfnTemplate>(path.join(cdkOut, artifact.properties.templateFile));
    // Metadata is inline in the manifest, or in a file of its own (newer cdk versions).
    const metadataFile = path.join(cdkOut, `${id}.metadata.json`);
    const metadata = artifact.metadata ?? (fs.existsSync(metadataFile) ? readJson<CdkMetadata>(metadataFile) : {});
    const warnings = Object.entries(metadata).flatMap(([p, entries]) => entries.filter(e => e.type === 'aws:cdk:warning').map(e => `${p}: ${String(e.data)}`));
    const resources = Object.values(template.Resources ?? {});
    rows.push({
      target: resources.some(r => String(r.Type).startsWith('AWS::SageMaker::')) ? 'sageMaker' : 'aws-cdk',
      stack: artifact.displayName ?? id,
      resources: resources.length,
      endpointOutput: endpointOutput(template.Outputs, o => cfnText(o.Value)),
      warnings,
    });
  }
  return rows;
}

export function terraformRows(cdktfOut: string): SynthRow[] {
  const manifestFile = path.join(cdktfOut, 'manifest.json');
  if (!fs.existsSync(manifestFile)) return [];
  const manifest = readJson<CdktfManifest>(manifestFile);
  return Object.entries(manifest.stacks ?? {}).map(([name, stack]) => {
    const json = readJson<TerraformJson>(path.join(cdktfOut, stack.synthesizedStackPath));
    const providers = Object.keys(json.provider ?? {});
    const target = providers.includes('azapi') || providers.includes('azurerm') ? 'azureMl' : providers.includes('google') ? 'vertexAi' : 'onPrem';
    const resources = Object.values(json.resource ?? {}).reduce((n: number, byName) => n + Object.keys(byName).length, 0);
    const warnings = (stack.annotations ?? []).filter(a => a.level === '@cdktf/warn').map(a => `${a.constructPath}: ${a.message}`);
    return { target, stack: name, resources, endpointOutput: endpointOutput(json.output, o => tfText(o.value)), warnings };
  });
}

export function formatSynthTable(rows: readonly SynthRow[]): string {
  const header = ['target', 'stack', 'resources', 'endpoint output', 'warnings'];
  const cells = rows.map(r => [r.target, r.stack, String(r.resources), r.endpointOutput, String(r.warnings.length)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map(c => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => (i === 2 || i === 4 ? x.padStart(widths[i]) : x.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [line(header), widths.map(w => '-'.repeat(w)).join('  '), ...cells.map(line)];
  const warned = rows.filter(r => r.warnings.length > 0);
  if (warned.length > 0) {
    out.push('', 'Warnings:');
    for (const r of warned) for (const w of r.warnings) out.push(`  ${w}`);
  }
  return out.join('\n');
}

if (require.main === module) {
  const [cdkOut = 'cdk.out', cdktfOut = 'cdktf.out'] = process.argv.slice(2);
  const rows = [...cloudFormationRows(cdkOut), ...terraformRows(cdktfOut)];
  if (rows.length === 0) {
    console.error(`no synthesized stacks in ${cdkOut}/ or ${cdktfOut}/`);
    process.exitCode = 1;
  } else {
    console.log(`\n${formatSynthTable(rows)}`);
  }
}
