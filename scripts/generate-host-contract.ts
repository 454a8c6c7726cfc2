/**
 * Writes the host contract (lib/targets/on-prem/host-contract.ts) into the host script, between
 * `# BEGIN GENERATED HOST CONTRACT` and `# END GENERATED HOST CONTRACT`, so the script checks
 * exactly what the synth checks. Run `npm run generate:host-contract` after changing the contract;
 * a test fails while the checked-in region differs from a fresh generation.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  API_KEY, HOST_CONTRACT, HOST_CONTRACT_RULES, HostContractRule, IMAGE_PATTERN, MAX_REPLICAS_PER_HOST,
  PROBE_SOCKET, RUNTIME_ARG_PATTERN, SAFE_PATH_PATTERN, SAMPLES_FILE, SLOT_PORTS_PER_HOST,
} from '../lib/targets/on-prem/host-contract';
import { SAMPLE_NAME_PATTERN, VERIFICATION_LIMITS } from '../lib/spec/verification';

export const HOST_SCRIPT = path.join(__dirname, '..', 'lib', 'targets', 'on-prem', 'host', 'modeldeploy.sh');
const BEGIN = '# BEGIN GENERATED HOST CONTRACT';
const END = '# END GENERATED HOST CONTRACT';

/** A bash single-quoted word. */
function q(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function table(name: string, entries: Array<[string, string]>): string {
  return [`declare -rA ${name}=(`, ...entries.map(([k, v]) => `  [${k}]=${q(v)}`), ')'].join('\n');
}

function ruleCheck(rule: HostContractRule): string {
  const fail = (what: string) => `CONTRACT_PROBLEM="invalid ${rule.field} (${rule.key}) ${what}. Allowed: ${rule.allowed.replace(/[$`"\\]/g, '\\$&')}"\n    return 1`;
  switch (rule.kind) {
    case 'endsWith':
      return `  if [[ $${rule.key} != */"$${rule.suffixKey}" ]]; then\n    ${fail(`'$${rule.key}'`)}\n  fi`;
    case 'outsideRange':
      return `  if ((${rule.key} >= ${rule.baseKey} && ${rule.key} <= ${rule.baseKey} + ${rule.width - 1})); then\n    ${fail(`$${rule.key}, inside $${rule.baseKey}-$((${rule.baseKey} + ${rule.width - 1}))`)}\n  fi`;
    case 'together':
      return `  if [[ -z $${rule.key} && -n $${rule.otherKey} || -n $${rule.key} && -z $${rule.otherKey} ]]; then\n    ${fail(`(${rule.otherKey} is '$${rule.otherKey}', ${rule.key} is '$${rule.key}')`)}\n  fi`;
    case 'requiredWhenPositive':
      return `  if ((${rule.whenKey} > 0)) && [[ -z $${rule.key} ]]; then\n    ${fail(`'' with ${rule.whenKey}=$${rule.whenKey}`)}\n  fi`;
  }
}

/** The generated region, markers included. */
export function renderHostContract(): string {
  const ranged = HOST_CONTRACT.filter(k => k.range !== undefined);
  const bounded = HOST_CONTRACT.filter(k => k.maxLength !== undefined);
  const optional = HOST_CONTRACT.filter(k => k.optional);
  const keys = HOST_CONTRACT.map(k => k.key);
  const lines: string[] = [];
  for (let i = 0; i < keys.length; i += 8) lines.push(keys.slice(i, i + 8).join(' '));
  return `${BEGIN}
# Generated from lib/targets/on-prem/host-contract.ts by scripts/generate-host-contract.ts
# (npm run generate:host-contract). Do not edit by hand: the synth checks the same definitions.
# shellcheck disable=SC2034 # the slot port layout: replica r of colour c on base + c * MAX + r
readonly MAX_REPLICAS_PER_HOST=${MAX_REPLICAS_PER_HOST}
# shellcheck disable=SC2034
readonly SLOT_PORTS_PER_HOST=${SLOT_PORTS_PER_HOST}
readonly PROBE_SOCKET=${q(PROBE_SOCKET)}
readonly SAFE_PATH_RE=${q(SAFE_PATH_PATTERN)}
readonly RUNTIME_ARG_RE=${q(RUNTIME_ARG_PATTERN)}
readonly IMAGE_RE=${q(IMAGE_PATTERN)}
readonly API_KEY_MIN_LENGTH=${API_KEY.minLength}
readonly API_KEY_MAX_LENGTH=${API_KEY.maxLength}
readonly API_KEY_CHARSET_RE=${q(API_KEY.charsetPattern)}
readonly API_KEY_CHARSET_ALLOWED=${q(API_KEY.charsetAllowed)}
readonly API_KEY_FIRST_RE=${q(API_KEY.firstCharPattern)}
readonly API_KEY_FIRST_ALLOWED=${q(API_KEY.firstCharAllowed)}
readonly SAMPLES_FILE=${q(SAMPLES_FILE)}
readonly VERIFY_MAX_SAMPLE_JSON_BYTES=${VERIFICATION_LIMITS.maxSampleJsonBytes}
readonly VERIFY_MAX_TOTAL_JSON_BYTES=${VERIFICATION_LIMITS.maxTotalJsonBytes}
readonly VERIFY_SAMPLE_NAME_RE=${q(SAMPLE_NAME_PATTERN)}
readonly CONFIG_KEYS=(${lines.join('\n  ')})
${table('CONTRACT_FIELD', HOST_CONTRACT.map(k => [k.key, k.field]))}
${table('CONTRACT_RE', HOST_CONTRACT.map(k => [k.key, k.pattern]))}
${table('CONTRACT_MIN', ranged.map(k => [k.key, String(k.range![0])]))}
${table('CONTRACT_MAX', ranged.map(k => [k.key, String(k.range![1])]))}
${table('CONTRACT_MAX_LENGTH', bounded.map(k => [k.key, String(k.maxLength)]))}
${table('CONTRACT_ALLOWED', HOST_CONTRACT.map(k => [k.key, k.allowed]))}
${table('CONTRACT_OPTIONAL_DEFAULT', optional.map(k => [k.key, k.default]))}
CONTRACT_PROBLEM=""

# Sets each optional key that is unset to its default (a config written without them).
contract_optional_defaults() {
  local key
  for key in "\${!CONTRACT_OPTIONAL_DEFAULT[@]}"; do
    if [[ -z \${!key+x} ]]; then printf -v "$key" '%s' "\${CONTRACT_OPTIONAL_DEFAULT[$key]}"; fi
  done
}

# Succeeds when VALUE passes KEY's own rule: contract_value_ok KEY VALUE.
contract_value_ok() {
  local key=$1 value=$2 re=\${CONTRACT_RE[$1]}
  [[ $value =~ $re ]] || return 1
  if [[ -n \${CONTRACT_MAX_LENGTH[$key]:-} ]]; then
    ((\${#value} <= \${CONTRACT_MAX_LENGTH[$key]})) || return 1
  fi
  if [[ -n \${CONTRACT_MIN[$key]:-} ]]; then
    ((value >= \${CONTRACT_MIN[$key]} && value <= \${CONTRACT_MAX[$key]})) || return 1
  fi
  return 0
}

# Checks every key, then the rules between keys, on the MD_* variables; on the first
# violation sets CONTRACT_PROBLEM (naming the spec's field) and fails.
contract_config_ok() {
  local key
  CONTRACT_PROBLEM=""
  for key in "\${CONFIG_KEYS[@]}"; do
    if ! contract_value_ok "$key" "\${!key}"; then
      CONTRACT_PROBLEM="invalid \${CONTRACT_FIELD[$key]} ($key) '\${!key}'. Allowed: \${CONTRACT_ALLOWED[$key]}"
      return 1
    fi
  done
${HOST_CONTRACT_RULES.map(ruleCheck).join('\n')}
  return 0
}

# Succeeds when KEY is a usable API key; else sets CONTRACT_PROBLEM to the rule it breaks
# (never to the key).
api_key_ok() {
  local k=$1
  CONTRACT_PROBLEM=""
  if [[ ! $k =~ $API_KEY_CHARSET_RE ]]; then
    CONTRACT_PROBLEM=$API_KEY_CHARSET_ALLOWED
  elif [[ ! $k =~ $API_KEY_FIRST_RE ]]; then
    CONTRACT_PROBLEM=$API_KEY_FIRST_ALLOWED
  elif ((\${#k} < API_KEY_MIN_LENGTH || \${#k} > API_KEY_MAX_LENGTH)); then
    CONTRACT_PROBLEM="$API_KEY_MIN_LENGTH to $API_KEY_MAX_LENGTH characters (this one has \${#k})"
  fi
  [[ -z $CONTRACT_PROBLEM ]]
}
${END}`;
}

/** The script text with its generated region replaced by a fresh generation. */
export function regenerate(script: string): string {
  const start = script.indexOf(BEGIN);
  const end = script.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${HOST_SCRIPT} has no ${BEGIN} ... ${END} region`);
  return script.slice(0, start) + renderHostContract() + script.slice(end + END.length);
}

if (require.main === module) {
  const before = fs.readFileSync(HOST_SCRIPT, 'utf8');
  const after = regenerate(before);
  if (after !== before) fs.writeFileSync(HOST_SCRIPT, after);
  process.stdout.write(`${after === before ? 'unchanged' : 'regenerated'}: ${path.relative(process.cwd(), HOST_SCRIPT)}\n`);
}
