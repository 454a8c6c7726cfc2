import * as crypto from 'crypto';
import * as path from 'path';
import { AssetType, DataResource, Fn, ITerraformDependable, SSHProvisionerConnection, TerraformAsset, TerraformLocal, TerraformOutput } from 'cdktf';
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
  HostPlan, TARGET, hostDeployValues, planHosts, readImageArchiveId, renderContainerEnv, renderDeployEnv, versionId,
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
    // A local, so that the keys' precondition refers to something (Terraform requires it).
    const apiKeyFile = new TerraformLocal(this, 'ApiKeyFile', Fn.pathexpand(props.apiKeyFile)).asString;

    this.hostUrls = {};
    this.versions = {};
    this.hostDeployments = {};
    let previous: ITerraformDependable | undefined;
    for (const plan of plans) {
      const values = hostDeployValues(spec, props, plan, this.endpointName, archive.sha256);
      const version = versionId(values, containerEnv);
      const connection = sshConnection(plan, connectTimeout);
      const deployed = this.hostResources(plan, connection, { values, version, containerEnv, scriptSha256, scriptAsset, artifact, artifactSha256: archive.sha256, image, apiKeyFile: props.apiKeyFile, apiKeyFilePath: apiKeyFile, apiKeyRevision, previous });
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

  /** The five resources of one host: the script, the artifact, the image, the API keys, and the deployment that uses them. */
  private hostResources(plan: HostPlan, connection: SSHProvisionerConnection, p: {
    values: { [key: string]: string }; version: string; containerEnv: string; scriptSha256: string; scriptAsset: TerraformAsset; artifact: TerraformAsset; artifactSha256: string;
    image?: { asset: TerraformAsset; sha256: string; id: string }; apiKeyFile: string; apiKeyFilePath: string; apiKeyRevision: number; previous?: ITerraformDependable;
  }): DataResource {
    const name = plan.host.name;
    const dir = plan.deploymentDir;
    const runtime = p.values.MD_RUNTIME;
    const runtimeArgs = p.values.MD_RUNTIME_ARGS;
    const tool = `bash ${dir}/tool/modeldeploy.sh`;
    // Destroy steps may only read self.input; they tolerate a directory that an earlier teardown removed.
    const onHost = (cmd: string) => `if [ -f ${dir}/tool/modeldeploy.sh ]; then ${cmd}; fi`;
    const replaceFirst = { createBeforeDestroy: true };

    // Private from the first byte: every directory 0700 before any upload.
    const dirs = ['', '/tool', '/proxy', '/versions', '/artifacts', '/images'].map(sub => `${dir}${sub}`).join(' ');
    const toolResource = new DataResource(this, `${name}-tool`, {
      triggersReplace: { script: p.scriptSha256, dir },
      connection,
      provisioners: [
        remoteExec([`umask 077 && mkdir -p ${dirs} && chmod 700 ${dirs} && ${privateFiles(`${dir}/tool/modeldeploy.sh`)} && echo '[model-deploy host=${name}] uploading host script'`]),
        { type: 'file', source: p.scriptAsset.path, destination: `${dir}/tool/modeldeploy.sh` },
      ],
    });

    const artifactResource = new DataResource(this, `${name}-artifact`, {
      triggersReplace: { sha256: p.artifactSha256, dir },
      input: { dir, sha256: p.artifactSha256, runtime, runtimeArgs, host: name },
      connection,
      dependsOn: [toolResource],
      lifecycle: replaceFirst,
      provisioners: [
        remoteExec([`${privateFiles(`${dir}/artifacts/${p.artifactSha256}.tar.upload`)} && echo '[model-deploy host=${name}] uploading model artifact ${p.artifactSha256.slice(0, 12)}'`]),
        { type: 'file', source: p.artifact.path, destination: `${dir}/artifacts/${p.artifactSha256}.tar.upload` },
        remoteExec([`${tool} install-artifact ${dir} ${p.artifactSha256}`]),
        destroyExec([onHost(`MD_HOST=\${self.input.host} bash \${self.input.dir}/tool/modeldeploy.sh remove-artifact \${self.input.dir} \${self.input.sha256} \${self.input.runtime} '\${self.input.runtimeArgs}'`)]),
      ],
    });

    const imageRef = p.values.MD_IMAGE;
    const imageResource = new DataResource(this, `${name}-image`, {
      triggersReplace: { image: imageRef, archive: p.image?.sha256 ?? '', dir },
      input: { dir, image: imageRef, runtime, runtimeArgs, host: name },
      connection,
      dependsOn: [toolResource],
      lifecycle: replaceFirst,
      provisioners: [
        ...(p.image ? [
          remoteExec([`${privateFiles(`${dir}/images/${p.image.sha256}.tar.upload`)} && echo '[model-deploy host=${name}] uploading image archive ${p.image.sha256.slice(0, 12)}'`]),
          { type: 'file' as const, source: p.image.asset.path, destination: `${dir}/images/${p.image.sha256}.tar.upload` },
        ] : []),
        remoteExec([`${tool} install-image ${dir} ${runtime} '${runtimeArgs}' ${imageRef} '${p.image?.sha256 ?? ''}' '${p.image?.id ?? ''}'`]),
        destroyExec([onHost(`MD_HOST=\${self.input.host} bash \${self.input.dir}/tool/modeldeploy.sh remove-image \${self.input.dir} \${self.input.runtime} '\${self.input.runtimeArgs}' \${self.input.image}`)]),
      ],
    });

    // Rotating keys is a proxy reload: a changed key file (its hash, taken by Terraform at plan
    // time) replaces only this resource, never the deployment's containers.
    const keyFile = p.apiKeyFilePath;
    const keyFilePresent = Fn.fileexists(keyFile);
    const keysUpload = `${dir}/proxy/api-keys.upload`;
    const keysResource = new DataResource(this, `${name}-keys`, {
      // Terraform evaluates triggers and provisioner blocks before preconditions: every read is
      // guarded, so that a missing file is reported by the precondition, in the option's name.
      triggersReplace: { keys: Fn.conditional(keyFilePresent, Fn.filesha256(keyFile), 'missing'), revision: p.apiKeyRevision, dir },
      connection,
      dependsOn: [toolResource],
      lifecycle: {
        ...replaceFirst,
        precondition: [{
          condition: keyFilePresent,
          errorMessage: literal(`apiKeyFile: no file at ${p.apiKeyFile} on the machine that runs terraform (the API keys the proxies accept, one per line).`),
        }],
      },
      provisioners: [
        remoteExec([`umask 077 && mkdir -p ${dir}/proxy && chmod 700 ${dir}/proxy && ${privateFiles(keysUpload)}`]),
        // Read at apply time and marked sensitive: the keys are in neither cdktf.out nor the state.
        { type: 'file', content: Fn.sensitive(Fn.conditional(keyFilePresent, Fn.file(keyFile), '')), destination: keysUpload },
        remoteExec([`MD_HOST=${name} ${tool} update-keys ${dir}`]),
      ],
    });

    const versionDir = `${dir}/versions/${p.version}`;
    return new DataResource(this, `${name}-deployment`, {
      triggersReplace: { version: p.version },
      input: { dir, version: p.version, runtime, runtimeArgs, host: name },
      connection,
      // One host after another: this host's new version is up before the next host starts.
      dependsOn: [toolResource, artifactResource, imageResource, keysResource, ...(p.previous ? [p.previous] : [])],
      lifecycle: replaceFirst,
      provisioners: [
        remoteExec([`umask 077 && mkdir -p ${versionDir} && chmod 700 ${versionDir} && ${privateFiles(`${versionDir}/deploy.env`, `${versionDir}/container.env`)}`]),
        { type: 'file', content: literal(renderDeployEnv({ ...p.values, MD_VERSION: p.version })), destination: `${versionDir}/deploy.env` },
        { type: 'file', content: literal(p.containerEnv), destination: `${versionDir}/container.env` },
        remoteExec([`${tool} deploy ${versionDir}/deploy.env`]),
        destroyExec([onHost(`MD_HOST=\${self.input.host} bash \${self.input.dir}/tool/modeldeploy.sh retire \${self.input.dir} \${self.input.version} \${self.input.runtime} '\${self.input.runtimeArgs}'`)]),
      ],
    });
  }

  private imageAsset(archivePath: string): { asset: TerraformAsset; sha256: string; id: string } {
    const id = readImageArchiveId(archivePath);
    const sha256 = hashFile(archivePath);
    return { asset: new TerraformAsset(this, 'ImageArchive', { path: path.resolve(archivePath), type: AssetType.FILE, assetHash: sha256 }), sha256, id };
  }
}

