// Speculative decoding by prompt lookup (--speculative-ngram) on a copy task:
// a chat prompt asks the model to repeat a document (a code snippet) exactly,
// so most of the greedy output copies the prompt. Decodes with and without
// speculation on the same EngineCore settings and prints one JSON line: decode
// tokens/s of each (best of R runs, the prefill step excluded), the speedup,
// the draft acceptance, and whether the greedy tokens are identical.
//   kvs_bench_spec_decode --model M.gguf --speculative-ngram 4 --decode-tokens 256 --threads 2 --runs 2
//   (--kv-cache-dtype f32: one attention order for every step shape; f16: the server's default)
// --dump-prompt FILE writes the prompt's token ids (JSON) for bench/llamacpp_spec_bench.py.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>

#include "engine/loader/loaded_model.h"
#include "engine/model/kv_storage.h"
#include "engine/model/llama_model.h"
#include "engine/tokenizer/tokenizer.h"
#include "scheduler/engine_core.h"

namespace {

using Clock = std::chrono::steady_clock;

// The document to copy: ordinary code, long enough for a few hundred tokens.
constexpr const char* kDocument = R"(def merge_intervals(intervals):
    """Merge overlapping intervals and return them sorted by start."""
    if not intervals:
        return []
    intervals = sorted(intervals, key=lambda pair: pair[0])
    merged = [list(intervals[0])]
    for start, end in intervals[1:]:
        last = merged[-1]
        if start <= last[1]:
            last[1] = max(last[1], end)
        else:
            merged.append([start, end])
    return [tuple(pair) for pair in merged]


def binary_search(values, target):
    """Return the index of target in the sorted list values, or -1."""
    low, high = 0, len(values) - 1
    while low <= high:
        middle = (low + high) // 2
        if values[middle] == target:
            return middle
        if values[middle] < target:
            low = middle + 1
        else:
            high = middle - 1
    return -1


class LruCache:
    def __init__(self, capacity):
        self.capacity = capacity
        self.entries = {}
        self.order = []

    def get(self, key):
        if key not in self.entries:
            return None
        self.order.remove(key)
        self.order.append(key)
        return self.entries[key]

    def put(self, key, value):
        if key in self.entries:
            self.order.remove(key)
        elif len(self.entries) >= self.capacity:
            oldest = self.order.pop(0)
            del self.entries[oldest]
        self.entries[key] = value
        self.order.append(key)
)";

std::string chat_prompt() {
  return std::string("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n") +
         "<|im_start|>user\nRepeat the following code exactly, without any changes or comments:\n\n" + kDocument +
         "<|im_end|>\n<|im_start|>assistant\n";
}

struct Run {
  std::vector<int32_t> tokens;
  double decode_seconds = 0.0;  // every step after the first (the prefill)
  kvs::EngineMetrics metrics;
};

Run run_once(kvs::LlamaModel& model, const kvs::EngineConfig& config, const kvs::Request& request) {
  Run run;
  kvs::EngineCore core(model, config, [&](uint64_t, const kvs::TokenEvent& event) {
    if (event.token_id >= 0) run.tokens.push_back(event.token_id);
  });
  core.add(1, request);
  core.step();  // prefill + the first token
  const auto start = Clock::now();
  while (core.step()) {
  }
  run.decode_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  run.metrics = core.metrics();
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvserve speculative decoding benchmark (CPU, copy task)"};
  std::string model_path, kv_dtype = "f16", dump_prompt;
  int64_t decode_tokens = 256, speculative = 4;
  int threads = 2, runs = 2;
  app.add_option("--model", model_path)->required();
  app.add_option("--decode-tokens", decode_tokens);
  app.add_option("--speculative-ngram", speculative);
  app.add_option("--kv-cache-dtype", kv_dtype)->check(CLI::IsMember({"f16", "f32"}));
  app.add_option("--threads", threads);
  app.add_option("--runs", runs);
  app.add_option("--dump-prompt", dump_prompt);
  CLI11_PARSE(app, argc, argv);

  std::shared_ptr<const kvs::LoadedModel> loaded = kvs::load_model(model_path);
  const std::unique_ptr<kvs::Tokenizer> tokenizer = kvs::Tokenizer::create(loaded->tokenizer);
  kvs::ModelOptions options;
  options.num_threads = threads;
  kvs::LlamaModel model(loaded, options);

  kvs::Request request;
  request.prompt_token_ids = tokenizer->encode(chat_prompt(), false, true);
  request.max_tokens = decode_tokens + 1;  // the first comes from the prefill
  request.stop_token_ids = loaded->tokenizer.eog_ids;
  if (!dump_prompt.empty()) std::ofstream(dump_prompt) << nlohmann::json(request.prompt_token_ids).dump() << "\n";

  kvs::EngineConfig config;
  config.cache.dtype = kv_dtype == "f32" ? kvs::kernels::KvDType::F32 : kvs::kernels::KvDType::F16;
  config.cache.memory_bytes = int64_t{256} << 20;
  config.scheduler.max_num_batched_tokens = 2048;
  Run plain, spec;
  double best_plain = 0.0, best_spec = 0.0;
  for (int r = 0; r < runs; ++r) {  // interleaved, so drift in machine load hits both alike
    config.scheduler.speculative_ngram = 0;
    plain = run_once(model, config, request);
    config.scheduler.speculative_ngram = speculative;
    spec = run_once(model, config, request);
    best_plain = std::max(best_plain, static_cast<double>(plain.tokens.size() - 1) / plain.decode_seconds);
    best_spec = std::max(best_spec, static_cast<double>(spec.tokens.size() - 1) / spec.decode_seconds);
  }
  size_t first_difference = 0;
  while (first_difference < std::min(plain.tokens.size(), spec.tokens.size()) &&
         plain.tokens[first_difference] == spec.tokens[first_difference]) {
    ++first_difference;
  }
  const kvs::EngineMetrics& m = spec.metrics;
  nlohmann::json out = {
      {"engine", "kvserve"},
      {"threads", threads},
      {"kv_cache_dtype", kv_dtype},
      {"speculative_ngram", speculative},
      {"prompt_tokens", request.prompt_token_ids.size()},
      {"decoded_tokens_plain", plain.tokens.size()},
      {"decoded_tokens_spec", spec.tokens.size()},
      {"decode_tokens_per_second_plain", best_plain},
      {"decode_tokens_per_second_spec", best_spec},
      {"speedup", best_spec / best_plain},
      {"num_drafts", m.spec_num_drafts},
      {"num_draft_tokens", m.spec_num_draft_tokens},
      {"num_accepted_tokens", m.spec_num_accepted_tokens},
      {"acceptance_rate", m.spec_num_draft_tokens > 0 ? static_cast<double>(m.spec_num_accepted_tokens) /
                                                             static_cast<double>(m.spec_num_draft_tokens)
                                                       : 0.0},
      {"steps_plain", plain.metrics.num_steps},
      {"steps_spec", m.num_steps},
      {"greedy_identical", plain.tokens == spec.tokens},
      {"first_difference", first_difference == plain.tokens.size() && plain.tokens.size() == spec.tokens.size()
                               ? -1
                               : static_cast<int64_t>(first_difference)},
      {"output_copies_document", tokenizer->decode(plain.tokens, true).find("class LruCache") != std::string::npos},
  };
  std::cout << out.dump() << std::endl;
  return 0;
}
