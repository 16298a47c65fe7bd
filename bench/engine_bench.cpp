// Engine throughput on the CPU: prefill tokens/s for a prompt of N tokens and
// single-stream decode tokens/s, best of R runs. Prints one JSON line, with
// the bytes one decode step reads: every weight as stored in the file (the
// token-embedding table only when it is also the output head; otherwise one
// row, left out) plus the f16 K/V of the mean context of the decode phase,
// and decode tok/s times those bytes (GB/s, 1e9), to set against
// kvs_bench_stream's read bandwidth.
//   kvs_bench_engine --model M.gguf --prompt-tokens 512 --decode-tokens 128 --threads 2 --runs 3
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>

#include "engine/loader/loaded_model.h"
#include "engine/model/generate.h"
#include "engine/model/kv_storage.h"
#include "engine/model/llama_model.h"
#include "kernels/cpu/cpu_isa.h"

int main(int argc, char** argv) {
  CLI::App app{"kvserve engine benchmark (CPU)"};
  std::string model_path;
  int64_t prompt_tokens = 512, decode_tokens = 128;
  int threads = 2, runs = 3;
  app.add_option("--model", model_path)->required();
  app.add_option("--prompt-tokens", prompt_tokens);
  app.add_option("--decode-tokens", decode_tokens);
  app.add_option("--threads", threads);
  app.add_option("--runs", runs);
  CLI11_PARSE(app, argc, argv);

  kvs::ModelOptions options;
  options.num_threads = threads;
  kvs::LlamaModel model(kvs::load_model(model_path), options);
  // A fixed pseudo-random prompt of ordinary vocabulary ids (same for every run).
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> dist(100, static_cast<int32_t>(model.config().vocab_size) - 1);
  std::vector<int32_t> prompt(static_cast<size_t>(prompt_tokens));
  for (int32_t& id : prompt) id = dist(rng);

  double best_prefill = 0.0, best_decode = 0.0;
  for (int r = 0; r < runs; ++r) {
    kvs::GenerateOptions generate_options;
    generate_options.max_tokens = decode_tokens + 1;  // the first token comes from the prefill
    const kvs::GenerateResult result = kvs::generate(model, prompt, generate_options);
    best_prefill = std::max(best_prefill, static_cast<double>(prompt_tokens) / result.prefill_seconds);
    best_decode = std::max(best_decode, static_cast<double>(result.tokens.size() - 1) / result.decode_seconds);
  }
  int64_t weight_bytes = 0;
  for (const auto& [name, tensor] : model.loaded().tensors) {
    if (name == "model.embed_tokens.weight" && !model.config().tie_word_embeddings) continue;
    weight_bytes += static_cast<int64_t>(tensor.num_bytes);
  }
  const int64_t kv_bytes_per_token =
      kvs::KvStorage::bytes_per_block(model.config(), 1, kvs::kernels::KvDType::F16, 1);
  const double mean_context = static_cast<double>(prompt_tokens) + static_cast<double>(decode_tokens) / 2.0;
  const double bytes_per_token = static_cast<double>(weight_bytes) + mean_context * static_cast<double>(kv_bytes_per_token);
  nlohmann::json out = {{"engine", "kvserve"}, {"cpu_isa", kvs::kernels::cpu_isa_name()},
                        {"threads", threads}, {"prompt_tokens", prompt_tokens},
                        {"decode_tokens", decode_tokens}, {"prefill_tokens_per_second", best_prefill},
                        {"decode_tokens_per_second", best_decode},
                        {"decode_bytes_per_token", bytes_per_token},
                        {"decode_gb_per_second", bytes_per_token * best_decode / 1e9}};
  std::cout << out.dump() << std::endl;
  return 0;
}
