import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AssetType, DataResource, Fn, ITerraformDependable, SSHProvisionerConnection, TerraformAsset, TerraformOutput } from 'cdktf';
import { Construct, IConstruct } from 'constructs';
import type { IModelEndpoint } from '../../deployment-target';
import { findTargetConstruct } from '../../common/target-construct';
import { hashFile, packModelArtifact } from '../../common/model-archive';
import { AuthMode } from '../../spec/access';
import { ArtifactSource } from '../../spec/artifact';
import { checkInteger } from '../../spec/check';
import { ModelDeploymentValidationError } from '../../spec/errors';
import { RolloutStrategy } from '../../spec/rollout';
import { ModelDeploymentSpecProps, ResolvedModelDeploymentSpec, resolveSpec } from '../../spec/spec';
import {
  HostPlan, SLOT_PORTS_PER_HOST, TARGET, hostDeployValues, planHosts, readImageArchiveId, remoteScriptDir, renderContainerEnv,
  renderDeployEnv, versionId,
} from './host-config';
import { ContainerRuntime, ON_PREM_OPTION_KEYS, OnPremTargetOptions } from './options';

/** Props for {@link OnPremModelDeployment}: the spec plus the on-prem options. */
export interface OnPremModelDeploymentProps extends ModelDeploymentSpecProps, OnPremTargetOptions {}

const HOST_SCRIPT = path.join(__dirname, 'host', 'modeldeploy.sh');

/**
 * A model served from your own GPU hosts: containers started over SSH by Terraform's built-in
 * `terraform_data` (nothing to download), each host behind its own nginx proxy that checks an API
 * key. Per host, in order: the host script, the model artifact and (for air-gapped hosts) the
 * image are uploaded only when they change; then the new version starts beside the old one, is
 * health-checked, and the proxy switches to it; the old version is removed afterwards. Hosts are
 * updated one after another.
 */
export class OnPremModelDeployment extends Construct implements IModelEndpoint {
  /** The OnPremModelDeployment that a ModelDeployment (or any construct containing one) built. */
  public static of(scope: IConstruct): OnPremModelDeployment {
    return findTargetConstruct(scope, OnPremModelDeployment, TARGET);
  }

  public readonly targetName = TARGET;
  /** The deployment's name (also its directory name on the hosts). */
  public readonly endpointName: string;
  /** The first host's predict URL; every host serves the same model (see `hostUrls`). */
  public readonly endpointUrl: string;
  /** The predict URL of each host, by host name. */
  public readonly hostUrls: { [host: string]: string };
  /** The version id each host runs, by host name. */
  public readonly versions: { [host: string]: string };
  /** The `terraform_data` that deploys to each host, by host name (escape hatch). */
  public readonly hostDeployments: { [host: string]: DataResource };

