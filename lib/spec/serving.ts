import { checkInteger, checkOptions, checkString } from './check';
import { ModelDeploymentValidationError } from './errors';

/**
 * The inference server inside the container. Targets use it to pick a managed image (a SageMaker
 * Deep Learning Container, a Vertex AI prebuilt container) when no image is given.
 */
export enum ServingFramework {
  /** NVIDIA Triton Inference Server. */
  TRITON = 'triton',
  /** TorchServe (PyTorch). */
  TORCHSERVE = 'torchserve',
  /** TensorFlow Serving. */
  TENSORFLOW_SERVING = 'tensorflow-serving',
  /** A scikit-learn model behind the platform's scikit-learn server. */
  SKLEARN = 'sklearn',
  /** An XGBoost model behind the platform's XGBoost server. */
  XGBOOST = 'xgboost',
  /** vLLM's OpenAI-compatible server for large language models. */
  VLLM = 'vllm',
  /** Your own image and HTTP contract. */
  CUSTOM = 'custom',
}

/** Options shared by every serving preset and by custom containers, the image aside. */
export interface CommonServingOptions {
  /**
   * The framework version, used to pick the managed image.
   * @default - the newest version in the target's catalog
   */
  readonly frameworkVersion?: string;
  /**
   * Environment variables for the container. Never put secrets here: they end up in the
   * synthesized template or Terraform state. Pass secret references through the target instead.
   * @default - none
   */
  readonly environment?: { [name: string]: string };
  /**
   * How long the container may take to download the model and answer its health route.
   * @default 600
   */
  readonly startupTimeoutSeconds?: number;
}

/** Options shared by every serving preset. */
export interface ServingOptions extends CommonServingOptions {
  /**
   * The container image. Targets that only pull from their own registry (SageMaker: Amazon ECR;
   * Vertex AI: Artifact Registry) refuse images from elsewhere.
   * @default - the target's managed image for the framework
   */
  readonly image?: string;
}

/** Options for a server that serves one named model. */
export interface NamedModelServingOptions extends ServingOptions {
  /**
   * The model's name inside the server; it appears in the predict route.
   * @default 'model'
   */
  readonly modelName?: string;
}

/** Options for vLLM. */
export interface VllmServingOptions extends ServingOptions {
  /** The model id that vLLM serves, e.g. `meta-llama/Llama-3.1-8B-Instruct` or a local path. */
  readonly modelId: string;
}

/** Options for a custom container: you state its HTTP contract. */
export interface CustomServingOptions extends CommonServingOptions {
  /** The container image. Targets that only pull from their own registry refuse images from elsewhere. */
  readonly image: string;
  /**
   * The port the server listens on inside the container.
   * @default 8080
   */
  readonly port?: number;
  /**
   * The route that answers 200 when the model is loaded.
   * @default '/ping'
   */
  readonly healthPath?: string;
  /**
   * The route that takes prediction requests (POST).
   * @default '/invocations'
   */
  readonly predictPath?: string;
}

const DEFAULT_STARTUP_TIMEOUT_SECONDS = 600;
const COMMON_KEYS = ['image', 'frameworkVersion', 'environment', 'startupTimeoutSeconds'];
const NAMED_KEYS = [...COMMON_KEYS, 'modelName'];
const PATH_PATTERN = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,1023}$/;
const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
// registry/repository[:tag][@sha256:digest], lower-case repository as the OCI spec requires
const IMAGE_PATTERN = /^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

/**
 * The serving container: image, port, health and predict routes, environment and startup timeout.
 * Use a preset for a known inference server, or `custom()` for your own.
 */
export class ServingContainer {
  /** NVIDIA Triton Inference Server: port 8000, `/v2/health/ready`, `/v2/models/{model}/infer`. */
  public static triton(options: NamedModelServingOptions = {}): ServingContainer {
    options = checkOptions('serving', options, NAMED_KEYS);
    const model = modelName(options);
    return ServingContainer.preset(ServingFramework.TRITON, options, 8000, '/v2/health/ready', `/v2/models/${model}/infer`, model);
  }

  /** TorchServe: port 8080, `/ping`, `/predictions/{model}`. */
  public static torchServe(options: NamedModelServingOptions = {}): ServingContainer {
    options = checkOptions('serving', options, NAMED_KEYS);
    const model = modelName(options);
    return ServingContainer.preset(ServingFramework.TORCHSERVE, options, 8080, '/ping', `/predictions/${model}`, model);
  }

  /** TensorFlow Serving (REST): port 8501, `/v1/models/{model}`, `/v1/models/{model}:predict`. */
  public static tfServing(options: NamedModelServingOptions = {}): ServingContainer {
    options = checkOptions('serving', options, NAMED_KEYS);
    const model = modelName(options);
    return ServingContainer.preset(ServingFramework.TENSORFLOW_SERVING, options, 8501, `/v1/models/${model}`, `/v1/models/${model}:predict`, model);
  }

