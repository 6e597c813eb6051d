#!/usr/bin/env bash
# Configures and builds Quanta (Release, Ninja) into build/.
# Extra arguments are passed to the CMake configure step.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build --parallel "$(nproc)"
