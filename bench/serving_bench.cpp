// Serving throughput of the engine loop: N concurrent greedy streams, each a
// pseudo-random prompt of P tokens then D generated tokens, all submitted at
// once through EngineClient. Prints one JSON line per stream count:
// aggregate decode tok/s = tokens generated after each stream's first token,
// over the wall time from the first stream's first token to the last token.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <random>
#include <thread>

#include "engine/loader/loaded_model.h"
#include "engine/model/kv_storage.h"
#include "kernels/cpu/cpu_isa.h"
#include "scheduler/engine_client.h"

using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  CLI::App app{"kvserve serving benchmark"};
  std::string model_path;
  std::vector<int> streams{1, 4, 16, 64};
  int64_t prompt_tokens = 32, decode_tokens = 64, batched_tokens = 512;
  int threads = 0;
  app.add_option("--model", model_path)->required();
  app.add_option("--streams", streams, "Concurrent stream counts");
  app.add_option("--prompt-tokens", prompt_tokens);
  app.add_option("--decode-tokens", decode_tokens);
  app.add_option("--max-num-batched-tokens", batched_tokens);
  app.add_option("--threads", threads);
  int64_t speculative_ngram = 0;
  app.add_option("--speculative-ngram", speculative_ngram, "Prompt-lookup draft tokens per step (0 = off)");
  CLI11_PARSE(app, argc, argv);

  kvs::ModelOptions options;
  options.num_threads = threads;
  kvs::LlamaModel model(kvs::load_model(model_path), options);
  for (int n : streams) {
    kvs::EngineConfig config;
    const int64_t blocks = n * ((prompt_tokens + decode_tokens + 15) / 16) + 16;
    config.cache.memory_bytes = blocks * kvs::KvStorage::bytes_per_block(model.config(), 16, config.cache.dtype);
    config.scheduler.max_num_batched_tokens = batched_tokens;
    config.scheduler.max_num_seqs = std::max(n, 1);
    config.scheduler.speculative_ngram = speculative_ngram;
    kvs::EngineClient engine(model, config);
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> token(100, static_cast<int32_t>(model.config().vocab_size) - 1);
    std::vector<kvs::RequestHandle> handles;
    const auto start = Clock::now();
    for (int i = 0; i < n; ++i) {
      kvs::Request r;
      for (int64_t t = 0; t < prompt_tokens; ++t) r.prompt_token_ids.push_back(token(rng));
      r.max_tokens = decode_tokens;  // no stop tokens: every stream generates exactly D tokens
      handles.push_back(engine.submit(r));
    }
    Clock::time_point first_token = Clock::time_point::max(), last_token = start;
    int64_t generated = 0, decode_generated = 0;
    for (kvs::RequestHandle& h : handles) {
      kvs::TokenEvent event;
      bool first = true;
      while (h.next(event)) {
        if (event.token_id < 0) continue;
        const auto now = Clock::now();
        if (first) first_token = std::min(first_token, now);
        else ++decode_generated;
        first = false;
        last_token = std::max(last_token, now);
        ++generated;
      }
    }
    const double total_s = std::chrono::duration<double>(last_token - start).count();
    const double decode_s = std::chrono::duration<double>(last_token - first_token).count();
    const kvs::EngineMetrics m = engine.metrics();
    std::cout << nlohmann::json{{"engine", "kvserve"},
                                {"cpu_isa", kvs::kernels::cpu_isa_name()},
                                {"streams", n},
                                {"prompt_tokens", prompt_tokens},
                                {"decode_tokens", decode_tokens},
                                {"generated", generated},
                                {"wall_seconds", total_s},
                                {"aggregate_tokens_per_second", generated / total_s},
                                {"aggregate_decode_tokens_per_second", decode_generated / decode_s},
                                {"steps", m.num_steps},
                                {"mean_step_ms", 1e3 * m.total_step_seconds / std::max<int64_t>(m.num_steps, 1)}}
                     .dump()
              << std::endl;
  }
  return 0;
}
