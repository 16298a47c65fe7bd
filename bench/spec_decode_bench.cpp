// Speculative decoding by prompt lookup (--speculative-ngram) on a copy task:
// a chat prompt asks the model to repeat a document exactly,
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

// The document to copy: three paragraphs of prose (~300 tokens). SmolLM2-135M-
// Instruct copies it nearly verbatim; code (--document) it tends to rewrite.
constexpr const char* kDocument = R"(The lighthouse stood at the end of the rocky point, its white tower streaked with rust from a hundred winters. Every evening the keeper climbed the one hundred and twelve steps to light the lamp, and every morning he climbed them again to put it out. Ships passing in the night saw the beam sweep across the water once every ten seconds, and they knew that the reef was near. The keeper kept a logbook in which he wrote the weather, the ships he saw, and the birds that rested on the gallery rail.

In the spring of that year a storm came up from the south and lasted for three days. The waves broke over the lower windows, and the keeper slept in the lamp room so that he would not miss the hour. On the second night a fishing boat lost its rudder and drifted toward the rocks. The keeper saw its lantern, rang the bell, and fired the signal rockets one after another until the lifeboat from the village came around the point and took the boat in tow.

When the weather cleared, the fishermen brought him bread, a basket of eggs, and a bottle of plum brandy. He wrote their names in the logbook under the date, next to the words "all saved", and then he went up the steps to clean the salt from the glass.
)";

std::string chat_prompt(const std::string& instruction, const std::string& document) {
  return std::string("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n") +
         "<|im_start|>user\n" + instruction + "\n\n" + document + "<|im_end|>\n<|im_start|>assistant\n";
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
  bool print_text = false;
  std::string document_file, instruction = "Repeat the following text exactly:";
  app.add_option("--document", document_file, "A text file to copy instead of the built-in code");
  app.add_option("--instruction", instruction);
  app.add_flag("--print-text", print_text, "Print the greedy output text to stderr");
  CLI11_PARSE(app, argc, argv);

  std::shared_ptr<const kvs::LoadedModel> loaded = kvs::load_model(model_path);
  const std::unique_ptr<kvs::Tokenizer> tokenizer = kvs::Tokenizer::create(loaded->tokenizer);
  kvs::ModelOptions options;
  options.num_threads = threads;
  kvs::LlamaModel model(loaded, options);

  kvs::Request request;
  std::string document = kDocument;
  if (!document_file.empty()) {
    std::ifstream in(document_file);
    document.assign(std::istreambuf_iterator<char>(in), {});
  }
  request.prompt_token_ids = tokenizer->encode(chat_prompt(instruction, document), false, true);
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
      {"output_copies_document", tokenizer->decode(plain.tokens, true).find(document.substr(document.rfind("\n\n") == std::string::npos ? 0 : document.rfind("\n\n") + 2, 24)) != std::string::npos},
  };
  if (print_text) std::cerr << tokenizer->decode(plain.tokens, false) << "\n";
  std::cout << out.dump() << std::endl;
  return 0;
}
