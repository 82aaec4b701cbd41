#!/usr/bin/env bash
# Training images/second of the shipped architecture: burn (flex CPU backend, one worker thread
# per core and a single worker) vs PyTorch CPU, alternated in one run so all see the same load.
#
#   benches/train_speed.sh [ROUNDS]      (needs data/mnist and `pip install torch`; set PYTHON)
set -euo pipefail
rounds=${1:-2}
python=${PYTHON:-python3}
cores=$(nproc)
source "$(dirname "$0")/time_training.sh"
cargo build --release --bin pixelcnn -q
for round in $(seq "$rounds"); do
  "$python" benches/torch_train_speed.py --steps 30 --warmup 5 --batch 64 --threads "$cores" 2>/dev/null |
    sed "s/^/round $round: /"
  for workers in "$cores" 1; do
    time_training ./target/release/pixelcnn 1280 64 "$workers" "round $round: burn flex, $workers workers"
  done
done
