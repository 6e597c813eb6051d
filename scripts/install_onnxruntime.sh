#!/usr/bin/env bash
# Installs ONNX Runtime from the Python package index into build/pydeps (not
# into the system: Debian's Python refuses system-wide pip installs), for the
# oracle tests and the comparisons. Uses Debian's interpreter /usr/bin/python3,
# whose numpy and onnx come from python3-numpy / python3-onnx (scripts/setup.sh).
#   ./scripts/install_onnxruntime.sh [TARGET_DIR]     (default: build/pydeps)
# Afterwards: PYTHONPATH=build/pydeps /usr/bin/python3 -c 'import onnxruntime'
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TARGET="${1:-build/pydeps}"
VERSION="1.32.0"
if PYTHONPATH="$TARGET" /usr/bin/python3 -c "import onnxruntime.quantization" 2>/dev/null; then
  echo "onnxruntime: already in $TARGET"
  exit 0
fi
mkdir -p "$TARGET"
# --no-deps: numpy and protobuf come from Debian. ORT's quantization tools
# (quantize_static, used by the comparisons) need a newer onnx than Debian's
# 1.12 (onnx.reference) and ml_dtypes; these versions work with Debian's
# numpy 1.24. Everything lands in $TARGET only, so Debian's python3-onnx
# (which torch's exporter needs) is untouched outside that PYTHONPATH.
/usr/bin/python3 -m pip install --quiet --disable-pip-version-check --no-deps \
  --target "$TARGET" "onnxruntime==$VERSION" "onnx==1.17.0" "ml_dtypes==0.4.1" "packaging"
PYTHONPATH="$TARGET" /usr/bin/python3 -c "import onnxruntime, onnxruntime.quantization; print('onnxruntime', onnxruntime.__version__, 'in $TARGET')"
