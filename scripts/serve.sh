#!/usr/bin/env bash
# Builds the browser app (release) and serves it at http://127.0.0.1:${PORT:-8080}/.
# WebGPU needs a secure context: open it as 127.0.0.1 or localhost, not a LAN address.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH" # wasm-opt 132 first
trunk build --release
if [ ! -f dist/www/models/mnist.json ]; then
  echo "warning: dist/www/models/mnist.json is missing: the page will show a load error" >&2
fi
exec node tests/e2e/server.mjs dist "${PORT:-8080}"
