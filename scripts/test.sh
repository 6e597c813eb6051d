#!/usr/bin/env bash
# Everything CI runs, from a fresh Debian 12 machine (as root):
#   1. dependencies (scripts/setup.sh; ONNX Runtime from pip into build/pydeps
#      for the oracle tests, scripts/install_onnxruntime.sh) and the Release
#      build (scripts/build.sh);
#   2. the whole test suite with CTest (C++, the C API's C11 test, pytest);
#   3. the examples built and run against an installed prefix
#      (scripts/test_examples.sh);
#   4. an AddressSanitizer + UndefinedBehaviorSanitizer build (build-asan/)
#      running the tests that feed the runtime and the CLI corrupted input:
#      the loader's malformed-file tests, the .npy tests, the CLI tests
#      (truncated and bit-flipped models, bad data files and options, run
#      through the sanitized binary),
#      the end-to-end tests, the converter's import/rewrite/quantize/error
#      tests (corrupted ONNX files included) and its hostile-input
#      reproducers (tests/test_converter_hostile.cpp), the calibration data
#      readers, the ONNX conformance sweep, the intra-op thread pool and the
#      C API test.
# Prints a summary; exits non-zero if any step failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

JOBS="$(nproc)"
SANITIZED_TESTS='^(CApi|Loader|NpyTest|CliTest|CliData|CliConvert|CliEval|EndToEnd|Converter(Errors|Import|Rewrites|Quantize|ScaleFloor|Hostile)|QuantizeOptions|CalibrationOptions|CalibData|OnnxConformance|ThreadPool|Threads)'
# A sanitizer report must never look like a clean error exit (status 1).
export ASAN_OPTIONS="exitcode=86:abort_on_error=0:detect_leaks=1"
export UBSAN_OPTIONS="halt_on_error=1:exitcode=87:print_stacktrace=1"

declare -a SUMMARY=()
FAILED=0
run_step() {
  local name="$1"
  shift
  local start=$SECONDS
  printf '\n==== %s\n' "$name"
  if "$@"; then
    SUMMARY+=("$(printf 'PASS  %-36s %4ds' "$name" $((SECONDS - start)))")
  else
    SUMMARY+=("$(printf 'FAIL  %-36s %4ds' "$name" $((SECONDS - start)))")
    FAILED=1
  fi
}

# Debug (-O0 -g): the sanitized build compiles much faster than with
# optimization, and these tests are small.
build_asan() {
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DQUANTA_SANITIZE=ON -DQUANTA_BUILD_BENCH=OFF &&
    cmake --build build-asan --parallel "$JOBS" --target quanta test_loader test_npy test_cli test_cli_data test_cli_convert test_cli_eval test_e2e \
      test_converter test_converter_hostile test_converter_options test_calib_data test_onnx_conformance test_threads \
      test_c_api
}

run_step "setup" ./scripts/setup.sh --test
run_step "onnxruntime (pip, oracle tests)" ./scripts/install_onnxruntime.sh build/pydeps
# The Python module is built for its pytest suite (ctest's Python.pytest)
# and the Python example; Debian's interpreter has NumPy and pytest.
run_step "build (Release)" ./scripts/build.sh -DQUANTA_BUILD_PYTHON=ON -DPython_EXECUTABLE=/usr/bin/python3
if [[ $FAILED -eq 0 ]]; then
  run_step "ctest (Release, all tests)" ctest --test-dir build --output-on-failure -j"$JOBS"
fi
if [[ $FAILED -eq 0 ]]; then
  run_step "examples (installed prefix)" ./scripts/test_examples.sh build
fi
if [[ $FAILED -eq 0 ]]; then
  run_step "build (ASan+UBSan)" build_asan
fi
if [[ $FAILED -eq 0 ]]; then
  run_step "ctest (ASan+UBSan, corruption)" \
    ctest --test-dir build-asan --output-on-failure -j"$JOBS" -R "$SANITIZED_TESTS"
fi

printf '\n==== summary (%ds total)\n' "$SECONDS"
printf '%s\n' "${SUMMARY[@]}"
if [[ $FAILED -ne 0 ]]; then
  echo "test: FAILED"
  exit 1
fi
echo "test: all passed"
