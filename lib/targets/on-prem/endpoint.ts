import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Annotations, AssetType, Fn, ITerraformDependable, SSHProvisionerConnection, TerraformAsset, TerraformLocal, TerraformOutput } from 'cdktf';
import { TerraformData } from '../../common/terraform-data';
import { Construct, IConstruct } from 'constructs';
import type { IModelEndpoint } from '../../model-endpoint';
import { findTargetConstruct } from '../../common/target-construct';
import { hashFile, packModelArchive } from '../../common/model-archive';
import { nameFromConstructPath, sha256Hex } from '../../common/naming';
import { AuthMode } from '../../spec/access';
import { ArtifactSource } from '../../spec/artifact';
import { Problems, checkInteger } from '../../spec/check';
import { RolloutStrategy } from '../../spec/rollout';
import { ModelDeploymentSpecProps, ResolvedModelDeploymentSpec, resolveSpec } from '../../spec/spec';
import { escapeTerraformTemplate, terraformStringLiteral } from '../../common/terraform';
import { checkClientAccess } from './client-networks';
import { SAMPLES_FILE, apiKeyLines, apiKeyProblem } from './host-contract';
import {
  HostDeployValues, HostPlan, checkHostContract, checkOptionShapes, hostDeployValues, planHosts, readImageArchiveId, remoteScriptDir,
  renderContainerEnv, renderDeployEnv, renderSamplesFile, versionId,
} from './host-config';
import { TARGET } from './name';
import { ContainerRuntime, ON_PREM_OPTION_KEYS, OnPremTargetOptions } from './options';

/** Props for {@link OnPremModelEndpoint}: the spec plus the on-prem options. */
export interface OnPremModelEndpointProps extends ModelDeploymentSpecProps, OnPremTargetOptions {}

const HOST_SCRIPT = path.join(__dirname, 'host', 'modeldeploy.sh');

/** One host, validated: its plan and where Terraform puts the scripts it runs there. */
interface ResolvedHost {
  readonly plan: HostPlan;
  /** The script directory in the SSH user's home (relative: remote-exec resolves it from there). */
  readonly scriptDir: string;
}

/** An image archive to upload to air-gapped hosts, and the image id recorded in it. */
interface ResolvedImageArchive {
  /** The archive on this machine, as Terraform must see it (see localPath). */
  readonly path: string;
  readonly id: string;
}

/**
 * The props validated and their defaults applied, once: everything the render reads. Built by
 * `resolve`, which refuses the props (every problem at once) before any resource exists.
 */
interface ResolvedOnPremEndpoint {
  readonly spec: ResolvedModelDeploymentSpec;
  /** The on-prem options as given (the host values read them with the spec). */
  readonly options: OnPremTargetOptions;
  /** The deployment's name: lower-cased, or derived from the construct path. */
  readonly endpointName: string;
  /** Who owns the deployment directory on the hosts: the host script refuses a directory another deployment owns. */
  readonly owner: string;
  /** The hosts in order, with their share of the replicas. */
  readonly hosts: readonly ResolvedHost[];
  /** The API key file's path for Terraform (resolved against the project directory, or `~/...`). */
  readonly apiKeyFile: string;
  readonly apiKeyRevision: number;
  readonly connectTimeoutSeconds: number;
  readonly imageArchive?: ResolvedImageArchive;
  /** The container's env file, the same on every host. */
  readonly containerEnv: string;
  /** The proxies' URL scheme. */
  readonly scheme: 'http' | 'https';
}

/** An uploaded image archive: its asset, its hash (the upload's name and trigger) and the image id. */
interface ImageUpload {
  readonly asset: TerraformAsset;
  readonly sha256: string;
  readonly id: string;
}

/** What the hosts receive from the machine that runs Terraform, made once and shared by every host. */
interface RenderedAssets {
  readonly artifact: TerraformAsset;
  /** The artifact's sha256: its name on the hosts, its trigger and part of the version. */
  readonly artifactSha256: string;
  readonly image?: ImageUpload;
  readonly hostScript: TerraformAsset;
  readonly hostScriptSha256: string;
  /** Empty directories named like each host's script directory (see scriptDirsAsset). */
  readonly scriptDirs: TerraformAsset;
  /** The API key file's path, as a reference to the ApiKeyFile local. */
  readonly apiKeyFilePath: string;
}

