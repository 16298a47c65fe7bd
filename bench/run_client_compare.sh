#!/usr/bin/env bash
# kvserve vs llama.cpp's OpenAI server (llama-cpp-python, `python -m
# llama_cpp.server`) under the same kvserve-bench workload: same GGUF, same
# thread count, same machine, one server at a time. Writes a side-by-side
# markdown table (bench/client_compare.md) and an SVG plot
# (bench/client_compare.svg); the per-request JSON results stay in
# $BUILD/client_compare/.
# Needs the build (targets kvserve, kvserve-bench) and .venv with
# scripts/requirements-test.txt (the llama_cpp.server packages).
# Knobs: BUILD, MODEL, THREADS (1), CONCURRENCY ("1 4"), NUM_REQUESTS (16),
# INPUT_LEN (128), OUTPUT_LEN (64).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
model=${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
threads=${THREADS:-1}
concurrency=${CONCURRENCY:-1 4}
num_requests=${NUM_REQUESTS:-16}
input_len=${INPUT_LEN:-128}
output_len=${OUTPUT_LEN:-64}
work="$build/client_compare"
mkdir -p "$work"
export OMP_WAIT_POLICY=passive

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_ready() {  # url pid
  for _ in $(seq 1200); do
    curl -sf "$1" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { echo "server exited" >&2; return 1; }
    sleep 0.1
  done
  echo "server at $1 did not come up" >&2
  return 1
}
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  server_pid=""
}
trap stop_server EXIT

# NOTE: llama_cpp.server serves one request at a time and by default aborts
# the running one when another arrives (--interrupt_requests); it is turned
# off so concurrent requests queue instead of failing.
# Same workload for both: synthetic prompts (a different seed per concurrency
# level, so no run finds the previous run's prompts in a prefix cache), fixed
# output length. llama.cpp's
# server has no ignore_eos, so EOS (<|endoftext|> 0, <|im_end|> 2 in the
# default model) is banned through logit_bias there instead.
run_bench() {  # name url extra-body-json
  for c in $concurrency; do
    "$build/kvserve-bench" --url "$2" --endpoint completions --concurrency "$c" --num-requests "$num_requests" \
      --warmup-requests 2 --input-len "$input_len" --output-len "$output_len" --ignore-eos \
      --extra-body "$3" --seed "$((100 * c))" --timeout 600 --quiet --result-json "$work/$1_c$c.json" | tee "$work/$1_c$c.txt"
  done
}

port=$(free_port)
"$build/kvserve" serve --model "$model" --host 127.0.0.1 --port "$port" --grpc-port 0 --threads "$threads" \
  >"$work/kvserve.log" 2>&1 &
server_pid=$!
wait_ready "http://127.0.0.1:$port/health" "$server_pid"
run_bench kvserve "http://127.0.0.1:$port" '{}'
stop_server

port=$(free_port)
.venv/bin/python -m llama_cpp.server --model "$model" --host 127.0.0.1 --port "$port" --n_threads "$threads" \
  --n_threads_batch "$threads" --n_ctx 2048 --interrupt_requests false >"$work/llamacpp.log" 2>&1 &
server_pid=$!
wait_ready "http://127.0.0.1:$port/v1/models" "$server_pid"
run_bench llamacpp "http://127.0.0.1:$port" '{"logit_bias": {"0": -100, "2": -100}}'
stop_server

plot_args=()
for name in kvserve llamacpp; do
  for c in $concurrency; do plot_args+=(--plot-from "$work/${name}_c$c.json=$name"); done
done
"$build/kvserve-bench" "${plot_args[@]}" --plot bench/client_compare.svg --quiet

python3 - "$work" "$concurrency" "$threads" "$input_len" "$output_len" "$num_requests" >bench/client_compare.md <<'PY'
import json, sys
work, concurrency, threads, input_len, output_len, num = sys.argv[1:]
print(f"Workload: synthetic completions, {input_len} prompt tokens, {output_len} output tokens (EOS ignored), "
      f"{num} requests per row after 2 warm-up, closed loop; {threads} thread(s) per server. Latencies in ms.\n")
print("| server | concurrency | ok/failed | req/s | output tok/s | TTFT mean | TTFT p99 | TPOT mean | ITL p99 | E2E mean | E2E p99 |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for c in concurrency.split():
    for name, label in (("kvserve", "kvserve"), ("llamacpp", "llama.cpp (llama-cpp-python server)")):
        s = json.load(open(f"{work}/{name}_c{c}.json"))["summary"]
        print(f"| {label} | {c} | {s['completed']}/{s['failed']} | {s['request_throughput']:.2f} | "
              f"{s['output_throughput']:.1f} | {s['ttft_ms']['mean']:.1f} | {s['ttft_ms']['p99']:.1f} | "
              f"{s['tpot_ms']['mean']:.2f} | {s['itl_ms']['p99']:.2f} | {s['e2e_ms']['mean']:.1f} | {s['e2e_ms']['p99']:.1f} |")
PY
cat bench/client_compare.md
echo "wrote bench/client_compare.md and bench/client_compare.svg"
