#!/usr/bin/env bash
# Training images/second of the shipped architecture: burn (flex CPU backend, one worker thread
# per core and a single worker) vs PyTorch CPU, alternated in one run so all see the same load.
#
#   benches/train_speed.sh [ROUNDS]      (needs data/mnist and `pip install torch`; set PYTHON)
set -euo pipefail
rounds=${1:-2}
python=${PYTHON:-python3}
cores=$(nproc)
cargo build --release --bin pixelcnn -q
for round in $(seq "$rounds"); do
  "$python" benches/torch_train_speed.py --steps 30 --warmup 5 --batch 64 --threads "$cores" 2>/dev/null |
    sed "s/^/round $round: /"
  for workers in "$cores" 1; do
    ./target/release/pixelcnn train --limit 1280 --test-limit 10 --total-epochs 1 --lr 1e-3 \
      --batch-size 64 --workers "$workers" --validation-images 0 \
      --checkpoint-dir /tmp/pixelcnn-speed --out-dir /tmp/pixelcnn-speed --name speed 2>&1 |
      grep -o 'trained .*' | sed "s/^/round $round: burn flex, $workers workers: /"
    rm -rf /tmp/pixelcnn-speed
  done
done
