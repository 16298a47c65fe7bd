// Sliding-window KV memory on a real model (issue 19): one request of
// --prompt-tokens random ids and --decode-tokens greedy outputs through the
// engine loop, run with window layers freeing their blocks and with one table
// for all layers. Prints one JSON line: per run, the most blocks in use (all
// groups, and by group kind), layers per block, that peak in layer-blocks
// as a fraction of a full per-layer cache of the whole sequence, the blocks
// the windows freed and the seconds; and whether the two runs' tokens match.
//   kvs_bench_window_kv --model models/gemma-3-270m-q4_k_m.gguf --prompt-tokens 8176 --decode-tokens 16
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>

#include "engine/loader/loaded_model.h"
#include "engine/model/kv_storage.h"
#include "engine/model/llama_model.h"
#include "scheduler/engine_core.h"

namespace {

struct Result {
  std::vector<int32_t> tokens;
  nlohmann::json json;
};

Result run(kvs::LlamaModel& model, const kvs::Request& request, bool free_window_blocks, int64_t chunk) {
  const kvs::ModelConfig& c = model.config();
  const int64_t block_size = 16;
  const int64_t entries = static_cast<int64_t>(request.prompt_token_ids.size()) + request.max_tokens - 1;
  const int64_t full_blocks = (entries + block_size - 1) / block_size;  // a full per-layer cache of the sequence
  kvs::EngineConfig config;
  config.cache.block_size = block_size;
  config.cache.memory_bytes = (full_blocks + 8) * kvs::KvStorage::bytes_per_block(c, block_size, config.cache.dtype);
  config.cache.free_window_blocks = free_window_blocks;
  config.scheduler.max_num_batched_tokens = chunk;
  Result result;
  kvs::EngineCore core(model, config, [&](uint64_t, const kvs::TokenEvent& event) {
    if (event.token_id >= 0) result.tokens.push_back(event.token_id);
  });
  const auto start = std::chrono::steady_clock::now();
  core.add(1, request);
  int64_t peak = 0, peak_full = 0, peak_window = 0, last = 0;
  while (core.step()) {
    const kvs::EngineMetrics m = core.metrics();
    if (core.has_unfinished()) last = m.kv_blocks_used;
    peak = std::max(peak, m.kv_blocks_used);
    peak_full = std::max(peak_full, m.kv_blocks_used_full);
    peak_window = std::max(peak_window, m.kv_blocks_used_window);
  }
  const kvs::EngineMetrics m = core.metrics();
  const double full_layer_blocks = static_cast<double>(full_blocks * c.num_layers);
  result.json = {{"free_window_blocks", free_window_blocks},
                 {"layers_per_block", m.kv_layers_per_block},
                 {"pool_blocks", m.kv_blocks_total},
                 {"peak_blocks", peak},
                 {"peak_full_group_blocks", peak_full},
                 {"peak_window_group_blocks", peak_window},
                 {"blocks_before_last_step", last},
                 {"full_cache_layer_blocks", full_blocks * c.num_layers},
                 {"peak_fraction_of_full", static_cast<double>(peak * m.kv_layers_per_block) / full_layer_blocks},
                 {"window_blocks_freed", m.kv_window_released_blocks},
                 {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}};
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvserve sliding-window KV memory benchmark (CPU)"};
  std::string model_path;
  int64_t prompt_tokens = 8176, decode_tokens = 16, chunk = 512;
  int threads = 2;
  app.add_option("--model", model_path)->required();
  app.add_option("--prompt-tokens", prompt_tokens);
  app.add_option("--decode-tokens", decode_tokens);
  app.add_option("--chunk", chunk, "max_num_batched_tokens");
  app.add_option("--threads", threads);
  CLI11_PARSE(app, argc, argv);

  kvs::ModelOptions options;
  options.num_threads = threads;
  kvs::LlamaModel model(kvs::load_model(model_path), options);
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> dist(100, static_cast<int32_t>(model.config().vocab_size) - 1);
  kvs::Request request;
  request.prompt_token_ids.resize(static_cast<size_t>(prompt_tokens));
  for (int32_t& id : request.prompt_token_ids) id = dist(rng);
  if (model.config().bos_token_id >= 0) request.prompt_token_ids[0] = static_cast<int32_t>(model.config().bos_token_id);
  request.max_tokens = decode_tokens;
  const Result windows = run(model, request, true, chunk);
  const Result one_table = run(model, request, false, chunk);
  nlohmann::json out = {{"model", model_path},
                        {"prompt_tokens", prompt_tokens},
                        {"decode_tokens", decode_tokens},
                        {"chunk", chunk},
                        {"threads", threads},
                        {"window_groups", windows.json},
                        {"one_table", one_table.json},
                        {"tokens_identical", windows.tokens == one_table.tokens},
                        {"num_tokens", windows.tokens.size()}};
  std::cout << out.dump() << std::endl;
  return windows.tokens == one_table.tokens ? 0 : 1;
}
