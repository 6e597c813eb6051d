#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang + ASan + UBSan (in
# build-fuzz/), generates their seed corpora, and runs each target for a
# fixed time. Exits non-zero on any finding: a crash, a sanitizer report, a
# leak, a timeout or an out-of-memory (docs/fuzzing.md).
#
#   scripts/fuzz.sh                         every target, 60 s each, one at a time
#   scripts/fuzz.sh --seconds 30 -j 2       30 s each, two targets at once
#   scripts/fuzz.sh --targets fuzz_npy,fuzz_onnx
#   scripts/fuzz.sh --seconds 3600 --keep-corpus ~/quanta-corpus --merge
#                                           a long campaign that keeps (and
#                                           minimizes) what it finds
#
# Options:
#   --seconds N       fuzzing time per target (default 60)
#   -j N              targets run in parallel (default 1; each is one process)
#   --targets A,B     a subset of the targets (default: all of TARGETS below)
#   --keep-corpus DIR keep each target's corpus in DIR/<target> across runs
#                     (default: a fresh corpus in the work directory)
#   --merge           with --keep-corpus: minimize DIR/<target> after the run
#                     (libFuzzer -merge=1: the fewest inputs with the same coverage)
#   --build-dir DIR   build directory (default build-fuzz)
#   --no-build        use the targets already built in the build directory
#   --keep-going      go on after a finding (libFuzzer's fork mode) and report
#                     every one found in the time; still exits non-zero
# Findings are written to <build-dir>/run/<target>/ (crash-*, leak-*,
# timeout-*, oom-*); the summary prints each one's path. Reproduce one with
#   <build-dir>/fuzz/<target> <file>
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# target:seed corpus:dictionary
TARGETS=(
  fuzz_model:model:quanta.dict
  fuzz_model_sealed:model:quanta.dict
  fuzz_model_structured:model:quanta.dict
  fuzz_onnx:onnx:onnx.dict
  fuzz_npy:npy:npy.dict
  fuzz_calib_image:image:image.dict
)
SECONDS_PER_TARGET=60
JOBS=1
ONLY=""
KEEP=""
MERGE=0
BUILD_DIR=build-fuzz
BUILD=1
KEEP_GOING=0
# Limits of one fuzzing process: memory (RSS and any single allocation) and
# the time one input may take. The harnesses skip models larger than their
# own limits (fuzz/fuzz_common.hpp), so nothing legitimate comes near these.
RSS_LIMIT_MB=2048
MALLOC_LIMIT_MB=2048
TIMEOUT_S=30

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) SECONDS_PER_TARGET="$2"; shift 2 ;;
    -j) JOBS="$2"; shift 2 ;;
    --targets) ONLY="$2"; shift 2 ;;
    --keep-corpus) KEEP="$2"; shift 2 ;;
    --merge) MERGE=1; shift ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --keep-going) KEEP_GOING=1; shift ;;
    -h|--help) usage ;;
    *) echo "fuzz: unknown option '$1'" >&2; usage ;;
  esac
