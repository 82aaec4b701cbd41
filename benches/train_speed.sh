#!/usr/bin/env bash
# Training images/second of the shipped architecture: burn (flex CPU backend, one worker thread
# per core and a single worker; libtorch through burn-tch when a build with `--features tch` is
# given) vs PyTorch CPU, alternated in one run so all see the same load.
#
#   benches/train_speed.sh [ROUNDS]      (needs data/mnist and `pip install torch`; set PYTHON)
#
# TCH_BINARY=path/to/pixelcnn built with `--features tch` adds its libtorch backend; it finds
# libtorch through PYTHON's torch package.
set -euo pipefail
rounds=${1:-2}
python=${PYTHON:-python3}
tch_binary=${TCH_BINARY:-}
if [ -n "$tch_binary" ]; then
  torch_lib=$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)
  export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
cores=$(nproc)
source "$(dirname "$0")/time_training.sh"
cargo build --release --bin pixelcnn -q
for round in $(seq "$rounds"); do
  "$python" benches/torch_train_speed.py --steps 30 --warmup 5 --batch 64 --threads "$cores" 2>/dev/null |
    sed "s/^/round $round: /"
  for workers in "$cores" 1; do
    time_training ./target/release/pixelcnn 1280 64 "$workers" "round $round: burn flex, $workers workers"
  done
  if [ -n "$tch_binary" ]; then
    for workers in 1 "$cores"; do
      time_training "$tch_binary" 1280 64 "$workers" "round $round: burn libtorch, $workers workers" libtorch
    done
  fi
done