/** One host's render context: what its resources need beyond the resolved deployment and the assets. */
interface HostRender extends ResolvedHost {
  readonly connection: SSHProvisionerConnection;
  /** The host's deploy.env values, minus the version id. */
  readonly values: HostDeployValues;
  readonly version: string;
  /** The deployment of the host before this one: hosts are updated one after another. */
  readonly previous?: ITerraformDependable;
}

/**
 * A model served from your own GPU hosts: containers started over SSH by Terraform's built-in
 * `terraform_data` (nothing to download), each host behind its own nginx proxy that checks an API
 * key. Per host, in order: the host script, the model artifact and (for air-gapped hosts) the
 * image are uploaded only when they change; then the new version starts beside the old one, is
 * health-checked, and the proxy switches to it; the old version is removed afterwards. Hosts are
 * updated one after another.
 */
export class OnPremModelEndpoint extends Construct implements IModelEndpoint {
  /** The OnPremModelEndpoint that a ModelDeployment (or any construct containing one) built. */
  public static of(scope: IConstruct): OnPremModelEndpoint {
    return findTargetConstruct(scope, OnPremModelEndpoint, TARGET);
  }

  public readonly targetName = TARGET;
  /** The deployment's name (also its directory name on the hosts). */
  public readonly endpointName: string;
  /** The first host's predict URL; every host serves the same model (see `hostUrls`). */
  public readonly endpointUrl: string;
  /** The predict URL of each host, by host name. */
  public readonly hostUrls: { [host: string]: string } = {};
  /** The version id each host runs, by host name. */
  public readonly versions: { [host: string]: string } = {};
  /** The `terraform_data` that deploys to each host, by host name (escape hatch). */
  public readonly hostDeployments: { [host: string]: TerraformData } = {};

  constructor(scope: Construct, id: string, props: OnPremModelEndpointProps) {
    super(scope, id);
    // Resolve, then render: every refusal is collected, and nothing is created before all pass.
    const resolved = this.resolve(props);
    this.endpointName = resolved.endpointName;
    const assets = this.renderAssets(resolved);
    let previous: ITerraformDependable | undefined;
    for (const host of resolved.hosts) previous = this.renderHost(resolved, assets, host, previous);
    this.endpointUrl = this.hostUrls[resolved.hosts[0].plan.host.name];
    this.renderOutputs(resolved);
  }

  /** Validates the props and applies their defaults; every problem is collected and thrown together, before any resource is created. */
  private resolve(props: OnPremModelEndpointProps): ResolvedOnPremEndpoint {
    const spec = resolveSpec(props, ON_PREM_OPTION_KEYS);
    const problems = new Problems(TARGET);
    checkOptionShapes(problems, props);
    problems.throwIfAny();
    checkTargetLimits(problems, spec, props);
    checkClientAccess(problems, spec.network, props);
    const endpointName = spec.endpointName?.toLowerCase() ?? deploymentNameFrom(this.node.path);
    const plans = planHosts(problems, endpointName, spec.scaling.minReplicas, props);
    const apiKeyFile = checkApiKeyFile(problems, props.apiKeyFile, message => Annotations.of(this).addWarning(message));
    const apiKeyRevision = props.apiKeyRevision ?? 1;
    problems.check(() => checkInteger('apiKeyRevision', apiKeyRevision, 1, 1_000_000, TARGET));
    const connectTimeoutSeconds = props.connectTimeoutSeconds ?? 30;
    problems.check(() => checkInteger('connectTimeoutSeconds', connectTimeoutSeconds, 1, 3600, TARGET));
    const imageArchive = resolveImageArchive(problems, props.imageArchive, props.runtime ?? ContainerRuntime.DOCKER);
    const containerEnv = renderContainerEnv(spec.serving.environment);
    const userValues = {
      MD_REPLICAS: spec.scaling.minReplicas, MD_MODEL_MOUNT: props.modelMountPath, MD_PROXY_BIND: props.proxyBindAddress, MD_ALLOWED_CLIENTS: props.allowedClientCidrs,
    };
    // The artifact's checksum is not known before packing; a placeholder of the right shape stands in.
    for (const plan of plans) {
      const draft = hostDeployValues(spec, props, plan, endpointName, '0'.repeat(64));
      checkHostContract(problems, { ...draft, MD_VERSION: versionId(draft, containerEnv) }, plan, userValues);
    }
    claimHostDirectories(problems, this, plans);
    problems.throwIfAny();

    const owner = this.node.path.replace(/[^A-Za-z0-9._/:-]/g, '-').slice(-200);
    return {
      spec, options: props, endpointName, owner,
      hosts: plans.map(plan => ({ plan, scriptDir: remoteScriptDir(endpointName, plan.deploymentDir, owner) })),
      apiKeyFile, apiKeyRevision, connectTimeoutSeconds, imageArchive, containerEnv,
      scheme: props.tls ? 'https' : 'http',
    };
  }

