#!/usr/bin/env bash
# The Quanta demo, from a fresh Debian 12 machine (as root) to numbers:
#   1. installs the dependencies (scripts/setup.sh) and builds (scripts/build.sh);
#   2. writes the demo image classifier in float and int8 (`quanta demo-model`);
#   3. shows what the int8 file holds (`quanta inspect --brief`);
#   4. measures int8 accuracy against float (`quanta compare`: SQNR, top-1 agreement);
#   5. runs the int8 model on an input saved by NumPy (`quanta run`);
#   6. measures the latency of both models (`quanta bench`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==== %s\n' "$*"; }

step "setup"
./scripts/setup.sh
step "build"
mkdir -p build
./scripts/build.sh > build/build.log 2>&1 || {
  tail -n 60 build/build.log
  echo "demo: build failed (full log: build/build.log)" >&2
  exit 1
}
echo "built build/quanta (log: build/build.log)"

Q=./build/quanta
# NumPy comes from Debian's python3-numpy: use the system interpreter even when
# another python3 (a virtualenv, pyenv) is first on PATH.
PY=/usr/bin/python3
[[ -x "$PY" ]] || PY=python3
M=build/models

step "quanta demo-model --out $M"
$Q demo-model --out "$M"

step "quanta inspect --brief $M/demo_cnn_int8.quanta"
$Q inspect --brief "$M/demo_cnn_int8.quanta"

step "quanta compare $M/demo_cnn_fp32.quanta $M/demo_cnn_int8.quanta --random 512"
$Q compare "$M/demo_cnn_fp32.quanta" "$M/demo_cnn_int8.quanta" --random 512

step "quanta run $M/demo_cnn_int8.quanta --input $M/input.npy"
"$PY" - "$M/input.npy" <<'PY'
import sys
import numpy as np
rng = np.random.default_rng(7)
np.save(sys.argv[1], rng.uniform(-1.0, 1.0, size=(1, 16, 16, 3)).astype(np.float32))
PY
$Q run "$M/demo_cnn_int8.quanta" --input "$M/input.npy"
$Q run "$M/demo_cnn_int8.quanta" --input "$M/input.npy" --output "$M/probs_int8.npy"
$Q run "$M/demo_cnn_fp32.quanta" --input "$M/input.npy" --output "$M/probs_fp32.npy"
"$PY" - "$M/probs_fp32.npy" "$M/probs_int8.npy" <<'PY'
import sys
import numpy as np
f, q = (np.load(p) for p in sys.argv[1:3])
print(f"numpy check: fp32 argmax {f.argmax()}, int8 argmax {q.argmax()}, "
      f"max |p_fp32 - p_int8| = {np.abs(f - q).max():.4f}")
PY

for variant in fp32 int8; do
  step "quanta bench $M/demo_cnn_${variant}.quanta"
  $Q bench "$M/demo_cnn_${variant}.quanta" --warmup 100 --runs 2000
done

step "quanta bench $M/demo_cnn_int8.quanta --per-op --runs 500"
$Q bench "$M/demo_cnn_int8.quanta" --runs 500 --per-op | sed -n '/per node/,$p'

printf '\ndemo: done\n'