done
[[ "$SECONDS_PER_TARGET" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: --seconds needs a positive integer" >&2; exit 2; }
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: -j needs a positive integer" >&2; exit 2; }
if [[ $MERGE -eq 1 && -z "$KEEP" ]]; then echo "fuzz: --merge needs --keep-corpus" >&2; exit 2; fi

selected=()
for entry in "${TARGETS[@]}"; do
  name="${entry%%:*}"
  if [[ -z "$ONLY" || ",$ONLY," == *",$name,"* ]]; then selected+=("$entry"); fi
done
if [[ -n "$ONLY" ]]; then
  IFS=, read -r -a wanted <<< "$ONLY"
  for w in "${wanted[@]}"; do
    printf '%s\n' "${TARGETS[@]}" | grep -q "^$w:" || { echo "fuzz: no target '$w'" >&2; exit 2; }
  done
fi

# ------------------------------------------------------------------ build
CXX_FUZZ="${QUANTA_FUZZ_CXX:-clang++-14}"
if [[ $BUILD -eq 1 ]]; then
  command -v "$CXX_FUZZ" >/dev/null || {
    echo "fuzz: $CXX_FUZZ not found (scripts/setup.sh --test installs clang-14 and libclang-rt-14-dev)" >&2
    exit 1
  }
  launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    # Paths relative to the checkout, and no working directory in the hash
    # (-g would put it there): another clone or build directory then reuses
    # the cache (a rebuild takes seconds instead of minutes).
    export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR=1
  fi
  build_start=$SECONDS
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER="$CXX_FUZZ" "${launcher[@]}" \
    -DQUANTA_BUILD_FUZZ=ON -DQUANTA_BUILD_TESTS=OFF -DQUANTA_BUILD_BENCH=OFF >/dev/null
  cmake --build "$BUILD_DIR" --parallel "$(nproc)" --target quanta_fuzzers
  echo "fuzz: built in $((SECONDS - build_start)) s"
fi

# ------------------------------------------------------------------ seeds
SEEDS="$BUILD_DIR/seeds"
rm -rf "$SEEDS"
seed_args=(--source . --out "$SEEDS")
for d in /usr/share/libonnx-testdata/data /usr/local/share/libonnx-testdata/data; do
  if [[ -d "$d/node" ]]; then seed_args+=(--onnx-testdata "$d"); break; fi
done
"$BUILD_DIR/fuzz/quanta_fuzz_seeds" "${seed_args[@]}"

# ------------------------------------------------------------------ run
# A sanitizer report must abort (libFuzzer then saves the input); leaks are
# reported at the end of each input. The kernel tier and backend come from
# the harness, not from the caller's environment.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:allocator_may_return_null=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
unset QUANTA_TIER QUANTA_ISA QUANTA_BACKEND QUANTA_FUZZ_NO_LIMITS

RUN_DIR="$BUILD_DIR/run"
run_target() {
  local name="$1" seeds="$2" dict="$3"
  local work="$RUN_DIR/$name" corpus
  rm -rf "$work"
  mkdir -p "$work"
  if [[ -n "$KEEP" ]]; then corpus="$KEEP/$name"; else corpus="$work/corpus"; fi
  mkdir -p "$corpus"
  local rc=0 mode=()
  if [[ $KEEP_GOING -eq 1 ]]; then
    mode=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
  fi
  # The harnesses' scratch files (fuzz_common.hpp) stay in the work directory,
  # also those of a process that crashed.
  mkdir -p "$work/tmp"
  TMPDIR="$work/tmp" "$BUILD_DIR/fuzz/$name" "$corpus" "$SEEDS/$seeds" -dict="fuzz/dict/$dict" "${mode[@]}" \
    -max_total_time="$SECONDS_PER_TARGET" -timeout="$TIMEOUT_S" \
    -rss_limit_mb="$RSS_LIMIT_MB" -malloc_limit_mb="$MALLOC_LIMIT_MB" \
    -artifact_prefix="$work/" -print_final_stats=1 >"$work/log" 2>&1 || rc=$?
  if [[ $MERGE -eq 1 && $rc -eq 0 ]]; then
    rm -rf "$corpus.merge"
    mkdir -p "$corpus.merge"
    if "$BUILD_DIR/fuzz/$name" -merge=1 -timeout="$TIMEOUT_S" -rss_limit_mb="$RSS_LIMIT_MB" \
        -malloc_limit_mb="$MALLOC_LIMIT_MB" "$corpus.merge" "$corpus" >"$work/merge.log" 2>&1; then
      rm -rf "$corpus"
      mv "$corpus.merge" "$corpus"
    else
      echo "fuzz: $name: merging the corpus failed (see $work/merge.log); kept as it was" >&2
      rm -rf "$corpus.merge"
    fi
  fi
  echo "$rc" >"$work/rc"
}

# One line per target: PASS/FAIL, executions, speed, coverage, and for a
# failure each distinct message (the harness's own, a sanitizer's, a failed
# assertion, an uncaught exception, libFuzzer's), the reproducers and the log.
summarize() {
  local name="$1" work="$RUN_DIR/$1"
  local rc execs rate cov ft corp findings fork_line
  rc="$(cat "$work/rc" 2>/dev/null || echo 1)"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)"
  # Fork mode (--keep-going) prints "#N: cov: C ft: F corp: K exec/s R ..." instead.
  fork_line="$(grep -E '^#[0-9]+: cov: ' "$work/log" | tail -1 || true)"
  if [[ -z "$execs" && -n "$fork_line" ]]; then
    execs="$(sed -E 's/^#([0-9]+):.*/\1/' <<< "$fork_line")"
    local t
    t="$(grep -oE ' time: [0-9]+' <<< "$fork_line" | cut -d' ' -f3)"
    [[ "${t:-0}" -gt 0 ]] && rate=$((execs / t))
  fi
  cov="$(grep -oE 'cov: [0-9]+' "$work/log" | tail -1 | cut -d' ' -f2)"
  ft="$(grep -oE 'ft: [0-9]+' "$work/log" | tail -1 | cut -d' ' -f2)"
  corp="$(grep -oE 'corp: [0-9]+' "$work/log" | tail -1 | cut -d' ' -f2)"
  findings="$(find "$work" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)"
  local status=PASS
  if [[ "$rc" != 0 || -n "$findings" ]]; then status=FAIL; fi
  printf '%s  %-22s %8s execs %7s/s  cov %5s  ft %6s  corpus %5s\n' "$status" "$name" \
    "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
  if [[ $status == FAIL ]]; then
    # -o: fork mode may print a child's report in the middle of another line.
    grep -oE '==== quanta fuzz harness: .*|(\.\./|/)[^ :]+:[0-9]+:[0-9]+: runtime error: .*|ERROR: (Address|Leak)Sanitizer: .*|[^ ]+: [^ ]+:[0-9]+: [^:]+: Assertion .* failed\.|terminate called .*|what\(\): .*|ERROR: libFuzzer: (timeout|out-of-memory|malloc|fuzz target exited).*' \
        "$work/log" | sed -E 's/0x[0-9a-f]+/0x../g; s/[0-9]+Mb/..Mb/g' | awk '!seen[$0]++' | head -8 |
      sed 's/^/      /' || true
    if [[ -n "$findings" ]]; then
      sed 's/^/      reproducer: /' <<< "$findings"
    else
      echo "      exit status $rc"
    fi
    echo "      log: $work/log"
    return 1
  fi
}

echo "fuzz: ${#selected[@]} target(s), ${SECONDS_PER_TARGET} s each, $JOBS at a time"
running=0
for entry in "${selected[@]}"; do
  IFS=: read -r name seeds dict <<< "$entry"
  if [[ $running -ge $JOBS ]]; then
    wait -n || true
    running=$((running - 1))
  fi
  echo "fuzz: running $name"
  run_target "$name" "$seeds" "$dict" &
  running=$((running + 1))
done
wait || true

passed=0
failed=0
echo
for entry in "${selected[@]}"; do
  name="${entry%%:*}"
  if summarize "$name"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
