/**
 * SageMaker Deep Learning Container (DLC) image URIs, resolved from a dated table generated from
 * the SageMaker Python SDK's own image URI config (see image-catalog.generated.ts and
 * scripts/generate-sagemaker-images.ts). No AWS calls, no dependencies: the same inputs always give
 * the same URI.
 */
import { ModelDeploymentValidationError } from '../../spec/errors';
import { TARGET } from './name';
import { DLC_FRAMEWORKS, DLC_SOURCE, GeneratedDlcFramework, GeneratedDlcVersion, SAGEMAKER_INSTANCE_GPUS } from './image-catalog.generated';

/** A framework of SageMaker's Deep Learning Containers, as the image table names it. */
export enum DlcFramework {
  /** PyTorch (TorchServe). */
  PYTORCH = 'pytorch',
  /** TensorFlow Serving. */
  TENSORFLOW = 'tensorflow',
  /** scikit-learn. */
  SKLEARN = 'sklearn',
  /** XGBoost. */
  XGBOOST = 'xgboost',
  /** NVIDIA Triton Inference Server. */
  TRITON = 'triton',
  /** vLLM (the large model inference container). */
  VLLM = 'vllm',
}

export interface DlcImage {
  /** ECR repository name, e.g. `pytorch-inference`. */
  readonly repository: string;
  /** Image tag, e.g. `2.3.0-gpu-py311`. */
  readonly tag: string;
  /** Region -> ECR registry (AWS account id) that publishes this image in that region. */
  readonly registries: Readonly<Record<string, string>>;
  readonly framework: DlcFramework;
  /** The full framework version (an alias such as `2.3` is resolved to `2.3.0`). */
  readonly version: string;
  readonly processor: 'cpu' | 'gpu';
}

/** Where the table comes from: SDK repository, commit and the commit's date. */
export const DLC_TABLE_SOURCE: {
  /** The SageMaker Python SDK's repository. */
  readonly repository: string;
  /** The pinned commit the table was generated from. */
  readonly commit: string;
  /** That commit's date. */
  readonly date: string;
} = Object.freeze({
  repository: DLC_SOURCE.repository,
  commit: DLC_SOURCE.commit,
  date: DLC_SOURCE.date,
});

const PROCESSORS: readonly ('cpu' | 'gpu')[] = ['cpu', 'gpu'];

function hasOwn(obj: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

function frameworkEntry(framework: DlcFramework): GeneratedDlcFramework {
  if (typeof framework !== 'string' || !hasOwn(DLC_FRAMEWORKS, framework)) {
    const known = Object.values(DlcFramework).join(', ');
    throw new ModelDeploymentValidationError('serving.framework', framework, `a framework with a SageMaker image: ${known}`, TARGET);
  }
  return DLC_FRAMEWORKS[framework];
}

function describeVersions(entry: GeneratedDlcFramework): string {
  const versions = entry.versions.map((v) => v.version).join(', ');
  const aliases = Object.keys(entry.aliases);
  return aliases.length === 0
    ? `Available versions: ${versions}`
    : `Available versions: ${versions} (aliases: ${aliases.map((a) => `${a} -> ${entry.aliases[a]}`).join(', ')})`;
}

/**
 * Resolves framework + optional version (undefined = latest in the table; aliases like '2.3'
 * accepted) + processor. Throws a ModelDeploymentValidationError naming the framework, the version
 * asked and the versions available (or that the processor is not offered, e.g. sklearn has no GPU image).
 */
export function resolveDlcImage(framework: DlcFramework, version: string | undefined, processor: 'cpu' | 'gpu'): DlcImage {
  const entry = frameworkEntry(framework);
  let found: GeneratedDlcVersion | undefined;
  if (version === undefined) {
    found = entry.versions[0];
  } else {
    const full = hasOwn(entry.aliases, version) ? entry.aliases[version] : version;
    found = entry.versions.find((v) => v.version === full);
  }
  if (!found) {
    throw new ModelDeploymentValidationError('serving.frameworkVersion', `${framework} ${String(version)}`,
      `a version of '${framework}' in the SageMaker image table ` +
        `(${DLC_TABLE_SOURCE.repository}@${DLC_TABLE_SOURCE.commit.slice(0, 12)}, ${DLC_TABLE_SOURCE.date}). ${describeVersions(entry)}`, TARGET);
  }
  const offered = PROCESSORS.filter((p) => found!.tags[p] !== undefined);
  const tag = PROCESSORS.includes(processor) ? found.tags[processor] : undefined;
  if (tag === undefined) {
    throw new ModelDeploymentValidationError('compute', `'${String(processor)}' for ${framework} ${found.version}`,
      `compute whose SageMaker image exists: '${framework}' version ${found.version} has no '${String(processor)}' image. ` +
        `Processors offered: ${offered.join(', ')}`, TARGET);
  }
  return Object.freeze({
    repository: found.repository,
    tag,
    registries: found.registries,
    framework,
    version: found.version,
    processor,
  });
}

/**
 * DNS suffix of the partition a region belongs to, as botocore resolves the `ecr` endpoint the SDK
 * uses (`ecr.REGION.SUFFIX`): amazonaws.com.cn for cn-*, and the isolated partitions' suffixes.
 */
function dnsSuffix(region: string): string {
  if (region.startsWith('cn-')) return 'amazonaws.com.cn';
  if (region.startsWith('us-isob-')) return 'sc2s.sgov.gov';
  if (region.startsWith('us-isof-')) return 'csp.hci.ic.gov';
  if (region.startsWith('us-iso-')) return 'c2s.ic.gov';
  if (region.startsWith('eu-isoe-')) return 'cloud.adc-e.uk';
  return 'amazonaws.com';
}

/**
 * `ACCOUNT.dkr.ecr.REGION.amazonaws.com[.cn]/REPOSITORY:TAG` for the image in `region`. Throws
 * naming the region and listing the supported regions when the image is not published there.
 */
export function dlcImageUri(image: DlcImage, region: string): string {
  if (typeof region !== 'string' || !hasOwn(image.registries, region)) {
    throw new ModelDeploymentValidationError('stack.region', region,
      `a region where SageMaker image ${image.repository}:${image.tag} (${image.framework} ${image.version}) is published ` +
        `(not '${String(region)}'). Supported regions: ${Object.keys(image.registries).join(', ')}`, TARGET);
  }
  return `${image.registries[region]}.dkr.ecr.${region}.${dnsSuffix(region)}/${image.repository}:${image.tag}`;
}

/** The full versions in the table for a framework, newest first. */
export function listDlcVersions(framework: DlcFramework): string[] {
  return frameworkEntry(framework).versions.map((v) => v.version);
}

/**
 * GPU count and TOTAL GPU memory (MiB, summed over all the instance's GPUs) of a SageMaker
 * instance type such as `ml.g5.xlarge`; undefined for instance types without GPUs or missing from
 * the SDK's table.
 */
export function sageMakerInstanceGpus(instanceType: string): { gpuCount: number; gpuMemoryMiB: number } | undefined {
  if (typeof instanceType !== 'string' || !hasOwn(SAGEMAKER_INSTANCE_GPUS, instanceType)) return undefined;
  const gpu = SAGEMAKER_INSTANCE_GPUS[instanceType];
  return { gpuCount: gpu.gpuCount, gpuMemoryMiB: gpu.gpuMemoryMiB };
}
