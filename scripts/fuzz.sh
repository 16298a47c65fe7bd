#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/, issue 11) in build-fuzz with clang,
# ASan and UBSan, then runs each for a time or a number of executions and
# prints its figures (executions, exec/s, coverage cov / ft, corpus size).
# Exits non-zero if any harness finds a crash, leak, timeout or OOM; the input
# that did it is saved under build-fuzz/fuzz-artifacts/<harness>/.
#
#   scripts/fuzz.sh [--seconds N | --runs R] [--jobs J] [--no-build] [HARNESS...]
#     --seconds N  run each harness N seconds (default 10)
#     --runs R     run each harness R executions instead (e.g. 1000000)
#     --jobs J     run J harnesses at a time (default 1)
#     --no-build   use the harnesses already in build-fuzz
#     HARNESS      names from fuzz/*_fuzzer.cpp (default: all)
# Environment: KVS_FUZZ_BUILD_DIR (default build-fuzz), KVS_FUZZ_BUILD_JOBS
# (default 2), KVS_FUZZ_NICE (default 10).
#
# Each harness reads the committed seeds fuzz/corpus/<harness>/ and the found
# crashes kept as regression inputs fuzz/regressions/<harness>/ (every run
# replays them first), and grows a working corpus in
# build-fuzz/fuzz-corpus/<harness>/ (kept between runs, never committed).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds=10
runs=""
jobs=1
build=1
harnesses=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; runs=""; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) harnesses+=("$1"); shift ;;
  esac
done
if [ ${#harnesses[@]} -eq 0 ]; then
  for f in fuzz/*_fuzzer.cpp; do harnesses+=("$(basename "$f" .cpp)"); done
fi

dir=${KVS_FUZZ_BUILD_DIR:-build-fuzz}
nice_level=${KVS_FUZZ_NICE:-10}
start=$(date +%s)

if [ "$build" = 1 ]; then
  if ! grep -qs '^KVS_FUZZ:BOOL=ON' "$dir/CMakeCache.txt"; then
    mkdir -p "$dir"
    CC=clang CXX=clang++ nice -n "$nice_level" cmake -S . -B "$dir" -DKVS_FUZZ=ON -DKVS_CUDA=OFF \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$dir/fuzz-configure.log" 2>&1 \
      || { cat "$dir/fuzz-configure.log"; exit 1; }
  fi
  nice -n "$nice_level" cmake --build "$dir" --target "${harnesses[@]}" -j "${KVS_FUZZ_BUILD_JOBS:-2}"
fi
built=$(date +%s)

# Largest input per harness: a bit above the biggest seed, small enough that
# every execution stays fast.
max_len() {
  case "$1" in
    gguf_fuzzer|tokenizer_json_fuzzer) echo 8192 ;;
    tokenizer_encode_fuzzer|grpc_request_fuzzer) echo 1024 ;;
    *) echo 4096 ;;
  esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
logs="$dir/fuzz-logs"
mkdir -p "$logs"

run_one() {
  local h=$1
  local bin="$dir/fuzz/$h" work="$dir/fuzz-corpus/$h" artifacts="$dir/fuzz-artifacts/$h/"
  mkdir -p "$work" "$artifacts"
  local limit=(-max_total_time="$seconds")
  [ -n "$runs" ] && limit=(-runs="$runs")
  local dirs=("$work" "fuzz/corpus/$h")
  [ -d "fuzz/regressions/$h" ] && dirs+=("fuzz/regressions/$h")
  local cmd=("$bin" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$h")"
             -print_final_stats=1 -artifact_prefix="$artifacts" "${dirs[@]}")
  echo "${cmd[*]}" >"$logs/$h.cmd"
  local t0 rc=0
  t0=$(date +%s)
  nice -n "$nice_level" "${cmd[@]}" >"$logs/$h.log" 2>&1 || rc=$?
  echo "$rc $(( $(date +%s) - t0 ))" >"$logs/$h.rc"
}

pids=()
for h in "${harnesses[@]}"; do
  [ -x "$dir/fuzz/$h" ] || { echo "fuzz.sh: no harness $dir/fuzz/$h" >&2; exit 2; }
  rm -f "$logs/$h.rc"
  run_one "$h" &
  pids+=($!)
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
done
for p in "${pids[@]}"; do wait "$p" || true; done

failed=0
printf '%-24s %10s %8s %7s %7s %7s %6s  %s\n' harness executions exec/s cov ft corpus secs result
for h in "${harnesses[@]}"; do
  log="$logs/$h.log"
  read -r rc secs <"$logs/$h.rc"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  final=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$final")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$final")
  corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$final")
  result=ok
  if [ "$rc" != 0 ]; then
    failed=1
    result="FAILED (rc $rc): $(grep -m1 -E 'ERROR: |SUMMARY: |fuzz contract violated|runtime error' "$log" || echo "see $log")"
  fi
  printf '%-24s %10s %8s %7s %7s %7s %6s  %s\n' "$h" "${execs:--}" "${rate:--}" "${cov:--}" "${ft:--}" \
    "${corp:--}" "$secs" "$result"
done
echo "fuzz.sh: build $(( built - start )) s, runs $(( $(date +%s) - built )) s; logs in $logs/"
if [ "$failed" != 0 ]; then
  echo "fuzz.sh: a harness failed; the input is in $dir/fuzz-artifacts/<harness>/ (replay: $dir/fuzz/<harness> FILE)" >&2
  exit 1
fi