  /** The files every host receives (model, image, host script, script directories) and the key file's local. */
  private renderAssets(r: ResolvedOnPremEndpoint): RenderedAssets {
    // The model archive and the optional image archive travel in cdktf.out as assets. The model is
    // an uncompressed tar: its hash (the artifact's trigger and part of the version) is then the
    // content hash, the same on every machine whatever its zlib; weights barely compress anyway.
    const archive = packModelArchive(r.spec.model.localPath!, { compression: 'none' });
    const artifact = new TerraformAsset(this, 'ModelArtifact', { path: archive.archivePath, type: AssetType.FILE, assetHash: archive.contentHash });
    const image = r.imageArchive === undefined ? undefined : this.imageAsset(r.imageArchive);
    const hostScriptSha256 = hashFile(HOST_SCRIPT);
    const hostScript = new TerraformAsset(this, 'HostScript', { path: HOST_SCRIPT, type: AssetType.FILE, assetHash: hostScriptSha256 });
    // A local, so that the keys' precondition refers to something (Terraform requires it). The
    // path is written as an escaped HCL string: cdktf's Fn.* would leave quotes and %{ raw.
    const apiKeyFilePath = new TerraformLocal(this, 'ApiKeyFile', `\${pathexpand(${terraformStringLiteral(r.apiKeyFile)})}`).asString;
    const scriptDirs = this.scriptDirsAsset(r.hosts.map(host => host.scriptDir));
    return { artifact, artifactSha256: archive.sha256, image, hostScript, hostScriptSha256, scriptDirs, apiKeyFilePath };
  }

  /** One host's resources, recorded in hostUrls, versions and hostDeployments; returns its deployment. */
  private renderHost(r: ResolvedOnPremEndpoint, assets: RenderedAssets, host: ResolvedHost, previous?: ITerraformDependable): TerraformData {
    const values = hostDeployValues(r.spec, r.options, host.plan, r.endpointName, assets.artifactSha256);
    const version = versionId(values, r.containerEnv);
    const connection = sshConnection(host.plan, r.connectTimeoutSeconds, host.scriptDir);
    const deployed = this.hostResources(r, assets, { ...host, connection, values, version, previous });
    const name = host.plan.host.name;
    this.versions[name] = version;
    this.hostDeployments[name] = deployed;
    this.hostUrls[name] = `${r.scheme}://${urlHost(host.plan.host.address)}:${values.MD_PROXY_PORT}${r.spec.serving.predictPath}`;
    return deployed;
  }

  /** The deployment's outputs: each host's URL, version, address, replicas and labels. */
  private renderOutputs(r: ResolvedOnPremEndpoint): void {
    const literal = (text: string) => escapeTerraformTemplate(text);
    const literalKeys = <T>(o: { [k: string]: T }, f: (v: T) => unknown) => Object.fromEntries(Object.entries(o).map(([k, v]) => [literal(k), f(v)]));
    new TerraformOutput(this, 'HostUrls', { value: literalKeys(this.hostUrls, literal), description: 'Predict URL of each host (send X-Api-Key or Authorization: Bearer)' });
    new TerraformOutput(this, 'Versions', { value: literalKeys(this.versions, v => v), description: 'Version id each host runs' });
    new TerraformOutput(this, 'Hosts', {
      value: Object.fromEntries(r.hosts.map(({ plan: p }) => [literal(p.host.name), {
        address: literal(p.host.address), replicas: p.replicas, labels: literalKeys(p.host.labels ?? {}, literal),
      }])),
      description: 'Each host: its address, replica count and labels',
    });
  }

