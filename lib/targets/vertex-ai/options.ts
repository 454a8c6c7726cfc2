// The package root types DeploymentTarget.vertexAi() with these options, so this file holds plain
// types only: no cdktf, no provider package (a SageMaker user has neither).

/** Everything specific to the Vertex AI target. */
export interface VertexAiTargetOptions {
  /**
   * The Google Cloud project id that everything is created in (6 to 30 lower-case letters, digits
   * and hyphens, starting with a letter), e.g. `ml-prod-4711`.
   */
  readonly project: string;
  /**
   * The Vertex AI region of the endpoint and of everything created with it, e.g. `europe-west4`
   * or `us-central1`. The artifact bucket, the key and the logging dataset are in this region too.
   */
  readonly location: string;
  /**
   * An existing Cloud Storage bucket to upload the local model to (`my-bucket` or `gs://my-bucket`).
   * It should be in `location`, with uniform bucket-level access (the serving service account is
   * granted read on its own prefix with an IAM condition, which needs it). Nothing about the bucket
   * itself is changed but that one conditional IAM member.
   * @default - a new bucket in `location`: uniform bucket-level access, public access prevention enforced, versioning, CMEK when `encryptionKeyName` is set
   */
  readonly artifactBucket?: string;
  /**
   * A Cloud KMS key (`projects/P/locations/LOCATION/keyRings/R/cryptoKeys/K`, in `location`) that
   * encrypts the endpoint, each uploaded Model, the bucket created here and the request-logging dataset. The Vertex AI,
   * Cloud Storage and BigQuery service agents of `project` are granted
   * `roles/cloudkms.cryptoKeyEncrypterDecrypter` on it.
   * @default - Google-managed encryption keys
   */
  readonly encryptionKeyName?: string;
  /**
   * The Vertex AI machine type of the deployed model's replicas, instead of the table's choice for
   * `compute`. It must be in the target's machine table (`VERTEX_AI_MACHINE_TYPES` in
   * `cdk-model-deployment/vertex-ai`) with the spec's GPUs; the accelerator type and count come from
   * the table (e.g. NVIDIA_L4 only on g2-standard-*).
   * @default - the smallest machine type in the table that fits `compute`
   */
  readonly machineType?: string;
  /**
   * An existing service account (its email) that the model's containers run as. The identity that
   * runs `cdktf apply` needs `roles/iam.serviceAccountUser` on it (Vertex AI checks it at deploy).
   * It is granted read on the model's prefix of the artifact bucket.
   * @default - a new service account with read access to the model's prefix only
   */
  readonly servingServiceAccountEmail?: string;
  /**
   * The endpoint's numeric id (Vertex AI's resource name): 1 to 10 digits, no leading zero.
   * @default - 10 digits derived from the project, location and construct path (stable across synths)
   */
  readonly endpointId?: string;
  /**
   * With `access.network` PRIVATE (the default): the projects (ids or numbers) allowed to create a
   * Private Service Connect endpoint (a forwarding rule) to this endpoint.
   * @default - `[project]`
   */
  readonly privateServiceConnectProjects?: string[];
  /**
   * Cloud Monitoring notification channels (`projects/P/notificationChannels/ID`) that the
   * error-rate and p99 latency alert policies notify.
   * @default - the alert policies open incidents in Cloud Monitoring without notifying anyone
   */
  readonly alertNotificationChannels?: string[];
}

// A record over the interface's keys: a prop added to or removed from it without this entry fails to compile.
const OPTION_KEYS: Record<keyof VertexAiTargetOptions, true> = {
  project: true, location: true, artifactBucket: true, encryptionKeyName: true, machineType: true, servingServiceAccountEmail: true,
  endpointId: true, privateServiceConnectProjects: true, alertNotificationChannels: true,
};
/** The keys of VertexAiTargetOptions, so the spec does not refuse them as unknown. */
export const VERTEX_AI_OPTION_KEYS: readonly string[] = Object.keys(OPTION_KEYS);
