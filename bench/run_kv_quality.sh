#!/usr/bin/env bash
# KV compression quality and cost (issue 8): every policy x budget plus `none` on the
# default model, one section per process (so a finished section survives a later one
# running out of time), then one JSON, a markdown table and an SVG plot:
#   bench/kv_quality.json, bench/kv_quality.md, bench/kv_quality.svg
# Needs the build (target kvs_bench_kv_quality). Sizes are environment variables; the
# defaults are the sizes recorded in bench/RESULTS.md (match and cost ran with THREADS=1,
# ppl and passkey with THREADS=2; about 2 hours in all on the shared 2-core machine).
# More passkey trials: PASSKEY_LENGTHS=1024,2048,3072 PASSKEY_TRIALS=3.
# KV cache dtypes: KV_DTYPES=f16,q8_0,q4_0 (each with none and every policy; the first
# dtype's none is the token match's reference); dtype rows only: POLICIES=none.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-2}
model=${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
fixtures=${FIXTURES:-../shared/fixtures/tokenizers/qwen3/expected.jsonl}
sections=${SECTIONS:-match cost ppl passkey}
out=${OUT:-bench/kv_quality}
common=(--model "$model" --fixtures "$fixtures" --threads "$threads"
  --kv-dtypes "${KV_DTYPES:-f16}" --policies "${POLICIES:-streaming,h2o,snapkv,keyformer,residual}"
  --max-num-batched-tokens "${BATCHED:-512}"
  --match-prompts "${MATCH_PROMPTS:-20}" --match-prompt-tokens "${MATCH_PROMPT_TOKENS:-64}"
  --match-tokens "${MATCH_TOKENS:-128}"
  --ppl-prompt-tokens "${PPL_PROMPT:-3968}" --ppl-forced-tokens "${PPL_FORCED:-128}"
  --ppl-budgets "${PPL_BUDGETS:-0.1,0.25,0.5}"
  --passkey-lengths "${PASSKEY_LENGTHS:-2048}" --passkey-trials "${PASSKEY_TRIALS:-1}"
  --cost-prompt-tokens "${COST_PROMPT:-1024}" --cost-decode-tokens "${COST_DECODE:-64}")
parts=()
start=$(date +%s)
for s in $sections; do
  echo "== section $s ($(($(date +%s) - start)) s)" >&2
  build/kvs_bench_kv_quality "${common[@]}" --sections "$s" --out "$out.$s.json"
  parts+=("$out.$s.json")
done
echo "== total $(($(date +%s) - start)) s" >&2
python3 bench/kv_quality_report.py --out "$out" --wall "$(($(date +%s) - start))" \
  --command "THREADS=$threads KV_DTYPES=${KV_DTYPES:-f16} POLICIES=${POLICIES:-streaming,h2o,snapkv,keyformer,residual} SECTIONS=\"$sections\" bench/run_kv_quality.sh" "${parts[@]}"
