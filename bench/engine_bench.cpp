// Engine throughput on the CPU: prefill tokens/s for a prompt of N tokens and
// single-stream decode tokens/s, best of R runs. Prints one JSON line.
//   kvs_bench_engine --model M.gguf --prompt-tokens 512 --decode-tokens 128 --threads 2 --runs 3
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>

#include "engine/loader/loaded_model.h"
#include "engine/model/generate.h"
#include "engine/model/llama_model.h"

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
  nlohmann::json out = {{"engine", "kvserve"}, {"threads", threads}, {"prompt_tokens", prompt_tokens},
                        {"decode_tokens", decode_tokens}, {"prefill_tokens_per_second", best_prefill},
                        {"decode_tokens_per_second", best_decode}};
  std::cout << out.dump() << std::endl;
  return 0;
}
