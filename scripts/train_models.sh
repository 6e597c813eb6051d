#!/usr/bin/env bash
# Regenerates the float Fashion-MNIST models and sample files in models/
# (fashion_*.onnx, fashion_*_{calib,eval}_*.npy; see docs/models.md).
#
# Installs the Debian packages it needs (only the missing ones, so re-running is
# cheap), then runs scripts/train_models.py with Debian's /usr/bin/python3: the
# Debian python3-* packages belong to that interpreter, not to whatever python3
# (pyenv, venv) may come first on PATH. Works as root, or through sudo.
#
# Extra arguments are passed to the Python script (e.g. --out DIR, --cnn-epochs N).
# If onnxruntime is importable by /usr/bin/python3 (e.g. PYTHONPATH pointing at a
# `pip install --target DIR onnxruntime`), the script also checks each exported
# model against torch; otherwise that check is skipped and says so.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The build's packages plus the training ones, installed only where missing.
./scripts/setup.sh python3-torch python3-onnx python3-numpy dataset-fashion-mnist
exec /usr/bin/python3 scripts/train_models.py "$@"