  /**
   * The resources of one host: the anchor that owns everything on it, then the script, the
   * artifact, the image, the API keys, and the deployment that uses them.
   */
  private hostResources(r: ResolvedOnPremEndpoint, assets: RenderedAssets, h: HostRender): TerraformData {
    // Every user string below is validated by the host contract, and escaped all the same.
    const { connection, scriptDir } = h;
    const id = h.plan.host.name;
    const name = escapeTerraformTemplate(id);
    const dir = escapeTerraformTemplate(h.plan.deploymentDir);
    const runtime = escapeTerraformTemplate(h.values.MD_RUNTIME);
    const runtimeArgs = escapeTerraformTemplate(h.values.MD_RUNTIME_ARGS);
    const tool = `bash ${dir}/tool/modeldeploy.sh`;
    const replaceFirst = { createBeforeDestroy: true };

    // The anchor: created first and destroyed last (everything of this host depends on it). Its
    // destroy step removes all the deployment ever put on the host, whatever happened before:
    // Terraform runs no destroy step for a tainted object (a failed update) nor for a deposed one
    // (the version still serving after a create_before_destroy replacement), so the others' could not.
    // Terraform's scp creates a directory with mode 0755 whatever the local mode (measured: it sends
    // D0755), so the script directory is made by uploading an empty directory into the SSH user's
    // home, and the first script makes it 0700 (the home must keep other users out until then).
    // Its create and destroy steps both upload the current host script there, so teardown never lacks it.
    const scriptDirUpload = { type: 'file' as const, source: escapeTerraformTemplate(`${assets.scriptDirs.path}/${scriptDir}`), destination: '.' };
    const hostScriptUpload = { type: 'file' as const, source: escapeTerraformTemplate(assets.hostScript.path), destination: `${scriptDir}/modeldeploy.sh` };
    const anchor = new TerraformData(this, `${id}-host`, {
      triggersReplace: { dir },
      input: { dir, runtime, runtimeArgs, host: name, owner: r.owner, scriptDir },
      connection,
      provisioners: [
        scriptDirUpload,
        hostScriptUpload,
        remoteExec([`MD_HOST=${name} bash ${scriptDir}/modeldeploy.sh prepare ${dir} ${r.owner} \${self.id} ${scriptDir} "$0"`]),
        atDestroy(scriptDirUpload),
        atDestroy(hostScriptUpload),
        atDestroy(remoteExec([`MD_HOST=\${self.input.host} bash \${self.input.scriptDir}/modeldeploy.sh teardown \${self.input.dir} \${self.input.runtime} '\${self.input.runtimeArgs}' \${self.input.owner} \${self.id} \${self.input.scriptDir} "$0"`])),
      ],
    });

    // Private from the first byte: every directory 0700 before any upload.
    const dirs = ['', '/tool', '/proxy', '/versions', '/artifacts', '/images'].map(sub => `${dir}${sub}`).join(' ');
    const toolResource = new TerraformData(this, `${id}-tool`, {
      triggersReplace: { script: assets.hostScriptSha256, dir },
      connection,
      dependsOn: [anchor],
      provisioners: [
        remoteExec([`umask 077 && mkdir -p ${dirs} && chmod 700 ${dirs} && ${privateFiles(`${dir}/tool/modeldeploy.sh`)} && echo '[model-deploy host=${name}] uploading host script'`]),
        { type: 'file', source: escapeTerraformTemplate(assets.hostScript.path), destination: `${dir}/tool/modeldeploy.sh` },
      ],
    });

    const artifactSha256 = assets.artifactSha256;
    const artifactResource = new TerraformData(this, `${id}-artifact`, {
      triggersReplace: { sha256: artifactSha256, dir },
      connection,
      dependsOn: [anchor, toolResource],
      lifecycle: replaceFirst,
      provisioners: [
        remoteExec([`${privateFiles(`${dir}/artifacts/${artifactSha256}.tar.upload`)} && echo '[model-deploy host=${name}] uploading model artifact ${artifactSha256.slice(0, 12)}'`]),
        { type: 'file', source: escapeTerraformTemplate(assets.artifact.path), destination: `${dir}/artifacts/${artifactSha256}.tar.upload` },
        remoteExec([`${tool} install-artifact ${dir} ${artifactSha256}`]),
      ],
    });

    const image = assets.image;
    const imageRef = escapeTerraformTemplate(h.values.MD_IMAGE);
    const imageResource = new TerraformData(this, `${id}-image`, {
      triggersReplace: { image: imageRef, archive: image?.sha256 ?? '', dir },
      connection,
      dependsOn: [anchor, toolResource],
      lifecycle: replaceFirst,
      provisioners: [
        ...(image ? [
          remoteExec([`${privateFiles(`${dir}/images/${image.sha256}.tar.upload`)} && echo '[model-deploy host=${name}] uploading image archive ${image.sha256.slice(0, 12)}'`]),
          { type: 'file' as const, source: escapeTerraformTemplate(image.asset.path), destination: `${dir}/images/${image.sha256}.tar.upload` },
        ] : []),
        remoteExec([`${tool} install-image ${dir} ${runtime} '${runtimeArgs}' ${imageRef} '${image?.sha256 ?? ''}' '${image?.id ?? ''}'`]),
      ],
    });

    // Rotating keys is a proxy reload: a changed key file (its hash, taken by Terraform at plan
    // time) replaces only this resource, never the deployment's containers.
    const keyFile = assets.apiKeyFilePath;
    const keyFilePresent = Fn.fileexists(keyFile);
    const keysUpload = `${dir}/proxy/api-keys.upload`;
    const keysResource = new TerraformData(this, `${id}-keys`, {
      // Terraform evaluates triggers and provisioner blocks before preconditions: every read is
      // guarded, so that a missing file is reported by the precondition, in the option's name.
      triggersReplace: { keys: Fn.conditional(keyFilePresent, Fn.filesha256(keyFile), 'missing'), revision: r.apiKeyRevision, dir },
      connection,
      dependsOn: [anchor, toolResource],
      lifecycle: {
        ...replaceFirst,
        precondition: [{
          condition: keyFilePresent,
          errorMessage: escapeTerraformTemplate(`apiKeyFile: no file at ${r.apiKeyFile} on the machine that runs terraform (the API keys the proxies accept, one per line).`),
        }],
      },
      provisioners: [
        remoteExec([`umask 077 && mkdir -p ${dir}/proxy && chmod 700 ${dir}/proxy && ${privateFiles(keysUpload)}`]),
        // Read at apply time and marked sensitive: the keys are in neither cdktf.out nor the state.
        { type: 'file', content: Fn.sensitive(Fn.conditional(keyFilePresent, Fn.file(keyFile), '')), destination: keysUpload },
        remoteExec([`MD_HOST=${name} ${tool} update-keys ${dir}`]),
      ],
    });

    const versionDir = `${dir}/versions/${h.version}`;
    const verification = r.spec.verification;
    const versionFiles = [`${versionDir}/deploy.env`, `${versionDir}/container.env`, ...(verification ? [`${versionDir}/${SAMPLES_FILE}`] : [])];
    return new TerraformData(this, `${id}-deployment`, {
      triggersReplace: { version: h.version },
      connection,
      // One host after another: this host's new version is up before the next host starts.
      dependsOn: [anchor, toolResource, artifactResource, imageResource, keysResource, ...(h.previous ? [h.previous] : [])],
      lifecycle: replaceFirst,
      provisioners: [
        remoteExec([`umask 077 && mkdir -p ${versionDir} && chmod 700 ${versionDir} && ${privateFiles(...versionFiles)}`]),
        { type: 'file', content: escapeTerraformTemplate(renderDeployEnv({ ...h.values, MD_VERSION: h.version })), destination: `${versionDir}/deploy.env` },
        { type: 'file', content: escapeTerraformTemplate(r.containerEnv), destination: `${versionDir}/container.env` },
        // The samples the new version must answer before the proxy switches to it (the host's verify_samples).
        ...(verification ? [{ type: 'file' as const, content: escapeTerraformTemplate(renderSamplesFile(verification)), destination: `${versionDir}/${SAMPLES_FILE}` }] : []),
        remoteExec([`${tool} deploy ${versionDir}/deploy.env`]),
      ],
    });
  }

