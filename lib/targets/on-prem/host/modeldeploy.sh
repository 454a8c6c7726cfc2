#!/usr/bin/env bash
# modeldeploy.sh: the part of cdk-model-deployment's on-prem target that runs ON a host.
#
# The on-prem target (lib/targets/on-prem) uploads this file to $MD_DIR/tool/ with
# Terraform's file provisioner and runs its subcommands with remote-exec. It runs a
# model in containers pinned to GPUs by UUID, behind an nginx reverse proxy that
# checks an API key, and switches versions blue/green.
#
#   bash modeldeploy.sh prepare          MD_DIR OWNER ANCHOR [SCRIPT_DIR [RUNNING_SCRIPT]]
#   bash modeldeploy.sh teardown         MD_DIR RUNTIME 'RUNTIME_ARGS' [OWNER ANCHOR [SCRIPT_DIR [RUNNING_SCRIPT]]]
#   bash modeldeploy.sh install-artifact MD_DIR SHA256
#   bash modeldeploy.sh remove-artifact  MD_DIR SHA256 RUNTIME 'RUNTIME_ARGS'
#   bash modeldeploy.sh install-image    MD_DIR RUNTIME 'RUNTIME_ARGS' IMAGE ARCHIVE_SHA256|'' EXPECTED_ID|''
#   bash modeldeploy.sh remove-image     MD_DIR RUNTIME 'RUNTIME_ARGS' IMAGE
#   bash modeldeploy.sh preflight        CONFIG
#   bash modeldeploy.sh plan             CONFIG
#   bash modeldeploy.sh deploy           CONFIG
#   bash modeldeploy.sh retire           MD_DIR VERSION RUNTIME 'RUNTIME_ARGS'
#   bash modeldeploy.sh resume           MD_DIR
#   bash modeldeploy.sh update-keys      MD_DIR
#
# CONFIG is the shell-sourceable file the construct writes (MD_*='value' lines);
# container.env lies beside it, and samples.tsv when the spec has verification samples
# (the new version must answer them before the proxy switches to it). Every line printed starts with
# "[model-deploy host=H deployment=D] "; a failure prints one line
# "ERROR host=H deployment=D: ..." on stderr, last, and exits 1.
# Subcommands without CONFIG name the host by $MD_HOST if set, else by uname -n.
#
# Needs only bash >= 4.2, coreutils, tar, gzip, curl, awk (POSIX: mawk, gawk), the container runtime
# (podman or docker) and nginx. Test hook: MD_CDI_SPEC_DIRS (space-separated
# directories) replaces the CDI spec directories /etc/cdi and /var/run/cdi.

set -Eeuo pipefail
umask 077
export LC_ALL=C
# Non-interactive SSH sessions often lack the sbin directories (nginx lives there).
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

readonly PROXY_FILES=(nginx.conf upstreams.conf version.conf api-keys.map bearer.map)
readonly NGINX_TMP_DIRS=(client_body proxy fastcgi uwsgi scgi)
readonly PROXY_VERIFY_TIMEOUT=30
readonly GPU_LOCK_TIMEOUT=300

# BEGIN GENERATED HOST CONTRACT
# Generated from lib/targets/on-prem/host-contract.ts by scripts/generate-host-contract.ts
# (npm run generate:host-contract). Do not edit by hand: the synth checks the same definitions.
# shellcheck disable=SC2034 # the slot port layout: replica r of colour c on base + c * MAX + r
readonly MAX_REPLICAS_PER_HOST=64
# shellcheck disable=SC2034
readonly SLOT_PORTS_PER_HOST=128
readonly PROBE_SOCKET='proxy/probe.sock'
readonly SAFE_PATH_RE='^(/([A-Za-z0-9_+-][A-Za-z0-9._+-]*|[.][A-Za-z0-9_+-][A-Za-z0-9._+-]*|[.][.][A-Za-z0-9._+-]+))+$'
readonly RUNTIME_ARG_RE='^[A-Za-z0-9._/=:,@+-]+$'
readonly IMAGE_RE='^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$'
readonly API_KEY_MIN_LENGTH=16
readonly API_KEY_MAX_LENGTH=1024
readonly API_KEY_CHARSET_RE='^([A-Za-z0-9!%&()*+,./:<=>?@^_|~-]|[[]|])+$'
readonly API_KEY_CHARSET_ALLOWED='only letters, digits and printable ASCII other than quotes, backslash, ;, {, }, $, # and backtick (no spaces, no other characters)'
readonly API_KEY_FIRST_RE='^[^~]'
readonly API_KEY_FIRST_ALLOWED='a first character other than ~ (nginx would read the key as a regular expression)'
readonly SAMPLES_FILE='samples.tsv'
readonly VERIFY_MAX_SAMPLE_JSON_BYTES=16384
readonly VERIFY_MAX_TOTAL_JSON_BYTES=32768
readonly VERIFY_SAMPLE_NAME_RE='^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'
readonly CONFIG_KEYS=(MD_DEPLOYMENT MD_VERSION MD_HOST MD_DIR MD_RUNTIME MD_RUNTIME_ARGS MD_IMAGE MD_ARTIFACT_SHA256
  MD_MODEL_MOUNT MD_CONTAINER_PORT MD_HEALTH_PATH MD_STARTUP_TIMEOUT MD_REPLICAS MD_SLOT_PORT_BASE MD_PROXY_PORT MD_PROXY_BIND
  MD_ALLOWED_CLIENTS MD_TLS_CERT MD_TLS_KEY MD_GPUS_PER_REPLICA MD_GPU_NAMES MD_GPU_MIN_MEMORY_MIB MD_CPUS MD_MEMORY
  MD_MIN_FREE_DISK_MIB MD_CAP_ADD MD_READ_ONLY_ROOT MD_VERIFY_SAMPLES MD_VERIFY_SHA256 MD_VERIFY_BUDGET_MS MD_VERIFY_PATH)
declare -rA CONTRACT_FIELD=(
  [MD_DEPLOYMENT]='endpointName'
  [MD_VERSION]='version'
  [MD_HOST]='hosts[].name'
  [MD_DIR]='hosts[].deployRoot'
  [MD_RUNTIME]='runtime'
  [MD_RUNTIME_ARGS]='hosts[].runtimeArgs'
  [MD_IMAGE]='serving.image'
  [MD_ARTIFACT_SHA256]='model'
  [MD_MODEL_MOUNT]='modelMountPath'
  [MD_CONTAINER_PORT]='serving.port'
  [MD_HEALTH_PATH]='serving.healthPath'
  [MD_STARTUP_TIMEOUT]='serving.startupTimeoutSeconds'
  [MD_REPLICAS]='scaling.minReplicas'
  [MD_SLOT_PORT_BASE]='slotPortBase'
  [MD_PROXY_PORT]='proxyPort'
  [MD_PROXY_BIND]='proxyBindAddress'
  [MD_ALLOWED_CLIENTS]='allowedClientCidrs'
  [MD_TLS_CERT]='tls.certificatePath'
  [MD_TLS_KEY]='tls.keyPath'
  [MD_GPUS_PER_REPLICA]='compute.count'
  [MD_GPU_NAMES]='compute.gpu'
  [MD_GPU_MIN_MEMORY_MIB]='compute.gpu'
  [MD_CPUS]='compute.vcpus'
  [MD_MEMORY]='compute.memoryGiB'
  [MD_MIN_FREE_DISK_MIB]='minFreeDiskMiB'
  [MD_CAP_ADD]='containerCapabilities'
  [MD_READ_ONLY_ROOT]='readOnlyRootFilesystem'
  [MD_VERIFY_SAMPLES]='verification.samples'
  [MD_VERIFY_SHA256]='verification.samples'
  [MD_VERIFY_BUDGET_MS]='verification.latencyBudgetMs'
  [MD_VERIFY_PATH]='serving.predictPath'
)
declare -rA CONTRACT_RE=(
  [MD_DEPLOYMENT]='^[a-z0-9][a-z0-9-]{0,39}$'
  [MD_VERSION]='^v[0-9a-f]{12}$'
  [MD_HOST]='^[a-z0-9](-?[a-z0-9]){0,30}$'
  [MD_DIR]='^(/([A-Za-z0-9_+-][A-Za-z0-9._+-]*|[.][A-Za-z0-9_+-][A-Za-z0-9._+-]*|[.][.][A-Za-z0-9._+-]+)){2,}$'
  [MD_RUNTIME]='^(docker|podman)$'
  [MD_RUNTIME_ARGS]='^([A-Za-z0-9._/=:,@+-]+( [A-Za-z0-9._/=:,@+-]+)*)?$'
  [MD_IMAGE]='^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$'
  [MD_ARTIFACT_SHA256]='^[0-9a-f]{64}$'
  [MD_MODEL_MOUNT]='^(/([A-Za-z0-9_+-][A-Za-z0-9._+-]*|[.][A-Za-z0-9_+-][A-Za-z0-9._+-]*|[.][.][A-Za-z0-9._+-]+))+$'
  [MD_CONTAINER_PORT]='^(0|[1-9][0-9]{0,8})$'
  [MD_HEALTH_PATH]='^/[A-Za-z0-9._~/%?&=+:-]*$'
  [MD_STARTUP_TIMEOUT]='^(0|[1-9][0-9]{0,8})$'
  [MD_REPLICAS]='^(0|[1-9][0-9]{0,8})$'
  [MD_SLOT_PORT_BASE]='^(0|[1-9][0-9]{0,8})$'
  [MD_PROXY_PORT]='^(0|[1-9][0-9]{0,8})$'
  [MD_PROXY_BIND]='^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])([.](25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}|([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|([0-9A-Fa-f]{1,4}:){1,7}:|([0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}|([0-9A-Fa-f]{1,4}:){1,5}(:[0-9A-Fa-f]{1,4}){1,2}|([0-9A-Fa-f]{1,4}:){1,4}(:[0-9A-Fa-f]{1,4}){1,3}|([0-9A-Fa-f]{1,4}:){1,3}(:[0-9A-Fa-f]{1,4}){1,4}|([0-9A-Fa-f]{1,4}:){1,2}(:[0-9A-Fa-f]{1,4}){1,5}|[0-9A-Fa-f]{1,4}:(:[0-9A-Fa-f]{1,4}){1,6}|:((:[0-9A-Fa-f]{1,4}){1,7}|:))$'
  [MD_ALLOWED_CLIENTS]='^(((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])([.](25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3})/(3[0-2]|[12][0-9]|[0-9])|(([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|([0-9A-Fa-f]{1,4}:){1,7}:|([0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}|([0-9A-Fa-f]{1,4}:){1,5}(:[0-9A-Fa-f]{1,4}){1,2}|([0-9A-Fa-f]{1,4}:){1,4}(:[0-9A-Fa-f]{1,4}){1,3}|([0-9A-Fa-f]{1,4}:){1,3}(:[0-9A-Fa-f]{1,4}){1,4}|([0-9A-Fa-f]{1,4}:){1,2}(:[0-9A-Fa-f]{1,4}){1,5}|[0-9A-Fa-f]{1,4}:(:[0-9A-Fa-f]{1,4}){1,6}|:((:[0-9A-Fa-f]{1,4}){1,7}|:))/(12[0-8]|1[01][0-9]|[1-9][0-9]|[0-9]))(,(((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])([.](25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3})/(3[0-2]|[12][0-9]|[0-9])|(([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|([0-9A-Fa-f]{1,4}:){1,7}:|([0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}|([0-9A-Fa-f]{1,4}:){1,5}(:[0-9A-Fa-f]{1,4}){1,2}|([0-9A-Fa-f]{1,4}:){1,4}(:[0-9A-Fa-f]{1,4}){1,3}|([0-9A-Fa-f]{1,4}:){1,3}(:[0-9A-Fa-f]{1,4}){1,4}|([0-9A-Fa-f]{1,4}:){1,2}(:[0-9A-Fa-f]{1,4}){1,5}|[0-9A-Fa-f]{1,4}:(:[0-9A-Fa-f]{1,4}){1,6}|:((:[0-9A-Fa-f]{1,4}){1,7}|:))/(12[0-8]|1[01][0-9]|[1-9][0-9]|[0-9])))*$'
  [MD_TLS_CERT]='^((/([A-Za-z0-9_+-][A-Za-z0-9._+-]*|[.][A-Za-z0-9_+-][A-Za-z0-9._+-]*|[.][.][A-Za-z0-9._+-]+))+)?$'
  [MD_TLS_KEY]='^((/([A-Za-z0-9_+-][A-Za-z0-9._+-]*|[.][A-Za-z0-9_+-][A-Za-z0-9._+-]*|[.][.][A-Za-z0-9._+-]+))+)?$'
  [MD_GPUS_PER_REPLICA]='^(0|[1-9][0-9]{0,8})$'
  [MD_GPU_NAMES]='^([A-Za-z0-9 ._()/+-]+([|][A-Za-z0-9 ._()/+-]+)*)?$'
  [MD_GPU_MIN_MEMORY_MIB]='^(0|[1-9][0-9]{0,8})$'
  [MD_CPUS]='^([0-9]{1,4}([.][0-9]{1,3})?)?$'
  [MD_MEMORY]='^([1-9][0-9]{0,12}[bkmgBKMG]?)?$'
  [MD_MIN_FREE_DISK_MIB]='^(0|[1-9][0-9]{0,8})$'
  [MD_CAP_ADD]='^((AUDIT_CONTROL|AUDIT_READ|AUDIT_WRITE|BLOCK_SUSPEND|BPF|CHECKPOINT_RESTORE|CHOWN|DAC_OVERRIDE|DAC_READ_SEARCH|FOWNER|FSETID|IPC_LOCK|IPC_OWNER|KILL|LEASE|LINUX_IMMUTABLE|MAC_ADMIN|MAC_OVERRIDE|MKNOD|NET_ADMIN|NET_BIND_SERVICE|NET_BROADCAST|NET_RAW|PERFMON|SETFCAP|SETGID|SETPCAP|SETUID|SYS_ADMIN|SYS_BOOT|SYS_CHROOT|SYS_MODULE|SYS_NICE|SYS_PACCT|SYS_PTRACE|SYS_RAWIO|SYS_RESOURCE|SYS_TIME|SYS_TTY_CONFIG|SYSLOG|WAKE_ALARM)(,(AUDIT_CONTROL|AUDIT_READ|AUDIT_WRITE|BLOCK_SUSPEND|BPF|CHECKPOINT_RESTORE|CHOWN|DAC_OVERRIDE|DAC_READ_SEARCH|FOWNER|FSETID|IPC_LOCK|IPC_OWNER|KILL|LEASE|LINUX_IMMUTABLE|MAC_ADMIN|MAC_OVERRIDE|MKNOD|NET_ADMIN|NET_BIND_SERVICE|NET_BROADCAST|NET_RAW|PERFMON|SETFCAP|SETGID|SETPCAP|SETUID|SYS_ADMIN|SYS_BOOT|SYS_CHROOT|SYS_MODULE|SYS_NICE|SYS_PACCT|SYS_PTRACE|SYS_RAWIO|SYS_RESOURCE|SYS_TIME|SYS_TTY_CONFIG|SYSLOG|WAKE_ALARM))*)?$'
  [MD_READ_ONLY_ROOT]='^[01]$'
  [MD_VERIFY_SAMPLES]='^(0|[1-9][0-9]{0,8})$'
  [MD_VERIFY_SHA256]='^([0-9a-f]{64})?$'
  [MD_VERIFY_BUDGET_MS]='^(0|[1-9][0-9]{0,8})$'
  [MD_VERIFY_PATH]='^(/[A-Za-z0-9._~/%?&=+:-]*)?$'
)
declare -rA CONTRACT_MIN=(
  [MD_CONTAINER_PORT]='1'
  [MD_STARTUP_TIMEOUT]='1'
  [MD_REPLICAS]='1'
  [MD_SLOT_PORT_BASE]='1024'
  [MD_PROXY_PORT]='1'
  [MD_GPUS_PER_REPLICA]='0'
  [MD_GPU_MIN_MEMORY_MIB]='0'
  [MD_MIN_FREE_DISK_MIB]='0'
  [MD_VERIFY_SAMPLES]='0'
  [MD_VERIFY_BUDGET_MS]='1'
)
declare -rA CONTRACT_MAX=(
  [MD_CONTAINER_PORT]='65535'
  [MD_STARTUP_TIMEOUT]='86400'
  [MD_REPLICAS]='64'
  [MD_SLOT_PORT_BASE]='65408'
  [MD_PROXY_PORT]='65535'
  [MD_GPUS_PER_REPLICA]='16'
  [MD_GPU_MIN_MEMORY_MIB]='10000000'
  [MD_MIN_FREE_DISK_MIB]='10000000'
  [MD_VERIFY_SAMPLES]='10'
  [MD_VERIFY_BUDGET_MS]='600000'
)
declare -rA CONTRACT_MAX_LENGTH=(
  [MD_DIR]='90'
)
declare -rA CONTRACT_ALLOWED=(
  [MD_DEPLOYMENT]='1 to 40 characters of a-z, 0-9 and -, starting with a letter or digit (on-prem hosts name directories and containers after it)'
  [MD_VERSION]='v followed by 12 lower-case hex digits'
  [MD_HOST]='lower-case letters, digits and single hyphens, at most 31 characters'
  [MD_DIR]='an absolute path other than / of letters, digits and . _ + - (no spaces, no "." or ".." components), at most 90 characters with the deployment name (the proxy'\''s probe socket path must fit a Unix socket address)'
  [MD_RUNTIME]='docker or podman'
  [MD_RUNTIME_ARGS]='arguments of letters, digits and . _ / = : , @ + -'
  [MD_IMAGE]='an image reference of letters, digits and . _ / : @ -, at most 255 characters'
  [MD_ARTIFACT_SHA256]='64 lower-case hex digits'
  [MD_MODEL_MOUNT]='an absolute path other than / of letters, digits and . _ + - (no spaces, no "." or ".." components)'
  [MD_CONTAINER_PORT]='an integer from 1 to 65535'
  [MD_HEALTH_PATH]='a URL path starting with / of letters, digits and . _ ~ / % ? & = + : -'
  [MD_STARTUP_TIMEOUT]='an integer from 1 to 86400'
  [MD_REPLICAS]='1 to 64 replicas per host (at most 64 x the number of hosts)'
  [MD_SLOT_PORT_BASE]='an integer from 1024 to 65408 (a host reserves 128 ports from it)'
  [MD_PROXY_PORT]='an integer from 1 to 65535'
  [MD_PROXY_BIND]='an IPv4 or IPv6 address without brackets (0.0.0.0 for every IPv4 interface)'
  [MD_ALLOWED_CLIENTS]='IPv4 or IPv6 CIDRs (address/prefix length, such as 10.20.0.0/16 or fd00::/8), separated by commas'
  [MD_TLS_CERT]='empty or an absolute path other than / of letters, digits and . _ + - (no spaces, no "." or ".." components)'
  [MD_TLS_KEY]='empty or an absolute path other than / of letters, digits and . _ + - (no spaces, no "." or ".." components)'
  [MD_GPUS_PER_REPLICA]='an integer from 0 to 16'
  [MD_GPU_NAMES]='GPU names as nvidia-smi prints them, separated by |'
  [MD_GPU_MIN_MEMORY_MIB]='an integer from 0 to 10000000'
  [MD_CPUS]='empty or a number of CPUs with at most 3 decimals, such as 2 or 0.5'
  [MD_MEMORY]='empty or a size such as 4g or 512m'
  [MD_MIN_FREE_DISK_MIB]='an integer from 0 to 10000000'
  [MD_CAP_ADD]='Linux capability names without the CAP_ prefix (e.g. NET_BIND_SERVICE), separated by commas'
  [MD_READ_ONLY_ROOT]='0 or 1'
  [MD_VERIFY_SAMPLES]='an integer from 0 to 10'
  [MD_VERIFY_SHA256]='empty, or the sha256 of samples.tsv (64 lower-case hex digits)'
  [MD_VERIFY_BUDGET_MS]='an integer from 1 to 600000'
  [MD_VERIFY_PATH]='a URL path starting with / of letters, digits and . _ ~ / % ? & = + : - (where the samples are sent)'
)
declare -rA CONTRACT_OPTIONAL_DEFAULT=(
  [MD_VERIFY_SAMPLES]='0'
  [MD_VERIFY_SHA256]=''
  [MD_VERIFY_BUDGET_MS]='5000'
  [MD_VERIFY_PATH]=''
)
CONTRACT_PROBLEM=""