  constructor(scope: Construct, id: string, props: OnPremModelDeploymentProps) {
    super(scope, id);
    const spec = resolveSpec(props, ON_PREM_OPTION_KEYS);
    checkTargetLimits(spec, props);
    this.endpointName = spec.endpointName?.toLowerCase() ?? deploymentNameFrom(this.node.path);
    const plans = planHosts(this.endpointName, spec.scaling.minReplicas, props);

    // The model archive and the optional image archive travel in cdktf.out as assets. The model is
    // an uncompressed tar: its hash (the artifact's trigger and part of the version) is then the
    // content hash, the same on every machine whatever its zlib; weights barely compress anyway.
    const archive = packModelArtifact(spec.model.localPath!, TARGET, { compression: 'none' });
    const artifact = new TerraformAsset(this, 'ModelArtifact', { path: archive.archivePath, type: AssetType.FILE, assetHash: archive.contentHash });
    const image = props.imageArchive === undefined ? undefined : this.imageAsset(props.imageArchive);
    const scriptSha256 = hashFile(HOST_SCRIPT);
    const scriptAsset = new TerraformAsset(this, 'HostScript', { path: HOST_SCRIPT, type: AssetType.FILE, assetHash: scriptSha256 });
    const containerEnv = renderContainerEnv(spec.serving.environment);
    const apiKeyRevision = checkInteger('apiKeyRevision', props.apiKeyRevision ?? 1, 1, 1_000_000, TARGET);
    const connectTimeout = checkInteger('connectTimeoutSeconds', props.connectTimeoutSeconds ?? 30, 1, 3600, TARGET);
    const scheme = props.tls ? 'https' : 'http';
    // Who owns the deployment directory on the hosts: the host script refuses a directory another deployment owns.
    const owner = this.node.path.replace(/[^A-Za-z0-9._\/:-]/g, '-').slice(-200);
    const scriptDirs = this.scriptDirsAsset(plans.map(plan => remoteScriptDir(this.endpointName, plan.deploymentDir, owner)));

    this.hostUrls = {};
    this.versions = {};
    this.hostDeployments = {};
    let previous: ITerraformDependable | undefined;
    for (const plan of plans) {
      const values = hostDeployValues(spec, props, plan, this.endpointName, archive.sha256);
      const version = versionId(values, containerEnv, apiKeyRevision);
      const scriptDir = remoteScriptDir(this.endpointName, plan.deploymentDir, owner);
      const connection = sshConnection(plan, connectTimeout, scriptDir);
      const deployed = this.hostResources(plan, connection, { values, version, containerEnv, scriptSha256, scriptAsset, artifact, artifactSha256: archive.sha256, image, apiKeyFile: props.apiKeyFile, previous, owner, scriptDir, scriptDirs });
      previous = deployed;
      this.versions[plan.host.name] = version;
      this.hostDeployments[plan.host.name] = deployed;
      this.hostUrls[plan.host.name] = `${scheme}://${urlHost(plan.host.address)}:${values.MD_PROXY_PORT}${spec.serving.predictPath}`;
    }
    this.endpointUrl = this.hostUrls[plans[0].host.name];

    new TerraformOutput(this, 'HostUrls', { value: this.hostUrls, description: 'Predict URL of each host (send X-Api-Key or Authorization: Bearer)' });
    new TerraformOutput(this, 'Versions', { value: this.versions, description: 'Version id each host runs' });
    new TerraformOutput(this, 'Hosts', {
      value: Object.fromEntries(plans.map(p => [p.host.name, { address: p.host.address, replicas: p.replicas, labels: p.host.labels ?? {} }])),
      description: 'Each host: its address, replica count and labels',
    });
  }

