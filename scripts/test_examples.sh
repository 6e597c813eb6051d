#!/usr/bin/env bash
# Installs a build into a fresh prefix, then builds and runs the three
# examples of examples/ against that prefix only, as a user of an installed
# Quanta would (docs/install.md):
#   - examples/cpp:    CMake, find_package(Quanta), Quanta::runtime;
#   - examples/c:      make + pkg-config quanta, linked to libquanta_runtime.so;
#                      `ldd` must show no oneDNN, OpenMP, fmt or zlib; built
#                      again with ASan+UBSan and run with bad arguments, each
#                      of which must end in a clear error (status 1 or 2), not
#                      a sanitizer report;
#   - examples/python: the quanta package from the prefix converts the
#                      Fashion-MNIST CNN and checks its int8 accuracy.
# The examples are copied out of the source tree first, so nothing in their
# build can reach into it.
#   ./scripts/test_examples.sh [BUILD_DIR]     (default: build; needs -DQUANTA_BUILD_PYTHON=ON)
# Python: /usr/bin/python3 (Debian's NumPy).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
build="${1:-build}"
PY=/usr/bin/python3

work="$(mktemp -d /tmp/quanta-examples.XXXXXX)"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
step() { printf '\n---- examples: %s\n' "$*"; }

step "install $build into a fresh prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
cp -r examples "$work/src"
mkdir -p "$work/data"
cp models/demo_cnn_int8.quanta models/fashion_cnn_bn.onnx models/fashion_calib_x.npy \
   models/fashion_eval_x.npy models/fashion_eval_y.npy "$work/data/"
model="$work/data/demo_cnn_int8.quanta"
cd "$work"
pcdir="$(dirname "$(find "$prefix" -name quanta.pc | head -n1)")"
pydir="$(dirname "$(dirname "$(find "$prefix" -name '_quanta*.so' | head -n1)")")"

step "C++ (find_package(Quanta))"
cmake -S src/cpp -B cpp -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build cpp
cpp/classify_cpp "$model" --threads 2

step "C (pkg-config quanta)"
PKG_CONFIG_PATH="$pcdir" make -s -C src/c OUT="$work" CC=gcc
./classify "$model" --backend onednn
if ldd ./classify | grep -E 'dnnl|gomp|libfmt|libz\.'; then
  echo "examples: FAIL: the C example depends on the libraries above" >&2
  exit 1
fi
echo "ldd: $(ldd ./classify | awk '{print $1}' | tr '\n' ' ')"

step "C under ASan+UBSan with bad arguments"
mkdir -p asan
PKG_CONFIG_PATH="$pcdir" make -s -C src/c OUT="$work/asan" CC=gcc \
  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
export ASAN_OPTIONS="exitcode=86:detect_leaks=1" UBSAN_OPTIONS="halt_on_error=1:exitcode=87:print_stacktrace=1"
asan/classify "$model" --tier ref >/dev/null
printf 'not a model' >bad.quanta
head -c 1000 "$model" >truncated.quanta
head -c 12 /dev/zero >short.f32
bad_cases=(
  "$work/missing.quanta"
  "$work/bad.quanta"
  "$work/truncated.quanta"
  "$work"
  "$model --tier nosuchtier"
  "$model --threads -5"
  "$model --threads 100000"
  "$model --threads 99999999999999999999"
  "$model --threads two"
  "$model --input $work/short.f32"
  "$model --input $work/missing.f32"
  "$model --backend nosuch"
  "$model extra.quanta"
  ""
)
for args in "${bad_cases[@]}"; do
  set +e
  # shellcheck disable=SC2086
  out="$(asan/classify $args 2>&1)"
  status=$?
  set -e
  if [[ $status -ne 1 && $status -ne 2 ]] || ! grep -q "classify: " <<<"$out"; then
    printf 'examples: FAIL: classify %s exited %d:\n%s\n' "$args" "$status" "$out" >&2
    exit 1
  fi
  printf 'classify %-40s -> %d: %s\n' "${args#"$work"/}" "$status" "$(grep 'classify: ' <<<"$out" | head -n1 | cut -c1-110)"
done
unset ASAN_OPTIONS UBSAN_OPTIONS

step "Python (quanta from the prefix)"
PYTHONPATH="$pydir" "$PY" -c 'import quanta, sys; print("quanta", quanta.__version__, "from", quanta.__file__); sys.exit(0 if quanta.__file__.startswith(sys.argv[1]) else 1)' "$prefix"
PYTHONPATH="$pydir" "$PY" src/python/convert_and_run.py data/fashion_cnn_bn.onnx data/fashion_calib_x.npy \
  data/fashion_eval_x.npy data/fashion_eval_y.npy "$work/py_out" --min-accuracy 0.85
echo
echo "examples: all passed (prefix only; source tree at $repo untouched)"
