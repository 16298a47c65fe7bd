#include "server/cli/cli.h"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <iostream>

#include "engine/errors.h"
#include "kvcache/kv_policy_spec.h"
#include "server/cli/commands.h"

namespace kvs {
namespace {

void add_generate(CLI::App& app, GenerateCommand& g, std::function<int()>& action) {
  CLI::App* cmd = app.add_subcommand("generate", "Generate a continuation (or chat) with the model");
  cmd->add_option("--model", g.model, "A .gguf file or a Hugging Face folder (default: the bundled SmolLM2)");
  cmd->add_option("--prompt", g.prompt, "Prompt text; without it, prompts are read from stdin one per line");
  cmd->add_flag("--chat", g.chat, "Render the prompt as a user message through the chat template");
  cmd->add_option("--system", g.system, "System message (with --chat)");
  cmd->add_option("--chat-template", g.chat_template, "Template style to use instead of the model's own");
  cmd->add_option("--max-tokens", g.max_tokens, "Tokens to generate at most")->check(CLI::NonNegativeNumber);
  cmd->add_option("--temperature", g.sampling.temperature, "0 = greedy (default)");
  cmd->add_option("--top-p", g.sampling.top_p, "Nucleus sampling mass");
  cmd->add_option("--top-k", g.sampling.top_k, "Keep the k most likely tokens (0 = off)");
  cmd->add_option("--min-p", g.sampling.min_p, "Drop tokens below min_p times the top probability");
  cmd->add_option("--repetition-penalty", g.sampling.repetition_penalty, "1 = off");
  cmd->add_option("--presence-penalty", g.sampling.presence_penalty, "-2..2");
  cmd->add_option("--frequency-penalty", g.sampling.frequency_penalty, "-2..2");
  cmd->add_option_function<uint64_t>(
      "--seed", [&g](uint64_t seed) { g.sampling.seed = seed, g.sampling.has_seed = true; }, "Sampling seed");
  cmd->add_flag("--json", g.json, "Print one JSON object with ids, text and timings");
  cmd->add_option("--threads", g.threads, "CPU threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--tensor-parallel-size", g.tensor_parallel_size,
                  "Ranks to shard the model over (Megatron-style; CPU ranks share --threads)")
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--f32-weights", g.f32_weights, "Dequantize weights and compute in float32");
  cmd->add_option("--kv-cache-dtype", g.kv_cache_dtype, "KV cache element type (auto: f16 on the CPU, bf16 on CUDA)")
      ->check(CLI::IsMember({"auto", "f16", "f32", "bf16"}));
  cmd->add_option("--device", g.device, "cpu, cuda, or auto (CUDA when built with it and a GPU is present)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_flag("--enforce-eager", g.enforce_eager, "CUDA: run every step eagerly (no CUDA graphs)");
  cmd->add_option("--kv-policy", g.kv_policy, "KV compression policy: " + kv_policy_names());
  cmd->add_option("--kv-budget", g.kv_budget,
                  "KV tokens kept per sequence (integer >= 1) or a fraction in (0, 1); needed by every policy but none");
  cmd->callback([&] { action = [&g] { return run_generate(g); }; });
}

void add_tokenize(CLI::App& app, TokenizeCommand& t, std::function<int()>& action) {
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text as JSON");
  cmd->add_option("--model", t.model, "A .gguf file or a Hugging Face folder (default: the bundled SmolLM2)");
  cmd->add_option("--text", t.text, "Text to tokenize")->required();
  cmd->add_flag("--special", t.special, "Parse special-token text such as <|im_start|>");
  cmd->add_flag("--add-special", t.add_special, "Add BOS/EOS where the model's tokenizer does");
  cmd->callback([&] { action = [&t] { return run_tokenize(t); }; });
}

void add_export(CLI::App& app, ExportCommand& e, std::function<int()>& action) {
  CLI::App* cmd = app.add_subcommand("export", "Write a GGUF model out as a Hugging Face folder (F32 safetensors)");
  cmd->add_option("--model", e.model, "The .gguf file (default: the bundled SmolLM2)");
  cmd->add_option("--out", e.out_dir, "Output folder (created)")->required();
  cmd->callback([&] { action = [&e] { return run_export(e); }; });
}

void add_serve(CLI::App& app, ServeCommand& s, std::function<int()>& action) {
  ServeConfig& c = s.config;
  CLI::App* cmd = app.add_subcommand("serve", "Serve the model over OpenAI-compatible HTTP and gRPC");
  cmd->option_defaults()->always_capture_default();
  // NOTE: the file is applied when the flag is parsed; CLI11 assigns the other
  // flags after parsing, so flags given on the command line override the file.
  cmd->add_option_function<std::string>(
         "--config",
         [&c](const std::string& path) {
           try {
             load_serve_config_file(path, c);
           } catch (const Error& e) {
             throw CLI::ValidationError("--config", e.what());
           }
         },
         "JSON config file (keys = flag names); flags override it")
      ->trigger_on_parse();
  cmd->add_option("--model", c.model, "A .gguf file or a Hugging Face folder (default: the bundled SmolLM2)");
  cmd->add_option("--served-model-name", c.served_model_name, "Model name in the API (default: the file's stem)");
  cmd->add_option("--chat-template", c.chat_template, "Chat template style instead of the model's own (chatml, llama3, ...)");
  cmd->add_option("--host", c.host, "Address to listen on");
  cmd->add_option("--port", c.port, "HTTP port");
  cmd->add_option("--grpc-port", c.grpc_port, "gRPC port (0 = no gRPC)");
  cmd->add_option("--api-key", c.api_keys, "Accepted API key (repeatable); none = no authentication");
  cmd->add_option("--api-key-file", c.api_key_file, "File with one accepted API key per line");
  cmd->add_flag("--protect-metrics", c.protect_metrics, "Require an API key for /metrics too");
  cmd->add_option("--max-num-seqs", c.max_num_seqs, "Sequences running at once at most");
  cmd->add_option("--max-num-batched-tokens", c.max_num_batched_tokens, "Tokens per engine step at most");
  cmd->add_option("--kv-cache-memory", c.kv_cache_memory,
                  "KV cache budget, e.g. 512MiB (default: 512MiB on the CPU, --gpu-memory-utilization on CUDA)");
  cmd->add_option("--kv-cache-dtype", c.kv_cache_dtype, "KV cache element type (auto: f16 on the CPU, bf16 on CUDA)")
      ->check(CLI::IsMember({"auto", "f16", "f32", "bf16"}));
  cmd->add_option("--device", c.device, "cpu, cuda, or auto (CUDA when built with it and a GPU is present)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--gpu-memory-utilization", c.gpu_memory_utilization,
                  "CUDA: fraction of the GPU's memory this server may use, weights and KV cache included");
  cmd->add_flag("--enforce-eager", c.enforce_eager, "CUDA: run every step eagerly (no CUDA graphs)");
  cmd->add_option("--max-queue", c.max_queue, "API requests queued beyond --max-num-seqs; more get 429");
  cmd->add_option("--drain-timeout", c.drain_timeout, "Seconds SIGTERM waits for in-flight requests");
  cmd->add_option("--max-body-bytes", c.limits.max_body_bytes, "Larger request bodies get 413 (gRPC: larger messages are refused)");
  cmd->add_option("--max-header-bytes", c.limits.max_header_bytes,
                  "Request headers (names + values, summed) beyond this get 431; gRPC: the metadata size limit");
  cmd->add_option("--max-n", c.limits.max_n, "Choices per prompt ('n') a request may ask for");
  cmd->add_option("--max-tokens-limit", c.limits.max_tokens,
                  "Tokens a request may generate ('max_tokens' above it: 400; unset: capped to it); 0 = up to the context");
  cmd->add_option("--max-stop", c.limits.max_stop, "Stop strings per request");
  cmd->add_option("--max-stop-bytes", c.limits.max_stop_bytes, "Bytes per stop string");
  cmd->add_option("--max-streams-per-key", c.limits.max_streams_per_key,
                  "Streams (SSE, gRPC Generate) open at once per API key, more get 429; without keys all clients "
                  "share one count; 0 = unlimited");
  cmd->add_option("--threads", c.threads, "Model CPU threads (0 = all cores)");
  cmd->add_option("--tensor-parallel-size", c.tensor_parallel_size,
                  "Ranks to shard the model over (Megatron-style; CPU ranks share --threads)");
  cmd->add_flag("--f32-weights", c.f32_weights, "Dequantize weights and compute in F32 (slower, more memory)");
  cmd->add_option("--http-threads", c.http_threads, "HTTP connections served at once");
  cmd->add_option("--max-model-len", c.max_model_len,
                  "Context length in tokens (prompt + output), at most the model's; 0 = the model's");
  cmd->add_option("--log-format", c.log_format, "text, or json: one JSON object per line (time, level, message, "
                                                "request_id)")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--log-level", c.log_level, "trace, debug, info, warn, error, critical or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  cmd->add_option("--kv-policy", c.kv_policy, "Default KV compression policy: " + kv_policy_names() +
                                                  " (a request's kvserve.kv_policy overrides it)");
  cmd->add_option("--kv-budget", c.kv_budget,
                  "Default KV tokens kept per sequence (integer >= 1) or a fraction in (0, 1); 0 = none");
  cmd->callback([&] { action = [&s] { return run_serve(s); }; });
}

}  // namespace

int run_cli(int argc, char** argv) {
  // Logs go to stderr, so stdout carries only results (generate --json).
  spdlog::set_default_logger(spdlog::stderr_color_mt("kvserve"));
  CLI::App app{"kvserve: an LLM inference server centred on KV-cache management"};
  app.require_subcommand(1);
  GenerateCommand generate;
  TokenizeCommand tokenize;
  ExportCommand export_command;
  std::function<int()> action;
  add_generate(app, generate, action);
  add_tokenize(app, tokenize, action);
  add_export(app, export_command, action);
  ServeCommand serve;
  add_serve(app, serve, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return action ? action() : 1;
  } catch (const Error& e) {
    std::cerr << "kvserve: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "kvserve: internal error: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace kvs
