#!/usr/bin/env bash
# One short check on a lent GPU machine, prepared on a machine without one.
#   scripts/gpu-check.sh build [--keep-going]   (here) build-gpu/ -> .gpu-bundle/, .gpu-model-{a,b}/
#   scripts/gpu-check.sh sizes                  (here) the budget check again (the tree grows)
#   scripts/gpu-check.sh stash                  (device, call 1) part 0 of the default model -> /tmp
#   scripts/gpu-check.sh run                    (device, call 2; here everything skips) -> $OUT
# Why it looks like this: one device call uploads at most 64 MiB (working tree
# + carried folders); the default model alone is 94 MiB and the binaries with
# their libraries 130 MiB. So the model goes xz-compressed in two parts (/tmp
# survives between calls on one warm machine), the binaries, libraries and
# fixtures as one solid tar.xz (the test and bench binaries share most of their
# kernels), and the small random models are made on the device (deterministic;
# checked against the hashes taken here). The device has CUDA, cuBLAS, NCCL and
# PyTorch but no gRPC, cpp-httplib or PCRE2: the bundle carries its own
# libraries, not the CUDA ones, and nothing that links gRPC. `run` only queries
# the GPU, never changes a setting.
set -uo pipefail  # no -e: `run` keeps going after a failing step
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
BUILD=build-gpu STAGE=build-gpu/gpu-bundle BUNDLE=.gpu-bundle PART_A=.gpu-model-a PART_B=.gpu-model-b
STASH=/tmp/kvs-gpu-model UNPACK=${GPU_CHECK_UNPACK:-/tmp/kvs-gpu-bundle}
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
TARGETS=(kvs_gpu_tests kvs_gpu_parallel_tests kvs_gpu_engine_tests
  kvs_bench_lean_attention kvs_bench_prefill_attention kvs_bench_gpu_engine)
TEST_BINS=(kvs_gpu_tests kvs_gpu_parallel_tests kvs_gpu_engine_tests)
CMAKE_FLAGS=(-DCMAKE_BUILD_TYPE=Release -DKVS_MARCH=dispatch -DKVS_CUDA=ON "-DKVS_CUDA_ARCHITECTURES=90a;80")
MIB=$((1024 * 1024)) LIMIT=$((62 * 1024 * 1024))  # per device call; the hard cap is 64 MiB
# Two small random Llamas for the engine tests (KVS_TEST_RANDOM_MODELS_DIR): head dim 64 and 128.
RANDOM_MODELS=("random-llama-hd64:--layers 2 --hidden 256 --heads 4 --kv-heads 2 --ffn 512 --vocab 512"
  "random-llama-hd128:--layers 2 --hidden 512 --heads 4 --kv-heads 1 --ffn 1024 --vocab 512")