  /** Empty directories named like each host's script directory: uploading one creates it on the host. */
  private scriptDirsAsset(names: string[]): TerraformAsset {
    const hash = sha256Hex(names.join('\n'));
    const local = path.join(os.tmpdir(), 'cdk-model-deployment-script-dirs', hash);
    for (const name of names) fs.mkdirSync(path.join(local, name), { recursive: true, mode: 0o700 });
    return new TerraformAsset(this, 'ScriptDirs', { path: local, type: AssetType.DIRECTORY, assetHash: hash });
  }

  private imageAsset(archive: ResolvedImageArchive): ImageUpload {
    const sha256 = hashFile(archive.path);
    return { asset: new TerraformAsset(this, 'ImageArchive', { path: archive.path, type: AssetType.FILE, assetHash: sha256 }), sha256, id: archive.id };
  }
}

type Provisioner = { type: 'remote-exec'; inline: string[] } | { type: 'file'; source: string; destination: string };

/**
 * Terraform uploads each remote-exec script, runs it, then empties it and leaves it there. The first
 * line starts a watcher that removes the script once Terraform has emptied it (at most 10 s after it
 * ends), so scripts never pile up on the host. Terraform runs scripts on a terminal, whose SIGHUP
 * would kill the watcher when the script ends: it is started with SIGHUP ignored (set before the
 * fork, so no race), and the step itself runs with the default again.
 */
