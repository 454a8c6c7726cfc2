/**
 * Generates lib/targets/sagemaker/image-catalog.generated.ts from the SageMaker Python SDK's own
 * image URI tables (a copy of sagemaker-core/src/sagemaker/core/image_uri_config/ vendored in
 * scripts/data/sagemaker-image-uris/ with its licence; its README.md names the source commit and date).
 *
 *   npx ts-node --transpile-only scripts/generate-sagemaker-images.ts [INPUT_DIR [OUTPUT_FILE]]
 *
 * INPUT_DIR defaults to scripts/data/sagemaker-image-uris (relative to the repository root),
 * OUTPUT_FILE to lib/targets/sagemaker/image-catalog.generated.ts.
 *
 * Tags are built here, once, with the SDK's rules (sagemaker.core.image_uris.retrieve and
 * _format_tag, for image scope "inference", no instance-type specific suffixes):
 *
 *   tag = join('-', [tag_prefix ?? version, processor, py_version, container_version[processor]])
 *
 * leaving out empty parts, where `processor` is the cpu/gpu token when the framework or version
 * config lists processors (and "processor_in_tag" is not false), and, for the Triton server image,
 * a GPU tag has its trailing "-gpu" stripped (the SDK's `tag.rstrip("-gpu")`).
 */
import * as fs from 'fs';
import * as path from 'path';

const REPO_ROOT = path.join(__dirname, '..');

/** Default input directory, relative to the repository root. */
export const DEFAULT_INPUT_DIR = path.join(REPO_ROOT, 'scripts', 'data', 'sagemaker-image-uris');
/** Default output file. */
export const DEFAULT_OUTPUT_FILE = path.join(REPO_ROOT, 'lib', 'targets', 'sagemaker', 'image-catalog.generated.ts');

/** How many of the newest inference versions of each framework the table keeps. */
export const VERSIONS_PER_FRAMEWORK = 4;

/** Region whose GPU figures are taken; any other region holding the instance type is the fallback. */
const GPU_INFO_REGION = 'us-east-1';

/**
 * Instance types misspelt in the SDK's instance_gpu_info.json, mapped to the real name. They are
 * applied only when the real name is absent from the source. `ml.g5n.xlarge` does not exist (there
 * is no g5n family); the SDK lists it, with the A10G figures of ml.g5.xlarge, where ml.g5.xlarge
 * belongs.
 */
const INSTANCE_TYPE_CORRECTIONS: Readonly<Record<string, string>> = { 'ml.g5n.xlarge': 'ml.g5.xlarge' };

type Processor = 'cpu' | 'gpu';
const PROCESSORS: readonly Processor[] = ['cpu', 'gpu'];

interface FrameworkSource {
  /** Key in the generated table (the DlcFramework enum value). */
  readonly key: string;
  /** JSON file in the input directory. */
  readonly file: string;
  /** Framework name as the SDK knows it (decides the framework-specific tag rules). */
  readonly sdkFramework: string;
  /** Image scope inside the file, or undefined when the file itself is the scope config. */
  readonly scope?: string;
  /**
   * Processors to offer when the config lists none (the SDK then puts no processor token in the
   * tag and uses the same image whatever the instance type).
   */
  readonly processorsWhenUnlisted: readonly Processor[];
}

const FRAMEWORKS: readonly FrameworkSource[] = [
  { key: 'pytorch', file: 'pytorch.json', sdkFramework: 'pytorch', scope: 'inference', processorsWhenUnlisted: ['cpu', 'gpu'] },
  { key: 'sklearn', file: 'sklearn.json', sdkFramework: 'sklearn', scope: 'inference', processorsWhenUnlisted: ['cpu'] },
  { key: 'tensorflow', file: 'tensorflow.json', sdkFramework: 'tensorflow', scope: 'inference', processorsWhenUnlisted: ['cpu', 'gpu'] },
  // sagemaker-tritonserver.json has a top-level "scope": ["inference"]: the file is the config.
  { key: 'triton', file: 'sagemaker-tritonserver.json', sdkFramework: 'sagemaker-tritonserver', processorsWhenUnlisted: ['cpu', 'gpu'] },
  { key: 'vllm', file: 'huggingface-vllm.json', sdkFramework: 'huggingface-vllm', scope: 'inference', processorsWhenUnlisted: ['gpu'] },
  // XGBoost 1.2-1 and later list no processors: one image (tag = version) serves CPU and GPU.
  { key: 'xgboost', file: 'xgboost.json', sdkFramework: 'xgboost', scope: 'inference', processorsWhenUnlisted: ['cpu', 'gpu'] },
];