  /** A scikit-learn model behind the platform's scikit-learn server: port 8080, `/ping`, `/invocations`. */
  public static sklearn(options: ServingOptions = {}): ServingContainer {
    options = checkOptions('serving', options, COMMON_KEYS);
    return ServingContainer.preset(ServingFramework.SKLEARN, options, 8080, '/ping', '/invocations');
  }

  /** An XGBoost model behind the platform's XGBoost server: port 8080, `/ping`, `/invocations`. */
  public static xgboost(options: ServingOptions = {}): ServingContainer {
    options = checkOptions('serving', options, COMMON_KEYS);
    return ServingContainer.preset(ServingFramework.XGBOOST, options, 8080, '/ping', '/invocations');
  }

  /** vLLM's OpenAI-compatible server: port 8000, `/health`, `/v1/completions`. */
  public static vllm(options: VllmServingOptions): ServingContainer {
    options = checkOptions('serving', options, [...COMMON_KEYS, 'modelId']);
    if ( typeof options.modelId !== 'string' || options.modelId.trim() === '') {
      throw new ModelDeploymentValidationError('serving.modelId', options?.modelId, 'the model id vLLM serves, e.g. "meta-llama/Llama-3.1-8B-Instruct"');
    }
    return ServingContainer.preset(ServingFramework.VLLM, options, 8000, '/health', '/v1/completions', options.modelId);
  }

  /** Your own image and HTTP contract. */
  public static custom(options: CustomServingOptions): ServingContainer {
    options = checkOptions('serving', options, [...COMMON_KEYS, 'port', 'healthPath', 'predictPath']);
    if ( options.image === undefined) {
      throw new ModelDeploymentValidationError('serving.image', options?.image, 'a container image reference, e.g. "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-model:1.0"');
    }
    return ServingContainer.preset(ServingFramework.CUSTOM, options, options.port ?? 8080, options.healthPath ?? '/ping', options.predictPath ?? '/invocations');
  }

  private static preset(framework: ServingFramework, options: ServingOptions, port: number, healthPath: string, predictPath: string, modelNameValue?: string): ServingContainer {
    return new ServingContainer(framework, options, port, healthPath, predictPath, modelNameValue);
  }

  /** The inference server. */
  public readonly framework: ServingFramework;
  /** The image, when one was given. */
  public readonly image?: string;
  /** The framework version, when one was given. */
  public readonly frameworkVersion?: string;
  /** The container's port. */
  public readonly port: number;
  /** The health route. */
  public readonly healthPath: string;
  /** The predict route. */
  public readonly predictPath: string;
  /** The served model's name, for servers that route by model name. */
  public readonly modelName?: string;
  /** Environment variables. */
  public readonly environment: { [name: string]: string };
  /** Startup timeout in seconds. */
  public readonly startupTimeoutSeconds: number;

  private constructor(framework: ServingFramework, options: ServingOptions, port: number, healthPath: string, predictPath: string, modelNameValue?: string) {
    this.framework = framework;
    if (options.image !== undefined) {
      checkString('serving.image', options.image, IMAGE_PATTERN, 'an image reference REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST] with a lower-case repository');
    }
    if (options.frameworkVersion !== undefined) {
      checkString('serving.frameworkVersion', options.frameworkVersion, /^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$/, 'a version such as "2.3" or "1.2-1"');
    }
    this.image = options.image;
    this.frameworkVersion = options.frameworkVersion;
    this.port = checkInteger('serving.port', port, 1, 65535);
    this.healthPath = checkString('serving.healthPath', healthPath, PATH_PATTERN, 'an absolute URL path such as "/ping"');
    this.predictPath = checkString('serving.predictPath', predictPath, PATH_PATTERN, 'an absolute URL path such as "/invocations"');
    this.modelName = modelNameValue;
    this.startupTimeoutSeconds = checkInteger('serving.startupTimeoutSeconds', options.startupTimeoutSeconds ?? DEFAULT_STARTUP_TIMEOUT_SECONDS, 30, 7200);
    const environment = options.environment ?? {};
    if (environment === null || typeof environment !== 'object' || Array.isArray(environment)) {
      throw new ModelDeploymentValidationError('serving.environment', environment, 'an object of NAME: value strings');
    }
    for (const [name, value] of Object.entries(environment)) {
      checkString(`serving.environment`, name, ENV_NAME_PATTERN, 'variable names of letters, digits and _, not starting with a digit');
      if (typeof value !== 'string' || value.length > 1024) {
        throw new ModelDeploymentValidationError(`serving.environment.${name}`, value, 'a string of at most 1024 characters');
      }
    }
    this.environment = { ...environment };
  }
}

function modelName(options: NamedModelServingOptions): string {
  return checkString('serving.modelName', options.modelName ?? 'model', MODEL_NAME_PATTERN, 'letters, digits, ".", "_" and "-", starting with a letter or digit, at most 128 characters');
}
