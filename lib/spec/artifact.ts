import { checkOptions } from './check';
import { ModelDeploymentValidationError } from './errors';

/** Where a model artifact lives. */
export enum ArtifactSource {
  /** A file or directory on the machine that synthesizes; the target uploads it. */
  LOCAL_PATH = 'local-path',
  /** An object or prefix that already exists in some store; nothing is uploaded. */
  URI = 'uri',
}

/** The storage scheme of an existing artifact URI. */
export enum ArtifactScheme {
  /** Amazon S3: `s3://bucket/key` */
  S3 = 's3',
  /** Google Cloud Storage: `gs://bucket/object` */
  GCS = 'gs',
  /** Azure Blob Storage: `https://ACCOUNT.blob.core.windows.net/container/path` */
  AZURE_BLOB = 'azure-blob',
  /** An Azure ML asset: `azureml://...` */
  AZURE_ML = 'azureml',
  /** A plain HTTPS URL (on-prem hosts download it). */
  HTTPS = 'https',
}

/** How the artifact's bytes are laid out. */
export enum ArtifactLayout {
  /** One `.tar.gz` archive that the serving platform unpacks. */
  TAR_GZ = 'tar.gz',
  /** A prefix (folder) of uncompressed files, loaded as they are: the way to ship large models. */
  PREFIX = 'prefix',
  /** A single file (for example `model.onnx`) or a local directory that the target packs as it needs. */
  FILES = 'files',
}

/** Options for {@link ModelArtifact.fromUri}. */
export interface ArtifactUriOptions {
  /**
   * How the bytes at the URI are laid out.
   * @default - `TAR_GZ` when the URI ends in `.tar.gz`, `PREFIX` when it ends in `/`, else `FILES`
   */
  readonly layout?: ArtifactLayout;
}

const URI_PATTERNS: ReadonlyArray<[ArtifactScheme, RegExp]> = [
  [ArtifactScheme.S3, /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/],
  [ArtifactScheme.GCS, /^gs:\/\/[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](\/.*)?$/],
  [ArtifactScheme.AZURE_BLOB, /^https:\/\/[a-z0-9]{3,24}\.blob\.core\.windows\.net\/[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9](\/.*)?$/],
  [ArtifactScheme.AZURE_ML, /^azureml:\/\/\S+$/],
  [ArtifactScheme.HTTPS, /^https:\/\/[^\s/]+\/\S*$/],
];

const URI_ALLOWED = 's3://BUCKET/KEY, gs://BUCKET/OBJECT, https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH, azureml://..., or https://HOST/PATH';

/**
 * The trained model's files: a local path that the target uploads, or an existing URI.
 *
 * A local directory is packed deterministically (the same content gives the same bytes), so an
 * unchanged model never causes a redeploy.
 */
export class ModelArtifact {
  /**
   * A local file or directory. Targets that need an archive (SageMaker's `model.tar.gz`) pack it;
   * a path that is already a `.tar.gz` file is used as it is.
   *
   * The path must exist when the app is synthesized.
   */
  public static fromLocalPath(path: string): ModelArtifact {
    if (typeof path !== 'string' || path.trim() === '') {
      throw new ModelDeploymentValidationError('model.path', path, 'a non-empty path to a model file or directory');
    }
    const layout = path.endsWith('.tar.gz') ? ArtifactLayout.TAR_GZ : ArtifactLayout.FILES;
    return new ModelArtifact(ArtifactSource.LOCAL_PATH, path, undefined, layout);
  }

  /**
   * An artifact that already exists in an object store. Each target accepts the schemes its
   * platform can read (SageMaker: `s3://`; Vertex AI: `gs://`; Azure ML: blob or `azureml://`).
   */
  public static fromUri(uri: string, options: ArtifactUriOptions = {}): ModelArtifact {
    options = checkOptions('model', options, ['layout']);
    if (typeof uri !== 'string') {
      throw new ModelDeploymentValidationError('model.uri', uri, URI_ALLOWED);
    }
    const match = URI_PATTERNS.find(([, pattern]) => pattern.test(uri));
    if (!match) {
      throw new ModelDeploymentValidationError('model.uri', uri, URI_ALLOWED);
    }
    const inferred = uri.endsWith('.tar.gz') ? ArtifactLayout.TAR_GZ : uri.endsWith('/') ? ArtifactLayout.PREFIX : ArtifactLayout.FILES;
    const layout = options.layout ?? inferred;
    if (!Object.values(ArtifactLayout).includes(layout)) {
      throw new ModelDeploymentValidationError('model.layout', layout, Object.values(ArtifactLayout).join(', '));
    }
    if (layout === ArtifactLayout.PREFIX && !uri.endsWith('/')) {
      throw new ModelDeploymentValidationError('model.uri', uri, 'a prefix URI that ends with "/" when layout is PREFIX');
    }
    return new ModelArtifact(ArtifactSource.URI, undefined, uri, layout, match[0]);
  }

  /** Where the artifact lives. */
  public readonly source: ArtifactSource;
  /** The local path, for `LOCAL_PATH` artifacts. */
  public readonly localPath?: string;
  /** The URI, for `URI` artifacts. */
  public readonly uri?: string;
  /** The URI's scheme, for `URI` artifacts. */
  public readonly scheme?: ArtifactScheme;
  /** How the bytes are laid out. */
  public readonly layout: ArtifactLayout;

  private constructor(source: ArtifactSource, localPath: string | undefined, uri: string | undefined, layout: ArtifactLayout, scheme?: ArtifactScheme) {
    this.source = source;
    this.localPath = localPath;
    this.uri = uri;
    this.layout = layout;
    this.scheme = scheme;
  }
}