interface VersionConfig {
  readonly registries: Record<string, string>;
  readonly repository: string;
  readonly processors?: string[];
  readonly py_versions?: string[];
  readonly tag_prefix?: string;
  readonly container_version?: Record<string, string>;
  readonly processor_in_tag?: boolean;
}

interface ScopeConfig {
  readonly processors?: string[];
  readonly version_aliases?: Record<string, string>;
  readonly versions: Record<string, VersionConfig>;
}

interface SourceInfo {
  readonly repository: string;
  readonly path: string;
  readonly commit: string;
  readonly date: string;
}

interface BuiltVersion {
  readonly version: string;
  readonly repository: string;
  readonly registries: Record<string, string>;
  readonly tags: Partial<Record<Processor, string>>;
}

/**
 * Orders versions such as "2.6.0", "1.4-2-py312", "3.0-5" or "25.09": dot- and dash-separated
 * parts, numeric parts compared as numbers, a version that is a prefix of another first.
 * Returns a negative number when a is older than b.
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const na = /^\d+$/.test(pa[i]) ? Number(pa[i]) : undefined;
    const nb = /^\d+$/.test(pb[i]) ? Number(pb[i]) : undefined;
    let c: number;
    if (na !== undefined && nb !== undefined) c = na - nb;
    else if (na !== undefined) c = 1; // a number outranks a word ("1.4-2" over "1.4-rc")
    else if (nb !== undefined) c = -1;
    else c = pa[i] < pb[i] ? -1 : pa[i] > pb[i] ? 1 : 0;
    if (c !== 0) return c;
  }
  if (pa.length !== pb.length) return pa.length - pb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Python's str.rstrip(chars): strips any of `chars` from the end. */
function rstripChars(s: string, chars: string): string {
  let end = s.length;
  while (end > 0 && chars.includes(s[end - 1])) end--;
  return s.slice(0, end);
}

/** Builds one image tag with the SDK's rules (see the file comment). */
export function buildTag(sdkFramework: string, version: string, cfg: VersionConfig, processor: Processor | undefined): string {
  const pyVersions = cfg.py_versions ?? [];
  // The SDK needs the caller to choose when a version has several Python versions; the table takes
  // the newest.
  const pyVersion = pyVersions.length > 0 ? [...pyVersions].sort(comparePy).at(-1) : undefined;
  const containerVersion = processor && cfg.container_version ? cfg.container_version[processor] : undefined;
  const processorToken = cfg.processor_in_tag === false ? undefined : processor;
  let tag = [cfg.tag_prefix ?? version, processorToken, pyVersion, containerVersion].filter((x) => x).join('-');
  if (sdkFramework === 'sagemaker-tritonserver' && processor === 'gpu') {
    // "Triton images don't have a trailing -gpu tag. Only -cpu images do." (SDK: tag.rstrip("-gpu"))
    tag = rstripChars(tag, '-gpu');
  }
  return tag;
}