die() { echo "gpu-check: error: $*" >&2; exit 1; }
bytes_of() { find "$@" -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
# What every device call uploads besides the carried folders.
tree_bytes() { git ls-files -z -co --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }

# A python with numpy for make_random_llama_1b.py: $PYTHON, .venv, python3, else a venv in build-gpu/.
numpy_python() {
  local p
  for p in "${PYTHON:-}" .venv/bin/python python3 "$BUILD/pyvenv/bin/python"; do
    [ -n "$p" ] && "$p" -c 'import numpy' 2>/dev/null && { echo "$p"; return; }
  done
  [ -z "${NO_PIP:-}" ] || return 1  # the device has no network
  [ -x "$BUILD/pyvenv/bin/python" ] || python3 -m venv "$BUILD/pyvenv" >&2 || return 1
  "$BUILD/pyvenv/bin/python" -m pip install --quiet numpy >&2 && echo "$BUILD/pyvenv/bin/python"
}
make_random_models() {  # DEST
  local py spec
  py=$(numpy_python) || return 1
  for spec in "${RANDOM_MODELS[@]}"; do
    # shellcheck disable=SC2086  # the shape arguments are meant to split
    "$py" scripts/make_random_llama_1b.py --out "$1/${spec%%:*}" ${spec#*:} || return 1
  done
}

cmd_build() {
  local t f avail=() built=() failed=() good=()
  command -v nvcc >/dev/null 2>&1 || export PATH=/usr/local/cuda/bin:$PATH
  echo "== configure $BUILD (${CMAKE_FLAGS[*]})"
  cmake -S . -B "$BUILD" "${CMAKE_FLAGS[@]}" >build-gpu-configure.log 2>&1 ||
    { tail -30 build-gpu-configure.log; die "configure failed (build-gpu-configure.log)"; }
  # Other engineers are still adding targets: build only those this configure defines.
  mapfile -t avail < <(cmake --build "$BUILD" --target help | awk '{ sub(/^\.\.\. /, ""); sub(/:.*/, ""); print $1 }')
  for t in "${TARGETS[@]}"; do
    if printf '%s\n' "${avail[@]}" | grep -qx "$t"; then built+=("$t"); else echo "   skipping $t (not defined)"; fi
  done
  [ ${#built[@]} -gt 0 ] || die "none of the targets is defined (is CUDA on? see build-gpu-configure.log)"
  echo "== build ${built[*]}"
  if ! cmake --build "$BUILD" -j2 --target "${built[@]}"; then
    for t in "${built[@]}"; do  # which ones fail; --keep-going bundles the others
      if cmake --build "$BUILD" -j2 --target "$t" >/dev/null 2>&1; then good+=("$t"); else failed+=("$t"); fi
    done
    echo "gpu-check: these targets do not build: ${failed[*]}" >&2
    [ "${1:-}" = --keep-going ] || die "build failed (rerun with --keep-going to bundle the others)"
    built=("${good[@]}")
  fi

  echo "== assemble $STAGE/ -> $BUNDLE/payload.tar.xz"
  rm -rf "$STAGE" "$BUNDLE" && mkdir -p "$STAGE/bin" "$STAGE/fixtures" "$BUNDLE"
  for t in "${built[@]}"; do
    f=$(find "$BUILD" -maxdepth 3 -type f -name "$t" -perm -u+x | head -1)
    [ -n "$f" ] || die "$t built but not found under $BUILD"
    ! ldd "$f" | grep -Eq 'lib(grpc|gpr|protobuf)' || die "$t links gRPC/protobuf: the device has none"
    strip -o "$STAGE/bin/$t" "$f" || die "strip $t"
  done
  scripts/collect-runtime-libs.sh "$STAGE" "$STAGE"/bin/* || die "collect-runtime-libs failed"
  # The device has its own CUDA libraries; its gcc 13 runtime is newer than ours
  # (gcc 12), and ours on LD_LIBRARY_PATH would shadow it for PyTorch.
  rm -f "$STAGE"/lib/lib{cudart,cublas,cublasLt,nccl,nvrtc,nvJitLink,stdc++,gcc_s}.so*
  cp -r --no-preserve=mode ../shared/fixtures/models "$STAGE/fixtures/" || die "no ../shared/fixtures/models"
  tar -C "$STAGE" -cf - bin lib fixtures | xz -9 -T1 >"$BUNDLE/payload.tar.xz" || die "tar.xz failed"
  make_random_models "$STAGE/models" >/dev/null || die "make_random_llama_1b.py failed (needs numpy)"
  (cd "$STAGE/models" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$BUNDLE/models.sha256"
  split_model
  write_manifest "${built[*]}" "${failed[*]:-none}"
  check_budget
}

# The default model, xz-compressed, in two parts: one per call.
split_model() {
  local sha part0
  rm -rf "$PART_A" "$PART_B"
  [ -f "$MODEL" ] || scripts/fetch-model.sh || { echo "gpu-check: warning: no $MODEL; the device runs without it" >&2; return; }
  sha=$(sha256sum "$MODEL" | cut -d' ' -f1)
  if [ "$(cat "$BUILD/model.xz.sha256" 2>/dev/null)" != "$sha" ]; then  # compress once per model (30 s)
    xz -6 -T2 -c "$MODEL" >"$BUILD/model.xz" || die "xz $MODEL"
    echo "$sha" >"$BUILD/model.xz.sha256"
  fi
  # Both calls get the same room to spare (files that others add to the tree meanwhile).
  local room=$((LIMIT - $(tree_bytes)))
  part0=$(((room - (2 * room - $(bytes_of "$BUNDLE") - $(stat -c %s "$BUILD/model.xz")) / 2) / MIB * MIB))
  mkdir -p "$PART_A" "$PART_B"
  head -c "$part0" "$BUILD/model.xz" >"$PART_A/part0"
  tail -c +$((part0 + 1)) "$BUILD/model.xz" >"$PART_B/part1"
  echo "$sha" >"$PART_B/SHA256"  # of the uncompressed model
  cmp -s <(cat "$PART_A/part0" "$PART_B/part1") "$BUILD/model.xz" || die "model split does not add up"
}

write_manifest() {
  local glibc
  glibc=$(objdump -T "$STAGE"/bin/* "$STAGE"/lib/* 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
  {
    echo "kvserve GPU bundle, made $(date -u +%FT%TZ) by scripts/gpu-check.sh build"
    echo "commit: $(git rev-parse HEAD) (+$(git status --porcelain | wc -l) changed/untracked paths)"
    echo "cmake: ${CMAKE_FLAGS[*]}"
    echo "nvcc: $(nvcc --version | tail -1); host: $(ldd --version | head -1); needs up to $glibc"
    echo "targets built: $1"
    echo "targets that failed to build (left out): $2"
    echo "random models (made by 'run', checked against models.sha256):"
    printf '  %s\n' "${RANDOM_MODELS[@]}"
    echo "left out of lib/ (the device has them): CUDA, NCCL, libstdc++, libgcc_s, libc"
    echo "payload.tar.xz (bytes before compression):"
    (cd "$STAGE" && find bin lib fixtures -type f -printf '  %s %p\n' | sort -k2)
  } >"$BUNDLE/MANIFEST"
}

check_budget() {
  local tree a b bundle call1 call2 fits=1
  tree=$(tree_bytes) a=$(bytes_of "$PART_A") b=$(bytes_of "$PART_B") bundle=$(bytes_of "$BUNDLE")
  call1=$((tree + a)) call2=$((tree + bundle + b))
  echo "== sizes (uncompressed: bin $(mib "$(bytes_of "$STAGE/bin")"), lib $(mib "$(bytes_of "$STAGE/lib")"),"\
    "fixtures $(mib "$(bytes_of "$STAGE/fixtures")"), random models $(mib "$(bytes_of "$STAGE/models")"))"
  printf '  %-44s %s\n' "tree (tracked + untracked, every call)" "$(mib "$tree")" "$PART_A" "$(mib "$a")" \
    "$PART_B" "$(mib "$b")" "$BUNDLE" "$(mib "$bundle")" \
    "call 1: tree + $PART_A" "$(mib "$call1")" "call 2: tree + $BUNDLE + $PART_B" "$(mib "$call2")"
  ((call1 < LIMIT)) || { echo "gpu-check: call 1 is over $(mib $LIMIT)" >&2; fits=0; }
  ((call2 < LIMIT)) || { echo "gpu-check: call 2 is over $(mib $LIMIT): shrink the bundle" >&2; fits=0; }
  [ $fits = 1 ] || die "over budget"
  cat <<EOF
== device calls (each under 62 MiB; timeout_s 600 for call 2)
  call 1: carry [".gpu-model-a"]                  command: bash scripts/gpu-check.sh stash
  call 2: carry [".gpu-bundle", ".gpu-model-b"]   command: bash scripts/gpu-check.sh run
EOF
}

cmd_stash() {
  [ -f "$PART_A/part0" ] || die "no $PART_A/part0 (carry .gpu-model-a)"
  mkdir -p "$STASH" || die "mkdir $STASH"
  cp "$PART_A/part0" "$STASH/part0" || die "copy to $STASH failed"
  echo "stash: $PART_A/part0 -> $STASH/part0 ($(mib "$(stat -c %s "$STASH/part0")"))"
  echo "stash: $(nvidia-smi -L 2>/dev/null | head -1); $(ldd --version | head -1); $(df -h /tmp | tail -1)"
}

# ---- run ---------------------------------------------------------------------
# step NAME LIMIT CMD...: CMD under `timeout`, output in logs/NAME.log, a line in
# steps.tsv. The limit shrinks to what is left of the overall budget (less
# $RESERVE); a step with under 15 s left is skipped.
step() {
  local name=$1 limit=$2 left rc t0; shift 2
  left=$((DEADLINE - $(date +%s) - ${RESERVE:-0}))
  if ((left < 15)); then skip "$name" "out of time"; return 0; fi
  ((limit > left)) && limit=$left
  t0=$(date +%s)
  timeout -k 5 "$limit" "$@" >"$WORK/logs/$name.log" 2>&1; rc=$?
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" $(($(date +%s) - t0)) "$limit" >>"$WORK/steps.tsv"
  return $rc
}
skip() { printf '%s\tskipped: %s\t0\t0\n' "$1" "$2" >>"$WORK/steps.tsv"; }
note() { echo "$2" >"$WORK/$1.txt"; }

# Libraries a binary cannot find (e.g. NCCL only inside PyTorch's wheels): look for them.
find_missing_libs() {
  local so found
  for so in $(ldd "$UNPACK"/bin/* 2>/dev/null | awk '/not found/ { print $1 }' | sort -u); do
    found=$(find /usr/local/cuda*/ /usr/lib /usr/local/lib /opt \
      "$(python3 -c 'import site; print(site.getsitepackages()[0])' 2>/dev/null)" -name "$so" -print -quit 2>/dev/null)
    echo "missing $so -> ${found:-not found}" >>"$WORK/logs/libs.log"
    [ -n "$found" ] && export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:${found%/*}
  done
}

# Unpacks the payload, makes the random models, reassembles the default model.
prepare() {
  rm -rf "$UNPACK" && mkdir -p "$UNPACK"
  python3 scripts/gpu_check.py unpack "$BUNDLE/payload.tar.xz" "$UNPACK" >"$WORK/logs/unpack.log" 2>&1 ||
    echo "gpu-check: warning: no usable $BUNDLE/payload.tar.xz (carry .gpu-bundle)" >&2
  if ! LD_LIBRARY_PATH=$PY_ENV NO_PIP=1 make_random_models "$UNPACK/models" >"$WORK/logs/random_models.log" 2>&1; then
    note random_models "failed (logs/random_models.log)"
  elif (cd "$UNPACK/models" && sha256sum -c --quiet "$ROOT/$BUNDLE/models.sha256") >>"$WORK/logs/random_models.log" 2>&1; then
    note random_models "ok: $UNPACK/models, the same bytes as at build time"
  else note random_models "made in $UNPACK/models, but they differ from the build's hashes"; fi
  KVS_TEST_DEFAULT_MODEL=""
  if [ ! -f "$PART_B/part1" ]; then note model "missing: $PART_B/part1 not carried"; return; fi
  if [ ! -f "$STASH/part0" ]; then note model "missing: $STASH/part0 (call 1 'stash' not run on this machine)"; return; fi
  python3 scripts/gpu_check.py unxz "$STASH/model.gguf" "$STASH/part0" "$PART_B/part1" >"$WORK/logs/model.log" 2>&1
  if [ "$(sha256sum "$STASH/model.gguf" | cut -d' ' -f1)" = "$(cat "$PART_B/SHA256")" ]; then
    note model "ok: $STASH/model.gguf, sha256 verified"; KVS_TEST_DEFAULT_MODEL=$STASH/model.gguf
  else note model "mismatch or unreadable: sha256 of $STASH/model.gguf is not $(cat "$PART_B/SHA256")"; fi
}

compute_sanitizer() {
  local c
  for c in "$(command -v compute-sanitizer)" /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda*/bin/compute-sanitizer \
    /usr/local/cuda*/compute-sanitizer/compute-sanitizer /opt/nvidia/*/compute-sanitizer/compute-sanitizer; do
    [ -x "$c" ] && { echo "$c"; return; }
  done
}

cmd_run() {
  OUT=${OUT:-/tmp/gpu-check-out} WORK=${GPU_CHECK_WORK:-/tmp/gpu-check-work} PY_ENV=${LD_LIBRARY_PATH:-}
  START=$(date +%s) DEADLINE=$(($(date +%s) + ${GPU_CHECK_BUDGET_S:-450}))
  rm -rf "$WORK" && mkdir -p "$WORK/logs" "$WORK/junit" "$OUT" && : >"$WORK/steps.tsv"
  local have_gpu=0 t gen_pid="" sanitizer name rc
  # Queries only: never -r, -pm, -pl, -ac, -lgc, -c, -mig.
  if command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem,clocks.sm,pstate,power.limit \
    --format=csv,noheader >"$WORK/device.txt" 2>"$WORK/logs/nvidia-smi.err" && [ -s "$WORK/device.txt" ]; then
    have_gpu=1
    nvidia-smi >"$WORK/logs/nvidia-smi.log" 2>&1
  else
    command -v nvidia-smi >/dev/null || echo "not found" >"$WORK/logs/nvidia-smi.err"
    note device "no GPU (nvidia-smi: $(head -c 200 "$WORK/logs/nvidia-smi.err"))"
  fi
  # The 2.5 GB random Llama-3.2-1B for the decode benchmark, written while the tests run.
  if [ $have_gpu = 1 ] && [ ! -f /tmp/llama1b/model.safetensors ]; then
    LD_LIBRARY_PATH=$PY_ENV timeout 300 python3 scripts/make_random_llama_1b.py --out /tmp/llama1b \
      >"$WORK/logs/make_llama1b.log" 2>&1 &
    gen_pid=$!
  fi
  prepare
  export LD_LIBRARY_PATH=$UNPACK/lib${PY_ENV:+:$PY_ENV} KVS_TEST_DEFAULT_MODEL KVS_TEST_SOURCE_DIR=$ROOT
  export KVS_TEST_FIXTURES_DIR=$UNPACK/fixtures KVS_TEST_RANDOM_MODELS_DIR=$UNPACK/models
  find_missing_libs

  # RESERVE: whatever the tests do, 180 s stay for the benchmarks.
  for t in "${TEST_BINS[@]}"; do
    if [ ! -x "$UNPACK/bin/$t" ]; then skip "$t" "not in the bundle"; continue; fi
    RESERVE=$((have_gpu ? 180 : 0)) step "$t" 150 "$UNPACK/bin/$t" --gtest_output="xml:$WORK/junit/$t.xml" --gtest_color=no
    # A crash or hang hides the tests after it: run those once more, without it.
    name=$(python3 scripts/gpu_check.py hung "$WORK" "$t")
    [ -z "$name" ] || RESERVE=$((have_gpu ? 180 : 0)) step "$t-rest" 120 "$UNPACK/bin/$t" --gtest_filter="-$name" \
      --gtest_output="xml:$WORK/junit/$t-rest.xml" --gtest_color=no
  done

  # The first failure of each failing binary again under memcheck, leaving 180 s for the benchmarks.
  sanitizer=$(compute_sanitizer)
  for t in "${TEST_BINS[@]}"; do
    name=$(python3 scripts/gpu_check.py first-failed "$WORK" "$t")
    [ -n "$name" ] || continue
    echo "$name" >"$WORK/logs/sanitizer-$t.test"
    if [ -z "$sanitizer" ]; then skip "sanitizer-$t" "compute-sanitizer not found"; continue; fi
    RESERVE=$((have_gpu ? 180 : 0)) step "sanitizer-$t" 90 "$sanitizer" --tool memcheck --print-limit 30 \
      --error-exitcode 86 "$UNPACK/bin/$t" --gtest_filter="$name" --gtest_color=no
  done

  if [ $have_gpu = 0 ]; then
    for t in bench-lean bench-prefill engine-b1 engine-b64 hf-peer; do skip "$t" "no GPU"; done
  else
    run_benchmarks "$gen_pid"
  fi
  python3 scripts/gpu_check.py report "$WORK" "$OUT" "$START" "$BUNDLE/MANIFEST"
  rc=$?
  tar -czf "$OUT/logs.tar.gz" -C "$(dirname "$WORK")" "$(basename "$WORK")" 2>/dev/null
  return $rc
}

run_benchmarks() {
  local b
  export BENCH_BIN_DIR=$UNPACK/bin
  for b in lean prefill; do
    if [ -x "$UNPACK/bin/kvs_bench_${b}_attention" ]; then
      OUT_DIR=$WORK/bench_$b step "bench-$b" 150 bash "bench/gpu/run_${b}_attention_bench.sh"
    else skip "bench-$b" "kvs_bench_${b}_attention not in the bundle"; fi
  done
  [ -z "$1" ] || wait "$1" || echo "make_random_llama_1b.py failed or timed out" >>"$WORK/logs/make_llama1b.log"
  if [ ! -f /tmp/llama1b/model.safetensors ]; then
    for b in engine-b1 engine-b64 hf-peer; do skip "$b" "no /tmp/llama1b (logs/make_llama1b.log)"; done
    return
  fi
  for b in 1 64; do
    if [ -x "$UNPACK/bin/kvs_bench_gpu_engine" ]; then
      step "engine-b$b" 90 "$UNPACK/bin/kvs_bench_gpu_engine" --model /tmp/llama1b --batch "$b" --context 512 \
        --steps 64 --out "$WORK/engine_b$b.json"
    else skip "engine-b$b" "kvs_bench_gpu_engine not in the bundle"; fi
  done
  LD_LIBRARY_PATH=$PY_ENV step hf-peer 180 python3 bench/gpu/hf_decode_peer.py --model /tmp/llama1b \
    --batches 1,64 --context 512 --steps 64 --out "$WORK/hf_decode.json"
}

case "${1:-}" in
  build) shift; cmd_build "$@" ;;
  sizes) check_budget ;;
  stash) cmd_stash ;;
  run) cmd_run ;;
  *) echo "usage: $0 build [--keep-going] | sizes | stash | run" >&2; exit 2 ;;
esac
