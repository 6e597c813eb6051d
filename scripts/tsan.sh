#!/usr/bin/env bash
# ThreadSanitizer run of the concurrency tests: one Model shared by sessions
# on several threads (EndToEnd.ModelIsSharedBySessionsOnManyThreads,
# Threads.SessionsWithWorkersShareOneModelAcrossThreads), the intra-op thread
# pool (ThreadPool.*) and sessions with worker threads (Threads.*).
#
#   ./scripts/tsan.sh            # configure build-tsan/, build, run; exit 1 on any report
#
# Builds only test_threads and test_e2e (Debug at -O1: TSan needs debug info
# for readable reports, -O1 keeps the instrumented kernels fast enough) in
# build-tsan/, with -DQUANTA_SANITIZE_THREAD=ON. These tests never use the
# oneDNN backend: libdnnl and its GNU OpenMP runtime are not built with TSan,
# so their synchronization would be invisible to it and show up as false
# reports; the script refuses QUANTA_BACKEND=onednn for that reason. No
# suppressions are needed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

JOBS="$(nproc)"
FILTER='EndToEnd.ModelIsSharedBySessionsOnManyThreads:ThreadPool.*:Threads.*'
# A report ends the test binary at once with status 66; no report can pass
# as success.
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1"
if [[ "${QUANTA_BACKEND:-own}" == "onednn" ]]; then
  echo "tsan: QUANTA_BACKEND=onednn is not supported (oneDNN is not TSan-instrumented)" >&2
  exit 2
fi

start=$SECONDS
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
  -DQUANTA_SANITIZE_THREAD=ON -DQUANTA_BUILD_BENCH=OFF >/dev/null
cmake --build build-tsan --parallel "$JOBS" --target test_threads test_e2e
echo "tsan: built in $((SECONDS - start)) s"

# On Linux systems with more address randomization than this libtsan expects
# (vm.mmap_rnd_bits), it stops with "unexpected memory mapping" before any
# test runs; such a run is repeated without address randomization.
run() {
  local out status=0
  out="$("$@" 2>&1)" || status=$?
  if [[ $status -ne 0 && "$out" == *"unexpected memory mapping"* ]]; then
    echo "tsan: retrying without address randomization" >&2
    status=0
    out="$(setarch "$(uname -m)" -R "$@" 2>&1)" || status=$?
  fi
  printf '%s\n' "$out"
  return "$status"
}

failed=0
for t in test_threads test_e2e; do
  echo "==== tsan: $t"
  if ! run "build-tsan/$t" --gtest_filter="$FILTER" --gtest_brief=1; then
    echo "tsan: $t FAILED (a ThreadSanitizer report or a failing test, above)" >&2
    failed=1
  fi
done
echo "tsan: done in $((SECONDS - start)) s"
exit "$failed"