function comparePy(a: string, b: string): number {
  const na = Number(a.replace(/^py/, ''));
  const nb = Number(b.replace(/^py/, ''));
  if (Number.isFinite(na) && Number.isFinite(nb) && na !== nb) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Reads the source repository, folder, commit and date from the data directory's README.md. */
export function readSourceInfo(inputDir: string): SourceInfo {
  const readme = fs.readFileSync(path.join(inputDir, 'README.md'), 'utf8');
  const repo = /public repository\s+([\w.-]+\/[\w.-]+)/.exec(readme);
  const folder = /folder\s+([\w./-]+?)\/?,/.exec(readme);
  const commit = /commit\s+([0-9a-f]{40})\s+\((\d{4}-\d{2}-\d{2})\)/.exec(readme);
  if (!repo || !folder || !commit) {
    throw new Error(`${path.join(inputDir, 'README.md')} does not name the source repository, folder, commit and date`);
  }
  return { repository: repo[1], path: folder[1], commit: commit[1], date: commit[2] };
}

function scopeConfig(inputDir: string, fw: FrameworkSource): ScopeConfig {
  const file = path.join(inputDir, fw.file);
  const json = readJson(file) as Record<string, unknown>;
  const scope = (fw.scope ? json[fw.scope] : json) as ScopeConfig | undefined;
  if (!scope || typeof scope.versions !== 'object') {
    throw new Error(`${file}: no ${fw.scope ?? 'top-level'} versions`);
  }
  return scope;
}

function buildFramework(inputDir: string, fw: FrameworkSource): { versions: BuiltVersion[]; aliases: Record<string, string> } {
  const scope = scopeConfig(inputDir, fw);
  const newestFirst = Object.keys(scope.versions).sort((a, b) => compareVersions(b, a)).slice(0, VERSIONS_PER_FRAMEWORK);
  const versions = newestFirst.map((version): BuiltVersion => {
    const cfg = scope.versions[version];
    if (!cfg.repository || !cfg.registries) throw new Error(`${fw.file}: version ${version} has no repository or registries`);
    const listed = scope.processors ?? cfg.processors;
    const tags: Partial<Record<Processor, string>> = {};
    if (listed && listed.length > 0) {
      for (const p of PROCESSORS) if (listed.includes(p)) tags[p] = buildTag(fw.sdkFramework, version, cfg, p);
    } else {
      const tag = buildTag(fw.sdkFramework, version, cfg, undefined);
      for (const p of fw.processorsWhenUnlisted) tags[p] = tag;
    }
    if (Object.keys(tags).length === 0) throw new Error(`${fw.file}: version ${version} offers neither a cpu nor a gpu image`);
    return { version, repository: cfg.repository, registries: cfg.registries, tags };
  });
  // Aliases are kept only when they point at a version the table keeps.
  const kept = new Set(newestFirst);
  const aliases: Record<string, string> = {};
  for (const [alias, target] of Object.entries(scope.version_aliases ?? {})) {
    if (kept.has(target) && !kept.has(alias)) aliases[alias] = target;
  }
  return { versions, aliases };
}

function buildGpuTable(inputDir: string): { table: Record<string, { gpuCount: number; gpuMemoryMiB: number }>; corrected: string[] } {
  const info = readJson(path.join(inputDir, 'instance_gpu_info.json')) as Record<string, Record<string, { Count: number; TotalGpuMemoryInMiB: number }>>;
  const regions = Object.keys(info).sort();
  const ordered = info[GPU_INFO_REGION] ? [GPU_INFO_REGION, ...regions.filter((r) => r !== GPU_INFO_REGION)] : regions;
  const table: Record<string, { gpuCount: number; gpuMemoryMiB: number }> = {};
  const corrected: string[] = [];
  for (const region of ordered) {
    for (const [type, gpu] of Object.entries(info[region])) {
      if (!type.startsWith('ml.')) continue;
      let name = type;
      const fix = INSTANCE_TYPE_CORRECTIONS[type];
      if (fix !== undefined && !Object.values(info).some((m) => fix in m)) {
        name = fix;
        if (!corrected.includes(`${type} -> ${fix}`)) corrected.push(`${type} -> ${fix}`);
      }
      if (name in table) continue; // first region in `ordered` wins
      if (!Number.isInteger(gpu.Count) || !Number.isInteger(gpu.TotalGpuMemoryInMiB)) {
        throw new Error(`instance_gpu_info.json: ${region} ${type}: Count and TotalGpuMemoryInMiB must be integers`);
      }
      table[name] = { gpuCount: gpu.Count, gpuMemoryMiB: gpu.TotalGpuMemoryInMiB };
    }
  }
  return { table, corrected };
}

function q(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Object key: bare when it is an identifier, quoted otherwise. */
function k(s: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(s) ? s : q(s);
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Builds the text of the generated module from the data in `inputDir`. Deterministic. */
export function generateImageCatalog(inputDir: string): string {
  const source = readSourceInfo(inputDir);
  const frameworks = [...FRAMEWORKS].sort((a, b) => byString(a.key, b.key));
  const built = frameworks.map((fw) => ({ fw, ...buildFramework(inputDir, fw) }));

  // Distinct registry maps, named in order of first use (frameworks by key, versions newest first).
  const registryNames = new Map<string, string>();
  const registryDecls: string[] = [];
  const registryName = (registries: Record<string, string>): string => {
    const regions = Object.keys(registries).sort(byString);
    const canonical = JSON.stringify(regions.map((r) => [r, registries[r]]));
    let name = registryNames.get(canonical);
    if (!name) {
      name = `REGISTRIES_${registryNames.size + 1}`;
      registryNames.set(canonical, name);
      const body = regions.map((r) => `  ${k(r)}: ${q(registries[r])},`).join('\n');
      registryDecls.push(`const ${name}: Readonly<Record<string, string>> = Object.freeze({\n${body}\n});`);
    }
    return name;
  };

  const frameworkBlocks = built.map(({ fw, versions, aliases }) => {
    const versionLines = versions.map((v) => {
      const tags = PROCESSORS.filter((p) => v.tags[p] !== undefined).map((p) => `${p}: ${q(v.tags[p] as string)}`).join(', ');
      return `      { version: ${q(v.version)}, repository: ${q(v.repository)}, registries: ${registryName(v.registries)}, tags: { ${tags} } },`;
    });
    const aliasKeys = Object.keys(aliases).sort(byString);
    const aliasText = aliasKeys.length === 0 ? '{}' : `{ ${aliasKeys.map((a) => `${q(a)}: ${q(aliases[a])}`).join(', ')} }`;
    return [
      `  ${k(fw.key)}: {`,
      `    sourceFile: ${q(fw.file)},`,
      `    versions: [`,
      ...versionLines,
      '    ],',
      `    aliases: ${aliasText},`,
      '  },',
    ].join('\n');
  });

  const gpu = buildGpuTable(inputDir);
  const gpuLines = Object.keys(gpu.table)
    .sort(byString)
    .map((t) => `  ${q(t)}: { gpuCount: ${gpu.table[t].gpuCount}, gpuMemoryMiB: ${gpu.table[t].gpuMemoryMiB} },`);
  const correctionNote = gpu.corrected.length === 0
    ? []
    : [` * Instance type names corrected from the source (misspelt there): ${gpu.corrected.join(', ')}.`];

  const lines = [
    '// generated by scripts/generate-sagemaker-images.ts, do not edit.',
    `// Source: https://github.com/${source.repository} at commit ${source.commit} (${source.date}),`,
    `// ${source.path}/ (Apache License 2.0).`,
    `// Regenerate: npx ts-node --transpile-only scripts/generate-sagemaker-images.ts`,
    '',
    '/** A Deep Learning Container version: its repository, the ECR account per region, and its tag per processor. */',
    'export interface GeneratedDlcVersion {',
    '  readonly version: string;',
    '  readonly repository: string;',
    '  /** Region -> ECR registry (AWS account id). */',
    '  readonly registries: Readonly<Record<string, string>>;',
    '  readonly tags: { readonly cpu?: string; readonly gpu?: string };',
    '}',
    '',
    'export interface GeneratedDlcFramework {',
    '  /** File of the SDK table this entry was generated from. */',
    '  readonly sourceFile: string;',
    `  /** The newest ${VERSIONS_PER_FRAMEWORK} inference versions, newest first. */`,
    '  readonly versions: readonly GeneratedDlcVersion[];',
    '  /** Short version -> full version, only for versions kept in `versions`. */',
    '  readonly aliases: Readonly<Record<string, string>>;',
    '}',
    '',
    'export const DLC_SOURCE = {',
    `  repository: ${q(source.repository)},`,
    `  path: ${q(source.path)},`,
    `  commit: ${q(source.commit)},`,
    `  date: ${q(source.date)},`,
    '} as const;',
    '',
    ...registryDecls.flatMap((d) => [d, '']),
    '/** Inference images per framework (keys are the DlcFramework values). */',
    'export const DLC_FRAMEWORKS: Readonly<Record<string, GeneratedDlcFramework>> = {',
    ...frameworkBlocks,
    '};',
    '',
    '/**',
    ` * GPUs per SageMaker instance type, from instance_gpu_info.json (region ${GPU_INFO_REGION}, else the first`,
    ' * region, alphabetically, that lists the type). gpuMemoryMiB is the TOTAL GPU memory of the instance,',
    ' * summed over all its GPUs, in MiB. Instance types without GPUs are absent.',
    ...correctionNote,
    ' */',
    'export const SAGEMAKER_INSTANCE_GPUS: Readonly<Record<string, { readonly gpuCount: number; readonly gpuMemoryMiB: number }>> = {',
    ...gpuLines,
    '};',
    '',
  ];
  return lines.join('\n');
}

/** CLI: `[inputDir [outputFile]]`, relative paths resolved against the repository root. */
export function main(args: readonly string[] = process.argv.slice(2)): string {
  const inputDir = args[0] ? path.resolve(REPO_ROOT, args[0]) : DEFAULT_INPUT_DIR;
  const outputFile = args[1] ? path.resolve(REPO_ROOT, args[1]) : DEFAULT_OUTPUT_FILE;
  const text = generateImageCatalog(inputDir);
  fs.mkdirSync(path.dirname(outputFile), { recursive: true });
  fs.writeFileSync(outputFile, text);
  return outputFile;
}

if (require.main === module) {
  const written = main();
  console.log(`wrote ${path.relative(process.cwd(), written)}`);
}
