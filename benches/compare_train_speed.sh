#!/usr/bin/env bash
# Training speed of two builds of the CLI, alternated in one run so both see the same load:
# e.g. the current commit against an earlier one built in a git worktree.
#
#   benches/compare_train_speed.sh BASE_BINARY NEW_BINARY [ROUNDS] [IMAGES]
#
# Each round trains every binary for one epoch of IMAGES (default 640) training images, batch 32,
# one worker per core, and prints its time and images/s. Needs data/mnist.
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,8p "$0"; exit 2; }
base=$1 new=$2 rounds=${3:-2} images=${4:-640}
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
for round in $(seq "$rounds"); do
  for binary in "$base" "$new"; do
    rm -rf "$workdir/run"
    "$binary" train --limit "$images" --test-limit 10 --total-epochs 1 --lr 1e-3 --batch-size 32 \
      --validation-images 0 --checkpoint-dir "$workdir/run" --out-dir "$workdir/run" --name speed 2>&1 |
      grep -o 'trained .*' | sed "s|^|round $round: $binary: |"
  done
done
