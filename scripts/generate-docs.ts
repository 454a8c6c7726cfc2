/**
 * Writes the reference parts of the documentation from the code's own declarations and doc comments
 * (the TypeScript compiler API), so a default is written once, in its `@default` tag:
 * - docs/spec.md, between `<!-- BEGIN GENERATED SPEC REFERENCE -->` and `<!-- END ... -->`: every
 *   struct of the spec (from `ModelDeploymentSpecProps` down) with every prop, its type and its default,
 *   the factories of the spec's classes, and the enums;
 * - docs/targets/TARGET.md, between `<!-- BEGIN GENERATED OPTIONS -->` and `<!-- END ... -->`: the
 *   target's options with their defaults.
 * `npm run docs:generate` rewrites them; test/docs/docs.test.ts fails while a checked-in region differs
 * from a fresh generation, and the generation fails on a prop without documentation, or an optional
 * prop without `@default`.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const ROOT = path.join(__dirname, '..');

/** Where the generated regions go, and which declarations fill them. */
export interface GeneratedRegion {
  /** The markdown file, relative to the repository root. */
  readonly file: string;
  /** The marker's name: `<!-- BEGIN GENERATED NAME -->`. */
  readonly marker: string;
  /** The module whose exports are documented, relative to the repository root. */
  readonly module: string;
  /** The structs to document (with every struct their props name, from the same module's exports). */
  readonly roots: readonly string[];
  /** Classes whose public static factories are listed. */
  readonly factories?: readonly string[];
  /** Enums that are listed with their members. */
  readonly enums?: readonly string[];
  /** Heading level of each struct. */
  readonly level: number;
}

export const REGIONS: readonly GeneratedRegion[] = [
  {
    file: 'docs/spec.md', marker: 'SPEC REFERENCE', module: 'lib/index.ts', level: 3,
    roots: [
      'ModelDeploymentSpecProps', 'ArtifactUriOptions', 'ServingOptions', 'NamedModelServingOptions', 'VllmServingOptions',
      'CustomServingOptions', 'CpuComputeOptions', 'GpuComputeOptions', 'AllAtOnceRolloutOptions', 'CanaryRolloutOptions',
      'LinearRolloutOptions',
    ],
    factories: ['ModelArtifact', 'ServingContainer', 'Compute', 'ScalingTarget', 'Rollout'],
    enums: ['GpuKind', 'AuthMode', 'NetworkAccess', 'ArtifactLayout', 'ServingFramework', 'ScalingMetric', 'RolloutStrategy'],
  },
  { file: 'docs/targets/sagemaker.md', marker: 'OPTIONS', module: 'lib/targets/sagemaker/index.ts', level: 3, roots: ['SageMakerTargetOptions'] },
  { file: 'docs/targets/azure-ml.md', marker: 'OPTIONS', module: 'lib/targets/azure-ml/index.ts', level: 3, roots: ['AzureMlTargetOptions'] },
  { file: 'docs/targets/vertex-ai.md', marker: 'OPTIONS', module: 'lib/targets/vertex-ai/index.ts', level: 3, roots: ['VertexAiTargetOptions'] },
  { file: 'docs/targets/on-prem.md', marker: 'OPTIONS', module: 'lib/targets/on-prem/index.ts', level: 3, roots: ['OnPremTargetOptions'], enums: ['ContainerRuntime'] },
];

function cell(text: string): string {
  return text.replace(/\r?\n\s*/g, ' ').replace(/\|/g, '\\|').trim();
}

function docOf(symbol: ts.Symbol, checker: ts.TypeChecker): { text: string; defaultValue?: string } {
  const text = ts.displayPartsToString(symbol.getDocumentationComment(checker));
  const tag = symbol.getJsDocTags(checker).find((t) => t.name === 'default');
  return { text, defaultValue: tag ? ts.displayPartsToString(tag.text) : undefined };
}

/** The type as written in the declaration (not as the checker expands it). */
function typeText(decl: ts.Declaration | undefined): string {
  if (decl && (ts.isPropertySignature(decl) || ts.isPropertyDeclaration(decl)) && decl.type) return decl.type.getText();
  return '';
}

function anchor(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-');
}

