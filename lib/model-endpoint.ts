/**
 * What every target implements: a leaf file that names no target, so that targets import it
 * without importing the facade's factories (which name every target).
 */

/** What every target exposes once it has built its endpoint. */
export interface IModelEndpoint {
  /** The endpoint's name on its platform. */
  readonly endpointName: string;
  /** The HTTPS URL that prediction requests go to. */
  readonly endpointUrl: string;
  /** The target that built it, e.g. `sageMaker`. */
  readonly targetName: string;
}
