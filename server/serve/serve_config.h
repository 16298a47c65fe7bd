#pragma once
// The one config struct of `kvserve serve`. CLI flags and a JSON config file
// (--config) both map onto it; validate() runs once at start.
#include <cstdint>
#include <string>
#include <vector>

#include "kvcache/kv_policy_spec.h"
#include "server/serving/request_limits.h"

namespace kvs {

struct ServeConfig {
  std::string model;                  // "" = default model
  std::string served_model_name;      // "" = the model file's stem
  std::string chat_template;          // "" = the model's own; else a style name (--chat-template)
  std::string host = "127.0.0.1";
  int port = 8000;
  int grpc_port = 50051;              // 0 = no gRPC front end
  std::vector<std::string> api_keys;  // empty = no authentication
  std::string api_key_file;           // one key per line, '#' comments
  bool protect_metrics = false;       // require a key for /metrics too
  int64_t max_num_seqs = 64;
  int64_t max_num_batched_tokens = 512;
  std::string kv_cache_memory;             // bytes, or with a KiB/MiB/GiB (KB/MB/GB) suffix; "" = 512MiB
                                           // on the CPU, --gpu-memory-utilization on CUDA
  std::string kv_cache_dtype = "auto";     // "auto" (f16 on the CPU, bf16 on CUDA) | a kv_dtype_name
  std::string kv_offload_memory;           // host tier of the prefix cache, bytes ("" or 0 = none)
  std::string kv_offload_dir;              // disk tier of the prefix cache ("" = none)
  std::string kv_offload_disk_bytes = "8GiB";  // the disk tier's bound
  std::string device = "auto";             // "auto" | "cpu" | "cuda" (engine/model/device_choice.h)
  double gpu_memory_utilization = 0.9;     // CUDA: fraction of device memory for weights + KV (vLLM's flag)
  bool enforce_eager = false;              // CUDA: no CUDA graphs
  int64_t max_queue = 256;            // sequences (prompts x n) waiting beyond the running ones; then 429
  double drain_timeout = 30.0;        // seconds SIGTERM waits for in-flight requests
  // --max-body-bytes, --max-header-bytes, --max-n, --max-tokens-limit,
  // --max-stop, --max-stop-bytes, --max-streams-per-key (config keys alike).
  RequestLimits limits;
  int threads = 0;                    // model CPU threads (0 = all cores)
  int tensor_parallel_size = 1;       // ranks the model is sharded over (engine/parallel)
  bool f32_weights = false;           // dequantize weights, plain F32 arithmetic (as `generate --f32-weights`)
  int http_threads = 64;              // main-tier HTTP threads beyond max_num_seqs + max_queue (server/README.md)
  int64_t max_model_len = 0;          // context cap in tokens (prompt + output); 0 = the model's own
  int64_t speculative_ngram = 0;      // prompt-lookup draft tokens per step (0 = off; docs/speculative-decoding.md)
  std::string log_format = "text";    // "text" | "json" (one JSON object per line)
  std::string log_level = "info";     // trace|debug|info|warn|error|critical|off
  std::string residual_checkpoint_dtype = "f32";  // "f32" | "f16" (--residual-checkpoint-dtype)
  std::string kv_policy = "none";     // default KV compression: none|streaming|h2o|snapkv|keyformer|residual
  double kv_budget = 0.0;             // tokens kept per sequence (integer >= 1) or a fraction in (0, 1);
                                      // 0 = none. With kv_policy none it is the budget a request's own
                                      // kv_policy gets when it names none.

  // Throws InvalidArgument naming the bad field.
  void validate() const;
};

// --kv-policy / --kv-budget -> the engine's default spec. Throws
// InvalidArgument naming the flag: an unknown policy, a bad budget, or a
// policy other than none without a budget.
KvPolicySpec kv_policy_from_flags(const std::string& policy, double budget);

// "512MiB" -> bytes. Throws InvalidArgument.
int64_t parse_byte_size(const std::string& text);
// Overlays the fields present in a JSON file (keys = the CLI flag names of
// serve_flags() with '_' or '-'). Throws InvalidArgument on unknown keys, bad
// types or a value outside a flag's choices.
void load_serve_config_file(const std::string& path, ServeConfig& config);
// Keys from --api-key and the key file.
std::vector<std::string> resolve_api_keys(const ServeConfig& config);

}  // namespace kvs
