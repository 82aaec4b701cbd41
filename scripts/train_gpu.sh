#!/usr/bin/env bash
# Trains the shipped binarized-MNIST model with burn-cuda on an NVIDIA machine.
#
#   cargo build --profile gpu --features cuda --bin pixelcnn     # CUDARC_CUDA_VERSION=13000 if
#                                                              # the build machine has no nvcc
#   scripts/train_cuda.sh target/gpu/pixelcnn data/mnist OUT_DIR [MINUTES]
#
# Writes OUT_DIR/models/mnist.{json,safetensors} (copy them to www/models/) and the resumable
# checkpoint in OUT_DIR/ckpt. The learning rate decays over the time budget.
set -euo pipefail
bin=$1 data=$2 out=$3 minutes=${4:-6}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
# libnvrtc lives in the CUDA toolkit or in pip's nvidia-cuda-nvrtc wheel; burn loads it at run time.
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
  $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, "cuda_nvrtc/lib") for p in nvidia.__path__))' 2>/dev/null); do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"
done
mkdir -p "$out"
RUST_BACKTRACE=1 "$bin" train --backend cuda --data-dir "$data" --epochs 200 --max-minutes "$minutes" \
  --batch-size 128 --lr 2e-3 --checkpoint-dir "$out/ckpt" --checkpoint-every 2000 \
  --out-dir "$out/models" --name mnist --eval-batch 1000 2>&1 | tr '\r' '\n' | awk 'NR % 20 == 1 || /error|NLL|wrote|epoch 1[^0-9]|trained|evaluating|panicked/'
