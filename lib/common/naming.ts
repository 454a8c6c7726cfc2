import * as crypto from 'crypto';

/** The hex SHA-256 of a string: the hash every target names and versions things with. */
export function sha256Hex(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}

/**
 * A default name from a construct path: the path lower-cased to letters, digits and single hyphens,
 * cut to `slugLength`, then a hyphen and 6 hex digits of the path's hash (unique per path).
 * `letterFirst` puts `e-` before a slug that does not start with a letter.
 */
export function nameFromConstructPath(constructPath: string, slugLength: number, letterFirst = false): string {
  let slug = constructPath.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  if (letterFirst && !/^[a-z]/.test(slug)) slug = `e-${slug}`;
  return `${slug.slice(0, slugLength).replace(/-+$/, '')}-${sha256Hex(constructPath).slice(0, 6)}`;
}
