#!/usr/bin/env bash
# Installs what the on-prem end-to-end tests (test/e2e/) need on a Debian/Ubuntu machine. Idempotent; run as
# root (CI calls it from .ci/run before `npm test`). Nothing here starts a service: the tests start their
# own sshd, containers and nginx, in network namespaces, and stop them by PID.
#
#   openssh-server openssh-client   test hosts' sshd; ssh/scp/ssh-keygen for the tests and Terraform's file provisioner (scp)
#   podman runc conmon              rootful containers; runc because crun fails on these machines (the tests'
#                                   own containers.conf selects runc, so the apt alternative does not matter)
#   netavark aardvark-dns iptables  podman's network stack (port publishing uses iptables inside each namespace;
#                                   aardvark-dns serves user-created podman networks)
#   nftables                        unreachableHost({ mode: 'drop' }) drops packets with nft
#   iproute2 util-linux             ip netns / veth; nsenter
#   nginx-light                     the reverse proxy in front of the model containers on each host
#   curl                            HTTP requests from inside a host's namespace
#   tar ca-certificates             image rootfs; npm over TLS
#   shellcheck                      lints the on-prem host script (test/on-prem/host-script-lint.test.ts)
#   chromium-headless-shell         screenshots the probe's HTML report (test/probe/report-screenshot.test.ts);
#                                   the browser binary itself, run directly: no puppeteer/playwright download
#   mawk gawk busybox               the awks the host script's answer checker is proven with
#                                   (test/on-prem/host-verify.test.ts); awk stays Debian's default, mawk
#   python3                         compiles the Python sources jsii-pacmak generates (test/jsii.test.ts)
# and, not from apt:
#   terraform >= 1.4                (terraform_data) must already be on PATH (these machines carry 1.11)
#   onnxruntime-node 1.30           fetched by scripts/e2e/fetch-onnxruntime.sh into test/e2e/.cache/onnxruntime
#                                   (pinned by scripts/e2e/onnxruntime/package-lock.json; npm registry)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if [ "$(id -u)" != 0 ]; then
  echo "install-deps.sh: run as root (apt-get, and the e2e tests themselves need root)" >&2
  exit 1
fi

packages=(
  openssh-server openssh-client
  podman runc conmon
  netavark aardvark-dns iptables nftables
  iproute2 util-linux
  nginx-light
  curl tar ca-certificates
  shellcheck
  chromium-headless-shell
  mawk gawk busybox
  python3
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps.sh: installing ${missing[*]}"
  # Keep package scripts from starting services (sshd on :22, nginx on :80 in the root namespace).
  created_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  trap '[ -n "$created_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps.sh: apt packages already installed"
fi

# gawk's package makes itself the awk alternative; the e2e hosts keep Debian's default (mawk).
if [ -x /usr/bin/mawk ]; then update-alternatives --set awk /usr/bin/mawk >/dev/null; fi

# sshd's privilege-separation directory (normally made by systemd; the tests make it too)
mkdir -p /run/sshd
chmod 0755 /run/sshd

# Terraform: not in Debian's archive, and its release site may be unreachable from CI; fail clearly.
if ! command -v terraform >/dev/null 2>&1; then
  echo "install-deps.sh: terraform is not on PATH; install Terraform >= 1.4 (https://developer.hashicorp.com/terraform/install)" >&2
  exit 1
fi
tf_out="$(TF_CLI_CONFIG_FILE=/dev/null terraform version)"
tf_version="$(sed -nE '1s/^Terraform v([0-9]+\.[0-9]+).*/\1/p' <<<"$tf_out")"
if [ "$(printf '%s\n1.4\n' "$tf_version" | sort -V | head -n1)" != "1.4" ]; then
  echo "install-deps.sh: terraform $tf_version is too old; terraform_data needs >= 1.4" >&2
  exit 1
fi

# The model runtime for the e2e image (gitignored cache; needs the npm registry once).
"$here/fetch-onnxruntime.sh"

runc_out="$(runc --version)"
sshd_out="$(/usr/sbin/sshd -V 2>&1 || true)"
echo "install-deps.sh: ok ($(podman --version), ${runc_out%%$'\n'*}, terraform $tf_version, ${sshd_out%%$'\n'*}, $(nginx -v 2>&1), $(chromium-headless-shell --version 2>/dev/null))"
