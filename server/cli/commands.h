#pragma once
// Options and entry points of the kvserve subcommands. Each run_* returns the
// process exit status and may throw kvs::Error (run_cli prints it).
#include <cstdint>
#include <string>

#include "engine/sampling/sampler.h"
#include "server/serve/serve_config.h"

namespace kvs {

struct GenerateCommand {
  std::string model;          // "" = default model
  std::string prompt;         // "" = interactive (one prompt per stdin line)
  bool chat = false;          // render through the chat template
  std::string system;         // optional system message (chat)
  std::string chat_template;  // override the model's template by style name
  int64_t max_tokens = 64;
  bool ignore_eos = false;    // generate exactly max_tokens: end-of-generation tokens do not stop it
  SamplingParams sampling;
  bool json = false;          // one JSON object instead of streamed text
  int threads = 0;
  bool f32_weights = false;   // dequantize weights, compute in F32
  std::string kv_cache_dtype = "auto";  // "auto" (f16 on the CPU, bf16 on CUDA) | a kv_dtype_name
  std::string device = "auto";          // "auto" | "cpu" | "cuda"
  bool enforce_eager = false;           // CUDA: no CUDA graphs
  int tensor_parallel_size = 1;         // ranks the model is sharded over
  std::string kv_policy = "none";       // KV compression (kv_policy_from_flags checks both)
  double kv_budget = 0.0;               // tokens (>= 1) or a fraction in (0, 1); 0 = none
  int64_t speculative_ngram = 0;       // prompt-lookup draft tokens per step (0 = off)
};

struct TokenizeCommand {
  std::string model;
  std::string text;
  bool special = false;     // parse special-token text (e.g. "<|im_start|>")
  bool add_special = false; // add BOS/EOS as the model's tokenizer says
};

struct ExportCommand {
  std::string model;
  std::string out_dir;
};

struct ServeCommand {
  ServeConfig config;  // defaults, then --config's file, then the flags
};

int run_generate(const GenerateCommand& command);
int run_tokenize(const TokenizeCommand& command);
int run_export(const ExportCommand& command);
int run_serve(const ServeCommand& command);

}  // namespace kvs
