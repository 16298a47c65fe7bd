#include "server/serve/serve_flags.h"

#include "kvcache/kv_policy_spec.h"

namespace kvs {

std::vector<ServeFlag> serve_flags(ServeConfig& c) {
  RequestLimits& l = c.limits;
  return {
      {"model", "A .gguf file or a Hugging Face folder (default: the bundled SmolLM2)", &c.model},
      {"served-model-name", "Model name in the API (default: the file's stem, or the folder's name)",
       &c.served_model_name},
      {"chat-template", "Chat template style instead of the model's own (chatml, llama3, ...)", &c.chat_template},
      {"host", "Address to listen on", &c.host},
      {"port", "HTTP port", &c.port},
      {"grpc-port", "gRPC port (0 = no gRPC)", &c.grpc_port},
      {"api-key", "Accepted API key (repeatable); none = no authentication", &c.api_keys},
      {"api-key-file", "File with one accepted API key per line", &c.api_key_file},
      {"protect-metrics", "Require an API key for /metrics too", &c.protect_metrics},
      {"max-num-seqs", "Sequences running at once at most", &c.max_num_seqs},
      {"max-num-batched-tokens", "Tokens per engine step at most", &c.max_num_batched_tokens},
      {"kv-cache-memory",
       "KV cache budget, e.g. 512MiB (default: 512MiB on the CPU, --gpu-memory-utilization on CUDA)",
       &c.kv_cache_memory, {}, /*integer_as_text=*/true},
      {"kv-cache-dtype",
       "KV cache element type (auto: f16 on the CPU, bf16 on CUDA; q8_0, q4_0: CPU; fp8_e4m3: CUDA)",
       &c.kv_cache_dtype, {"auto", "f16", "f32", "bf16", "q8_0", "q4_0", "fp8_e4m3"}},
      {"kv-offload-memory",
       "Host tier of the prefix cache: cached KV blocks the pool evicts are kept in this much RAM, e.g. 2GiB "
       "(0 = none)",
       &c.kv_offload_memory, {}, /*integer_as_text=*/true},
      {"kv-offload-dir",
       "Disk tier of the prefix cache: every computed full KV block is written here (asynchronously) and "
       "loaded instead of recomputed, across requests and restarts (\"\" = none)",
       &c.kv_offload_dir},
      {"kv-offload-disk-bytes", "Bytes the disk tier keeps at most, least recently used first out, e.g. 20GiB",
       &c.kv_offload_disk_bytes, {}, /*integer_as_text=*/true},
      {"device", "cpu, cuda, or auto (CUDA when built with it and a GPU is present)", &c.device,
       {"auto", "cpu", "cuda"}},
      {"gpu-memory-utilization",
       "CUDA: fraction of the GPU's memory this server may use, weights and KV cache included",
       &c.gpu_memory_utilization},
      {"enforce-eager", "CUDA: run every step eagerly (no CUDA graphs)", &c.enforce_eager},
      {"max-queue", "Sequences (prompts x n) queued beyond --max-num-seqs; a request that does not fit gets 429", &c.max_queue},
      {"drain-timeout", "Seconds SIGTERM waits for in-flight requests", &c.drain_timeout},
      {"max-body-bytes", "Larger request bodies get 413 (gRPC: larger messages are refused)", &l.max_body_bytes},
      {"max-header-bytes",
       "Request headers (names + values, summed) beyond this get 431; gRPC: the metadata size limit",
       &l.max_header_bytes},
      {"max-n", "Choices per prompt ('n') a request may ask for", &l.max_n},
      {"max-tokens-limit",
       "Tokens a request may generate ('max_tokens' above it: 400; unset: capped to it); 0 = up to the context",
       &l.max_tokens},
      {"max-stop", "Stop strings per request", &l.max_stop},
      {"max-stop-bytes", "Bytes per stop string", &l.max_stop_bytes},
      {"max-streams-per-key",
       "Streams (SSE, gRPC Generate) open at once per API key, more get 429; without keys all clients share one "
       "count; 0 = unlimited",
       &l.max_streams_per_key},
      {"threads", "Model CPU threads (0 = all cores)", &c.threads},
      {"tensor-parallel-size", "Ranks to shard the model over (Megatron-style; CPU ranks share --threads)",
       &c.tensor_parallel_size},
      {"f32-weights", "Dequantize weights and compute in F32 (slower, more memory)", &c.f32_weights},
      {"http-threads", "HTTP threads beyond one per admissible sequence (max-num-seqs + max-queue): probes, keep-alive connections; connections past all of them get 429 from a small overflow pool", &c.http_threads},
      {"max-model-len", "Context length in tokens (prompt + output), at most the model's; 0 = the model's",
       &c.max_model_len},
      {"log-format", "text, or json: one JSON object per line (time, level, message, request_id)", &c.log_format,
       {"text", "json"}},
      {"log-level", "trace, debug, info, warn, error, critical or off", &c.log_level,
       {"trace", "debug", "info", "warn", "error", "critical", "off"}},
      {"residual-checkpoint-dtype",
       "How the residual KV policy stores its checkpoints: f32 (recompute is exact) or f16 (half the memory; "
       "output may differ slightly)",
       &c.residual_checkpoint_dtype, {"f32", "f16"}},
      {"kv-policy",
       "Default KV compression policy: " + kv_policy_names() + " (a request's kvserve.kv_policy overrides it)",
       &c.kv_policy},
      {"kv-budget", "Default KV tokens kept per sequence (integer >= 1) or a fraction in (0, 1); 0 = none",
       &c.kv_budget},
      {"speculative-ngram",
       "Speculative decoding by prompt lookup: up to K draft tokens per step copied from earlier text of the "
       "sequence, verified in one forward pass (exact for greedy, distribution-preserving for sampling); 0 = off",
       &c.speculative_ngram},
  };
}

}  // namespace kvs
