#!/usr/bin/env bash
# Configures and builds Quanta (Release, Ninja) into build/.
#   ./scripts/build.sh [--target T]... [CMAKE_CONFIGURE_ARGS...]
# --target limits the build to the named targets (the demo builds only the
# `quanta` CLI); every other argument goes to the CMake configure step.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

targets=()
configure=()
while [[ $# -gt 0 ]]; do
  if [[ "$1" == "--target" && $# -ge 2 ]]; then
    targets+=(--target "$2")
    shift 2
  else
    configure+=("$1")
    shift
  fi
done

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${configure[@]}"
cmake --build build --parallel "$(nproc)" "${targets[@]}"
