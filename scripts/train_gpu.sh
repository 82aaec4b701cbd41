#!/usr/bin/env bash
# Trains the shipped binarized-MNIST model on a GPU with burn-wgpu's Vulkan path.
#
#   cargo build --profile gpu --features vulkan --bin pixelcnn
#   scripts/train_gpu.sh target/gpu/pixelcnn data/mnist OUT_DIR [MINUTES [--resume]]
#
#   scripts/train_gpu.sh BIN DATA OUT_DIR MINUTES --resume       # continue OUT_DIR/ckpt
#
# Keeps a resumable checkpoint in OUT_DIR/ckpt (copy checkpoints/mnist/ there to continue the
# shipped model; the learning-rate schedule comes from the checkpoint) and, once the planned
# epochs are done, writes OUT_DIR/models/mnist.{json,safetensors}; `pixelcnn export` writes
# them from the checkpoint at any time. Extra arguments go to `pixelcnn train`.
# burn-cuda would be the first choice on NVIDIA, but its build downloads an LLVM bundle, which
# an offline build machine cannot do; Vulkan needs only the driver.
set -euo pipefail
bin=$1 data=$2 out=$3 minutes=${4:-6}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
# NVIDIA's Vulkan ICD, where the driver is mounted but not registered.
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=${VK_DRIVER_FILES:-$icd}
mkdir -p "$out"
RUST_BACKTRACE=1 "$bin" train --backend vulkan --data-dir "$data" --max-minutes "$minutes" \
  --batch-size 128 --checkpoint-dir "$out/ckpt" --checkpoint-minutes 5 \
  --out-dir "$out/models" --name mnist --eval-batch 1000 "${@:5}" 2>&1
