/**
 * Terraform reads `${` and `%{` in every string of a JSON configuration as template syntax
 * (interpolation and directives). Every user string a Terraform target writes goes through
 * this one helper, so that it arrives literally: `${` becomes `$${` and `%{` becomes `%%{`,
 * Terraform's own escapes. Anything else, a lone `$` or `%` included, is already literal.
 *
 * Inside a cdktf function call (`Fn.file(text)`), cdktf already escapes `${` in the string
 * literal it writes, but not `%{`: pass `insideFunctionCall` there.
 */
export function escapeTerraformTemplate(text: string, insideFunctionCall = false): string {
  const escaped = text.replace(/%\{/g, '%%{');
  return insideFunctionCall ? escaped : escaped.replace(/\$\{/g, '$$${');
}