  /**
   * The resources of one host: the anchor that owns everything on it, then the script, the artifact,
   * the image, and the deployment that uses them.
   */
  private hostResources(plan: HostPlan, connection: SSHProvisionerConnection, p: {
    values: { [key: string]: string }; version: string; containerEnv: string; scriptSha256: string; scriptAsset: TerraformAsset; artifact: TerraformAsset; artifactSha256: string;
    image?: { asset: TerraformAsset; sha256: string; id: string }; apiKeyFile: string; previous?: ITerraformDependable;
    owner: string; scriptDir: string; scriptDirs: TerraformAsset;
  }): DataResource {
    const name = plan.host.name;
    const dir = plan.deploymentDir;
    const runtime = p.values.MD_RUNTIME;
    const runtimeArgs = p.values.MD_RUNTIME_ARGS;
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
    const scriptDirUpload = { type: 'file' as const, source: `${p.scriptDirs.path}/${p.scriptDir}`, destination: '.' };
    const hostScriptUpload = { type: 'file' as const, source: p.scriptAsset.path, destination: `${p.scriptDir}/modeldeploy.sh` };
    const anchor = new DataResource(this, `${name}-host`, {
      triggersReplace: { dir },
      input: { dir, runtime, runtimeArgs, host: name, owner: p.owner, scriptDir: p.scriptDir },
      connection,
      provisioners: [
        scriptDirUpload,
        hostScriptUpload,
        remoteExec([`MD_HOST=${name} bash ${p.scriptDir}/modeldeploy.sh prepare ${dir} ${p.owner} \${self.id} ${p.scriptDir} "$0"`]),
        atDestroy(scriptDirUpload),
        atDestroy(hostScriptUpload),
        atDestroy(remoteExec([`MD_HOST=\${self.input.host} bash \${self.input.scriptDir}/modeldeploy.sh teardown \${self.input.dir} \${self.input.runtime} '\${self.input.runtimeArgs}' \${self.input.owner} \${self.id} \${self.input.scriptDir} "$0"`])),
      ],
    });

    const toolResource = new DataResource(this, `${name}-tool`, {
      triggersReplace: { script: p.scriptSha256, dir },
      connection,
      dependsOn: [anchor],
      provisioners: [
        remoteExec([`mkdir -p ${dir}/tool ${dir}/proxy ${dir}/versions ${dir}/artifacts ${dir}/images`, `echo '[model-deploy host=${name}] uploading host script'`]),
        { type: 'file', source: p.scriptAsset.path, destination: `${dir}/tool/modeldeploy.sh` },
      ],
    });

    const artifactResource = new DataResource(this, `${name}-artifact`, {
      triggersReplace: { sha256: p.artifactSha256, dir },
      connection,
      dependsOn: [anchor, toolResource],
      lifecycle: replaceFirst,
      provisioners: [
        remoteExec([`echo '[model-deploy host=${name}] uploading model artifact ${p.artifactSha256.slice(0, 12)}'`]),
        { type: 'file', source: p.artifact.path, destination: `${dir}/artifacts/${p.artifactSha256}.tar.upload` },
        remoteExec([`${tool} install-artifact ${dir} ${p.artifactSha256}`]),
      ],
    });

    const imageRef = p.values.MD_IMAGE;
    const imageResource = new DataResource(this, `${name}-image`, {
      triggersReplace: { image: imageRef, archive: p.image?.sha256 ?? '', dir },
      connection,
      dependsOn: [anchor, toolResource],
      lifecycle: replaceFirst,
      provisioners: [
        ...(p.image ? [
          remoteExec([`echo '[model-deploy host=${name}] uploading image archive ${p.image.sha256.slice(0, 12)}'`]),
          { type: 'file' as const, source: p.image.asset.path, destination: `${dir}/images/${p.image.sha256}.tar.upload` },
        ] : []),
        remoteExec([`${tool} install-image ${dir} ${runtime} '${runtimeArgs}' ${imageRef} '${p.image?.sha256 ?? ''}' '${p.image?.id ?? ''}'`]),
      ],
    });

    const versionDir = `${dir}/versions/${p.version}`;
    return new DataResource(this, `${name}-deployment`, {
      triggersReplace: { version: p.version },
      connection,
      // One host after another: this host's new version is up before the next host starts.
      dependsOn: [anchor, toolResource, artifactResource, imageResource, ...(p.previous ? [p.previous] : [])],
      lifecycle: replaceFirst,
      provisioners: [
        remoteExec([`mkdir -p ${versionDir}`]),
        { type: 'file', content: literal(renderDeployEnv({ ...p.values, MD_VERSION: p.version })), destination: `${versionDir}/deploy.env` },
        { type: 'file', content: literal(p.containerEnv), destination: `${versionDir}/container.env` },
        // Read at apply time and marked sensitive: the keys are in neither cdktf.out nor the state.
        { type: 'file', content: Fn.sensitive(Fn.file(Fn.pathexpand(p.apiKeyFile))), destination: `${dir}/proxy/api-keys` },
        remoteExec([`${tool} deploy ${versionDir}/deploy.env`]),
      ],
    });
  }

  /** Empty directories named like each host's script directory: uploading one creates it on the host. */
  private scriptDirsAsset(names: string[]): TerraformAsset {
    const hash = sha256(names.join('\n'));
    const local = path.join(os.tmpdir(), 'cdk-model-deployment-script-dirs', hash);
    for (const name of names) fs.mkdirSync(path.join(local, name), { recursive: true, mode: 0o700 });
    return new TerraformAsset(this, 'ScriptDirs', { path: local, type: AssetType.DIRECTORY, assetHash: hash });
  }

