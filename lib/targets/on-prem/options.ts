/** The container engine on the hosts. */
export enum ContainerRuntime {
  /** Docker, with the NVIDIA container toolkit for GPUs (`--gpus device=UUID`). */
  DOCKER = 'docker',
  /** Podman, with NVIDIA CDI specs for GPUs (`--device nvidia.com/gpu=UUID`). */
  PODMAN = 'podman',
}

/** One GPU host reached over SSH. */
export interface OnPremHost {
  /** A short name for messages and resource names: lower-case letters, digits and hyphens. */
  readonly name: string;
  /** The address SSH connects to (IP or DNS name); the proxy serves on it too. */
  readonly address: string;
  /**
   * The SSH port.
   * @default 22
   */
  readonly port?: number;
  /** The SSH user. It needs to run the container runtime and nginx (root, or a member of the docker group with nginx allowed). */
  readonly user: string;
  /**
   * A private key file on the machine that runs `cdktf apply`. Terraform reads it at apply time,
   * so the key never appears in cdktf.out or in the state.
   * @default - the SSH agent (SSH_AUTH_SOCK)
   */
  readonly privateKeyPath?: string;
  /**
   * The host's public key (for example `ssh-ed25519 AAAA...`), pinned so that a host that
   * presents another key is refused. Required unless `insecureSkipHostKeyCheck` is set.
   * @default - none: required
   */
  readonly hostKey?: string;
  /**
   * Accept whatever key the host presents. Only for throw-away lab hosts.
   * @default false
   */
  readonly insecureSkipHostKeyCheck?: boolean;
  /**
   * Labels for your own bookkeeping; they are written into the deployment's outputs.
   * @default - none
   */
  readonly labels?: { [key: string]: string };
  /**
   * The directory under which deployments live on this host. Root's boot hook runs a script from
   * under it, so the host refuses one that is writable by group or others or owned by anyone but
   * root or the SSH user, and the same for every directory above it (sticky ones like /tmp pass).
   * @default '/opt/model-deployments'
   */
  readonly deployRoot?: string;
  /**
   * Where Terraform writes the scripts it runs on this host (`connection.script_path`;
   * `%RAND%` is replaced by a random number). The directory must exist and only the SSH user may
   * enter it: Terraform makes each script mode 0777.
   * @default - a private (0700) directory `~/.model-deploy-<deployment>-<hash>` in the SSH user's home, removed on destroy
   */
  readonly scriptPath?: string;
  /**
   * Extra global arguments for the container runtime on this host (for example
   * `['--root', '/data/containers']` for podman storage on a bigger disk).
   * @default - none
   */
  readonly runtimeArgs?: string[];
}

/** TLS for the proxy: certificate and key files that already exist on every host. */
export interface OnPremTlsOptions {
  /** The certificate (chain) file on the hosts. */
  readonly certificatePath: string;
  /** The private key file on the hosts. */
  readonly keyPath: string;
}

/** Everything specific to the on-prem target. */
export interface OnPremTargetOptions {
  /** The hosts. Replicas are spread over them; each host serves through its own proxy. */
  readonly hosts: OnPremHost[];
  /**
   * The container runtime on the hosts.
   * @default ContainerRuntime.DOCKER
   */
  readonly runtime?: ContainerRuntime;
  /**
   * A file on the machine that runs `cdktf apply` holding the API key(s) the proxy accepts, one
   * per line. Terraform reads it at apply time and uploads it to each host (mode 0600); it never
   * appears in cdktf.out or in the state. Callers send `X-Api-Key: KEY` or `Authorization: Bearer KEY`.
   */
  readonly apiKeyFile: string;
  /**
   * Bump it after changing the keys in `apiKeyFile`, so the hosts get the new keys (the key
   * file's content is deliberately not tracked, not even as a hash).
   * @default 1
   */
  readonly apiKeyRevision?: number;
  /**
   * For air-gapped hosts: a local image archive (`docker save` / `podman save` output) that is
   * uploaded and loaded, then checked against the image id in its manifest. `serving.image` names
   * the image inside it.
   * @default - the hosts pull `serving.image` from its registry
   */
  readonly imageArchive?: string;
  /**
   * The port each host's proxy listens on.
   * @default 8443
   */
  readonly proxyPort?: number;
  /**
   * The address each host's proxy binds to.
   * @default '0.0.0.0'
   */
  readonly proxyBindAddress?: string;
  /**
   * TLS for the proxy.
   * @default - plain HTTP (put it behind your own TLS terminator, or set this)
   */
  readonly tls?: OnPremTlsOptions;
  /**
   * The first loopback port of the model containers. Each host reserves the 128 ports from it
   * (blue and green slots of up to 64 replicas each): replica r of colour c listens on
   * slotPortBase + 64 * c + r, so changing the replica count never collides with the running version.
   * @default 18000
   */
  readonly slotPortBase?: number;
  /**
   * Where the model is mounted, read-only, inside the container.
   * @default '/opt/ml/model'
   */
  readonly modelMountPath?: string;
  /**
   * How long Terraform keeps trying to reach a host before the apply fails.
   * @default 30
   */
  readonly connectTimeoutSeconds?: number;
}

/** The keys of OnPremTargetOptions, so the spec does not refuse them as unknown. */
export const ON_PREM_OPTION_KEYS: readonly string[] = [
  'hosts', 'runtime', 'apiKeyFile', 'apiKeyRevision', 'imageArchive', 'proxyPort', 'proxyBindAddress', 'tls',
  'slotPortBase', 'modelMountPath', 'connectTimeoutSeconds',
];
