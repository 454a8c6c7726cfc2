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
   * so the key never appears in cdktf.out or in the state. A relative path is resolved against the
   * project directory (where cdktf runs the app); `~/` is expanded by Terraform.
   * @default - the SSH agent (SSH_AUTH_SOCK)
   */
  readonly privateKeyPath?: string;
  /**
   * The host's public key as `TYPE BASE64` (what `ssh-keyscan -t ed25519 HOST` prints after the
   * host name, e.g. `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmd7Ze0hR3x6nkd0oEvKVa5Zp7bIkFGU0f0d7bq4bXk`),
   * pinned so that a host that presents another key is refused. Required unless
   * `insecureSkipHostKeyCheck` is set.
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
   * per line (16 to 1024 printable ASCII characters without quotes, backslash, `;`, `{`, `}`, `$`,
   * `#` or backtick, not starting with `~`; matched exactly). Terraform reads it at plan and apply time
   * and uploads it to each host (mode 0600 from its first byte); the keys never appear in cdktf.out or
   * in the state (its SHA-256 does, so that replacing the file rotates the keys: a proxy reload, no
   * container restarts). Callers send `X-Api-Key: KEY` or `Authorization: Bearer KEY`. A relative
   * path is resolved against the project directory (where cdktf runs the app). The synth checks the
   * file and every key in it when it exists; a missing file fails the synth, except for a `~/` path
   * (the home of whoever runs Terraform, maybe on another machine), which the plan checks instead.
   */
  readonly apiKeyFile: string;
  /**
   * Changing it uploads `apiKeyFile` to every host again (a proxy reload; no container restarts).
   * Rarely needed: a changed key file is picked up by its hash anyway.
   * @default 1
   */
  readonly apiKeyRevision?: number;
  /**
   * For air-gapped hosts: a local image archive that is uploaded and loaded, then checked against
   * the image id in its manifest. `serving.image` names the image inside it. A docker-archive
   * (`docker save`, `podman save --format docker-archive`) works with both runtimes; an OCI archive
   * (`podman save --format oci-archive`) only with podman. A relative path is resolved against the
   * project directory.
   * @default - the hosts pull `serving.image` from its registry
   */
  readonly imageArchive?: string;
  /**
   * The port each host's proxy listens on.
   * @default 8443
   */
  readonly proxyPort?: number;
  /**
   * The address each host's proxy binds to. With `access.network` PRIVATE (the default) it must be
   * 0.0.0.0, :: or a private address (see `allowedClientCidrs`); a public one is refused at synth.
   * @default '0.0.0.0'
   */
  readonly proxyBindAddress?: string;
  /**
   * The client networks each host's proxy answers, as IPv4 or IPv6 CIDRs (`10.20.0.0/16`,
   * `fd00:1::/64`; a single address as `/32` or `/128`). Written as the network address: a CIDR
   * with host bits set (`10.20.1.5/16`) is refused. A request from any other source address gets
   * 403 before its API key is looked at, on every path. With `access.network` PRIVATE every entry
   * must lie inside the private ranges (loopback 127.0.0.0/8 and ::1, 10.0.0.0/8, 172.16.0.0/12,
   * 192.168.0.0/16, 100.64.0.0/10, link-local 169.254.0.0/16 and fe80::/10, fc00::/7), so this
   * only narrows them; with PUBLIC any CIDR is allowed. 1 to 64 entries, each network once.
   * Changing it is a new version (a blue/green redeploy), like the other proxy settings.
   * The check is nginx's, by source address: it is not a firewall (see the README).
   * @default - with access.network PRIVATE, the private ranges above; with PUBLIC, every address
   */
  readonly allowedClientCidrs?: string[];
  /**
   * TLS for the proxy: required when `access.network` is PUBLIC (API keys must not cross networks
   * in clear text).
   * @default - plain HTTP, allowed only with access.network PRIVATE (or put the hosts behind your own TLS terminator)
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
   * Linux capabilities given back to the model containers, which otherwise run with none
   * (`--cap-drop ALL`) and with no-new-privileges. Names as in capabilities(7) without the `CAP_`
   * prefix, e.g. `['NET_BIND_SERVICE']` for a server that binds a port below 1024.
   * @default - none
   */
  readonly containerCapabilities?: string[];
  /**
   * Run the model containers with a read-only root file system (`--read-only`) and a writable
   * tmpfs at `/tmp`. The model is mounted read-only either way.
   * @default false
   */
  readonly readOnlyRootFilesystem?: boolean;
  /**
   * How long Terraform keeps trying to reach a host before the apply fails.
   * @default 30
   */
  readonly connectTimeoutSeconds?: number;
}

// A record over the interface's keys: a prop added to or removed from it without this entry fails to compile.
const OPTION_KEYS: Record<keyof OnPremTargetOptions, true> = {
  hosts: true, runtime: true, apiKeyFile: true, apiKeyRevision: true, imageArchive: true, proxyPort: true, proxyBindAddress: true,
  allowedClientCidrs: true, tls: true, slotPortBase: true, modelMountPath: true, containerCapabilities: true, readOnlyRootFilesystem: true,
  connectTimeoutSeconds: true,
};
/** The keys of OnPremTargetOptions, so the spec does not refuse them as unknown. */
export const ON_PREM_OPTION_KEYS: readonly string[] = Object.keys(OPTION_KEYS);
