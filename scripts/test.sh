#!/usr/bin/env bash
# Everything CI checks: Rust tests, clippy (native and both wasm engines), the page's logic in
# node, the release build of the page (two wasm engines), and the browser tests in headless Chromium once with WebGPU (SwiftShader) and once with the CPU
# backend forced.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH" # wasm-opt 132 first

step() { printf '\n== %s\n' "$*"; }

step "cargo test"
cargo test --locked

step "cargo clippy (native, then the browser build)"
cargo clippy --locked --all-targets -- -D warnings
for features in web webgpu; do
  cargo clippy --locked --target wasm32-unknown-unknown --no-default-features --features "$features" --lib -- -D warnings
done

step "node --test tests/js (the page's logic without a browser)"
node --test tests/js/

step "trunk build --release"
trunk build --release
for f in dist/engine/*.wasm dist/engine/*.js dist/www/models/*; do
  [ -f "$f" ] && printf '%10d gzip  %s\n' "$(gzip -9c "$f" | wc -c)" "$f"
done

model_args=()
if [ ! -f dist/www/models/mnist.json ]; then
  # No trained weights shipped yet: test the page with an untrained model of the same shape.
  step "no shipped model: writing an untrained fixture"
  cargo run --locked --example random_model -- test-results/fixture-model mnist
  model_args=(--model-dir=test-results/fixture-model)
fi

status=0
step "e2e: WebGPU (SwiftShader)"
node tests/e2e/run.mjs --backend=webgpu "${model_args[@]}" || status=1
step "e2e: CPU backend forced, fallback and phone layout"
node tests/e2e/run.mjs --backend=cpu "${model_args[@]}" || status=1
exit $status
