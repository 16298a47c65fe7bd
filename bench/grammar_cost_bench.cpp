// What constrained decoding adds to a decode step (issue 23): N streams
// answer chat prompts under one JSON Schema (response_format json_schema),
// and the engine's own counters say how long the token masks took
// (EngineMetrics::grammar_mask_seconds, measured inside the step) against the
// step time. The same N streams without a grammar run beside it for the
// unconstrained step time. Prints one JSON line per stream count:
//   kvs_bench_grammar_cost --model M.gguf --streams 1,64 --decode-tokens 64 --threads 2
// "cold": the first constrained run of a freshly compiled grammar (its mask
// cache empty); "warm": the same grammar again (a server keeps compiled
// grammars: repeated schemas reuse the cache).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>

#include "engine/grammar/grammar.h"
#include "engine/grammar/grammar_matcher.h"
#include "engine/grammar/json_schema.h"
#include "engine/grammar/tokenizer_vocabulary.h"
#include "engine/loader/loaded_model.h"
#include "engine/model/llama_model.h"
#include "engine/tokenizer/tokenizer.h"
#include "scheduler/engine_core.h"

namespace {

// A typical extraction schema: nested object, array, enum, number, strings.
constexpr const char* kSchema = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string"},
    "age": {"type": "integer"},
    "city": {"type": "string"},
    "hobbies": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
    "status": {"enum": ["student", "employed", "retired"]},
    "address": {"type": "object", "properties": {"street": {"type": "string"}, "zip": {"type": "string"}},
                "required": ["street", "zip"], "additionalProperties": false}
  },
  "required": ["name", "age", "city", "hobbies", "status", "address"],
  "additionalProperties": false
})";

struct RunResult {
  kvs::EngineMetrics metrics;
  int64_t tokens = 0;
  double seconds = 0.0;
};

RunResult run(kvs::LlamaModel& model, const kvs::EngineConfig& config, const std::vector<kvs::Request>& requests) {
  RunResult result;
  kvs::EngineCore core(model, config, [&](uint64_t, const kvs::TokenEvent& event) {
    if (event.finish_reason == kvs::FinishReason::kError) throw std::runtime_error(event.error);
    if (event.token_id >= 0) ++result.tokens;
  });
  for (size_t i = 0; i < requests.size(); ++i) core.add(i + 1, requests[i]);
  const auto start = std::chrono::steady_clock::now();
  while (core.step()) {
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.metrics = core.metrics();
  return result;
}

nlohmann::json describe(const RunResult& r) {
  const auto steps = static_cast<double>(r.metrics.num_steps);
  return {{"steps", r.metrics.num_steps},
          {"tokens", r.tokens},
          {"step_ms", 1e3 * r.metrics.total_step_seconds / steps},
          {"mask_ms_per_step", 1e3 * r.metrics.grammar_mask_seconds / steps},
          {"masks", r.metrics.grammar_num_masks},
          {"mask_us_per_row", r.metrics.grammar_num_masks > 0
                                  ? 1e6 * r.metrics.grammar_mask_seconds / static_cast<double>(r.metrics.grammar_num_masks)
                                  : 0.0}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvserve constrained-decoding cost benchmark (CPU)"};
  std::string model_path, schema_file;
  std::vector<int> streams{1, 64};
  int64_t decode_tokens = 64;
  int threads = 2;
  app.add_option("--model", model_path)->required();
  app.add_option("--streams", streams)->delimiter(',');
  app.add_option("--decode-tokens", decode_tokens, "max_tokens of every request");
  app.add_option("--threads", threads);
  app.add_option("--schema", schema_file, "A JSON Schema file instead of the built-in one");
  CLI11_PARSE(app, argc, argv);

  std::shared_ptr<const kvs::LoadedModel> loaded = kvs::load_model(model_path);
  const std::unique_ptr<kvs::Tokenizer> tokenizer = kvs::Tokenizer::create(loaded->tokenizer);
  kvs::ModelOptions options;
  options.num_threads = threads;
  kvs::LlamaModel model(loaded, options);
  const auto vocabulary = kvs::grammar::token_vocabulary_of(*tokenizer);
  std::string schema = kSchema;
  if (!schema_file.empty()) {
    std::ifstream in(schema_file);
    schema.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string gbnf = kvs::grammar::json_schema_to_gbnf(schema);

  kvs::EngineConfig config;
  config.cache.memory_bytes = int64_t{512} << 20;
  config.scheduler.max_num_batched_tokens = 4096;
  config.scheduler.max_num_seqs = 256;
  for (int n : streams) {
    const auto compiled = std::make_shared<kvs::grammar::CompiledGrammar>(kvs::grammar::parse_gbnf(gbnf), vocabulary);
    std::vector<kvs::Request> plain, constrained;
    for (int i = 0; i < n; ++i) {
      kvs::Request r;
      const std::string prompt = "<|im_start|>user\nDescribe person number " + std::to_string(i + 1) +
                                 " of a small town as JSON with name, age, city, hobbies, status and address."
                                 "<|im_end|>\n<|im_start|>assistant\n";
      r.prompt_token_ids = tokenizer->encode(prompt, false, true);
      r.max_tokens = decode_tokens;
      r.stop_token_ids = loaded->tokenizer.eog_ids;
      r.sampling.temperature = 1.0f;  // distinct outputs per stream
      r.sampling.has_seed = true;
      r.sampling.seed = static_cast<uint64_t>(i + 1);
      plain.push_back(r);
      r.grammar = compiled;
      constrained.push_back(std::move(r));
    }
    const RunResult base = run(model, config, plain);
    const RunResult cold = run(model, config, constrained);
    const RunResult warm = run(model, config, constrained);
    const RunResult base2 = run(model, config, plain);
    const double base_step = std::min(base.metrics.total_step_seconds / static_cast<double>(base.metrics.num_steps),
                                      base2.metrics.total_step_seconds / static_cast<double>(base2.metrics.num_steps));
    const double warm_mask = warm.metrics.grammar_mask_seconds / static_cast<double>(warm.metrics.num_steps);
    nlohmann::json out = {{"engine", "kvserve"},
                          {"threads", threads},
                          {"streams", n},
                          {"decode_tokens", decode_tokens},
                          {"unconstrained_step_ms", 1e3 * base_step},
                          {"cold", describe(cold)},
                          {"warm", describe(warm)},
                          {"warm_mask_share_of_unconstrained_step", warm_mask / base_step}};
    std::cout << out.dump() << std::endl;
  }
  return 0;
}
