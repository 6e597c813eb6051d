#!/usr/bin/env bash
# The Quanta demo, from a fresh Debian 12 machine (as root) to numbers:
#   1. installs the dependencies (scripts/setup.sh) and builds (scripts/build.sh);
#   2. converts the default model, models/fashion_cnn_bn.onnx (a Fashion-MNIST
#      CNN with BatchNorm, trained by scripts/train_models.py), to a float and
#      an int8 .quanta file (`quanta convert`, calibrated on 256 images);
#   3. compares the file sizes (ONNX, float .quanta, int8 .quanta);
#   4. prints float versus int8 top-1 accuracy on 1000 labelled test images
#      (`quanta eval`), with their agreement and the SQNR of the logits;
#   5. runs the int8 model on one image (`quanta run`);
#   6. measures the latency of both models (`quanta bench`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==== %s\n' "$*"; }

step "setup"
./scripts/setup.sh
step "build"
mkdir -p build
./scripts/build.sh --target quanta > build/build.log 2>&1 || {
  tail -n 60 build/build.log
  echo "demo: build failed (full log: build/build.log)" >&2
  exit 1
}
echo "built build/quanta (log: build/build.log)"

Q=./build/quanta
M=models
OUT=build/models
mkdir -p "$OUT"
ONNX="$M/fashion_cnn_bn.onnx"

step "quanta convert $ONNX --precision fp32"
$Q convert "$ONNX" -o "$OUT/fashion_cnn_fp32.quanta" --precision fp32

step "quanta convert $ONNX (int8, calibrated on $M/fashion_calib_x.npy)"
$Q convert "$ONNX" -o "$OUT/fashion_cnn_int8.quanta" --calib "$M/fashion_calib_x.npy"

step "model sizes"
for f in "$ONNX" "$OUT/fashion_cnn_fp32.quanta" "$OUT/fashion_cnn_int8.quanta"; do
  printf '%-34s %8d bytes\n' "$f" "$(stat -c %s "$f")"
done

step "quanta eval: float vs int8 on 1000 labelled Fashion-MNIST test images"
$Q eval "$OUT/fashion_cnn_fp32.quanta" "$OUT/fashion_cnn_int8.quanta" \
  --data "$M/fashion_eval_x.npy" --labels "$M/fashion_eval_y.npy"

step "quanta run $OUT/fashion_cnn_int8.quanta on one test image"
# NumPy comes from Debian's python3-numpy: use the system interpreter even when
# another python3 (a virtualenv, pyenv) is first on PATH.
PY=/usr/bin/python3
[[ -x "$PY" ]] || PY=python3
"$PY" -c "import numpy as np; np.save('$OUT/one_image.npy', np.load('$M/fashion_eval_x.npy')[:1])"
$Q run "$OUT/fashion_cnn_int8.quanta" --input "$OUT/one_image.npy"
"$PY" -c "import numpy as np; print('label of that image:', int(np.load('$M/fashion_eval_y.npy')[0]))"

for variant in fp32 int8; do
  step "quanta bench $OUT/fashion_cnn_${variant}.quanta"
  $Q bench "$OUT/fashion_cnn_${variant}.quanta" --warmup 100 --runs 2000
done

printf '\ndemo: done\n'