# Sets each optional key that is unset to its default (a config written without them).
contract_optional_defaults() {
  local key
  for key in "${!CONTRACT_OPTIONAL_DEFAULT[@]}"; do
    if [[ -z ${!key+x} ]]; then printf -v "$key" '%s' "${CONTRACT_OPTIONAL_DEFAULT[$key]}"; fi
  done
}

# Succeeds when VALUE passes KEY's own rule: contract_value_ok KEY VALUE.
contract_value_ok() {
  local key=$1 value=$2 re=${CONTRACT_RE[$1]}
  [[ $value =~ $re ]] || return 1
  if [[ -n ${CONTRACT_MAX_LENGTH[$key]:-} ]]; then
    ((${#value} <= ${CONTRACT_MAX_LENGTH[$key]})) || return 1
  fi
  if [[ -n ${CONTRACT_MIN[$key]:-} ]]; then
    ((value >= ${CONTRACT_MIN[$key]} && value <= ${CONTRACT_MAX[$key]})) || return 1
  fi
  return 0
}

# Checks every key, then the rules between keys, on the MD_* variables; on the first
# violation sets CONTRACT_PROBLEM (naming the spec's field) and fails.
contract_config_ok() {
  local key
  CONTRACT_PROBLEM=""
  for key in "${CONFIG_KEYS[@]}"; do
    if ! contract_value_ok "$key" "${!key}"; then
      CONTRACT_PROBLEM="invalid ${CONTRACT_FIELD[$key]} ($key) '${!key}'. Allowed: ${CONTRACT_ALLOWED[$key]}"
      return 1
    fi
  done
  if [[ $MD_DIR != */"$MD_DEPLOYMENT" ]]; then
    CONTRACT_PROBLEM="invalid hosts[].deployRoot (MD_DIR) '$MD_DIR'. Allowed: MD_DIR is the deploy root followed by /<deployment name>"
    return 1
  fi
  if ((MD_PROXY_PORT >= MD_SLOT_PORT_BASE && MD_PROXY_PORT <= MD_SLOT_PORT_BASE + 127)); then
    CONTRACT_PROBLEM="invalid proxyPort (MD_PROXY_PORT) $MD_PROXY_PORT, inside $MD_SLOT_PORT_BASE-$((MD_SLOT_PORT_BASE + 127)). Allowed: a port outside the slot ports slotPortBase to slotPortBase + 127"
    return 1
  fi
  if [[ -z $MD_TLS_CERT && -n $MD_TLS_KEY || -n $MD_TLS_CERT && -z $MD_TLS_KEY ]]; then
    CONTRACT_PROBLEM="invalid tls (MD_TLS_CERT) (MD_TLS_KEY is '$MD_TLS_KEY', MD_TLS_CERT is '$MD_TLS_CERT'). Allowed: both certificatePath and keyPath (TLS), or no tls (plain HTTP)"
    return 1
  fi
  if ((MD_GPUS_PER_REPLICA > 0)) && [[ -z $MD_GPU_NAMES ]]; then
    CONTRACT_PROBLEM="invalid compute.gpu (MD_GPU_NAMES) '' with MD_GPUS_PER_REPLICA=$MD_GPUS_PER_REPLICA. Allowed: the GPU names to look for when a replica needs GPUs"
    return 1
  fi
  if ((MD_VERIFY_SAMPLES > 0)) && [[ -z $MD_VERIFY_SHA256 ]]; then
    CONTRACT_PROBLEM="invalid verification.samples (MD_VERIFY_SHA256) '' with MD_VERIFY_SAMPLES=$MD_VERIFY_SAMPLES. Allowed: the sha256 of samples.tsv when there are samples"
    return 1
  fi
  if ((MD_VERIFY_SAMPLES > 0)) && [[ -z $MD_VERIFY_PATH ]]; then
    CONTRACT_PROBLEM="invalid serving.predictPath (MD_VERIFY_PATH) '' with MD_VERIFY_SAMPLES=$MD_VERIFY_SAMPLES. Allowed: the path the samples are sent to when there are samples"
    return 1
  fi
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
  elif ((${#k} < API_KEY_MIN_LENGTH || ${#k} > API_KEY_MAX_LENGTH)); then
    CONTRACT_PROBLEM="$API_KEY_MIN_LENGTH to $API_KEY_MAX_LENGTH characters (this one has ${#k})"
  fi
  [[ -z $CONTRACT_PROBLEM ]]
}
# END GENERATED HOST CONTRACT

# ---------------------------------------------------------------- output, errors, traps

MSG_HOST="?"
MSG_DEP="?"
SUBCMD=""
FAIL_MSG=""
SIGNAL=""
ERR_LINE=""
ERR_CMD=""
ROLLBACK_ARMED=0
PREPARE_SCRIPT_DIR=""
HELD_LOCKS=()
KEYS=()

say() { printf '[model-deploy host=%s deployment=%s] %s\n' "$MSG_HOST" "$MSG_DEP" "$*"; }
warn() { say "WARNING: $*" >&2; }

# Records the message and exits 1; on_exit rolls back (deploy) and prints the ERROR line last.
# Never call it inside $(...): the message would be lost with the subshell.
die() {
  FAIL_MSG=$*
  exit 1
}

# Prints a child command's output, line by line, with our prefix and with every API key masked.
relay() {
  local line k
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    for k in ${KEYS[@]+"${KEYS[@]}"}; do line=${line//"$k"/***}; done
    say "  $line"
  done
}

# Runs a command, relays its combined output, returns its status.
run_relay() {
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if [[ -n $out ]]; then relay <<<"$out"; fi
  return "$rc"
}

# Last non-empty line of a text, for error messages.
last_line() {
  local text=$1 line out=""
  while IFS= read -r line; do
    line=${line%$'\r'}
    if [[ -n ${line//[[:space:]]/} ]]; then out=$line; fi
  done <<<"$text"
  printf '%s' "$out"
}

on_err() {
  ERR_LINE=$1
  ERR_CMD=$2
}

on_signal() {
  SIGNAL=$1
  case $1 in
    INT) exit 130 ;;
    HUP) exit 129 ;;
    PIPE) exit 141 ;;
    *) exit 143 ;;
  esac
}

on_exit() {
  local rc=$?
  trap - EXIT ERR
  trap '' INT TERM HUP PIPE
  set +e
  if ((rc != 0)); then
    if [[ -z $FAIL_MSG ]]; then
      if [[ -n $SIGNAL ]]; then
        FAIL_MSG="${SUBCMD:-modeldeploy.sh} was interrupted by SIG$SIGNAL"
      else
        FAIL_MSG="${SUBCMD:-modeldeploy.sh} failed unexpectedly (exit $rc) at line ${ERR_LINE:-?} of modeldeploy.sh: ${ERR_CMD:-?}"
      fi
    fi
    # A failed prepare leaves nothing either (Terraform runs no destroy step for the tainted anchor).
    if [[ -n $PREPARE_SCRIPT_DIR ]]; then remove_script_dir "${PREPARE_SCRIPT_DIR%%:*}" "${PREPARE_SCRIPT_DIR#*:}" >/dev/null; fi
    if ((ROLLBACK_ARMED)); then
      ROLLBACK_ARMED=0
      if deploy_rollback; then
        FAIL_MSG="$FAIL_MSG (rolled back: the previously active version, if any, keeps serving)"
      else
        FAIL_MSG="$FAIL_MSG (after the switch: version $MD_VERSION is active)"
      fi
    fi
  fi
  release_locks
  if ((rc != 0)); then
    printf 'ERROR host=%s deployment=%s: %s\n' "$MSG_HOST" "$MSG_DEP" "$FAIL_MSG" >&2
    exit 1
  fi
  exit 0
}

trap 'on_err "$LINENO" "$BASH_COMMAND"' ERR
trap on_exit EXIT
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP
trap 'on_signal PIPE' PIPE

# ---------------------------------------------------------------- small helpers

is_uint() { [[ $1 =~ ^(0|[1-9][0-9]{0,8})$ ]]; }
is_port() { is_uint "$1" && (($1 >= 1 && $1 <= 65535)); }
is_sha256() { [[ $1 =~ ^[0-9a-f]{64}$ ]]; }
is_version() { [[ $1 =~ ^v[0-9a-f]{12}$ ]]; }
is_deployment() { contract_value_ok MD_DEPLOYMENT "$1"; }
is_gpu_uuid() { [[ $1 =~ ^GPU-[0-9A-Fa-f][0-9A-Fa-f-]{7,}$ ]]; }

# Absolute path of safe characters, without . or .. components, not /.
is_safe_abs_path() { [[ $1 =~ $SAFE_PATH_RE ]]; }

trim() {
  local s=$1
  s=${s#"${s%%[![:space:]]*}"}
  s=${s%"${s##*[![:space:]]}"}
  printf '%s' "$s"
}

# Writes stdin to FILE atomically (temporary file in the same directory, then rename).
write_atomic() {
  local file=$1 tmp
  tmp="$file.tmp.$$"
  cat >"$tmp"
  mv -f "$tmp" "$file"
}

# Shell-quotes one word for display: bare when it holds only safe characters.
shell_quote() {
  local w=$1
  if [[ $w =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
    printf '%s' "$w"
  else
    printf "'%s'" "${w//\'/\'\\\'\'}"
  fi
}

# Joins whitespace-separated words with single spaces.
words() {
  local -a w
  read -r -d '' -a w <<<"$1" || true
  printf '%s' "${w[*]}"
}

join_quoted() {
  local out="" w
  for w in "$@"; do out+="${out:+ }$(shell_quote "$w")"; done
  printf '%s' "$out"
}

# Sets MSG_HOST for subcommands that get no CONFIG.
host_from_env() {
  local h=${MD_HOST:-}
  if [[ -z $h || ! $h =~ ^[A-Za-z0-9._:@-]{1,253}$ ]]; then h=$(uname -n 2>/dev/null || echo unknown); fi
  if [[ ! $h =~ ^[A-Za-z0-9._:@-]{1,253}$ ]]; then h=unknown; fi
  MSG_HOST=$h
}

# Validates an MD_DIR argument and sets MD_DIR and MSG_DEP (= its basename).
set_md_dir() {
  local d=$1 what=$2
  if ! is_safe_abs_path "$d"; then
    MSG_DEP=$(basename -- "$d" 2>/dev/null | tr -cd 'a-z0-9-' | cut -c1-40)
    die "$what '$d' is not an absolute path of letters, digits and ._+- without spaces; the construct passes /<root>/<deployment>"
  fi
  local base=${d##*/} parent=${d%/*}
  MSG_DEP=$base
  is_deployment "$base" || die "$what $d must end in the deployment name ([a-z0-9-], 1-40 characters, starting with a letter or digit)"
  [[ -n $parent ]] || die "$what $d must not be directly under /; use a parent directory such as /opt/model-deployments"
  MD_DIR=$d
  MD_DEPLOYMENT=$base
}

# Parses a RUNTIME and 'RUNTIME_ARGS' pair into MD_RUNTIME and RT_ARGS.
set_runtime() {
  local rt=$1 args=$2 a
  [[ $rt == podman || $rt == docker ]] || die "container runtime '$rt' is not supported; use podman or docker"
  MD_RUNTIME=$rt
  MD_RUNTIME_ARGS=$args
  RT_ARGS=()
  if [[ -n ${args//[[:space:]]/} ]]; then read -r -a RT_ARGS <<<"$args"; fi
  for a in ${RT_ARGS[@]+"${RT_ARGS[@]}"}; do
    [[ $a =~ $RUNTIME_ARG_RE ]] || die "runtime argument '$a' has characters other than letters, digits and ._/=:,@+-; runtimeArgs are split on spaces and passed as global $rt options"
  done
}

rt() { "$MD_RUNTIME" ${RT_ARGS[@]+"${RT_ARGS[@]}"} "$@"; }

# Removes containers at once (they never served, or are leftovers): stop -t 0, then rm -f.
# Plain "podman rm -f" waits 10 s for a PID 1 that ignores SIGTERM (node, python).
rt_remove_now() {
  rt stop -t 0 "$@" >/dev/null 2>&1 || true
  rt rm -f "$@"
}
rt_display() { join_quoted "$MD_RUNTIME" ${RT_ARGS[@]+"${RT_ARGS[@]}"}; }

acquire_lock() {
  local lock=$1 timeout=$2 waited=0 pid
  while ! mkdir "$lock" 2>/dev/null; do
    pid=""
    if [[ -f $lock/pid ]]; then read -r pid <"$lock/pid" || true; fi
    if [[ $pid =~ ^[0-9]+$ ]] && ! kill -0 "$pid" 2>/dev/null; then
      warn "removing the stale lock $lock of process $pid, which is gone"
      rm -rf -- "$lock"
      continue
    fi
    if ((waited >= timeout)); then
      die "could not take the lock $lock within ${timeout}s (held by process ${pid:-unknown}); another deployment is starting containers on this host. If no modeldeploy.sh runs, remove the directory $lock"
    fi
    if ((waited % 15 == 0)); then say "waiting for the lock $lock (held by process ${pid:-unknown})"; fi
    sleep 1
    waited=$((waited + 1))
  done
  printf '%s\n' "$$" >"$lock/pid"
  HELD_LOCKS+=("$lock")
}

release_locks() {
  local l
  for l in ${HELD_LOCKS[@]+"${HELD_LOCKS[@]}"}; do rm -rf -- "$l" 2>/dev/null || true; done
  HELD_LOCKS=()
}

release_lock() {
  local lock=$1 l keep=()
  rm -rf -- "$lock"
  for l in ${HELD_LOCKS[@]+"${HELD_LOCKS[@]}"}; do
    if [[ $l != "$lock" ]]; then keep+=("$l"); fi
  done
  HELD_LOCKS=(${keep[@]+"${keep[@]}"})
}

sha256_of() {
  local out
  out=$(sha256sum -- "$1") || return 1
  printf '%s' "${out%% *}"
}

# Available MiB on the file system holding PATH (or its nearest existing parent).
disk_free_mib() {
  local dir=$1 out _a _b _c avail
  while [[ ! -e $dir && $dir != / ]]; do dir=${dir%/*}; dir=${dir:-/}; done
  out=$(df -Pm -- "$dir") || return 1
  { read -r _a && read -r _a _b _c avail _; } <<<"$out"
  [[ $avail =~ ^[0-9]+$ ]] || return 1
  printf '%s' "$avail"
}

# Child PIDs of PID, from /proc (no fork per process).
child_pids() {
  local parent=$1 d stat rest _s ppid
  for d in /proc/[0-9]*; do
    stat=""
    read -r stat <"$d/stat" 2>/dev/null || continue
    rest=${stat##*) }
    read -r _s ppid _ <<<"$rest"
    if [[ $ppid == "$parent" ]]; then printf '%s\n' "${d#/proc/}"; fi
  done
}

# The process title of PID ('' when gone or a zombie).
proc_title() {
  local t=""
  if [[ -r /proc/$1/cmdline ]]; then t=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || t=""; fi
  printf '%s' "$t"
}

# ---------------------------------------------------------------- configuration

load_config() {
  local file=$1 n=0 line key k
  local -A seen=()
  local -A known=()
  for k in "${CONFIG_KEYS[@]}"; do known[$k]=1; done
  [[ -f $file && -r $file ]] || die "config file $file is missing or unreadable; the construct uploads it to \$MD_DIR/versions/<version>/deploy.env before running deploy"
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    if [[ $line =~ ^[[:space:]]*(#.*)?$ ]]; then continue; fi
    if [[ $line =~ ^(MD_[A-Z0-9_]+)=\'[^\']*\'([[:space:]]+#.*)?$ ]]; then
      key=${BASH_REMATCH[1]}
      [[ -n ${known[$key]:-} ]] || die "config $file line $n sets unknown key $key; the host script and the construct that wrote the config must come from the same release"
      [[ -z ${seen[$key]:-} ]] || die "config $file line $n sets $key a second time"
      seen[$key]=1
    else
      die "config $file line $n is not of the form MD_NAME='value' (single-quoted, no quote inside); refusing to source it"
    fi
  done <"$file"
  for k in "${CONFIG_KEYS[@]}"; do unset "$k"; done
  # shellcheck disable=SC1090 # generated by the construct, checked line by line above
  . "$file"
  # Keys added later: the config of a version deployed before them (resume) lacks them. Such a
  # version's proxy answered every address; resume keeps its nginx.conf as it is.
  : "${MD_CAP_ADD=}" "${MD_READ_ONLY_ROOT=0}" "${MD_ALLOWED_CLIENTS=0.0.0.0/0,::/0}"
  contract_optional_defaults
  for k in "${CONFIG_KEYS[@]}"; do
    [[ -n ${!k+x} ]] || die "config $file does not set $k"
  done
  validate_config "$file"
}

validate_config() {
  local file=$1
  # Identify ourselves first, so that every later message names the right host and deployment.
  if contract_value_ok MD_HOST "$MD_HOST"; then MSG_HOST=$MD_HOST; else
    host_from_env
    die "config $file: invalid ${CONTRACT_FIELD[MD_HOST]} (MD_HOST) '$MD_HOST'. Allowed: ${CONTRACT_ALLOWED[MD_HOST]}"
  fi
  if is_deployment "$MD_DEPLOYMENT"; then MSG_DEP=$MD_DEPLOYMENT; else
    MSG_DEP=invalid
  fi
  contract_config_ok || die "config $file: $CONTRACT_PROBLEM"
  set_runtime "$MD_RUNTIME" "$MD_RUNTIME_ARGS"
  BIND_ADDR=$MD_PROXY_BIND
  BIND_V6=0
  if [[ $MD_PROXY_BIND == *:* ]]; then BIND_V6=1; fi
  if ((BIND_V6)); then PROXY_LISTEN="[$BIND_ADDR]:$MD_PROXY_PORT"; else PROXY_LISTEN="$BIND_ADDR:$MD_PROXY_PORT"; fi
  IFS=, read -r -a CLIENT_CIDRS <<<"$MD_ALLOWED_CLIENTS"
  PROXY_DIR=$MD_DIR/proxy
  PROBE_SOCK=$MD_DIR/$PROBE_SOCKET
  VERSION_DIR=$MD_DIR/versions/$MD_VERSION
  GPU_PARENT=${MD_DIR%/*}
  GPU_DIR=$GPU_PARENT/.gpus
}

# Checks container.env: docker env-file lines NAME=value (values are never printed).
check_env_file() {
  local file=$1 n=0 line
  [[ -f $file && -r $file ]] || die "container environment file $file is missing; the construct uploads container.env beside the config"
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    if [[ $line =~ ^[[:space:]]*(#.*)?$ ]]; then continue; fi
    [[ $line =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "container environment file $file line $n is not NAME=value"
  done <"$file"
}

# ---------------------------------------------------------------- API keys

# Reads proxy/api-keys (or FILE) into KEYS (deduplicated, in file order). Never prints a key.
read_api_keys() {
  local file=${1:-$PROXY_DIR/api-keys} n=0 line k dup
  KEYS=()
  [[ -f $file && -r $file ]] || die "API key file $file is missing; the construct uploads it (one key per line) before deploy"
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    line=${line%$'\r'}
    if [[ -z $line || $line == \#* ]]; then continue; fi
    api_key_ok "$line" || die "API key on line $n of $file is refused (the key is not shown). Allowed: $CONTRACT_PROBLEM"
    dup=0
    for k in ${KEYS[@]+"${KEYS[@]}"}; do
      if [[ $k == "$line" ]]; then dup=1; fi
    done
    if ((dup == 0)); then KEYS+=("$line"); fi
  done <"$file"
  ((${#KEYS[@]} > 0)) || die "API key file $file holds no key; the proxy would refuse every request"
}

# A key as an anchored, case-sensitive nginx map regex: exact whatever its length. (String entries
# are compared case-insensitively and go through a hash whose bucket size a 40-character key
# overflows.) Keys hold no quote, backslash, $, { or } (read_api_keys), so escaping the other
# metacharacters suffices; nginx keeps a backslash before any character but " ' \ t r n.
key_regex() {
  local k=$1 out="" c i
  for ((i = 0; i < ${#k}; i++)); do
    c=${k:i:1}
    case $c in
      [.^\|?*+\(\)\[\]]) out+="\\$c" ;;
      *) out+=$c ;;
    esac
  done
  printf '%s' "$out"
}

# Writes api-keys.map and bearer.map (mode 0600) from KEYS; makes api-keys 0600.
write_key_maps() {
  local k
  chmod 600 "$PROXY_DIR/api-keys"
  for k in "${KEYS[@]}"; do printf '"~^%s$" 1;\n' "$(key_regex "$k")"; done | write_atomic "$PROXY_DIR/api-keys.map"
  # RFC 7235: the scheme is case-insensitive, the key is not.
  for k in "${KEYS[@]}"; do printf '"~^(?i:bearer) +%s$" 1;\n' "$(key_regex "$k")"; done | write_atomic "$PROXY_DIR/bearer.map"
  chmod 600 "$PROXY_DIR/api-keys.map" "$PROXY_DIR/bearer.map"
}

# ---------------------------------------------------------------- GPUs

# Reads nvidia-smi into GPU_IDX, GPU_UUID ('' when not reported), GPU_NAME, GPU_MEM (-1 when
# not reported, e.g. [N/A] on GB10), GPU_DRV.
read_gpu_inventory() {
  local out rc=0 line nf name i
  local -a f
  GPU_IDX=() GPU_UUID=() GPU_NAME=() GPU_MEM=() GPU_DRV=() GPU_MEM_TEXT=()
  command -v nvidia-smi >/dev/null 2>&1 ||
    die "nvidia-smi not found on PATH, but the deployment asks for $MD_GPUS_PER_REPLICA GPU(s) per replica; install the NVIDIA driver on this host, or deploy with CPU compute"
  out=$(nvidia-smi --query-gpu=index,uuid,name,memory.total,driver_version --format=csv,noheader 2>&1) || rc=$?
  if ((rc != 0)); then
    if [[ $out == *"No devices were found"* ]]; then return 0; fi
    die "nvidia-smi failed (exit $rc): $(last_line "$out"); check that the NVIDIA driver is loaded (a reboot after a driver update, or 'Failed to initialize NVML' after systemctl daemon-reload, are common causes)"
  fi
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    if [[ -z ${line//[[:space:]]/} ]]; then continue; fi
    if [[ $line == *"No devices were found"* ]]; then continue; fi
    IFS=',' read -r -a f <<<"$line"
    nf=${#f[@]}
    if ((nf < 5)); then
      warn "ignoring an nvidia-smi line with $nf fields instead of 5: $line"
      continue
    fi
    name=""
    for ((i = 2; i < nf - 2; i++)); do name+="${name:+,}${f[i]}"; done
    GPU_IDX+=("$(trim "${f[0]}")")
    local uuid mem
    uuid=$(trim "${f[1]}")
    if ! is_gpu_uuid "$uuid"; then uuid=""; fi
    GPU_UUID+=("$uuid")
    GPU_NAME+=("$(trim "$name")")
    mem=$(trim "${f[nf - 2]}")
    GPU_MEM_TEXT+=("$mem")
    if [[ $mem =~ ^([0-9]+)[[:space:]]*MiB$ ]]; then
      GPU_MEM+=("${BASH_REMATCH[1]}")
    else
      GPU_MEM+=(-1)
    fi
    GPU_DRV+=("$(trim "${f[nf - 1]}")")
  done <<<"$out"
}

gpu_name_matches() {
  local name=$1 want
  local -a wants
  IFS='|' read -r -a wants <<<"$MD_GPU_NAMES"
  for want in "${wants[@]}"; do
    want=$(trim "$want")
    if [[ ${name,,} == "${want,,}" ]]; then return 0; fi
  done
  return 1
}

# Reads MD_RUNTIME and MD_RUNTIME_ARGS from another deployment's deploy.env without sourcing it.
# Sets OTHER_RT and OTHER_RT_ARGS; returns 1 when they cannot be read safely.
read_other_runtime() {
  local file=$1 line
  OTHER_RT=""
  OTHER_RT_ARGS=()
  local args=""
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line =~ ^MD_RUNTIME=\'(podman|docker)\' ]]; then OTHER_RT=${BASH_REMATCH[1]}; fi
    if [[ $line =~ ^MD_RUNTIME_ARGS=\'([A-Za-z0-9._/=:,@+\ -]*)\' ]]; then args=${BASH_REMATCH[1]}; fi
  done <"$file"
  [[ -n $OTHER_RT ]] || return 1
  if [[ -n ${args// /} ]]; then read -r -a OTHER_RT_ARGS <<<"$args"; fi
  return 0
}

# Is the assignment of GPU UUID to (DEP, VERSION, REPLICA) backed by a container that still
# exists? Conservative: when the runtime cannot be asked, the assignment counts as live.
assignment_live() {
  local dep=$1 ver=$2 rep=$3 uuid=$4 ids id gpus
  local -a q
  if [[ $dep == "$MD_DEPLOYMENT" ]]; then
    q=("$MD_RUNTIME" ${RT_ARGS[@]+"${RT_ARGS[@]}"})
  else
    local envf=$GPU_PARENT/$dep/versions/$ver/deploy.env
    [[ -f $envf ]] || return 1
    read_other_runtime "$envf" || return 0
    q=("$OTHER_RT" ${OTHER_RT_ARGS[@]+"${OTHER_RT_ARGS[@]}"})
  fi
  ids=$("${q[@]}" ps -a -q --filter "label=md.deployment=$dep" --filter "label=md.version=$ver" \
    --filter "label=md.replica=$rep" 2>/dev/null) || return 0
  for id in $ids; do
    gpus=$("${q[@]}" inspect --format '{{index .Config.Labels "md.gpus"}}' "$id" 2>/dev/null) || return 0
    if [[ ",$gpus," == *",$uuid,"* ]]; then return 0; fi
  done
  return 1
}

# Classifies GPU UUID for this deployment. Sets A_STATE: free | own (ours, this version: reused)
# | stale (assignment without container) | inuse; A_OWNER: "dep version" when assigned.
gpu_assignment_state() {
  local uuid=$1 file=$GPU_DIR/$1 a_dep="" a_ver="" a_rep=""
  A_OWNER=""
  if [[ ! -f $file ]]; then
    A_STATE=free
    return 0
  fi
  read -r a_dep a_ver a_rep _ <"$file" || true
  if ! is_deployment "$a_dep" || ! is_version "$a_ver" || ! is_uint "$a_rep"; then
    A_STATE=inuse
    A_OWNER="an unreadable assignment ($file)"
    return 0
  fi
  A_OWNER="$a_dep $a_ver"
  if [[ $a_dep == "$MD_DEPLOYMENT" && $a_ver == "$MD_VERSION" ]]; then
    A_STATE=own
  elif assignment_live "$a_dep" "$a_ver" "$a_rep" "$uuid"; then
    A_STATE=inuse
  else
    A_STATE=stale
  fi
}

# Selects MD_REPLICAS * MD_GPUS_PER_REPLICA GPUs into SELECTED_GPUS (nvidia-smi order) or dies
# with an inventory summary. With VERBOSE=1 prints the inventory.
select_gpus() {
  local verbose=$1 i n need status mem_txt kind
  local -a free=() owners=() owner_counts=() other_names=()
  local nother=0 nsmall=0 nnouuid=0 j found
  need=$((MD_REPLICAS * MD_GPUS_PER_REPLICA))
  read_gpu_inventory
  n=${#GPU_IDX[@]}
  if ((verbose)); then say "GPU inventory from nvidia-smi: $n GPU(s)"; fi
  for ((i = 0; i < n; i++)); do
    if ! gpu_name_matches "${GPU_NAME[i]}"; then
      status="other kind"
      nother=$((nother + 1))
      found=0
      for ((j = 0; j < ${#other_names[@]}; j++)); do
        if [[ ${other_names[j]} == "${GPU_NAME[i]}" ]]; then found=1; fi
      done
      if ((found == 0)); then other_names+=("${GPU_NAME[i]}"); fi
    elif [[ -z ${GPU_UUID[i]} ]]; then
      status="no UUID reported, cannot be pinned"
      nnouuid=$((nnouuid + 1))
    elif ((GPU_MEM[i] >= 0 && GPU_MEM[i] < MD_GPU_MIN_MEMORY_MIB)); then
      status="too small (< $MD_GPU_MIN_MEMORY_MIB MiB)"
      nsmall=$((nsmall + 1))
    else
      gpu_assignment_state "${GPU_UUID[i]}"
      case $A_STATE in
        free) status=free ;;
        own) status="free (assigned to this version by an earlier attempt)" ;;
        stale) status="free (stale assignment to $A_OWNER, no such container)" ;;
        *) status="in use by $A_OWNER" ;;
      esac
      if [[ $A_STATE == inuse ]]; then
        found=0
        for ((j = 0; j < ${#owners[@]}; j++)); do
          if [[ ${owners[j]} == "$A_OWNER" ]]; then
            owner_counts[j]=$((owner_counts[j] + 1))
            found=1
          fi
        done
        if ((found == 0)); then
          owners+=("$A_OWNER")
          owner_counts+=(1)
        fi
      else
        free+=("${GPU_UUID[i]}")
      fi
      if ((GPU_MEM[i] < 0 && MD_GPU_MIN_MEMORY_MIB > 0)); then
        warn "GPU ${GPU_IDX[i]} (${GPU_NAME[i]}) reports memory.total '${GPU_MEM_TEXT[i]}'; could not check it against $MD_GPU_MIN_MEMORY_MIB MiB, accepted by its name"
      fi
    fi
    if ((verbose)); then
      mem_txt=${GPU_MEM_TEXT[i]}
      say "  GPU ${GPU_IDX[i]} ${GPU_UUID[i]:-(no UUID)} ${GPU_NAME[i]}, $mem_txt, driver ${GPU_DRV[i]}: $status"
    fi
  done
  if ((${#free[@]} < need)); then
    kind=${MD_GPU_NAMES//|/ or }
    local msg="needs $need x $kind"
    if ((MD_GPU_MIN_MEMORY_MIB > 0)); then msg+=" (>= $MD_GPU_MIN_MEMORY_MIB MiB)"; fi
    msg+=" free"
    if [[ -n ${ACTIVE_VERSION:-} && ${ACTIVE_VERSION:-} != "$MD_VERSION" ]]; then msg+=" beside the running version $ACTIVE_VERSION"; fi
    msg+=" ($MD_REPLICAS replica(s) x $MD_GPUS_PER_REPLICA GPU); found: "
    if ((n == 0)); then
      msg+="no NVIDIA GPU (nvidia-smi lists none)"
    else
      msg+="${#free[@]} free"
      for ((j = 0; j < ${#owners[@]}; j++)); do msg+=", ${owner_counts[j]} in use by ${owners[j]}"; done
      if ((nsmall > 0)); then msg+=", $nsmall $kind with less than $MD_GPU_MIN_MEMORY_MIB MiB"; fi
      if ((nnouuid > 0)); then msg+=", $nnouuid $kind without a UUID"; fi
      if ((nother > 0)); then
        local names=""
        for j in "${other_names[@]}"; do names+="${names:+, }$j"; done
        msg+=", $nother of other kinds ($names)"
      fi
    fi
    msg+=". Free GPUs on this host, lower replicas or GPUs per replica, ask for a kind this host has, or use another host"
    if [[ -n ${ACTIVE_VERSION:-} && ${ACTIVE_VERSION:-} != "$MD_VERSION" ]]; then msg+=" (a blue/green update needs the new version's GPUs free while the old version runs)"; fi
    die "$msg"
  fi
  SELECTED_GPUS=("${free[@]:0:need}")
}

# GPUs of replica R among SELECTED_GPUS.
replica_gpus() {
  local r=$1
  REPLICA_GPUS=()
  if ((MD_GPUS_PER_REPLICA > 0)); then
    REPLICA_GPUS=("${SELECTED_GPUS[@]:r*MD_GPUS_PER_REPLICA:MD_GPUS_PER_REPLICA}")
  fi
}

# Removes GPU assignment files owned by DEP (and VERSION, when given). Prints what it released.
release_gpu_files() {
  local dep=$1 ver=${2:-} f a_dep a_ver a_rep
  [[ -d $GPU_DIR ]] || return 0
  for f in "$GPU_DIR"/GPU-*; do
    [[ -f $f ]] || continue
    a_dep="" a_ver="" a_rep=""
    read -r a_dep a_ver a_rep _ <"$f" || true
    if [[ $a_dep == "$dep" && (-z $ver || $a_ver == "$ver") ]]; then
      rm -f -- "$f"
      say "released GPU ${f##*/} (was assigned to $a_dep $a_ver replica $a_rep)"
    fi
  done
}

# Podman: CDI spec naming every selected GPU. Docker: NVIDIA container toolkit.
check_gpu_runtime_support() {
  local uuid f content missing="" specs=() d
  if [[ $MD_RUNTIME == podman ]]; then
    local dirs=${MD_CDI_SPEC_DIRS:-/etc/cdi /var/run/cdi}
    for d in $dirs; do
      for f in "$d"/*.yaml "$d"/*.yml "$d"/*.json; do
        if [[ -f $f && -r $f ]]; then specs+=("$f"); fi
      done
    done
    if ((${#specs[@]} > 0)); then
      content=""
      for f in "${specs[@]}"; do content+=$(<"$f"); done
      for uuid in "${SELECTED_GPUS[@]}"; do
        if [[ $content != *"$uuid"* ]]; then missing+="${missing:+, }$uuid"; fi
      done
      [[ -z $missing ]] || die "podman needs CDI devices named by GPU UUID, and the CDI spec(s) ${specs[*]} do not name $missing; regenerate them with: sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml --device-name-strategy=uuid (newer toolkits accept index and uuid together)"
      say "CDI spec(s) ${specs[*]} name the selected GPU(s)"
      return 0
    fi
    if command -v nvidia-ctk >/dev/null 2>&1; then
      local list rc=0
      list=$(nvidia-ctk cdi list 2>&1) || rc=$?
      if ((rc == 0)); then
        for uuid in "${SELECTED_GPUS[@]}"; do
          if [[ $list != *"nvidia.com/gpu=$uuid"* ]]; then missing+="${missing:+, }$uuid"; fi
        done
        if [[ -z $missing ]]; then
          say "nvidia-ctk cdi list names the selected GPU(s)"
          return 0
        fi
      fi
    fi
    die "podman needs a CDI spec to give GPUs to containers, and none names ${missing:-the selected GPUs} (looked in ${dirs// /, } and nvidia-ctk cdi list); install the NVIDIA container toolkit and run: sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml --device-name-strategy=uuid"
  fi
  if command -v nvidia-container-runtime >/dev/null 2>&1 || command -v nvidia-ctk >/dev/null 2>&1; then
    say "NVIDIA container toolkit found for docker"
    return 0
  fi
  local runtimes
  # shellcheck disable=SC2016 # a Go template, not shell
  runtimes=$(rt info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}' 2>/dev/null) || runtimes=""
  if [[ " $runtimes " == *" nvidia "* ]]; then
    say "docker has the nvidia runtime"
    return 0
  fi
  die "docker cannot give GPUs to containers: neither nvidia-container-runtime nor nvidia-ctk is on PATH and docker info lists no nvidia runtime; install the NVIDIA container toolkit and run: sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker"
}

# ---------------------------------------------------------------- versions and slots

read_active() {
  local v="" c=""
  ACTIVE_VERSION=""
  ACTIVE_COLOR=""
  if [[ -f $MD_DIR/active ]]; then
    read -r v <"$MD_DIR/active" || true
    if is_version "$v"; then ACTIVE_VERSION=$v; else warn "ignoring $MD_DIR/active, which does not hold a version"; fi
  fi
  if [[ -n $ACTIVE_VERSION ]]; then
    if [[ -f $MD_DIR/versions/$ACTIVE_VERSION/color ]]; then read -r c <"$MD_DIR/versions/$ACTIVE_VERSION/color" || true; fi
    if [[ $c != 0 && $c != 1 ]]; then
      warn "active version $ACTIVE_VERSION has no color file; assuming color 0"
      c=0
    fi
    ACTIVE_COLOR=$c
    NEW_COLOR=$((1 - c))
  else
    NEW_COLOR=0
  fi
}

# Replica r of colour c: each colour owns a fixed block, so a new version never takes a port the
# running one holds, whatever the two replica counts.
slot_port() { printf '%s' $((MD_SLOT_PORT_BASE + $1 * MAX_REPLICAS_PER_HOST + $2)); }
container_name() { printf '%s' "$MD_DEPLOYMENT-$MD_VERSION-r$1"; }

# The one place that builds the run command; plan prints it, deploy executes it.
# Args: COLOR REPLICA [GPU_UUID...]. Sets RUN_ARGV.
build_run_argv() {
  local c=$1 r=$2 port csv="" g
  shift 2
  port=$(slot_port "$c" "$r")
  RUN_ARGV=("$MD_RUNTIME" ${RT_ARGS[@]+"${RT_ARGS[@]}"} run -d
    --name "$(container_name "$r")"
    --label "md.deployment=$MD_DEPLOYMENT"
    --label "md.version=$MD_VERSION"
    --label "md.replica=$r"
    --label "md.artifact=$MD_ARTIFACT_SHA256")
  if (($# > 0)); then
    for g in "$@"; do csv+="${csv:+,}$g"; done
    RUN_ARGV+=(--label "md.gpus=$csv")
  fi
  RUN_ARGV+=(--restart unless-stopped --cap-drop ALL --security-opt no-new-privileges)
  if [[ -n $MD_CAP_ADD ]]; then
    local -a caps
    IFS=, read -r -a caps <<<"$MD_CAP_ADD"
    for g in "${caps[@]}"; do RUN_ARGV+=(--cap-add "$g"); done
  fi
  if ((MD_READ_ONLY_ROOT)); then RUN_ARGV+=(--read-only --tmpfs /tmp); fi
  RUN_ARGV+=(-p "127.0.0.1:$port:$MD_CONTAINER_PORT"
    -v "$MD_DIR/artifacts/$MD_ARTIFACT_SHA256:$MD_MODEL_MOUNT:ro"
    --env-file "$VERSION_DIR/container.env")
  if [[ -n $MD_CPUS ]]; then RUN_ARGV+=(--cpus "$MD_CPUS"); fi
  if [[ -n $MD_MEMORY ]]; then RUN_ARGV+=(--memory "$MD_MEMORY"); fi
  if (($# > 0)); then
    if [[ $MD_RUNTIME == docker ]]; then
      # docker parses --gpus as CSV: a list of devices must be quoted inside the value,
      # or "device=A,B" fails with: invalid count (B).
      RUN_ARGV+=(--gpus "\"device=$csv\"")
    else
      for g in "$@"; do RUN_ARGV+=(--device "nvidia.com/gpu=$g"); done
    fi
  fi
  RUN_ARGV+=("$MD_IMAGE")
}

# ---------------------------------------------------------------- preflight

preflight_checks() {
  local out rc=0 avail
  say "preflight: version $MD_VERSION, $MD_REPLICAS replica(s), $MD_GPUS_PER_REPLICA GPU(s) per replica, runtime $MD_RUNTIME"
  command -v "$MD_RUNTIME" >/dev/null 2>&1 ||
    die "container runtime $MD_RUNTIME not found on PATH; install $MD_RUNTIME on this host or choose the runtime it has in the on-prem target"
  out=$(rt version 2>&1) || rc=$?
  if ((rc != 0)); then
    die "container runtime does not answer: '$(rt_display) version' failed (exit $rc): $(last_line "$out"); start it (for docker: systemctl start docker) or fix runtimeArgs"
  fi
  say "runtime answers: $(rt_display) version"
  check_deploy_root "${MD_DIR%/*}"
  command -v curl >/dev/null 2>&1 || die "curl not found on PATH; install curl (health checks use it)"
  command -v nginx >/dev/null 2>&1 || die "nginx not found on PATH; install nginx (the proxy that checks API keys), e.g. apt-get install nginx-light or dnf install nginx"
  avail=$(disk_free_mib "$MD_DIR") || die "could not read free disk space under $MD_DIR with df -Pm"
  ((avail >= MD_MIN_FREE_DISK_MIB)) ||
    die "only $avail MiB free on the file system of $MD_DIR, needs at least $MD_MIN_FREE_DISK_MIB MiB; free disk space (old images: $MD_RUNTIME image prune) or lower minFreeDiskMiB"
  say "disk: $avail MiB free under $MD_DIR (>= $MD_MIN_FREE_DISK_MIB MiB)"
  [[ -d $MD_DIR/artifacts/$MD_ARTIFACT_SHA256 && -f $MD_DIR/artifacts/$MD_ARTIFACT_SHA256.complete ]] ||
    die "model artifact $MD_ARTIFACT_SHA256 is not installed under $MD_DIR/artifacts; run install-artifact first (the construct does this before deploy)"
  say "artifact ${MD_ARTIFACT_SHA256:0:12} present"
  out=$(rt image inspect --format '{{.Id}}' "$MD_IMAGE" 2>&1) ||
    die "image $MD_IMAGE is not present in $(rt_display); run install-image first (the construct does this before deploy)"
  say "image $MD_IMAGE present"
  read_api_keys
  say "${#KEYS[@]} API key(s) well formed"
  if [[ -n $MD_TLS_CERT ]]; then
    [[ -r $MD_TLS_CERT ]] || die "TLS certificate $MD_TLS_CERT is missing or unreadable"
    [[ -r $MD_TLS_KEY ]] || die "TLS key $MD_TLS_KEY is missing or unreadable"
    local pem
    pem=$(<"$MD_TLS_CERT")
    [[ $pem == *"-----BEGIN CERTIFICATE-----"* ]] || die "TLS certificate $MD_TLS_CERT holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
    pem=$(<"$MD_TLS_KEY")
    [[ $pem == *"-----BEGIN "*"PRIVATE KEY-----"* ]] || die "TLS key $MD_TLS_KEY holds no PEM private key"
    pem=""
    say "TLS certificate and key readable"
  fi
  if ((EUID != 0 && MD_PROXY_PORT < 1024)); then
    die "proxy port $MD_PROXY_PORT is below 1024 and this user (uid $EUID) is not root, so nginx cannot bind it; choose a port >= 1024"
  fi
  if ((MD_GPUS_PER_REPLICA > 0)); then
    select_gpus 1
    say "selected $((MD_REPLICAS * MD_GPUS_PER_REPLICA)) GPU(s): ${SELECTED_GPUS[*]}"
    check_gpu_runtime_support
  else
    say "CPU only: no GPU checks"
  fi
}

cmd_preflight() {
  [[ $# -eq 1 ]] || usage_die "preflight CONFIG"
  load_config "$1"
  read_active
  preflight_checks
  say "preflight passed"
}

cmd_plan() {
  [[ $# -eq 1 ]] || usage_die "plan CONFIG"
  load_config "$1"
  read_active
  SELECTED_GPUS=()
  if ((MD_GPUS_PER_REPLICA > 0)); then select_gpus 0; fi
  local r
  for ((r = 0; r < MD_REPLICAS; r++)); do
    replica_gpus "$r"
    build_run_argv "$NEW_COLOR" "$r" ${REPLICA_GPUS[@]+"${REPLICA_GPUS[@]}"}
    say "$(join_quoted "${RUN_ARGV[@]}")"
  done
}

# ---------------------------------------------------------------- nginx

nginx_master_pid() {
  local pid="" cmd
  [[ -f $PROXY_DIR/nginx.pid ]] || return 1
  read -r pid <"$PROXY_DIR/nginx.pid" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -d /proc/$pid ]]; then
    cmd=$(proc_title "$pid")
    [[ $cmd == *nginx* ]] || return 1
  fi
  printf '%s' "$pid"
}

nginx_cmd() {
  NGINX_ARGV=(nginx -p "$PROXY_DIR/" -c "$PROXY_DIR/nginx.conf")
  local help
  help=$(nginx -h 2>&1) || true
  # nginx >= 1.19.5 takes -e: the error log used before the configuration is read.
  if [[ $help == *"-e filename"* ]]; then NGINX_ARGV+=(-e "$PROXY_DIR/logs/error.log"); fi
}

nginx_user_directive() {
  NGINX_USER=""
  NGINX_GROUP=""
  if ((EUID == 0)); then
    NGINX_USER=nobody
    local line
    while IFS= read -r line; do
      if [[ $line == nogroup:* ]]; then NGINX_GROUP=nogroup; fi
    done </etc/group
  fi
}

# The nginx configuration. Two servers share the routes: the proxy on $PROXY_LISTEN, which answers
# only the allowed client networks, and the host's own probe on a Unix socket in the private proxy
# directory, through which verify_through_proxy checks each version whatever networks are allowed.
render_nginx_conf() {
  local p=$PROXY_DIR ssl="" tmp cidr
  if [[ -n $MD_TLS_CERT ]]; then ssl=" ssl"; fi
  echo "# Generated by modeldeploy.sh for deployment $MD_DEPLOYMENT; rewritten by deploy."
  if [[ -n $NGINX_USER ]]; then echo "user $NGINX_USER${NGINX_GROUP:+ $NGINX_GROUP};"; fi
  cat <<EOF
daemon on;
pid $p/nginx.pid;
error_log $p/logs/error.log warn;
worker_processes 1;
events { worker_connections 1024; }
http {
  access_log $p/logs/access.log;
EOF
  for tmp in "${NGINX_TMP_DIRS[@]}"; do
    echo "  ${tmp}_temp_path $p/tmp/$tmp;"
  done
  cat <<EOF
  server_tokens off;
  map \$http_x_api_key \$md_key_ok { default 0; include $p/api-keys.map; }
  map \$http_authorization \$md_bearer_ok { default 0; include $p/bearer.map; }
  # nginx's if takes one variable, not "\$a\$b": combine the two checks in a map.
  map "\$md_key_ok\$md_bearer_ok" \$md_authorized { default 1; "00" 0; }
  include $p/version.conf;
  upstream md_model { include $p/upstreams.conf; keepalive 16; }
  # The client networks the proxy answers (access.network, allowedClientCidrs).
  geo \$md_client_allowed {
    default 0;
EOF
  for cidr in "${CLIENT_CIDRS[@]}"; do echo "    $cidr 1;"; done
  cat <<EOF
  }
  server {
    listen $PROXY_LISTEN$ssl;
    # Any other source address gets 403 before its API key is looked at: the server's rewrite
    # phase runs before the location's key check. allow/deny (nginx's access phase) refuses the
    # same addresses in every location.
    if (\$md_client_allowed = 0) { return 403; }
EOF
  for cidr in "${CLIENT_CIDRS[@]}"; do echo "    allow $cidr;"; done
  echo "    deny all;"
  if [[ -n $MD_TLS_CERT ]]; then
    cat <<EOF
    ssl_certificate $MD_TLS_CERT;
    ssl_certificate_key $MD_TLS_KEY;
    ssl_protocols TLSv1.2 TLSv1.3;
EOF
  fi
  render_proxy_routes
  cat <<EOF
  }
  # The host's own probe: only the deployment's owner can enter $p.
  server {
    listen unix:$PROBE_SOCK;
EOF
  render_proxy_routes
  echo "  }"
  echo "}"
}

# The routes of both servers: every request needs an API key, then goes to the model.
render_proxy_routes() {
  cat <<'EOF'
    client_max_body_size 100m;
    # The workers (nobody, when the master is root) can reach no directory of the deployment,
    # which is private: they stream bodies both ways instead of buffering them to temp files.
    proxy_request_buffering off;
    proxy_max_temp_file_size 0;
    location / {
      if ($md_authorized = 0) { return 401; }
      proxy_pass http://md_model;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Api-Key "";
      proxy_set_header Authorization "";
      proxy_next_upstream error timeout http_502 http_503;
      proxy_read_timeout 300s;
      add_header X-Model-Deploy-Version $md_version;
    }
EOF
}

# nginx makes its Unix sockets 0666 itself (no option changes that). The proxy directory (0700)
# keeps other users out already; the socket is made 0600 as soon as it exists all the same.
private_probe_socket() {
  if [[ -S $PROBE_SOCK ]]; then chmod 600 "$PROBE_SOCK"; fi
}

# Starts nginx for this deployment. A probe socket left by an nginx that did not exit cleanly (a
# reboot, a kill) would make its bind fail: no nginx of ours runs here, so it is removed first.
start_nginx() {
  rm -f -- "$PROBE_SOCK"
  run_relay "${NGINX_ARGV[@]}" -t || die "nginx -t refused the configuration (see above)"
  run_relay "${NGINX_ARGV[@]}" ||
    die "nginx could not start (see above; is another process listening on $PROXY_LISTEN?); logs in $PROXY_DIR/logs/error.log"
  private_probe_socket
}

# Writes the proxy files for this version and starts or reloads nginx. Backs up what it replaces.
proxy_switch() {
  local r port d f conf
  mkdir -p "$PROXY_DIR" "$PROXY_DIR/logs" "$PROXY_DIR/tmp"
  for d in "${NGINX_TMP_DIRS[@]}"; do mkdir -p "$PROXY_DIR/tmp/$d"; done
  PROXY_BACKUP=$(mktemp -d "$PROXY_DIR/.backup.XXXXXX")
  for f in "${PROXY_FILES[@]}"; do
    if [[ -f $PROXY_DIR/$f ]]; then cp -p "$PROXY_DIR/$f" "$PROXY_BACKUP/$f"; fi
  done
  PROXY_CHANGED=1
  write_key_maps
  for ((r = 0; r < MD_REPLICAS; r++)); do
    port=$(slot_port "$NEW_COLOR" "$r")
    printf 'server 127.0.0.1:%s max_fails=2 fail_timeout=5s;\n' "$port"
  done | write_atomic "$PROXY_DIR/upstreams.conf"
  # shellcheck disable=SC2016 # nginx variables, not shell ones
  printf 'map $host $md_version { default "%s"; }\n' "$MD_VERSION" | write_atomic "$PROXY_DIR/version.conf"
  nginx_user_directive
  conf=$(render_nginx_conf)
  if [[ ! -f $PROXY_DIR/nginx.conf || $(<"$PROXY_DIR/nginx.conf") != "$conf" ]]; then
    printf '%s\n' "$conf" | write_atomic "$PROXY_DIR/nginx.conf"
    say "wrote $PROXY_DIR/nginx.conf"
  fi
  # Earlier releases opened these to the workers (0711, temp dirs owned by nobody).
  chmod 700 "$PROXY_DIR" "$PROXY_DIR/tmp"
  nginx_cmd
  local pid
  if pid=$(nginx_master_pid); then
    nginx_reload "$pid" "the new configuration"
    private_probe_socket
    say "proxy (nginx pid $pid) reloaded gracefully: upstreams now $(upstream_list)"
  else
    start_nginx
    NGINX_STARTED=1
    say "proxy started on $PROXY_LISTEN: upstreams $(upstream_list)"
  fi
}

# Checks the configuration, reloads nginx PID gracefully, and returns once its old workers no
# longer accept connections (what they serve from then on is the new configuration).
nginx_reload() {
  local pid=$1 what=$2 old_workers
  run_relay "${NGINX_ARGV[@]}" -t || die "nginx -t refused $what (see above); the running proxy keeps the old configuration"
  old_workers=$(child_pids "$pid")
  run_relay "${NGINX_ARGV[@]}" -s reload || die "nginx -s reload failed (see above)"
  wait_workers_stop_accepting "$old_workers"
}

upstream_list() {
  local r out=""
  for ((r = 0; r < MD_REPLICAS; r++)); do out+="${out:+ }127.0.0.1:$(slot_port "$NEW_COLOR" "$r")"; done
  printf '%s' "$out"
}

proxy_url() {
  local host scheme=http
  if [[ -n $MD_TLS_CERT ]]; then scheme=https; fi
  if ((BIND_V6)); then
    if [[ $BIND_ADDR == "::" ]]; then host="[::1]"; else host="[$BIND_ADDR]"; fi
  elif [[ $BIND_ADDR == 0.0.0.0 ]]; then
    host=127.0.0.1
  else
    host=$BIND_ADDR
  fi
  printf '%s' "$scheme://$host:$MD_PROXY_PORT$MD_HEALTH_PATH"
}

# One request through the proxy; KEY may be empty; with SOCKET, through that Unix socket. Sets
# PROXY_CODE and PROXY_VERSION.
proxy_probe() {
  local url=$1 key=$2 socket=${3:-} resp line
  local -a opts=(-sS -o /dev/null -D - -w '\n%{http_code}' --max-time 5)
  if [[ -n $socket ]]; then opts+=(--unix-socket "$socket"); fi
  if [[ $url == https:* ]]; then opts+=(-k); fi
  # The key goes to curl on stdin (a config file), never on its command line.
  if [[ -n $key ]]; then
    resp=$(printf 'header = "X-Api-Key: %s"\n' "$key" | curl "${opts[@]}" -K - "$url" 2>/dev/null) || true
  else
    resp=$(curl "${opts[@]}" "$url" 2>/dev/null) || true
  fi
  PROXY_CODE=000
  PROXY_VERSION=""
  while IFS= read -r line; do
    line=${line%$'\r'}
    if [[ $line =~ ^[0-9]{3}$ ]]; then PROXY_CODE=$line; fi
    if [[ ${line,,} =~ ^x-model-deploy-version:[[:space:]]*(v[0-9a-f]{12}) ]]; then PROXY_VERSION=${BASH_REMATCH[1]}; fi
  done <<<"$resp"
}

# Checks through the proxy that the version answers with the first API key and that a request
# without one is refused: through the probe socket, so that it works whatever client networks are
# allowed; then the listener on $PROXY_LISTEN must refuse a request without a key as well (401, or
# 403 where allowedClientCidrs leaves out this host's own address). A configuration written by an
# earlier release has no probe socket (resume keeps it as it is): that one is checked over TCP.
verify_through_proxy() {
  local tcp_url url deadline socket=""
  tcp_url=$(proxy_url)
  url=$tcp_url
  if [[ -f $PROXY_DIR/nginx.conf && $(<"$PROXY_DIR/nginx.conf") == *"listen unix:$PROBE_SOCK;"* ]]; then
    socket=$PROBE_SOCK
    url="http://localhost$MD_HEALTH_PATH"
  fi
  deadline=$((SECONDS + PROXY_VERIFY_TIMEOUT))
  while :; do
    proxy_probe "$url" "${KEYS[0]}" "$socket"
    if [[ $PROXY_CODE == 200 && $PROXY_VERSION == "$MD_VERSION" ]]; then break; fi
    if ((SECONDS >= deadline)); then
      die "the proxy at $url${socket:+ (socket $socket)} did not answer 200 from version $MD_VERSION within ${PROXY_VERIFY_TIMEOUT}s with the first API key (last answer: HTTP $PROXY_CODE${PROXY_VERSION:+ from $PROXY_VERSION}); see $PROXY_DIR/logs/error.log"
    fi
    sleep 1
  done
  say "proxy answers $url${socket:+ (socket $socket)} with HTTP 200 from version $MD_VERSION (API key accepted)"
  proxy_probe "$url" "" "$socket"
  [[ $PROXY_CODE == 401 ]] ||
    die "the proxy at $url${socket:+ (socket $socket)} answered HTTP $PROXY_CODE to a request without an API key; expected 401. Refusing to switch to a proxy that does not check keys"
  say "proxy refuses a request without an API key (HTTP 401)"
  [[ -n $socket ]] || return 0
  proxy_probe "$tcp_url" ""
  case $PROXY_CODE in
    401) say "proxy on $PROXY_LISTEN refuses a request without an API key (HTTP 401)" ;;
    403) say "proxy on $PROXY_LISTEN refuses this host's own address, which allowedClientCidrs leaves out (HTTP 403)" ;;
    *) die "the proxy at $tcp_url answered HTTP $PROXY_CODE to a request without an API key; expected 401 (or 403 where allowedClientCidrs leaves out this host's own address). Refusing to switch to a proxy that does not check keys" ;;
  esac
}

# After a reload, old workers accept new connections until they handle the master's QUIT
# (measured: a few requests, tens of ms). A worker that did retitles itself "worker process is
# shutting down" and has closed its listeners. Waits (up to 10 s) until every old worker has.
wait_workers_stop_accepting() {
  local pids=$1 k t i pending
  for ((i = 0; i < 100; i++)); do
    pending=0
    for k in $pids; do
      t=$(proc_title "$k")
      if [[ -n $t && $t != *"shutting down"* ]]; then pending=1; fi
    done
    ((pending)) || return 0
    sleep 0.1
  done
  warn "old nginx workers still accept connections 10s after the reload; going on"
}

# Stops the nginx of this deployment (or the master PID given): QUIT (graceful), then TERM, then
# KILL with its workers.
stop_nginx() {
  local pid=${1:-} kids
  if [[ -z $pid ]] && ! pid=$(nginx_master_pid); then
    say "proxy not running"
    return 0
  fi
  kids=$(child_pids "$pid" || true)
  kill -QUIT "$pid" 2>/dev/null || true
  wait_pid_gone "$pid" 60
  if kill -0 "$pid" 2>/dev/null; then
    warn "nginx $pid did not quit within 30s; terminating it"
    kill -TERM "$pid" 2>/dev/null || true
    wait_pid_gone "$pid" 10
  fi
  if kill -0 "$pid" 2>/dev/null; then
    warn "killing nginx $pid and its workers"
    # shellcheck disable=SC2086 # a list of PIDs
    kill -KILL "$pid" $kids 2>/dev/null || true
  fi
  say "stopped the proxy (nginx pid $pid)"
}

# Waits (up to LIMIT seconds) until no nginx worker of this deployment is still draining
# requests from before the last reload; those may still be sending to an old version.
# Waits until PID has exited, polling every half second, at most TRIES times.
wait_pid_gone() {
  local pid=$1 tries=$2 i
  for ((i = 0; i < tries; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
}

wait_draining_workers() {
  local limit=$1 pid waited=0 k draining cmd
  pid=$(nginx_master_pid) || return 0
  while ((waited < limit)); do
    draining=0
    for k in $(child_pids "$pid"); do
      cmd=$(proc_title "$k")
      if [[ $cmd == *"shutting down"* ]]; then draining=$((draining + 1)); fi
    done
    ((draining > 0)) || return 0
    if ((waited % 10 == 0)); then say "waiting for $draining nginx worker(s) to finish requests from before the switch"; fi
    sleep 1
    waited=$((waited + 1))
  done
  warn "nginx workers still draining after ${limit}s; going on"
}

# ---------------------------------------------------------------- deploy

# Retires every other version of this deployment once MD_VERSION is active: its containers, GPU
# assignments and version dir, and the artifact and image it used when MD_VERSION uses others.
# This runs here, in the new version's create step, because Terraform runs no destroy-time
# provisioner for an object that create_before_destroy replaced (the deposed object); a real
# destroy is the anchor's teardown.
retire_superseded() {
  local d v old_sha old_image
  [[ -d $MD_DIR/versions ]] || return 0
  for d in "$MD_DIR"/versions/v*; do
    [[ -d $d ]] || continue
    v=${d##*/}
    [[ $v != "$MD_VERSION" ]] || continue
    is_version "$v" || continue
    old_sha="" old_image=""
    if [[ -f $d/deploy.env ]]; then
      old_sha=$(sed -n "s/^MD_ARTIFACT_SHA256='\([0-9a-f]\{64\}\)'.*/\1/p" "$d/deploy.env" | head -n 1)
      old_image=$(sed -n "s/^MD_IMAGE='\([A-Za-z0-9][A-Za-z0-9._\/:@-]*\)'.*/\1/p" "$d/deploy.env" | head -n 1)
    fi
    say "retiring the superseded version $v"
    wait_draining_workers 60
    remove_containers "$v"
    release_gpu_files "$MD_DEPLOYMENT" "$v"
    rm -rf -- "$d"
    if [[ -n $old_sha && $old_sha != "$MD_ARTIFACT_SHA256" ]]; then
      (cmd_remove_artifact "$MD_DIR" "$old_sha" "$MD_RUNTIME" "$MD_RUNTIME_ARGS")
    fi
    if [[ -n $old_image && $old_image != "$MD_IMAGE" ]]; then
      (cmd_remove_image "$MD_DIR" "$MD_RUNTIME" "$MD_RUNTIME_ARGS" "$old_image")
    fi
  done
}

# True when the proxy runs and every replica of the active version answers its health route.
active_version_healthy() {
  local r port
  nginx_master_pid >/dev/null || return 1
  for ((r = 0; r < MD_REPLICAS; r++)); do
    port=$(slot_port "$ACTIVE_COLOR" "$r")
    curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$port$MD_HEALTH_PATH" >/dev/null 2>&1 || return 1
  done
}

# Copies CONFIG and container.env to versions/<version>/ unless they are already there.
ensure_version_files() {
  local config=$1 src_dir src_real dst_real
  mkdir -p "$VERSION_DIR"
  src_dir=$(cd "$(dirname -- "$config")" && pwd -P)
  src_real="$src_dir/$(basename -- "$config")"
  dst_real="$(cd "$VERSION_DIR" && pwd -P)/deploy.env"
  if [[ $src_real != "$dst_real" ]]; then
    write_atomic "$VERSION_DIR/deploy.env" <"$config"
    if [[ -f $src_dir/container.env ]]; then
      write_atomic "$VERSION_DIR/container.env" <"$src_dir/container.env"
    fi
    if [[ -f $src_dir/$SAMPLES_FILE ]]; then
      write_atomic "$VERSION_DIR/$SAMPLES_FILE" <"$src_dir/$SAMPLES_FILE"
    fi
    say "copied the config to $VERSION_DIR"
  fi
  check_env_file "$VERSION_DIR/container.env"
}

# Removes the containers of this deployment and version left by an earlier attempt, and any
# container that holds one of our names (only if it is ours).
remove_leftovers() {
  local ids id r name dep
  ids=$(rt ps -a -q --filter "label=md.deployment=$MD_DEPLOYMENT" --filter "label=md.version=$MD_VERSION") ||
    die "could not list containers with '$(rt_display) ps'"
  for id in $ids; do
    run_relay rt_remove_now "$id" >/dev/null || die "could not remove the leftover container $id of version $MD_VERSION"
    say "removed leftover container $id of version $MD_VERSION (an earlier attempt)"
  done
  for ((r = 0; r < MD_REPLICAS; r++)); do
    name=$(container_name "$r")
    if dep=$(rt container inspect --format '{{index .Config.Labels "md.deployment"}}' "$name" 2>/dev/null); then
      [[ $dep == "$MD_DEPLOYMENT" ]] || die "a container named $name exists and does not belong to deployment $MD_DEPLOYMENT; remove or rename it"
      run_relay rt_remove_now "$name" >/dev/null || die "could not remove the leftover container $name"
      say "removed leftover container $name"
    fi
  done
}

start_replicas() {
  local r out rc name port f
  for ((r = 0; r < MD_REPLICAS; r++)); do
    replica_gpus "$r"
    name=$(container_name "$r")
    port=$(slot_port "$NEW_COLOR" "$r")
    for f in ${REPLICA_GPUS[@]+"${REPLICA_GPUS[@]}"}; do
      printf '%s %s %s\n' "$MD_DEPLOYMENT" "$MD_VERSION" "$r" | write_atomic "$GPU_DIR/$f"
      GPU_FILES_WRITTEN+=("$GPU_DIR/$f")
    done
    build_run_argv "$NEW_COLOR" "$r" ${REPLICA_GPUS[@]+"${REPLICA_GPUS[@]}"}
    STARTED+=("$name")
    rc=0
    out=$("${RUN_ARGV[@]}" 2>&1) || rc=$?
    if ((rc != 0)); then
      relay <<<"$out"
      die "starting replica $r failed: $(join_quoted "${RUN_ARGV[@]}") exited $rc: $(last_line "$out"). If a port is in use, an older version may not have been retired ('$(rt_display) ps -a --filter label=md.deployment=$MD_DEPLOYMENT')"
    fi
    say "started $name ($(last_line "$out" | cut -c1-12)) on 127.0.0.1:$port${REPLICA_GPUS[0]:+ with GPU(s) ${REPLICA_GPUS[*]}}"
  done
}

show_logs() {
  local name=$1 out
  out=$(rt logs --tail 20 "$name" 2>&1) || true
  say "last 20 log lines of $name:"
  relay <<<"$out"
}

wait_healthy() {
  local start=$SECONDS deadline r port name state status restarts last_note=$SECONDS
  local -a pending=()
  deadline=$((SECONDS + MD_STARTUP_TIMEOUT))
  for ((r = 0; r < MD_REPLICAS; r++)); do pending+=("$r"); done
  say "waiting up to ${MD_STARTUP_TIMEOUT}s for $MD_REPLICAS replica(s) to answer $MD_HEALTH_PATH"
  while ((${#pending[@]} > 0)); do
    local -a still=()
    for r in "${pending[@]}"; do
      port=$(slot_port "$NEW_COLOR" "$r")
      name=$(container_name "$r")
      if curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$port$MD_HEALTH_PATH" >/dev/null 2>&1; then
        say "replica $r healthy on 127.0.0.1:$port after $((SECONDS - start))s"
        continue
      fi
      state=$(rt inspect --format '{{.State.Status}} {{.RestartCount}}' "$name" 2>/dev/null) || state="missing 0"
      read -r status restarts <<<"$state"
      if [[ $status != running && $status != created ]] || [[ ${restarts:-0} != 0 ]]; then
        show_logs "$name"
        die "replica $r ($name) stopped while starting (state $status, restarts ${restarts:-0}); see its last log lines above"
      fi
      still+=("$r")
    done
    pending=(${still[@]+"${still[@]}"})
    ((${#pending[@]} > 0)) || break
    if ((SECONDS >= deadline)); then
      for r in "${pending[@]}"; do show_logs "$(container_name "$r")"; done
      local urls=""
      for r in "${pending[@]}"; do urls+="${urls:+, }http://127.0.0.1:$(slot_port "$NEW_COLOR" "$r")$MD_HEALTH_PATH"; done
      die "replica(s) ${pending[*]} did not answer $urls within ${MD_STARTUP_TIMEOUT}s; raise startupTimeout if the model loads slowly, or check the health path and container port"
    fi
    if ((SECONDS - last_note >= 15)); then
      say "still waiting for replica(s) ${pending[*]} ($((SECONDS - start))s of ${MD_STARTUP_TIMEOUT}s)"
      last_note=$SECONDS
    fi
    sleep 1
  done
}

deploy_rollback() {
  local f name pid cur=""
  # Interrupted after the switch was committed: nothing to undo.
  if [[ -f $MD_DIR/active ]]; then read -r cur <"$MD_DIR/active" || true; fi
  if [[ $cur == "$MD_VERSION" && $MD_VERSION != "${ACTIVE_VERSION:-}" ]]; then
    say "version $MD_VERSION was already active; nothing to roll back"
    return 1
  fi
  say "rolling back version $MD_VERSION"
  if ((PROXY_CHANGED)) && [[ -n ${PROXY_BACKUP:-} && -d ${PROXY_BACKUP:-} ]]; then
    for f in "${PROXY_FILES[@]}"; do
      if [[ -f $PROXY_BACKUP/$f ]]; then
        cp -p "$PROXY_BACKUP/$f" "$PROXY_DIR/$f.tmp.$$" && mv -f "$PROXY_DIR/$f.tmp.$$" "$PROXY_DIR/$f"
      else
        rm -f -- "$PROXY_DIR/$f"
      fi
    done
    if pid=$(nginx_master_pid); then
      if ((NGINX_STARTED)) && [[ -z $ACTIVE_VERSION ]]; then
        stop_nginx
      else
        nginx_cmd
        if run_relay "${NGINX_ARGV[@]}" -s reload; then
          say "restored the previous proxy configuration (nginx pid $pid reloaded)"
        else
          warn "could not reload nginx with the restored configuration"
        fi
      fi
    fi
    rm -rf -- "$PROXY_BACKUP"
  fi
  for name in ${STARTED[@]+"${STARTED[@]}"}; do
    if rt_remove_now "$name" >/dev/null 2>&1; then say "removed container $name"; fi
  done
  for f in ${GPU_FILES_WRITTEN[@]+"${GPU_FILES_WRITTEN[@]}"}; do
    rm -f -- "$f" && say "released GPU ${f##*/}"
  done
  # Terraform runs no destroy step for a tainted resource: leave nothing of this version behind.
  if [[ $MD_VERSION != "${ACTIVE_VERSION:-}" && -d $VERSION_DIR ]]; then
    rm -rf -- "$VERSION_DIR"
    say "removed $VERSION_DIR"
  fi
  return 0
}

# ---------------------------------------------------------------- verification

# The answer checker: a JSON reader and the matching rules of responseMismatch
# (lib/spec/verification.ts), with checkSamples' failure lines (lib/common/sample-check.ts),
# in POSIX awk (mawk and gawk), as the host has no jq, python or node. A property test runs
# random JSON through both (test/on-prem/host-verify.test.ts). Sets VERIFY_AWK.
load_verify_awk() {
  IFS= read -r -d '' VERIFY_AWK <<'AWK' || true
#   mode=sample: one sample's answer (the file operand is the body, with any NUL byte taken
#     out by the caller, which then sets VERIFY_NUL=1; ENVIRON: VERIFY_NAME, VERIFY_EXPECTED,
#     VERIFY_ABS, VERIFY_REL, VERIFY_STATUS, VERIFY_MS, VERIFY_BUDGET): prints the failure
#     line, or nothing when it passed.
#   mode=batch: records of 8 lines (name, status, ms, budget, abs, rel, expected, body) from
#     the file operand: prints each one's failure line, or PASS.
# Run it under LC_ALL=C: strings are bytes, and non-ASCII passes through as UTF-8.
BEGIN {
  for (i = 1; i < 256; i++) ORD[sprintf("%c", i)] = i
  HEX = "0123456789abcdef"
  WS = "([ \t\n\r\013\014]|\302\240|\341\232\200|\342\200[\200-\212]|\342\200\250|\342\200\251|\342\200\257|\342\201\237|\343\200\200|\357\273\277)+"
  MAXNUM = 1.7976931348623157e308
  if (mode == "sample") {
    body = ""; n = 0
    while ((getline line < ARGV[1]) > 0) body = (n++ ? body "\n" : "") line
    out = check(ENVIRON["VERIFY_NAME"], ENVIRON["VERIFY_STATUS"], ENVIRON["VERIFY_MS"], ENVIRON["VERIFY_BUDGET"], ENVIRON["VERIFY_ABS"], ENVIRON["VERIFY_REL"], ENVIRON["VERIFY_EXPECTED"], body, ENVIRON["VERIFY_NUL"] == "1")
    if (out != "") print out
    exit 0
  }
}
mode == "batch" { F[++nf] = $0; if (nf == 8) { out = check(F[1], F[2], F[3], F[4], F[5], F[6], F[7], F[8], 0); print (out == "" ? "PASS" : out); nf = 0 } }

# checkSamples' line for one answer ('' when it passed).
function check(name, status, ms, budget, abs, rel, expected, body, nul,    e, a, diff) {
  if (!(status >= 200 && status <= 299)) return "sample \"" name "\": HTTP " status ": " excerpt(body)
  reset()
  e = parse(expected)
  a = parse(body)
  if (a < 0 || nul) return "sample \"" name "\": the response is not JSON: " excerpt(body)
  if (e < 0) return "sample \"" name "\": the expected response is not JSON"
  ABS = abs + 0; REL = rel + 0
  diff = walk(a, e, "$")
  if (diff != "") return "sample \"" name "\": wrong answer at " diff "; expected " excerpt(expected) ", got " excerpt(body)
  if (ms + 0 > budget + 0) return "sample \"" name "\": answered in " ms " ms, over the latency budget of " budget " ms"
  return ""
}

function reset() { split("", T); split("", V); split("", CN); split("", C); split("", OK); split("", ORDER); NN = 0 }

function node(t, v) { NN++; T[NN] = t; V[NN] = v; CN[NN] = 0; return NN }

# JSON.parse, iteratively: returns the root node, or -1 when S is not JSON. Arrays: C[id, i] is
# item i. Objects: OK[id, j] is the j-th distinct key (as JSON.stringify writes it), C[id, key]
# its value (a repeated key keeps its place and takes the last value, as in JavaScript).
function parse(s,    len, p, c, sp, key, state, id, par, q, start) {
  len = length(s); p = 1; sp = 0; state = "v"; ROOT = -1
  while (1) {
    while (p <= len && index(" \t\n\r", substr(s, p, 1)) > 0) p++
    c = substr(s, p, 1)
    if (state == "a") {
      if (sp == 0) return p > len ? ROOT : -1
      par = STK[sp]
      if (c == ",") { p++; state = T[par] == "a" ? "v" : "k"; continue }
      if ((c == "]" && T[par] == "a") || (c == "}" && T[par] == "o")) { p++; sp--; continue }
      return -1
    }
    if (p > len) return -1
    if (state == "k") {
      if (c != "\"") return -1
      key = str(s, p, len); if (key == "") return -1
      p = SP
      while (p <= len && index(" \t\n\r", substr(s, p, 1)) > 0) p++
      if (substr(s, p, 1) != ":") return -1
      p++; STK[sp, "k"] = key; state = "v"; continue
    }
    # a value
    if (c == "{" || c == "[") {
      id = node(c == "{" ? "o" : "a", "")
      p++
      while (p <= len && index(" \t\n\r", substr(s, p, 1)) > 0) p++
      if (substr(s, p, 1) == (c == "{" ? "}" : "]")) { p++; state = "a" } else state = c == "{" ? "k" : "v"
      attach(id, sp)
      if (state != "a") STK[++sp] = id

      continue
    }
    if (c == "\"") {
      q = str(s, p, len); if (q == "") return -1
      p = SP; id = node("s", q)
    } else if (substr(s, p, 4) == "true" || substr(s, p, 4) == "null") {
      id = node(substr(s, p, 4) == "true" ? "b" : "z", substr(s, p, 4)); p += 4
    } else if (substr(s, p, 5) == "false") {
      id = node("b", "false"); p += 5
    } else {
      start = p
      if (c == "-") c = substr(s, ++p, 1)
      if (c == "0") p++
      else if (index("123456789", c) > 0 && c != "") { while (index("0123456789", substr(s, p, 1)) > 0 && p <= len) p++ }
      else return -1
      if (substr(s, p, 1) == ".") {
        p++; if (!(index("0123456789", substr(s, p, 1)) > 0 && p <= len)) return -1
        while (index("0123456789", substr(s, p, 1)) > 0 && p <= len) p++
      }
      if (substr(s, p, 1) == "e" || substr(s, p, 1) == "E") {
        p++; if (substr(s, p, 1) == "+" || substr(s, p, 1) == "-") p++
        if (!(index("0123456789", substr(s, p, 1)) > 0 && p <= len)) return -1
        while (index("0123456789", substr(s, p, 1)) > 0 && p <= len) p++
      }
      id = node("n", substr(s, start, p - start))
    }
    attach(id, sp)
    state = "a"
  }
}

function attach(id, sp,    par, key) {
  if (sp == 0) { ROOT = id; return }
  par = STK[sp]
  if (T[par] == "a") { C[par, CN[par]++] = id; return }
  key = STK[sp, "k"]
  if (!((par, key) in C)) OK[par, CN[par]++] = key
  C[par, key] = id
}

# The string token at P (at its opening quote), as JSON.stringify writes the string it means
# (escapes decoded, then re-escaped the way JavaScript does). Sets SP past the closing quote.
# Returns '' (never a valid result: that has quotes) when the token is not a JSON string.
function str(s, p, len,    out, c, d, cp, lo) {
  out = "\""; p++
  while (p <= len) {
    c = substr(s, p, 1)
    if (c == "\"") { SP = p + 1; return out "\"" }
    if (ORD[c] < 32 && ORD[c] > 0) return ""
    if (c != "\\") { out = out c; p++; continue }
    d = substr(s, p + 1, 1)
    if (d == "\"" || d == "\\") { out = out "\\" d; p += 2; continue }
    if (d == "/") { out = out "/"; p += 2; continue }
    if (index("bfnrt", d) > 0 && d != "") { out = out "\\" d; p += 2; continue }
    if (d != "u") return ""
    cp = hex4(substr(s, p + 2, 4)); if (cp < 0) return ""
    p += 6
    if (cp >= 55296 && cp <= 56319 && substr(s, p, 2) == "\\u") {
      lo = hex4(substr(s, p + 2, 4))
      if (lo >= 56320 && lo <= 57343) { out = out utf8(65536 + (cp - 55296) * 1024 + (lo - 56320)); p += 6; continue }
    }
    out = out esc(cp)
  }
  return ""
}

function hex4(h,    i, v, k) {
  if (length(h) != 4) return -1
  v = 0
  for (i = 1; i <= 4; i++) { k = index(HEX, tolower(substr(h, i, 1))); if (k == 0) return -1; v = v * 16 + k - 1 }
  return v
}

# One UTF-16 code unit from a \u escape, as JSON.stringify writes it.
function esc(cp) {
  if (cp == 34) return "\\\""
  if (cp == 92) return "\\\\"
  if (cp == 8) return "\\b"
  if (cp == 9) return "\\t"
  if (cp == 10) return "\\n"
  if (cp == 12) return "\\f"
  if (cp == 13) return "\\r"
  if (cp < 32 || (cp >= 55296 && cp <= 57343)) return sprintf("\\u%04x", cp)
  return utf8(cp)
}

function utf8(cp) {
  if (cp < 128) return sprintf("%c", cp)
  if (cp < 2048) return sprintf("%c%c", 192 + int(cp / 64), 128 + cp % 64)
  if (cp < 65536) return sprintf("%c%c%c", 224 + int(cp / 4096), 128 + int(cp / 64) % 64, 128 + cp % 64)
  return sprintf("%c%c%c%c", 240 + int(cp / 262144), 128 + int(cp / 4096) % 64, 128 + int(cp / 64) % 64, 128 + cp % 64)
}

# A number as JavaScript's String() writes it: the shortest digits that read back the same.
function jsnum(x,    p, t, m, ex, dig, sign, n, k, i, out) {
  x = x + 0
  if (x > MAXNUM) return "Infinity"
  if (x < -MAXNUM) return "-Infinity"
  if (x == 0) return "0"
  for (p = 1; p < 17; p++) { t = sprintf("%." p "g", x); if (t + 0 == x) break }
  t = sprintf("%." (p - 1) "e", x)
  sign = ""
  if (substr(t, 1, 1) == "-") { sign = "-"; t = substr(t, 2) }
  i = index(t, "e"); m = substr(t, 1, i - 1); ex = substr(t, i + 1) + 0
  dig = m; sub(/\./, "", dig); sub(/0+$/, "", dig)
  k = length(dig); n = ex + 1
  if (k <= n && n <= 21) { out = dig; for (i = k; i < n; i++) out = out "0"; return sign out }
  if (0 < n && n <= 21) return sign substr(dig, 1, n) "." substr(dig, n + 1)
  if (-6 < n && n <= 0) { out = "0."; for (i = n; i < 0; i++) out = out "0"; return sign out dig }
  out = substr(dig, 1, 1) (k > 1 ? "." substr(dig, 2) : "")
  return sign out "e" (n - 1 >= 0 ? "+" : "-") (n - 1 >= 0 ? n - 1 : 1 - n)
}

function jsonnum(x) { x = jsnum(x); return x ~ /Infinity/ ? "null" : x }

function absv(x) { return x < 0 ? -x : x }

# responseMismatch's walk: '' when A matches E, else where and how they differ.
function walk(a, e, path,    te, ev, av, allowed, d, i, j, key, child, m) {
  te = T[e]
  if (te == "n") {
    if (T[a] != "n") return path ": expected the number " jsnum(V[e]) ", got " show(a)
    ev = V[e] + 0; av = V[a] + 0
    allowed = ABS; if (REL * absv(ev) > allowed) allowed = REL * absv(ev)
    d = absv(av - ev)
    if (d <= allowed) return ""
    return path ": expected " jsnum(ev) (allowed > 0 ? " \302\261 " jsnum(allowed) : "") ", got " jsnum(av)
  }
  if (te == "a") {
    if (T[a] != "a") return path ": expected an array, got " show(a)
    if (CN[a] != CN[e]) return path ": expected " CN[e] " items, got " CN[a]
    for (i = 0; i < CN[e]; i++) { m = walk(C[a, i], C[e, i], path "[" i "]"); if (m != "") return m }
    return ""
  }
  if (te == "o") {
    if (T[a] != "o") return path ": expected an object, got " show(a)
    for (j = 0; j < CN[e]; j++) {
      key = OK[e, j]
      child = path (key ~ /^"[A-Za-z_][A-Za-z0-9_]*"$/ ? "." substr(key, 2, length(key) - 2) : "[" key "]")
      if (!((a, key) in C)) return child ": missing"
      m = walk(C[a, key], C[e, key], child); if (m != "") return m
    }
    return ""
  }
  if (T[a] == te && (V[a] "") == (V[e] "")) return ""
  return path ": expected " show(e) ", got " show(a)
}

# JSON.stringify of a node, shortened to 120 UTF-16 units as responseMismatch shows it.
function show(id,    t) {
  t = ser(id)
  return units(t, 121) > 120 ? cut(t, 117) "..." : t
}

# JSON.stringify of a node, iteratively (an answer may nest deeper than awk recurses), stopping
# once longer than show keeps (400 bytes hold more than 120 UTF-16 units).
function ser(root,    out, sp, id, i, child, key) {
  out = scalar(root); sp = 0
  if (out == "") { SS[sp = 1] = root; SI[1] = 0; out = open(root) }
  while (sp > 0 && length(out) <= 400) {
    id = SS[sp]; i = SI[sp]
    if (i >= CN[id]) { out = out (T[id] == "a" ? "]" : "}"); sp--; continue }
    SI[sp] = i + 1
    if (i > 0) out = out ","
    if (T[id] == "a") child = C[id, i]
    else { key = ORDER[id, i]; out = out key ":"; child = C[id, key] }
    if (scalar(child) != "") out = out scalar(child)
    else { SS[++sp] = child; SI[sp] = 0; out = out open(child) }
  }
  return out
}

function scalar(id) { return T[id] == "n" ? jsonnum(V[id]) : (T[id] == "a" || T[id] == "o") ? "" : V[id] }

# Opens a container; for an object, puts its keys in ORDER[id, i] in the order JavaScript
# enumerates them: array-index keys first, ascending, then the others in their first places.
function open(id,    i, j, n, key, x) {
  if (T[id] == "a") return "["
  n = 0
  for (i = 0; i < CN[id]; i++) {
    key = OK[id, i]
    if (!(key ~ /^"(0|[1-9][0-9]*)"$/ && length(key) <= 12 && substr(key, 2, length(key) - 2) + 0 < 4294967295)) continue
    x = substr(key, 2, length(key) - 2) + 0
    for (j = n; j > 0 && substr(ORDER[id, j - 1], 2) + 0 > x; j--) ORDER[id, j] = ORDER[id, j - 1]
    ORDER[id, j] = key; n++
  }
  for (i = 0; i < CN[id]; i++) {
    key = OK[id, i]
    if (!(key ~ /^"(0|[1-9][0-9]*)"$/ && length(key) <= 12 && substr(key, 2, length(key) - 2) + 0 < 4294967295)) ORDER[id, n++] = key
  }
  return "{"
}

# UTF-16 units in a UTF-8 text, counting up to LIMIT.
function units(t, limit,    i, n, b, len) {
  len = length(t); n = 0
  for (i = 1; i <= len && n < limit; i++) {
    b = ORD[substr(t, i, 1)]
    if (b < 128 || b >= 192) n += (b >= 240 ? 2 : 1)
  }
  return n
}

# The first N UTF-16 units of a UTF-8 text (a character that does not fit whole is left out).
function cut(t, n,    i, u, b, len, w) {
  len = length(t); u = 0
  for (i = 1; i <= len; i++) {
    b = ORD[substr(t, i, 1)]
    if (b >= 128 && b < 192) continue
    w = b >= 240 ? 2 : 1
    # JavaScript keeps half of a pair cut in two, which UTF-8 output writes as U+FFFD.
    if (u + w > n) return substr(t, 1, i - 1) (u < n ? "\357\277\275" : "")
    u += w
  }
  return t
}

# checkSamples' excerpt: white space runs as one space, trimmed, at most 300 UTF-16 units.
function excerpt(t) {
  gsub(WS, " ", t)
  sub(/^ /, "", t); sub(/ $/, "", t)
  return units(t, 301) > 300 ? cut(t, 297) "..." : t
}
AWK
}

# Reads samples.tsv (one line per sample: name, absolute and relative tolerance, request JSON,
# expected JSON, separated by tabs; compact JSON holds no tab) into the SAMPLE_* arrays.
read_samples() {
  local file=$1 line n=0 total=0 tabs name abs rel req exp bytes
  SAMPLE_NAMES=() SAMPLE_ABS=() SAMPLE_REL=() SAMPLE_REQ=() SAMPLE_EXP=()
  [[ -f $file && -r $file ]] || die "verification samples file $file is missing; the construct uploads it beside the config when the spec has verification samples"
  [[ $(sha256_of "$file") == "$MD_VERIFY_SHA256" ]] || die "verification samples file $file does not match MD_VERIFY_SHA256 (a damaged or stale upload); apply again"
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    tabs=${line//[!$'\t']/}
    ((${#tabs} == 4)) || die "verification samples file $file line $n does not have 5 tab-separated fields"
    IFS=$'\t' read -r name abs rel req exp <<<"$line"
    [[ $name =~ $VERIFY_SAMPLE_NAME_RE ]] || die "verification samples file $file line $n: invalid sample name"
    [[ $abs =~ ^[0-9]+([.][0-9]+)?(e[-+][0-9]+)?$ && $rel =~ ^[0-9]+([.][0-9]+)?(e[-+][0-9]+)?$ ]] ||
      die "verification samples file $file line $n (sample $name): the tolerances are not numbers"
    for bytes in "$(printf '%s' "$req" | wc -c)" "$(printf '%s' "$exp" | wc -c)"; do
      ((bytes <= VERIFY_MAX_SAMPLE_JSON_BYTES)) || die "verification samples file $file line $n (sample $name): $bytes bytes of JSON, more than $VERIFY_MAX_SAMPLE_JSON_BYTES"
      total=$((total + bytes))
    done
    SAMPLE_NAMES+=("$name") SAMPLE_ABS+=("$abs") SAMPLE_REL+=("$rel") SAMPLE_REQ+=("$req") SAMPLE_EXP+=("$exp")
  done <"$file"
  ((total <= VERIFY_MAX_TOTAL_JSON_BYTES)) || die "verification samples file $file holds $total bytes of JSON, more than $VERIFY_MAX_TOTAL_JSON_BYTES"
  ((n == MD_VERIFY_SAMPLES)) || die "verification samples file $file holds $n sample(s), the config says $MD_VERIFY_SAMPLES"
}

# Sends sample I to 127.0.0.1:PORT and sets SAMPLE_FAILURE to checkSamples' line for its
# answer ('' when it passed) and SAMPLE_MS to its time (curl's time_total, in whole ms).
# No "Expect: 100-continue" (older curls send it above 1 KiB): a server that ignores it would cost
# the sample a second of latency.
check_sample() {
  local i=$1 port=$2 tmp=$3 out rc=0 code t nul=0
  SAMPLE_FAILURE="" SAMPLE_MS=0
  rm -f -- "$tmp/body" "$tmp/error"
  out=$(printf '%s' "${SAMPLE_REQ[i]}" | curl -sS -H 'Content-Type: application/json' -H 'Expect:' --data-binary @- -o "$tmp/body" \
    -w '%{http_code} %{time_total}' --max-time $(((MD_VERIFY_BUDGET_MS + 999) / 1000 + 10)) "http://127.0.0.1:$port$MD_VERIFY_PATH" 2>"$tmp/error") || rc=$?
  if ((rc != 0)); then
    SAMPLE_FAILURE="sample \"${SAMPLE_NAMES[i]}\": the request failed: $(last_line "$(<"$tmp/error")")"
    return 0
  fi
  read -r code t <<<"$out"
  [[ $t =~ ^([0-9]+)([.,]([0-9]*))?$ ]] || die "curl reported the time '$t', not a number of seconds"
  t="${BASH_REMATCH[3]}000"
  SAMPLE_MS=$((10#${BASH_REMATCH[1]} * 1000 + 10#${t:0:3}))
  : >>"$tmp/body"
  # No NUL byte reaches awk (mawk would stop reading at one); such a body is not JSON anyway.
  if [[ $(tr -d '\000' <"$tmp/body" | tee "$tmp/body.text" | wc -c) != $(wc -c <"$tmp/body") ]]; then nul=1; fi
  SAMPLE_FAILURE=$(VERIFY_NAME=${SAMPLE_NAMES[i]} VERIFY_STATUS=$code VERIFY_MS=$SAMPLE_MS VERIFY_BUDGET=$MD_VERIFY_BUDGET_MS \
    VERIFY_ABS=${SAMPLE_ABS[i]} VERIFY_REL=${SAMPLE_REL[i]} VERIFY_EXPECTED=${SAMPLE_EXP[i]} VERIFY_NUL=$nul \
    LC_ALL=C awk -v mode=sample "$VERIFY_AWK" "$tmp/body.text") || rc=$?
  ((rc == 0)) || die "awk failed (exit $rc) checking the answer to sample ${SAMPLE_NAMES[i]}"
}

# Sends every sample to each new replica on its slot port, after the health wait and before the
# proxy switch, so no client sees a version that answers them wrongly. The first replica with a
# failure (a wrong answer, a non-2xx status, a body that is not JSON, an answer slower than the
# budget) refuses the version: its containers go and the active version keeps serving. The lines
# and the message are checkSamples' and verificationFailedMessage's (lib/common/sample-check.ts).
verify_samples() {
  ((MD_VERIFY_SAMPLES > 0)) || return 0
  local r i port tmp slowest outcome plural message failures=()
  read_samples "$VERSION_DIR/$SAMPLES_FILE"
  command -v awk >/dev/null 2>&1 || die "awk not found on PATH; install awk (mawk or gawk): the host checks the samples' answers with it"
  load_verify_awk
  tmp=$(mktemp -d "$VERSION_DIR/.verify.XXXXXX")
  for ((r = 0; r < MD_REPLICAS; r++)); do
    port=$(slot_port "$NEW_COLOR" "$r")
    slowest=0
    for ((i = 0; i < ${#SAMPLE_NAMES[@]}; i++)); do
      check_sample "$i" "$port" "$tmp"
      if [[ -n $SAMPLE_FAILURE ]]; then failures+=("$SAMPLE_FAILURE"); fi
      ((SAMPLE_MS <= slowest)) || slowest=$SAMPLE_MS
    done
    if ((${#failures[@]} > 0)); then
      rm -rf -- "$tmp"
      ROLLBACK_ARMED=0
      deploy_rollback || true
      if [[ -n $ACTIVE_VERSION ]]; then
        outcome="the new containers were removed and version $ACTIVE_VERSION keeps serving"
      else
        outcome="the new containers were removed (no version was serving on this host)"
      fi
      plural=s
      if ((${#failures[@]} == 1)); then plural=""; fi
      message="verification of version $MD_VERSION on host $MSG_HOST (replica $r, 127.0.0.1:$port) failed (${#failures[@]} sample$plural); $outcome:"
      for i in "${failures[@]}"; do message+=$'\n'"  $i"; done
      die "$message"
    fi
    say "replica $r (127.0.0.1:$port) answered ${#SAMPLE_NAMES[@]} sample(s) correctly, the slowest in $slowest ms (budget $MD_VERIFY_BUDGET_MS ms)"
  done
  rm -rf -- "$tmp"
}

# Test hook: checks answers given in FILE, 8 lines each (name, status, ms, budget, absolute and
# relative tolerance, expected JSON, body), as verify_samples would: one line per answer, its
# failure line or PASS.
cmd_check_answers() {
  [[ $# -eq 1 ]] || usage_die "check-answers FILE"
  load_verify_awk
  LC_ALL=C awk -v mode=batch "$VERIFY_AWK" "$1"
}

cmd_deploy() {
  [[ $# -eq 1 ]] || usage_die "deploy CONFIG"
  local config=$1
  STARTED=()
  GPU_FILES_WRITTEN=()
  PROXY_CHANGED=0
  NGINX_STARTED=0
  PROXY_BACKUP=""
  load_config "$config"
  ensure_version_files "$config"
  read_active
  # The same version again (terraform apply -replace, or a lost state): the same configuration,
  # so when it is healthy there is nothing to change, and replacing it would only cost a gap.
  if [[ $ACTIVE_VERSION == "$MD_VERSION" ]] && active_version_healthy; then
    say "version $MD_VERSION is already active and healthy on this host; nothing to change"
    install_boot_hook
    return 0
  fi
  preflight_checks
  say "deploying version $MD_VERSION (image $MD_IMAGE, artifact ${MD_ARTIFACT_SHA256:0:12}) on color $NEW_COLOR${ACTIVE_VERSION:+ beside the active version $ACTIVE_VERSION (color $ACTIVE_COLOR)}"
  ROLLBACK_ARMED=1
  remove_leftovers
  SELECTED_GPUS=()
  if ((MD_GPUS_PER_REPLICA > 0)); then
    mkdir -p "$GPU_DIR"
    acquire_lock "$GPU_DIR/.lock" "$GPU_LOCK_TIMEOUT"
    release_gpu_files "$MD_DEPLOYMENT" "$MD_VERSION"
    select_gpus 0
  fi
  start_replicas
  if ((MD_GPUS_PER_REPLICA > 0)); then release_lock "$GPU_DIR/.lock"; fi
  wait_healthy
  verify_samples
  proxy_switch
  verify_through_proxy
  printf '%s\n' "$NEW_COLOR" | write_atomic "$VERSION_DIR/color"
  printf '%s\n' "$MD_VERSION" | write_atomic "$MD_DIR/active"
  ROLLBACK_ARMED=0
  rm -rf -- "$PROXY_BACKUP"
  say "version $MD_VERSION is active on color $NEW_COLOR behind the proxy on $PROXY_LISTEN"
  retire_superseded
  install_boot_hook
}

# ---------------------------------------------------------------- artifacts and images

cmd_install_artifact() {
  [[ $# -eq 2 ]] || usage_die "install-artifact MD_DIR SHA256"
  host_from_env
  set_md_dir "$1" MD_DIR
  local sha=$2 art upload tmp actual
  is_sha256 "$sha" || die "artifact checksum '$sha' must be 64 lowercase hex digits"
  art=$MD_DIR/artifacts
  upload=$art/$sha.tar.upload
  if [[ -f $art/$sha.complete && -d $art/$sha ]]; then
    if [[ -f $upload ]]; then rm -f -- "$upload"; fi
    say "artifact $sha already present"
    return 0
  fi
  [[ -f $upload ]] || die "artifact upload $upload not found; the construct uploads the model archive there before install-artifact"
  say "verifying the artifact upload ($(du -h -- "$upload" | cut -f1))"
  actual=$(sha256_of "$upload") || die "could not read $upload"
  if [[ $actual != "$sha" ]]; then
    rm -f -- "$upload"
    die "artifact upload $upload has sha256 $actual, expected $sha (corrupted or changed in transfer); removed it, run apply again to upload it again"
  fi
  chmod 700 "$art"
  tmp=$(mktemp -d "$art/.$sha.tmp.XXXXXX")
  if ! run_relay tar -xf "$upload" -C "$tmp" --no-same-owner --no-same-permissions; then
    chmod -R u+w "$tmp" 2>/dev/null || true
    rm -rf -- "$tmp"
    die "could not extract $upload (see tar's message above; disk full?)"
  fi
  chmod -R a=rX "$tmp"
  if [[ -e $art/$sha ]]; then
    chmod -R u+w "$art/$sha"
    rm -rf -- "${art:?}/$sha"
  fi
  mv -T -- "$tmp" "$art/$sha"
  : | write_atomic "$art/$sha.complete"
  rm -f -- "$upload"
  say "artifact $sha installed read-only in $art/$sha"
}

cmd_remove_artifact() {
  [[ $# -eq 4 ]] || usage_die "remove-artifact MD_DIR SHA256 RUNTIME 'RUNTIME_ARGS'"
  host_from_env
  set_md_dir "$1" MD_DIR
  local sha=$2 art ids t
  is_sha256 "$sha" || die "artifact checksum '$sha' must be 64 lowercase hex digits"
  set_runtime "$3" "$4"
  art=$MD_DIR/artifacts
  if command -v "$MD_RUNTIME" >/dev/null 2>&1; then
    if ! ids=$(rt ps -a -q --filter "label=md.deployment=$MD_DEPLOYMENT" --filter "label=md.artifact=$sha" 2>/dev/null); then
      warn "could not ask $(rt_display) which containers use artifact $sha; keeping it"
      return 0
    fi
    if [[ -n ${ids//[[:space:]]/} ]]; then
      say "artifact $sha kept: container(s) $(words "$ids") still use it"
      return 0
    fi
  fi
  if [[ ! -e $art/$sha && ! -e $art/$sha.complete && ! -e $art/$sha.tar.upload ]]; then
    say "artifact $sha not present; nothing to remove"
    return 0
  fi
  for t in "$art/$sha" "$art"/."$sha".tmp.*; do
    if [[ -e $t ]]; then
      chmod -R u+w "$t"
      rm -rf -- "$t"
    fi
  done
  rm -f -- "$art/$sha.complete" "$art/$sha.tar.upload"
  say "removed artifact $sha"
}

image_id() {
  rt image inspect --format '{{.Id}}' "$1" 2>/dev/null
}

cmd_install_image() {
  (($# >= 4 && $# <= 6)) || usage_die "install-image MD_DIR RUNTIME 'RUNTIME_ARGS' IMAGE ARCHIVE_SHA256|'' EXPECTED_ID|''"
  host_from_env
  set_md_dir "$1" MD_DIR
  set_runtime "$2" "$3"
  local image=$4 archive_sha=${5:-} expected=${6:-} upload actual id out rc=0
  [[ $image =~ $IMAGE_RE ]] || die "image '$image' is not an image reference"
  [[ -z $archive_sha ]] || is_sha256 "$archive_sha" || die "image archive checksum '$archive_sha' must be 64 lowercase hex digits or empty"
  [[ -z $expected || $expected =~ ^(sha256:)?[0-9a-f]{64}$ ]] || die "expected image id '$expected' must be sha256:<64 hex>, <64 hex> or empty"
  expected=${expected#sha256:}
  command -v "$MD_RUNTIME" >/dev/null 2>&1 || die "container runtime $MD_RUNTIME not found on PATH; install it on this host"
  if [[ -n $archive_sha ]]; then
    upload=$MD_DIR/images/$archive_sha.tar.upload
    if [[ ! -f $upload ]]; then
      # Idempotent: a second run finds the archive consumed and the image loaded.
      if id=$(image_id "$image") && [[ -z $expected || ${id#sha256:} == "$expected" ]]; then
        id=${id#sha256:}
        say "image $image already present with id ${id:0:12}"
        return 0
      fi
      die "image archive $upload not found; the construct uploads it before install-image"
    fi
    say "verifying the image archive ($(du -h -- "$upload" | cut -f1))"
    actual=$(sha256_of "$upload") || die "could not read $upload"
    if [[ $actual != "$archive_sha" ]]; then
      rm -f -- "$upload"
      die "image archive $upload has sha256 $actual, expected $archive_sha (corrupted or changed in transfer); removed it, run apply again to upload it again"
    fi
    out=$(rt load -i "$upload" 2>&1) || rc=$?
    relay <<<"$out"
    if ((rc != 0)); then
      local hint=""
      if [[ $MD_RUNTIME == docker ]]; then hint="; docker loads docker-archives (docker save, or podman save --format docker-archive); OCI archives load with podman"; fi
      die "'$(rt_display) load -i $upload' failed (exit $rc): $(last_line "$out")$hint"
    fi
    id=$(image_id "$image") || die "the image archive did not provide $image; it loaded: $(last_line "$out"). Tag the image as $image before saving it"
    id=${id#sha256:}
    if [[ -n $expected && $id != "$expected" ]]; then
      die "image $image loaded from the archive has id sha256:$id, expected sha256:$expected; the archive holds another build, or another image of that name was loaded"
    fi
    rm -f -- "$upload"
    record_image "$image"
    say "image $image loaded (id ${id:0:12})"
    return 0
  fi
  if id=$(image_id "$image"); then
    id=${id#sha256:}
    if [[ -n $expected && $id != "$expected" ]]; then
      die "image $image on this host has id sha256:$id, expected sha256:$expected; remove it ($(rt_display) rmi $image) or pin the image by digest"
    fi
    say "image $image already present (id ${id:0:12})"
    return 0
  fi
  say "pulling $image"
  rc=0
  out=$(rt pull "$image" 2>&1) || rc=$?
  relay <<<"$out"
  ((rc == 0)) || die "could not pull $image (exit $rc): $(last_line "$out"); check registry access and credentials on this host, or ship the image as an archive (air-gapped hosts)"
  id=$(image_id "$image") || die "pulled $image but cannot inspect it"
  id=${id#sha256:}
  if [[ -n $expected && $id != "$expected" ]]; then
    die "image $image pulled with id sha256:$id, expected sha256:$expected; pin the image by digest"
  fi
  record_image "$image"
  say "image $image pulled (id ${id:0:12})"
}

cmd_remove_image() {
  [[ $# -eq 4 ]] || usage_die "remove-image MD_DIR RUNTIME 'RUNTIME_ARGS' IMAGE"
  host_from_env
  set_md_dir "$1" MD_DIR
  set_runtime "$2" "$3"
  local image=$4 ids out
  [[ $image =~ $IMAGE_RE ]] || die "image '$image' is not an image reference"
  # From here on, never fail the destroy: warn and go on.
  if ! command -v "$MD_RUNTIME" >/dev/null 2>&1; then
    warn "container runtime $MD_RUNTIME not found; image $image not removed"
    return 0
  fi
  if ! image_id "$image" >/dev/null; then
    say "image $image not present; nothing to remove"
    return 0
  fi
  if ! ids=$(rt ps -a -q --filter "ancestor=$image" 2>/dev/null); then
    warn "could not list the containers using $image; image kept"
    return 0
  fi
  if [[ -n ${ids//[[:space:]]/} ]]; then
    say "image $image kept: container(s) $(words "$ids") still use it"
    return 0
  fi
  if out=$(rt rmi "$image" 2>&1); then
    say "removed image $image"
  else
    warn "could not remove image $image: $(last_line "$out"); left in place"
  fi
}

# ---------------------------------------------------------------- retire

# Removes the containers of this deployment (and VERSION, if given), stopping them first.
remove_containers() {
  local ver=${1:-} ids id names=() name
  local -a filters=(--filter "label=md.deployment=$MD_DEPLOYMENT")
  if [[ -n $ver ]]; then filters+=(--filter "label=md.version=$ver"); fi
  if ! command -v "$MD_RUNTIME" >/dev/null 2>&1; then
    warn "container runtime $MD_RUNTIME not found; no container to remove"
    return 0
  fi
  ids=$(rt ps -a -q "${filters[@]}") || die "could not list the containers of $MD_DEPLOYMENT with '$(rt_display) ps'"
  if [[ -z ${ids//[[:space:]]/} ]]; then
    say "no container of ${ver:-deployment $MD_DEPLOYMENT} left"
    return 0
  fi
  for id in $ids; do
    name=$(rt inspect --format '{{.Name}}' "$id" 2>/dev/null) || name=$id
    names+=("${name#/}")
  done
  # shellcheck disable=SC2086 # a list of container ids
  rt stop -t 10 $ids >/dev/null 2>&1 || true
  # shellcheck disable=SC2086
  run_relay rt rm -f $ids >/dev/null || die "could not remove container(s) ${names[*]}; run '$(rt_display) rm -f ${names[*]}' and retire again"
  for name in "${names[@]}"; do say "removed container $name"; done
}

cmd_retire() {
  [[ $# -eq 4 ]] || usage_die "retire MD_DIR VERSION RUNTIME 'RUNTIME_ARGS'"
  host_from_env
  set_md_dir "$1" MD_DIR
  local version=$2 active="" full=0 d others=0
  is_version "$version" || die "version '$version' must be v followed by 12 lowercase hex digits"
  set_runtime "$3" "$4"
  PROXY_DIR=$MD_DIR/proxy
  GPU_PARENT=${MD_DIR%/*}
  GPU_DIR=$GPU_PARENT/.gpus
  if [[ -f $MD_DIR/active ]]; then read -r active <"$MD_DIR/active" || true; fi
  if [[ -d $MD_DIR/versions ]]; then
    for d in "$MD_DIR"/versions/v*; do
      if [[ -d $d && ${d##*/} != "$version" ]]; then others=$((others + 1)); fi
    done
  fi
  if [[ $active == "$version" ]]; then
    full=1
  elif [[ -d $MD_DIR && -z $active && $others -eq 0 ]]; then
    full=1
  fi
  if ((full)); then
    say "retiring version $version, the active one: tearing down deployment $MD_DEPLOYMENT on this host"
    teardown_deployment
    say "deployment $MD_DEPLOYMENT removed from this host"
  else
    say "retiring version $version${active:+ (replaced by $active)}"
    if [[ -d $PROXY_DIR ]]; then wait_draining_workers 60; fi
    remove_containers "$version"
    release_gpu_files "$MD_DEPLOYMENT" "$version"
    if [[ -d $MD_DIR/versions/$version ]]; then
      rm -rf -- "$MD_DIR/versions/$version"
      say "removed $MD_DIR/versions/$version"
    fi
    say "version $version retired"
  fi
}

# ---------------------------------------------------------------- host lifecycle: prepare and teardown

is_owner() { [[ $1 =~ ^[A-Za-z0-9._/:-]{1,200}$ ]]; }
is_anchor() { [[ $1 =~ ^[A-Za-z0-9-]{1,64}$ ]]; }

# The directory (relative to the SSH user's home) where Terraform puts its remote scripts.
is_script_dir() { [[ $1 =~ ^\.model-deploy-[a-z0-9-]{1,60}$ ]]; }

# mode and uid of PATH (symlinks followed) into ST_MODE (octal text) and ST_UID.
stat_path() {
  local out
  out=$(stat -L -c '%a %u' -- "$1" 2>/dev/null) || return 1
  read -r ST_MODE ST_UID <<<"$out"
}

# Root's cron runs a script from under deployRoot (the boot hook), so nobody but root and this user
# may be able to change deployRoot or any directory above it: each must be owned by one of them and
# not writable by group or others. An ancestor with the sticky bit (/tmp) is accepted: there nobody
# can rename or replace an entry that they do not own. deployRoot itself must not be writable at all.
check_deploy_root() {
  local root=$1 me=$EUID real p m chain=()
  real=$(readlink -f -- "$root" 2>/dev/null) || real=$root
  for p in "$root" "$real"; do
    while :; do
      chain+=("$p")
      [[ $p != / ]] || break
      p=${p%/*}
      p=${p:-/}
    done
  done
  for p in "${chain[@]}"; do
    [[ -e $p ]] || continue
    stat_path "$p" || die "deployRoot $root: cannot read the owner and mode of $p"
    if [[ $ST_UID != 0 && $ST_UID != "$me" ]]; then
      die "deployRoot $root is not safe: $p is owned by uid $ST_UID, neither root nor this user (uid $me), and root's boot hook runs a script from under it; use a directory that only root or this user controls"
    fi
    m=$((8#$ST_MODE))
    if ((m & 8#022)) && { [[ $p == "$root" || $p == "$real" ]] || ((!(m & 8#1000))); }; then
      die "deployRoot $root is not safe: $p is writable by group or others (mode $ST_MODE), and root's boot hook runs a script from under it; use a directory that only root or this user can write, e.g. /opt/model-deployments"
    fi
  done
}

# Makes Terraform's script directory (in the SSH user's home) private. Terraform creates it with mode
# 0755 (its scp sends D0755 whatever the local mode) and writes each script 0777 into it, so the home
# directory must keep other users out until this runs; refuse one that does not.
private_script_dir() {
  local dir=$1 home
  is_script_dir "$dir" || die "script directory '$dir' is not .model-deploy-<name> in the SSH user's home"
  [[ -d $dir && ! -L $dir ]] || die "script directory $PWD/$dir is missing; Terraform's file provisioner creates it first"
  chmod 700 -- "$dir"
  home=$(cd -P -- "$dir/.." && pwd -P)
  stat_path "$home" || die "cannot read the mode of $home"
  if (($((8#$ST_MODE)) & 8#001)); then
    die "the SSH user's home $home can be entered by other users (mode $ST_MODE), and Terraform makes its remote scripts there mode 0777; run chmod 700 $home (or o-x), or set scriptPath to a directory only this user can enter"
  fi
}

# Creates the deployment's private directories, or refuses one that another deployment owns.
# OWNER names the deployment (stack and construct path); ANCHOR is the id of the Terraform resource
# that holds the directory now, so that the teardown of one it replaced (a renamed host) leaves it.
cmd_prepare() {
  (($# >= 3 && $# <= 5)) || usage_die "prepare MD_DIR OWNER ANCHOR [SCRIPT_DIR [RUNNING_SCRIPT]]"
  host_from_env
  set_md_dir "$1" MD_DIR
  local owner=$2 anchor=$3 script_dir=${4:-} marker="" d
  is_owner "$owner" || die "owner '$owner' must be 1-200 characters of letters, digits and ._/:-"
  is_anchor "$anchor" || die "anchor id '$anchor' must be 1-64 letters, digits and -"
  if [[ -n $script_dir ]]; then
    is_script_dir "$script_dir" || die "script directory '$script_dir' is not .model-deploy-<name> in the SSH user's home"
    PREPARE_SCRIPT_DIR="$script_dir:${5:-}"
    private_script_dir "$script_dir"
  fi
  # A missing deployRoot is created private too: nginx's workers need no path through it (the proxy
  # streams bodies instead of buffering them to temp files).
  mkdir -p -- "${MD_DIR%/*}"
  check_deploy_root "${MD_DIR%/*}"
  if [[ -f $MD_DIR/owner ]]; then read -r marker <"$MD_DIR/owner" || true; fi
  if [[ -n $marker && $marker != "$owner" ]]; then
    die "$MD_DIR belongs to the deployment $marker, not to $owner; two deployments cannot share a directory: give one another endpointName or deployRoot"
  fi
  # Created 0700 (umask 077); the tool step that follows makes existing ones (older releases) 0700 too.
  for d in "$MD_DIR" "$MD_DIR"/{tool,proxy,versions,artifacts,images}; do
    if [[ ! -d $d ]]; then mkdir -p -- "$d"; fi
  done
  if [[ -z $marker ]]; then printf '%s\n' "$owner" | write_atomic "$MD_DIR/owner"; fi
  printf '%s\n' "$anchor" | write_atomic "$MD_DIR/anchor"
  PREPARE_SCRIPT_DIR=""
  say "prepared $MD_DIR (private to $(id -un), owned by $owner)"
}

# Remembers an image that install-image loaded or pulled, for teardown.
record_image() {
  local list=$MD_DIR/images/loaded line
  mkdir -p -- "$MD_DIR/images"
  if [[ -f $list ]]; then
    while IFS= read -r line; do [[ $line != "$1" ]] || return 0; done <"$list"
  fi
  printf '%s\n' "$1" >>"$list"
}

# The nginx master of this deployment, by its pid file or else by its command line.
find_nginx_master() {
  local pid d
  if pid=$(nginx_master_pid); then
    printf '%s' "$pid"
    return 0
  fi
  for d in /proc/[0-9]*; do
    if [[ $(proc_title "${d#/proc/}") == "nginx: master process "*" -c $PROXY_DIR/nginx.conf"* ]]; then
      printf '%s' "${d#/proc/}"
      return 0
    fi
  done
  return 1
}

# Does the boot hook FILE resume the deployment in MD_DIR?
hook_resumes() {
  local line
  while IFS= read -r line; do
    if [[ $line == *" resume $MD_DIR "* ]]; then return 0; fi
  done <"$1"
  return 1
}

# Removes everything of the deployment in MD_DIR from this host: boot hook, proxy, containers of
# every version, the images it loaded, GPU assignments and the directory. Tolerates any partial state.
teardown_deployment() {
  local f pid img
  PROXY_DIR=$MD_DIR/proxy
  GPU_PARENT=${MD_DIR%/*}
  GPU_DIR=$GPU_PARENT/.gpus
  for f in "$(boot_hook_file)" "${MD_BOOT_HOOK_DIR:-/etc/cron.d}/model-deploy-$MD_DEPLOYMENT-"*; do
    if [[ -f $f ]] && hook_resumes "$f"; then
      rm -f -- "$f"
      say "removed the boot hook $f"
    fi
  done
  if pid=$(find_nginx_master); then stop_nginx "$pid"; else say "proxy not running"; fi
  remove_containers ""
  if [[ -f $MD_DIR/images/loaded ]]; then
    while IFS= read -r img; do
      if [[ -n $img ]]; then (cmd_remove_image "$MD_DIR" "$MD_RUNTIME" "$MD_RUNTIME_ARGS" "$img"); fi
    done <"$MD_DIR/images/loaded"
  fi
  release_gpu_files "$MD_DEPLOYMENT"
  if [[ -d $MD_DIR ]]; then
    chmod -R u+w "$MD_DIR" 2>/dev/null || true
    rm -rf -- "$MD_DIR"
    say "removed $MD_DIR"
  fi
}

# Removes Terraform's scripts of this deployment: the finished ones now, and the directory once the
# running one is done (Terraform empties it after it ends), from a detached process.
remove_script_dir() {
  local dir=$1 running=$2 f
  is_script_dir "$dir" || die "script directory '$dir' is not .model-deploy-<name> in the SSH user's home"
  [[ -d $dir ]] || return 0
  if [[ -n $running && $running != /* ]]; then running=$PWD/$running; fi
  for f in "$dir"/* "$dir"/.[!.]*; do
    if [[ -e $f && ! ($f -ef $running) ]]; then rm -rf -- "$f"; fi
  done
  if [[ -z $running || ! -f $running ]]; then
    rm -rf -- "$dir"
  else
    # Terraform runs scripts on a terminal, whose SIGHUP would kill the watcher when the script ends:
    # start it with SIGHUP ignored (set before the fork, so there is no race).
    local hup
    hup=$(trap -p HUP)
    trap '' HUP
    # shellcheck disable=SC2016 # expanded by the child bash
    bash -c 'for ((i = 0; i < 600; i++)); do [[ -s $1 ]] || break; sleep 0.1; done; rm -rf -- "$2"' _ "$running" "$PWD/$dir" </dev/null >/dev/null 2>&1 &
    eval "${hup:-trap - HUP}"
  fi
  say "removed Terraform's scripts in $PWD/$dir"
}

# Removes everything the deployment ever put on this host, whatever happened before: the anchor's
# destroy step runs it, and Terraform runs no destroy step for tainted or replaced (deposed) objects.
cmd_teardown() {
  (($# == 3 || ($# >= 5 && $# <= 7))) || usage_die "teardown MD_DIR RUNTIME 'RUNTIME_ARGS' [OWNER ANCHOR [SCRIPT_DIR [RUNNING_SCRIPT]]]"
  host_from_env
  set_md_dir "$1" MD_DIR
  set_runtime "$2" "$3"
  local owner=${4:-} anchor=${5:-} script_dir=${6:-} running=${7:-} marker="" held=""
  [[ -z $owner ]] || is_owner "$owner" || die "owner '$owner' must be 1-200 characters of letters, digits and ._/:-"
  [[ -z $anchor ]] || is_anchor "$anchor" || die "anchor id '$anchor' must be 1-64 letters, digits and -"
  if [[ -n $owner && -f $MD_DIR/owner ]]; then read -r marker <"$MD_DIR/owner" || true; fi
  if [[ -n $anchor && -f $MD_DIR/anchor ]]; then read -r held <"$MD_DIR/anchor" || true; fi
  if [[ -n $marker && $marker != "$owner" ]]; then
    warn "$MD_DIR belongs to the deployment $marker, not to $owner; left as it is"
  elif [[ -n $held && $held != "$anchor" ]]; then
    # Its script directory is the successor's too: keep it.
    warn "$MD_DIR is held by a newer Terraform resource of this deployment ($held, not $anchor; a renamed host?); left as it is"
  else
    say "tearing down deployment $MD_DEPLOYMENT on this host"
    teardown_deployment
    say "deployment $MD_DEPLOYMENT removed from this host"
    if [[ -n $script_dir ]]; then remove_script_dir "$script_dir" "$running"; fi
  fi
}

# Hidden, for tests: reads "COLOR COUNT" lines and prints the slot ports of each, one line each.
cmd_slot_ports() {
  [[ $# -eq 1 ]] || usage_die "_slot-ports BASE"
  host_from_env
  MD_SLOT_PORT_BASE=$1
  local c n r out
  while read -r c n; do
    out=""
    for ((r = 0; r < n; r++)); do out+="${out:+ }$(slot_port "$c" "$r")"; done
    printf '%s\n' "$out"
  done
}

# Hidden, for tests: prints the nginx configuration that deploy would write for CONFIG.
cmd_nginx_conf() {
  [[ $# -eq 1 ]] || usage_die "_nginx-conf CONFIG"
  load_config "$1"
  nginx_user_directive
  render_nginx_conf
}

# ---------------------------------------------------------------- reboots

# After a reboot docker restarts unless-stopped containers itself, podman does not, and nothing
# restarts the proxy. An @reboot cron entry runs `resume`. (Not a systemd unit: installing one needs
# a daemon-reload, which can leave running GPU containers failing with "Failed to initialize NVML:
# Unknown Error", nvidia-container-toolkit #48.) MD_BOOT_HOOK_DIR overrides /etc/cron.d.
boot_hook_file() {
  local host=${MSG_HOST//[^A-Za-z0-9_-]/-}
  # cron ignores files whose names hold dots, so the name keeps to letters, digits, - and _.
  printf '%s/model-deploy-%s-%s' "${MD_BOOT_HOOK_DIR:-/etc/cron.d}" "$MD_DEPLOYMENT" "$host"
}

install_boot_hook() {
  local file dir
  file=$(boot_hook_file)
  dir=${file%/*}
  if [[ ! -d $dir || ! -w $dir ]]; then
    warn "no writable $dir (cron): after a reboot, run 'bash $MD_DIR/tool/modeldeploy.sh resume $MD_DIR' on this host"
    return 0
  fi
  printf '# Written by cdk-model-deployment: brings deployment %s back after a reboot.
@reboot %s umask 077; MD_HOST=%s /bin/bash %s/tool/modeldeploy.sh resume %s >>%s/proxy/logs/resume.log 2>&1
' \
    "$MD_DEPLOYMENT" "$(id -un)" "$MSG_HOST" "$MD_DIR" "$MD_DIR" "$MD_DIR" | write_atomic "$file"
  chmod 600 "$file"
  say "boot hook $file runs resume after a reboot"
}

# Starts the active version's containers and the proxy again, as they were; changes nothing else.
cmd_resume() {
  [[ $# -eq 1 ]] || usage_die "resume MD_DIR"
  host_from_env
  set_md_dir "$1" MD_DIR
  local active="" config r name state
  if [[ -f $MD_DIR/active ]]; then read -r active <"$MD_DIR/active" || true; fi
  is_version "$active" || die "no active version under $MD_DIR: nothing to resume"
  config=$MD_DIR/versions/$active/deploy.env
  load_config "$config"
  read_active
  NEW_COLOR=$ACTIVE_COLOR
  read_api_keys
  for ((r = 0; r < MD_REPLICAS; r++)); do
    name=$(container_name "$r")
    state=$(rt inspect --format '{{.State.Status}}' "$name" 2>/dev/null) ||
      die "container $name of the active version $active is gone; redeploy it (cdktf apply -replace on this host's deployment)"
    if [[ $state == running ]]; then
      say "$name is running"
    else
      run_relay rt start "$name" >/dev/null || die "could not start $name (state $state)"
      say "started $name"
    fi
  done
  wait_healthy
  nginx_cmd
  if nginx_master_pid >/dev/null; then
    say "proxy is running"
  else
    start_nginx
    say "proxy started on $PROXY_LISTEN"
  fi
  verify_through_proxy
  say "version $active resumed"
}

# ---------------------------------------------------------------- key rotation

# Installs proxy/api-keys.upload (the construct's upload) as proxy/api-keys once every key in it
# is valid, regenerates the key maps and reloads a running proxy: no redeploy, no container
# restart. Needs no deployed version (the keys come before the first deploy).
cmd_update_keys() {
  [[ $# -eq 1 ]] || usage_die "update-keys MD_DIR"
  host_from_env
  set_md_dir "$1" MD_DIR
  PROXY_DIR=$MD_DIR/proxy
  local upload=$PROXY_DIR/api-keys.upload pid
  mkdir -p "$PROXY_DIR"
  chmod 700 "$PROXY_DIR"
  if [[ -f $upload ]]; then
    chmod 600 "$upload"
    read_api_keys "$upload"
    mv -f -- "$upload" "$PROXY_DIR/api-keys"
  else
    read_api_keys
  fi
  write_key_maps
  say "key maps written for ${#KEYS[@]} API key(s)"
  if pid=$(nginx_master_pid); then
    nginx_cmd
    nginx_reload "$pid" "the new key maps"
    say "proxy (nginx pid $pid) reloaded with the new keys"
  else
    say "proxy not running; the next deploy uses the new keys"
  fi
}

# ---------------------------------------------------------------- main

# Hidden, for the contract's property test: reads NUL-separated records from FILE and prints one
# line per record, "ok" or "refused<TAB>FIELD". Records: value KEY VALUE | apikey KEY |
# config N KEY1 VALUE1 ... KEYN VALUEN (a whole deploy.env, checked as validate_config does).
cmd_check_contract() {
  [[ $# -eq 1 ]] || usage_die "check-contract FILE"
  local kind key value n i k
  while IFS= read -r -d '' kind; do
    case $kind in
      value)
        { IFS= read -r -d '' key && IFS= read -r -d '' value; } || die "check-contract: truncated record"
        if contract_value_ok "$key" "$value"; then echo ok; else printf 'refused\t%s\n' "${CONTRACT_FIELD[$key]}"; fi
        ;;
      apikey)
        IFS= read -r -d '' value || die "check-contract: truncated record"
        if api_key_ok "$value"; then echo ok; else printf 'refused\t%s\n' "$CONTRACT_PROBLEM"; fi
        ;;
      config)
        IFS= read -r -d '' n || die "check-contract: truncated record"
        for k in "${CONFIG_KEYS[@]}"; do unset "$k"; done
        for ((i = 0; i < n; i++)); do
          { IFS= read -r -d '' key && IFS= read -r -d '' value; } || die "check-contract: truncated record"
          [[ -n ${CONTRACT_FIELD[$key]:-} ]] || die "check-contract: unknown key $key"
          printf -v "$key" '%s' "$value"
        done
        contract_optional_defaults
        for k in "${CONFIG_KEYS[@]}"; do if [[ -z ${!k+x} ]]; then printf -v "$k" '%s' ""; fi; done
        if contract_config_ok; then echo ok; else printf 'refused\t%s\n' "${CONTRACT_PROBLEM//$'\n'/\\n}"; fi
        ;;
      *) die "check-contract: unknown record kind '$kind'" ;;
    esac
  done <"$1"
}

usage_text() {
  cat <<'EOF'
Usage: bash modeldeploy.sh SUBCOMMAND ARGS...
  prepare          MD_DIR OWNER ANCHOR [SCRIPT_DIR [RUNNING_SCRIPT]]
  teardown         MD_DIR RUNTIME 'RUNTIME_ARGS' [OWNER ANCHOR [SCRIPT_DIR [RUNNING_SCRIPT]]]
  install-artifact MD_DIR SHA256
  remove-artifact  MD_DIR SHA256 RUNTIME 'RUNTIME_ARGS'
  install-image    MD_DIR RUNTIME 'RUNTIME_ARGS' IMAGE ARCHIVE_SHA256|'' EXPECTED_ID|''
  remove-image     MD_DIR RUNTIME 'RUNTIME_ARGS' IMAGE
  preflight        CONFIG
  plan             CONFIG
  deploy           CONFIG
  retire           MD_DIR VERSION RUNTIME 'RUNTIME_ARGS'
  resume           MD_DIR
  update-keys      MD_DIR
EOF
}

usage_die() {
  if [[ $MSG_HOST == "?" ]]; then host_from_env; fi
  die "usage: bash modeldeploy.sh $1"
}

main() {
  if (($# == 0)); then
    host_from_env
    usage_text >&2
    die "no subcommand given"
  fi
  SUBCMD=$1
  shift
  case $SUBCMD in
    prepare) cmd_prepare "$@" ;;
    teardown) cmd_teardown "$@" ;;
    _slot-ports) cmd_slot_ports "$@" ;;
    _nginx-conf) cmd_nginx_conf "$@" ;;
    install-artifact) cmd_install_artifact "$@" ;;
    remove-artifact) cmd_remove_artifact "$@" ;;
    install-image) cmd_install_image "$@" ;;
    remove-image) cmd_remove_image "$@" ;;
    preflight) cmd_preflight "$@" ;;
    plan) cmd_plan "$@" ;;
    deploy) cmd_deploy "$@" ;;
    retire) cmd_retire "$@" ;;
    resume) cmd_resume "$@" ;;
    update-keys) cmd_update_keys "$@" ;;
    check-contract) cmd_check_contract "$@" ;;
    check-answers) cmd_check_answers "$@" ;;
    -h | --help | help) usage_text ;;
    *)
      host_from_env
      usage_text >&2
      die "unknown subcommand '$SUBCMD'"
      ;;
  esac
}

main "$@"