const REMOVE_OWN_SCRIPT = 'trap \'\' HUP; f="$0"; p=$$; (while kill -0 $p 2>/dev/null; do sleep 1; done; i=0; '
  + 'while [ -s "$f" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; rm -f "$f") </dev/null >/dev/null 2>&1 & trap - HUP';

function remoteExec(inline: string[]): Provisioner {
  return { type: 'remote-exec', inline: [REMOVE_OWN_SCRIPT, ...inline] };
}

/** A destroy-time step. cdktf's types only allow `when` on local-exec, but Terraform takes it on any provisioner. */
function atDestroy<T extends Provisioner>(provisioner: T): T & { when: 'destroy' } {
  return { ...provisioner, when: 'destroy' };
}

/**
 * Shell that creates FILES empty and 0600 (or makes existing ones 0600) before an upload: scp writes
 * into an existing file and keeps its mode, so the upload is private from its first byte.
 */
function privateFiles(...files: string[]): string {
  return `umask 077 && touch ${files.join(' ')} && chmod 600 ${files.join(' ')}`;
}

function sshConnection(plan: HostPlan, timeoutSeconds: number, scriptDir: string): SSHProvisionerConnection {
  const host = plan.host;
  const literal = (text: string | undefined) => text === undefined ? undefined : escapeTerraformTemplate(text);
  return {
    type: 'ssh',
    host: literal(host.address)!,
    port: plan.port,
    user: literal(host.user),
    // file() runs at apply time: the key's path is in cdktf.out, the key is not (nor in the state).
    privateKey: host.privateKeyPath === undefined ? undefined : `\${file(pathexpand(${terraformStringLiteral(localPath(host.privateKeyPath))}))}`,
    agent: host.privateKeyPath === undefined ? 'true' : undefined,
    hostKey: literal(host.hostKey?.trim()),
    timeout: `${timeoutSeconds}s`,
    // Relative: remote-exec resolves it from the SSH user's home (measured with Terraform 1.11).
    scriptPath: literal(host.scriptPath) ?? `${scriptDir}/terraform_%RAND%.sh`,
  };
}

/**
 * A path on the machine that runs cdktf, as Terraform must see it: Terraform runs from
 * cdktf.out/stacks/<stack>/, so a relative path is resolved here, against the project directory
 * (where cdktf runs the app). `~/...` is left to Terraform's pathexpand.
 */
function localPath(file: string): string {
  return file === '~' || file.startsWith('~/') ? file : path.resolve(process.cwd(), file);
}

function expandHome(file: string): string {
  return file === '~' || file.startsWith('~/') ? path.join(process.env.HOME || os.homedir(), file.slice(1)) : file;
}

/** The image archive's path for Terraform and the image id read from it (a refusal is recorded). */
function resolveImageArchive(problems: Problems, file: string | undefined, runtime: ContainerRuntime): ResolvedImageArchive | undefined {
  if (file === undefined) return undefined;
  const archivePath = localPath(file);
  let id = '';
  problems.check(() => { id = readImageArchiveId(archivePath, runtime); });
  return { path: archivePath, id };
}

/**
 * The API key file must hold keys that the hosts accept; messages name lines and rules, never a
 * key. It must exist here, unless it is a `~/` path: that names the home of whoever runs
 * Terraform, perhaps on another machine, so a missing one is a warning here and the plan's
 * precondition names it there. Returns the path for Terraform.
 */