  private imageAsset(archivePath: string): { asset: TerraformAsset; sha256: string; id: string } {
    const id = readImageArchiveId(archivePath);
    const sha256 = hashFile(archivePath);
    return { asset: new TerraformAsset(this, 'ImageArchive', { path: path.resolve(archivePath), type: AssetType.FILE, assetHash: sha256 }), sha256, id };
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

/** Terraform reads `${` and `%{` in any string as template syntax; generated file contents must stay literal. */
function literal(text: string): string {
  return text.replace(/\$\{/g, () => '$${').replace(/%\{/g, () => '%%{');
}

function sshConnection(plan: HostPlan, timeoutSeconds: number, scriptDir: string): SSHProvisionerConnection {
  const host = plan.host;
  return {
    type: 'ssh',
    host: host.address,
    port: plan.port,
    user: host.user,
    // file() runs at apply time: the key's path is in cdktf.out, the key is not (nor in the state).
    privateKey: host.privateKeyPath === undefined ? undefined : Fn.file(Fn.pathexpand(host.privateKeyPath)),
    agent: host.privateKeyPath === undefined ? 'true' : undefined,
    hostKey: host.hostKey?.trim(),
    timeout: `${timeoutSeconds}s`,
    // Relative: remote-exec resolves it from the SSH user's home (measured with Terraform 1.11).
    scriptPath: host.scriptPath ?? `${scriptDir}/terraform_%RAND%.sh`,
  };
}

function checkTargetLimits(spec: ResolvedModelDeploymentSpec, props: OnPremModelDeploymentProps): void {
  if (spec.auth !== undefined && spec.auth !== AuthMode.KEY) {
    throw new ModelDeploymentValidationError('access.auth', spec.auth, 'KEY: on-prem hosts check an API key in their proxy (there is no cloud identity)', TARGET);
  }
  if (spec.scaling.minReplicas !== spec.scaling.maxReplicas) {
    throw new ModelDeploymentValidationError('scaling.maxReplicas', spec.scaling.maxReplicas,
      `equal to minReplicas (${spec.scaling.minReplicas}): SSH hosts have no autoscaler, so the replica count is fixed`, TARGET);
  }
  if (spec.scaling.minReplicas < 1) {
    throw new ModelDeploymentValidationError('scaling.minReplicas', spec.scaling.minReplicas, 'at least 1', TARGET);
  }
  const rollout = spec.rollout;
  if (rollout.strategy !== RolloutStrategy.ALL_AT_ONCE) {
    throw new ModelDeploymentValidationError('rollout', rollout.strategy,
      'Rollout.allAtOnce(): on-prem hosts switch blue/green one host at a time; canary and linear traffic shifting need a load balancer in front of the hosts', TARGET);
  }
  if (rollout.waitMinutes !== 0 || rollout.terminationWaitMinutes !== 0) {
    throw new ModelDeploymentValidationError('rollout.bakeMinutes', rollout.waitMinutes || rollout.terminationWaitMinutes,
      '0: each host is switched as soon as the new version answers its health route', TARGET);
  }
  if (spec.monitoring.capture) {
    throw new ModelDeploymentValidationError('monitoring.capture', spec.monitoring.capture, 'left out: request capture is not available on on-prem hosts', TARGET);
  }
  if (spec.serving.image === undefined) {
    throw new ModelDeploymentValidationError('serving.image', undefined, 'the image to run (pin a tag or digest): on-prem hosts have no managed images', TARGET);
  }
  if (spec.model.source !== ArtifactSource.LOCAL_PATH) {
    throw new ModelDeploymentValidationError('model', spec.model.uri, 'ModelArtifact.fromLocalPath(...): the artifact is uploaded to each host over SSH', TARGET);
  }
  if (typeof props.apiKeyFile !== 'string' || props.apiKeyFile.trim() === '') {
    throw new ModelDeploymentValidationError('apiKeyFile', props.apiKeyFile, 'a local file holding the API key(s), one per line, read at apply time', TARGET);
  }
  if (props.runtime !== undefined && !Object.values(ContainerRuntime).includes(props.runtime)) {
    throw new ModelDeploymentValidationError('runtime', props.runtime, Object.values(ContainerRuntime).join(', '), TARGET);
  }
  if (props.tls !== undefined && (!props.tls.certificatePath || !props.tls.keyPath)) {
    throw new ModelDeploymentValidationError('tls', props.tls, '{ certificatePath, keyPath }: files on the hosts', TARGET);
  }
  const proxyPort = checkInteger('proxyPort', props.proxyPort ?? 8443, 1, 65535, TARGET);
  const slotPortBase = checkInteger('slotPortBase', props.slotPortBase ?? 18000, 1024, 65536 - SLOT_PORTS_PER_HOST, TARGET);
  const slotPortLast = slotPortBase + SLOT_PORTS_PER_HOST - 1;
  if (proxyPort >= slotPortBase && proxyPort <= slotPortLast) {
    throw new ModelDeploymentValidationError('proxyPort', proxyPort,
      `a port outside the slot ports ${slotPortBase}-${slotPortLast} (the ${SLOT_PORTS_PER_HOST} ports from slotPortBase)`, TARGET);
  }
}

function deploymentNameFrom(constructPath: string): string {
  const name = constructPath.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  const hash = sha256(constructPath).slice(0, 6);
  return `${name.slice(0, 33).replace(/-+$/, '')}-${hash}`;
}

function urlHost(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}

function sha256(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}
