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
source "$(dirname "$0")/time_training.sh"
base=$1 new=$2 rounds=${3:-2} images=${4:-640}
for round in $(seq "$rounds"); do
  for binary in "$base" "$new"; do
    time_training "$binary" "$images" 32 "$(nproc)" "round $round: $binary"
  done
done