type Provisioner = { type: 'remote-exec'; inline: string[]; when?: 'destroy' };

function remoteExec(inline: string[]): Provisioner {
  return { type: 'remote-exec', inline };
}

/** A destroy-time step. cdktf's types only allow `when` on local-exec, but Terraform takes it on any provisioner. */
function destroyExec(inline: string[]): Provisioner {
  return { type: 'remote-exec', inline, when: 'destroy' };
}

/**
 * Shell that creates FILES empty and 0600 (or makes existing ones 0600) before an upload: scp writes
 * into an existing file and keeps its mode, so the upload is private from its first byte.
 */
function privateFiles(...files: string[]): string {
  return `umask 077 && touch ${files.join(' ')} && chmod 600 ${files.join(' ')}`;
}

/** Terraform reads `${` and `%{` in any string as template syntax; generated file contents must stay literal. */
function literal(text: string): string {
  return text.replace(/\$\{/g, () => '$${').replace(/%\{/g, () => '%%{');
}

function sshConnection(plan: HostPlan, timeoutSeconds: number): SSHProvisionerConnection {
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
    scriptPath: host.scriptPath,
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
  checkInteger('proxyPort', props.proxyPort ?? 8443, 1, 65535, TARGET);
  checkInteger('slotPortBase', props.slotPortBase ?? 18000, 1024, 65000, TARGET);
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
