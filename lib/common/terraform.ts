import { Token } from 'cdktf';

/**
 * Terraform reads `${` and `%{` in every string of a JSON configuration as template syntax
 * (interpolation and directives). Every user string a Terraform target writes goes through
 * this one helper, so that it arrives literally: `${` becomes `$${` and `%{` becomes `%%{`,
 * Terraform's own escapes. Anything else, a lone `$` or `%` included, is already literal.

 */
export function escapeTerraformTemplate(text: string): string {
  return text.replace(/\$\{/g, '$$${').replace(/%\{/g, '%%{');
}

/**
 * A user string as a quoted HCL string literal, for use inside a Terraform expression that the
 * target writes by hand (`${file(pathexpand(LITERAL))}`): quotes, backslashes and control
 * characters escaped, then the template sequences. (cdktf's Fn helpers write their string
 * arguments without escaping quotes or `%{`, and a destroy-time connection may not read a local.)
 */
export function terraformStringLiteral(text: string): string {
  const escaped = escapeTerraformTemplate(text)
    .replace(/[\\"]/g, c => `\\${c}`)
    // eslint-disable-next-line no-control-regex -- control characters are what this escapes
    .replace(/[\u0000-\u001f\u007f]/g, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `"${escaped}"`;
}

/**
 * A user string written literally into Terraform JSON; a reference to another resource (a cdktf
 * token) passes unchanged, so that Terraform still resolves it.
 */
export function terraformLiteral(text: string): string {
  return Token.isUnresolved(text) ? text : escapeTerraformTemplate(text);
}

/** Every string of a JSON-able value (object keys too) through terraformLiteral: Terraform gives the originals back (`jsonencode(self.input)`). */
export function terraformLiteralDeep<T>(value: T): T {
  if (typeof value === 'string') return terraformLiteral(value) as T;
  if (Array.isArray(value)) return value.map(terraformLiteralDeep) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [terraformLiteral(k), terraformLiteralDeep(v)])) as T;
  }
  return value;
}
