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

PACKAGES=(python3-torch python3-onnx python3-numpy dataset-fashion-mnist)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ "$(id -u)" -eq 0 ]]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "train_models: error: missing packages (${missing[*]}) and not root; sudo is not available" >&2
    exit 1
  fi
  echo "train_models: installing ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec /usr/bin/python3 scripts/train_models.py "$@"
