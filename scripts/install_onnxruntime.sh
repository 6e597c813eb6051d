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
if PYTHONPATH="$TARGET" /usr/bin/python3 -c "import onnxruntime" 2>/dev/null; then
  echo "onnxruntime: already in $TARGET"
  exit 0
fi
mkdir -p "$TARGET"
# --no-deps: numpy, onnx and protobuf come from Debian; ORT's other
# dependencies are only needed by tools we do not use.
/usr/bin/python3 -m pip install --quiet --disable-pip-version-check --no-deps \
  --target "$TARGET" "onnxruntime==$VERSION"
PYTHONPATH="$TARGET" /usr/bin/python3 -c "import onnxruntime; print('onnxruntime', onnxruntime.__version__, 'in $TARGET')"
