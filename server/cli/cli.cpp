#include "server/cli/cli.h"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <iostream>
#include <type_traits>
#include <variant>

#include "engine/errors.h"
#include "kvcache/kv_policy_spec.h"
#include "server/cli/commands.h"
#include "server/serve/serve_flags.h"

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
  cmd->add_flag("--ignore-eos", g.ignore_eos,
                "Do not stop at the model's end-of-generation tokens: generate exactly --max-tokens (benchmarks)");
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
  cmd->add_option("--kv-cache-dtype", g.kv_cache_dtype,
                  "KV cache element type (auto: f16 on the CPU, bf16 on CUDA; q8_0, q4_0: CPU; fp8_e4m3: CUDA)")
      ->check(CLI::IsMember({"auto", "f16", "f32", "bf16", "q8_0", "q4_0", "fp8_e4m3"}));
  cmd->add_option("--device", g.device, "cpu, cuda, or auto (CUDA when built with it and a GPU is present)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_flag("--enforce-eager", g.enforce_eager, "CUDA: run every step eagerly (no CUDA graphs)");
  cmd->add_option("--kv-policy", g.kv_policy, "KV compression policy: " + kv_policy_names());
  cmd->add_option("--kv-budget", g.kv_budget,
                  "KV tokens kept per sequence (integer >= 1) or a fraction in (0, 1); needed by every policy but none");
  cmd->add_option("--speculative-ngram", g.speculative_ngram,
                  "Speculative decoding by prompt lookup: up to K draft tokens per step (0 = off)")
      ->check(CLI::Range(0, 64));
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

// One row of the serve flag table as a CLI11 option (a switch for a bool,
// repeatable for a list).
void add_serve_flag(CLI::App& cmd, const ServeFlag& flag) {
  const std::string name = "--" + flag.name;
  std::visit(
      [&](auto* field) {
        using T = std::remove_pointer_t<decltype(field)>;
        if constexpr (std::is_same_v<T, bool>) {
          cmd.add_flag(name, *field, flag.help);
        } else {
          CLI::Option* option = cmd.add_option(name, *field, flag.help);
          if (!flag.choices.empty()) option->check(CLI::IsMember(flag.choices));
        }
      },
      flag.target);
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
  for (const ServeFlag& flag : serve_flags(c)) add_serve_flag(*cmd, flag);
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
