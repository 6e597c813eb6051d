#!/usr/bin/env bash
# The two ways of getting Quanta that rebuild it from source (run by .ci/run;
# the README's test command covers the installed prefix, scripts/test_examples.sh):
#   1. `pip install .` into a fresh virtual environment (scikit-build-core,
#      pyproject.toml), then the Python example with that environment's
#      interpreter, from outside the source tree;
#   2. examples/cpp built with FetchContent from this source tree
#      (-DQUANTA_SOURCE_DIR): Quanta as a subproject, runtime only, and the
#      program run on the bundled int8 model.
# Needs the packages of `scripts/setup.sh --test` and access to PyPI (pip
# fetches scikit-build-core and NumPy). Each build starts from nothing, so
# this takes several minutes on 2 cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
./scripts/setup.sh --test

work="$(mktemp -d /tmp/quanta-install.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp models/fashion_cnn_bn.onnx models/fashion_calib_x.npy models/fashion_eval_x.npy \
   models/fashion_eval_y.npy models/demo_cnn_int8.quanta "$work/"
cp -r examples "$work/examples"

printf '\n---- check_install: pip install . in a fresh virtual environment\n'
start=$SECONDS
/usr/bin/python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "$repo"
echo "pip install: $((SECONDS - start)) s"
(
  cd "$work"
  venv/bin/python -c 'import quanta, sys; print("quanta", quanta.__version__, "from", quanta.__file__); sys.exit(0 if quanta.__file__.startswith(sys.argv[1]) else 1)' "$work/venv"
  venv/bin/python examples/python/convert_and_run.py fashion_cnn_bn.onnx fashion_calib_x.npy \
    fashion_eval_x.npy fashion_eval_y.npy out --min-accuracy 0.85
  # The pytest suite on the installed package, with the NumPy pip chose
  # (NumPy 2; the build's own ctest run uses Debian's NumPy 1.24).
  venv/bin/pip install --quiet --disable-pip-version-check pytest
  venv/bin/python -c 'import numpy; print("numpy", numpy.__version__)'
  venv/bin/python -m pytest -q -p no:cacheprovider "$repo/tests/python"
)

printf '\n---- check_install: examples/cpp with Quanta through FetchContent\n'
start=$SECONDS
cmake -S "$work/examples/cpp" -B "$work/fetch" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DQUANTA_SOURCE_DIR="$repo" >/dev/null
cmake --build "$work/fetch" --parallel "$(nproc)" >/dev/null
echo "FetchContent build: $((SECONDS - start)) s"
"$work/fetch/classify_cpp" "$work/demo_cnn_int8.quanta" --threads 2
echo
echo "check_install: all passed"
