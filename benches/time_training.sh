# Sourced by the training-speed benches: one short training run of a build of the CLI.
#
#   time_training BINARY IMAGES BATCH WORKERS LABEL [BACKEND]
#
# trains BINARY on BACKEND (default cpu, i.e. flex) for one epoch of IMAGES training images
# (data/mnist) and prints "LABEL: trained 1.00 epochs in N s (X img/s at the end)".
time_training() {
  local binary=$1 images=$2 batch=$3 workers=$4 label=$5 backend=${6:-cpu} dir
  dir=$(mktemp -d)
  "$binary" train --backend "$backend" --limit "$images" --test-limit 10 --total-epochs 1 --lr 1e-3 \
    --batch-size "$batch" --workers "$workers" --validation-images 0 \
    --checkpoint-dir "$dir" --out-dir "$dir" --name speed 2>&1 |
    grep -o 'trained .*' | sed "s|^|$label: |"
  rm -rf "$dir"
}