function checkApiKeyFile(problems: Problems, file: string, warn: (message: string) => void): string {
  if (typeof file !== 'string' || file.trim() === '') {
    problems.add('apiKeyFile', file, 'a local file holding the API key(s), one per line, read at apply time');
    return '';
  }
  const resolved = localPath(file);
  let text: string;
  try {
    text = fs.readFileSync(expandHome(resolved), 'utf8');
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    if (missing && resolved.startsWith('~')) {
      warn(`apiKeyFile ${file} does not exist on this machine; it must exist in the home of whoever runs terraform plan and apply`);
      return resolved;
    }
    const why = missing ? 'it does not exist' : (e as Error).message;
    problems.add('apiKeyFile', file, `a readable file on this machine holding the API key(s), one per line (Terraform reads it at apply time; relative paths are resolved against ${process.cwd()}): ${why}`);
    return resolved;
  }
  const keys = apiKeyLines(text);
  if (keys.length === 0) problems.add('apiKeyFile', file, 'a file holding at least one API key (one per line; blank lines and # comments are skipped)');
  for (const { line, key } of keys) {
    const rule = apiKeyProblem(key);
    if (rule !== undefined) {
      problems.add('apiKeyFile', `${file}, line ${line} (the key is not shown)`, rule);
      break;
    }
  }
  return resolved;
}

// Which host directories each app's on-prem deployments use, keyed by the construct tree's root.
const HOST_DIRECTORIES = new WeakMap<IConstruct, Map<string, string>>();

/** Refuses two deployments of one app that would share a directory on a host (item: Vision and vision). */
function claimHostDirectories(problems: Problems, deployment: Construct, plans: HostPlan[]): void {
  const root = deployment.node.root;
  const claimed = HOST_DIRECTORIES.get(root) ?? new Map<string, string>();
  HOST_DIRECTORIES.set(root, claimed);
  const mine: string[] = [];
  for (const plan of plans) {
    // The deployment name in deploymentDir is lower-cased already (Vision and vision meet here).
    const where = `${plan.host.address.toLowerCase()}:${plan.port}:${plan.deploymentDir}`;
    const owner = claimed.get(where);
    if (owner !== undefined && owner !== deployment.node.path) {
      problems.add(`hosts[${plan.index}]`, `${plan.host.address}:${plan.port} ${plan.deploymentDir}`,
        `a host directory no other deployment uses: ${owner} deploys to the same directory on that host (deployment names are compared lower-cased; set another endpointName or deployRoot)`);
    }
    mine.push(where);
  }
  if (problems.count === 0) for (const where of mine) claimed.set(where, deployment.node.path);
}

function checkTargetLimits(problems: Problems, spec: ResolvedModelDeploymentSpec, props: OnPremModelEndpointProps): void {
  const refuse = (field: string, value: unknown, allowed: string) => problems.add(field, value, allowed);
  if (spec.auth !== undefined && spec.auth !== AuthMode.KEY) {
    refuse('access.auth', spec.auth, 'KEY: on-prem hosts check an API key in their proxy (there is no cloud identity)');
  }
  if (spec.scaling.minReplicas !== spec.scaling.maxReplicas) {
    refuse('scaling.maxReplicas', spec.scaling.maxReplicas, `equal to minReplicas (${spec.scaling.minReplicas}): SSH hosts have no autoscaler, so the replica count is fixed`);
  }
  if (spec.scaling.minReplicas < 1) refuse('scaling.minReplicas', spec.scaling.minReplicas, 'at least 1');
  const rollout = spec.rollout;
  if (rollout.strategy !== RolloutStrategy.ALL_AT_ONCE) {
    refuse('rollout', rollout.strategy,
      'Rollout.allAtOnce(): on-prem hosts switch blue/green one host at a time; canary and linear traffic shifting need a load balancer in front of the hosts');
  } else if (rollout.waitMinutes !== 0 || rollout.terminationWaitMinutes !== 0) {
    refuse('rollout.bakeMinutes', rollout.waitMinutes || rollout.terminationWaitMinutes, '0: each host is switched as soon as the new version answers its health route');
  }
  if (spec.monitoring.capture) refuse('monitoring.capture', spec.monitoring.capture, 'left out: request capture is not available on on-prem hosts');
  if (spec.serving.image === undefined) refuse('serving.image', undefined, 'the image to run (pin a tag or digest): on-prem hosts have no managed images');
  if (spec.model.source !== ArtifactSource.LOCAL_PATH) {
    refuse('model', spec.model.uri, 'ModelArtifact.fromLocalPath(...): the artifact is uploaded to each host over SSH');
  }
  if (props.runtime !== undefined && !Object.values(ContainerRuntime).includes(props.runtime)) {
    refuse('runtime', props.runtime, Object.values(ContainerRuntime).join(', '));
  }
}

function deploymentNameFrom(constructPath: string): string {
  return nameFromConstructPath(constructPath, 33);
}

function urlHost(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}
