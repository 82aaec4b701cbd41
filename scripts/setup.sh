#!/usr/bin/env bash
# One-time (and idempotent) setup for building the browser app and running its tests:
# installs only what is missing. Safe to run on every test run, as root in CI or as a user.
#   Debian chromium (headless browser for the e2e tests; its SwiftShader gives WebGPU)
#   Debian mesa-vulkan-drivers (lavapipe, a software Vulkan for the native GPU-kernel tests)
#   node + npm, then npm deps from package-lock.json (playwright-core, binaryen@132 = wasm-opt)
#   rustup clippy and target wasm32-unknown-unknown, trunk 0.21.14, wasm-bindgen-cli 0.2.130
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.21.14        # 0.22 needs a newer rustc than the pinned 1.95
WASM_BINDGEN_VERSION=0.2.130 # must equal Cargo.lock's wasm-bindgen (and Trunk.toml)

say() { printf '[setup] %s\n' "$*"; }
export PATH="$HOME/.cargo/bin:$PATH"

apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else
      say "need root (or sudo) to apt-get install $*"; exit 1
    fi
  fi
  say "apt-get install $*"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
}

missing_apt=()
[ -x /usr/bin/chromium ] || missing_apt+=(chromium)
# Mesa's lavapipe: a software Vulkan adapter for the fused WebGPU kernels' native tests.
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || missing_apt+=(mesa-vulkan-drivers)
command -v node >/dev/null || missing_apt+=(nodejs)
command -v npm >/dev/null || missing_apt+=(npm)
command -v curl >/dev/null || command -v rustup >/dev/null || missing_apt+=(curl ca-certificates)
[ ${#missing_apt[@]} -eq 0 ] || apt_install "${missing_apt[@]}"

if ! command -v rustup >/dev/null; then
  say "installing rustup (toolchain from rust-toolchain / stable)"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
fi
if ! rustup component list --installed | grep -q '^clippy'; then
  say "rustup component add clippy"
  rustup component add clippy
fi
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  say "cargo install trunk $TRUNK_VERSION (takes a while)"
  cargo install --locked trunk --version "$TRUNK_VERSION"
fi
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  say "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Without --locked: its lockfile pins a webpki-roots version the registry index lacks.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# npm deps: reinstall only when package-lock.json changed since the last install.
if ! cmp -s package-lock.json node_modules/.package-lock.stamp 2>/dev/null; then
  say "npm ci"
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.package-lock.stamp
fi

# trunk builds with --offline (Trunk.toml): make sure every crate is in the local registry.
cargo fetch --locked --offline >/dev/null 2>&1 || cargo fetch --locked
say "ready"
