#!/usr/bin/env bash
# Installs everything Quanta needs to build and test on Debian 12 (bookworm).
# Idempotent: packages already installed are left alone, and `apt-get update`
# only runs when something is missing. Works as root, or through sudo.
# Extra arguments are more packages to ensure (scripts/train_models.sh uses it).
set -euo pipefail

PACKAGES=(
  cmake g++ ninja-build
  libdnnl-dev libflatbuffers-dev flatbuffers-compiler libfmt-dev
  zlib1g-dev libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev
  libonnx-dev libprotobuf-dev protobuf-compiler libstb-dev pkg-config libonnx-testdata
  python3-pip python3-onnx
  python3-numpy clang-14 libclang-rt-14-dev libsimde-dev
  "$@"
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi

if [[ "$(id -u)" -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "setup: error: missing packages (${missing[*]}) and not root; sudo is not available" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