/** Generates every region; `problems` collects props without documentation or default. */
export function generateRegions(): { contents: Map<string, string>; problems: string[] } {
  const files = [...new Set(REGIONS.map((r) => path.join(ROOT, r.module)))];
  const program = ts.createProgram(files, { strict: true, skipLibCheck: true, module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, noEmit: true, types: [] });
  const checker = program.getTypeChecker();
  const problems: string[] = [];
  const contents = new Map<string, string>();

  for (const region of REGIONS) {
    const source = program.getSourceFile(path.join(ROOT, region.module));
    if (!source) throw new Error(`no source file ${region.module}`);
    const moduleSymbol = checker.getSymbolAtLocation(source)!;
    const exports = new Map<string, ts.Symbol>();
    for (const e of checker.getExportsOfModule(moduleSymbol)) {
      exports.set(e.name, e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e);
    }
    const get = (name: string): ts.Symbol => {
      const s = exports.get(name);
      if (!s) throw new Error(`${region.module} does not export ${name}`);
      return s;
    };
    const out: string[] = [];
    const hashes = '#'.repeat(region.level);
    /** A declaration's heading, its documentation and its table's header; returns its symbol. */
    const section = (name: string, ...columns: string[]): ts.Symbol => {
      const symbol = get(name);
      const doc = docOf(symbol, checker).text;
      out.push(`${hashes} ${name}`, '', ...(doc ? [doc, ''] : []), `| ${columns.join(' | ')} |`, `|${' --- |'.repeat(columns.length)}`);
      return symbol;
    };
    const queue = [...region.roots];
    const done = new Set<string>();
    while (queue.length > 0) {
      const name = queue.shift()!;
      if (done.has(name)) continue;
      done.add(name);
      const type = checker.getDeclaredTypeOfSymbol(section(name, 'prop', 'type', 'default', 'description'));
      for (const prop of checker.getPropertiesOfType(type)) {
        const decl = prop.valueDeclaration ?? prop.declarations?.[0];
        const optional = (prop.flags & ts.SymbolFlags.Optional) !== 0;
        const { text, defaultValue } = docOf(prop, checker);
        const where = `${name}.${prop.name}`;
        if (!text.trim() && !(defaultValue ?? '').trim()) problems.push(`${where}: no documentation`);
        if (optional && defaultValue === undefined) problems.push(`${where}: optional, but no @default`);
        const written = typeText(decl);
        // Link the structs of the same module that a prop names, and document them too.
        let links = 0;
        const linked = written.replace(/\b[A-Z][A-Za-z0-9]*\b/g, (word) => {
          const target = exports.get(word);
          const listed = (region.factories ?? []).includes(word) || (region.enums ?? []).includes(word);
          if (!target || !(listed || target.flags & ts.SymbolFlags.Interface)) return word;
          if (!listed && !done.has(word)) queue.push(word);
          links++;
          return `[${word}](#${anchor(word)})`;
        });
        const typeCell = links > 0 ? cell(linked) : `\`${cell(written)}\``;
        const defaultCell = optional ? cell((defaultValue ?? '').replace(/^-\s*/, '')) || '-' : '*required*';
        out.push(`| \`${prop.name}\` | ${typeCell} | ${defaultCell} | ${cell(text)} |`);
      }
      out.push('');
    }
    for (const name of region.factories ?? []) {
      const symbol = section(name, 'factory', 'description');
      const statics = checker.getTypeOfSymbolAtLocation(symbol, symbol.valueDeclaration!);
      for (const member of checker.getPropertiesOfType(statics)) {
        const decl = member.valueDeclaration;
        if (!decl || !ts.isMethodDeclaration(decl)) continue;
        const modifiers = ts.getCombinedModifierFlags(decl);
        if (!(modifiers & ts.ModifierFlags.Static) || modifiers & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue;
        const params = decl.parameters.map((p) => p.getText()).join(', ');
        const { text } = docOf(member, checker);
        if (!text.trim()) problems.push(`${name}.${member.name}(): no documentation`);
        out.push(`| \`${name}.${member.name}(${cell(params)})\` | ${cell(text)} |`);
      }
      out.push('');
    }
    for (const name of region.enums ?? []) {
      const symbol = section(name, 'member', 'value', 'description');
      for (const member of checker.getExportsOfModule(symbol)) {
        const decl = member.valueDeclaration;
        if (!decl || !ts.isEnumMember(decl)) continue;
        const value = checker.getConstantValue(decl);
        const { text } = docOf(member, checker);
        if (!text.trim()) problems.push(`${name}.${member.name}: no documentation`);
        out.push(`| \`${name}.${member.name}\` | \`${JSON.stringify(value)}\` | ${cell(text)} |`);
      }
      out.push('');
    }
    const key = `${region.file}#${region.marker}`;
    contents.set(key, out.join('\n').trimEnd());
  }
  return { contents, problems };
}

function markers(marker: string): [string, string] {
  return [`<!-- BEGIN GENERATED ${marker} (npm run docs:generate) -->`, `<!-- END GENERATED ${marker} -->`];
}

/** The file's text with the region replaced by `generated`. */
export function withRegion(text: string, marker: string, generated: string, file: string): string {
  const [begin, end] = markers(marker);
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${file}: no '${begin}' ... '${end}' region`);
  return `${text.slice(0, from + begin.length)}\n\n${generated}\n\n${text.slice(to)}`;
}

/** Each region's file as it is, and as a fresh generation would write it. */
export function regionFiles(): { file: string; current: string; fresh: string }[] {
  const { contents, problems } = generateRegions();
  if (problems.length > 0) throw new Error(`undocumented props or defaults:\n  ${problems.join('\n  ')}`);
  const byFile = new Map<string, { current: string; fresh: string }>();
  for (const region of REGIONS) {
    const entry = byFile.get(region.file) ?? (() => {
      const current = fs.readFileSync(path.join(ROOT, region.file), 'utf8');
      return { current, fresh: current };
    })();
    entry.fresh = withRegion(entry.fresh, region.marker, contents.get(`${region.file}#${region.marker}`)!, region.file);
    byFile.set(region.file, entry);
  }
  return [...byFile].map(([file, e]) => ({ file, ...e }));
}

if (require.main === module) {
  for (const { file, current, fresh } of regionFiles()) {
    if (fresh !== current) {
      fs.writeFileSync(path.join(ROOT, file), fresh);
      console.log(`wrote ${file}`);
    }
  }
}
