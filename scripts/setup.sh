#!/usr/bin/env bash
# Installs everything Quanta needs on Debian 12 (bookworm).
#   ./scripts/setup.sh           what the build and the demo need
#   ./scripts/setup.sh --test    plus what the test suite needs (scripts/test.sh)
#   ./scripts/setup.sh PKG...    plus the named packages (scripts/train_models.sh)
# Idempotent: packages already installed are left alone, and `apt-get update`
# only runs when something is missing. Works as root, or through sudo.
# Installs with --no-install-recommends, so this list must name every package
# the build uses directly: scripts/check_fresh_machine.sh proves it in a
# minimal Debian 12 root (docs/install.md).
set -euo pipefail

PACKAGES=(
  cmake g++ ninja-build pkg-config
  libdnnl-dev libflatbuffers-dev flatbuffers-compiler libfmt-dev
  zlib1g-dev libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev
  libonnx-dev libprotobuf-dev protobuf-compiler libstb-dev libpng-dev libturbojpeg0-dev
  libsimde-dev python3-numpy
)
# Only the tests use these: ONNX's operator test data, pip (ONNX Runtime for
# the oracle tests), the onnx Python module (test model generators), clang
# with its sanitizer and fuzzer runtimes, and what the Python module's build
# and tests need (Python headers, pybind11, pytest, venv for `pip install .`).
TEST_PACKAGES=(
  libonnx-testdata python3-pip python3-onnx clang-14 libclang-rt-14-dev
  python3-dev pybind11-dev python3-pybind11 python3-pytest python3-venv
)
for arg in "$@"; do
  if [[ "$arg" == "--test" ]]; then
    PACKAGES+=("${TEST_PACKAGES[@]}")
  else
    PACKAGES+=("$arg")
  fi
done

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
