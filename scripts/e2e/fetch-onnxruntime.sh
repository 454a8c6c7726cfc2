#!/usr/bin/env bash
# Installs onnxruntime-node (pinned by scripts/e2e/onnxruntime/package-lock.json) into the gitignored
# test/e2e/.cache/onnxruntime, for the e2e model-server image. Idempotent; needs the npm registry once.
# Its install script is skipped: it downloads optional GPU files from the internet, and the Linux x64
# CPU library the image needs is inside the package itself.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="${1:-$here/../../test/e2e/.cache/onnxruntime}"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
stamp="$dest/.lock-sha256"
want="$(cat "$here/onnxruntime/package.json" "$here/onnxruntime/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
  && [ -f "$dest/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node" ]; then
  echo "onnxruntime-node already in $dest"
  exit 0
fi
rm -f "$stamp"
cp "$here/onnxruntime/package.json" "$here/onnxruntime/package-lock.json" "$dest/"
(cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
echo "$want" > "$stamp"
echo "onnxruntime-node installed in $dest"
