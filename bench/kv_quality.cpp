// KV compression quality and cost on the real model (issue 8, acceptance 2 and 3).
// Every policy x budget (plus `none`, the full cache) through EngineCore, no server:
//   match   : greedy continuations of real-text prompts; fraction of positions equal to
//             `none`'s up to the first divergence, and overall positional match.
//   ppl     : perplexity of teacher-forced real text after a long real-text prompt
//             (optionally with a passkey sentence inside the prompt and the passkey
//             question forced after the text: the same request then answers passkey
//             retrieval at the full length, so the long prefill is paid once).
//   passkey : retrieval at shorter contexts (filler + "The pass key is NNNNN. Remember it."
//             at some depth + "What is the pass key? The pass key is"); greedy tokens.
//   cost    : each config alone on one passkey prompt: resident K/V bytes at the end vs the
//             full cache, residual checkpoint bytes, decode tok/s, recompute seconds.
// --kv-dtypes f16,q8_0,q4_0 repeats every config for each KV cache dtype (the
// first dtype's `none` is the token match's reference; rows give bytes per
// token and tokens per GiB). Configs share one EngineCore per section and dtype (prefix caching off: each policy gathers
// its own prefill statistics); the cost section gives each config its own engine.
// Prints progress to stderr and the JSON result to stdout (or --out).
//   kvs_bench_kv_quality --model M.gguf --fixtures ../shared/fixtures/tokenizers/qwen3/expected.jsonl
//       --threads 2 --out bench/kv_quality.json
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/loader/loaded_model.h"
#include "engine/model/kv_storage.h"
#include "engine/model/llama_model.h"
#include "engine/tokenizer/tokenizer.h"
#include "kvcache/kv_policy_spec.h"
#include "scheduler/engine_core.h"

namespace {

using Clock = std::chrono::steady_clock;
using Ids = std::vector<int32_t>;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Config {
  kvs::KvPolicyKind kind = kvs::KvPolicyKind::kNone;
  double budget = 0.0;
  kvs::kernels::KvDType dtype = kvs::kernels::KvDType::F16;  // the KV cache's element type
  // How the residual policy stores its checkpoints (--residual-checkpoint-f16 adds F16 rows).
  kvs::ResidualCheckpoints::DType checkpoint_dtype = kvs::ResidualCheckpoints::DType::F32;
  // "none", "h2o@0.25"; other dtypes than f16 append ":q8_0"; f16 checkpoints ":ckpt_f16".
  std::string label() const {
    std::ostringstream s;
    if (kind == kvs::KvPolicyKind::kNone) {
      s << "none";
    } else {
      s << kvs::kv_policy_name(kind) << "@" << budget;
    }
    if (dtype != kvs::kernels::KvDType::F16) s << ":" << kvs::kernels::kv_dtype_name(dtype);
    if (checkpoint_dtype == kvs::ResidualCheckpoints::DType::F16) s << ":ckpt_f16";
    return s.str();
  }
  kvs::KvPolicySpec spec() const { return {kind, kind == kvs::KvPolicyKind::kNone ? 0.0 : budget}; }
};

struct Outcome {
  Ids tokens;
  std::vector<float> logprobs;
  kvs::RequestStats stats;
  std::string finish;
  std::string error;
  double first_token_s = -1.0, last_token_s = -1.0;  // since the batch started
};

struct BatchResult {
  std::vector<Outcome> outcomes;
  double wall_seconds = 0.0;
  kvs::EngineMetrics metrics;
  // Alone runs (one request): the state after the last step that still held the request.
  int64_t last_blocks_used = 0;
  int64_t last_bytes_saved = 0;
  int64_t last_tokens_generated = 0;
};

// Runs `requests` (all of one KV dtype) to completion in one EngineCore (prefix
// caching off), each with its config's policy. `track` = record the pool state
// every step (for alone runs).
BatchResult run_batch_of_dtype(kvs::LlamaModel& model, const std::vector<Config>& configs,
                               std::vector<kvs::Request> requests, int64_t batched_tokens, bool track) {
  const int64_t block = 16;
  kvs::EngineConfig config;
  config.cache.block_size = block;
  config.cache.dtype = configs.empty() ? kvs::kernels::KvDType::F16 : configs[0].dtype;
  config.cache.enable_prefix_caching = false;
  config.residual_checkpoint_dtype =
      configs.empty() ? kvs::ResidualCheckpoints::DType::F32 : configs[0].checkpoint_dtype;
  int64_t blocks = 16;
  for (const kvs::Request& r : requests) {
    blocks += (static_cast<int64_t>(r.prompt_token_ids.size()) + r.max_tokens + block - 1) / block + 2;
  }
  config.cache.memory_bytes = blocks * kvs::KvStorage::bytes_per_block(model.config(), block, config.cache.dtype);
  config.scheduler.max_num_batched_tokens = batched_tokens;
  config.scheduler.max_num_seqs = std::max<int64_t>(static_cast<int64_t>(requests.size()), 1);

  BatchResult result;
  result.outcomes.resize(requests.size());
  const auto start = Clock::now();
  kvs::EngineCore core(model, config, [&](uint64_t id, const kvs::TokenEvent& event) {
    Outcome& o = result.outcomes[static_cast<size_t>(id)];
    if (event.token_id >= 0) {
      const double t = seconds_since(start);
      if (o.tokens.empty()) o.first_token_s = t;
      o.last_token_s = t;
      o.tokens.push_back(event.token_id);
      o.logprobs.push_back(event.logprob);
    }
    if (event.finish_reason != kvs::FinishReason::kNone) {
      o.finish = kvs::finish_reason_name(event.finish_reason);
      o.error = event.error;
      o.stats = event.stats;
    }
  });
  for (size_t i = 0; i < requests.size(); ++i) {
    requests[i].kv_policy = configs[i].spec();
    core.add(i, requests[i]);
  }
  while (core.step()) {
    if (!track) continue;
    const kvs::EngineMetrics m = core.metrics();
    if (m.num_running == 0) continue;
    result.last_blocks_used = m.kv_blocks_used;
    int64_t saved = 0;
    for (const kvs::KvPolicyCounters& c : m.kv_policies) saved += c.bytes_saved;
    result.last_bytes_saved = saved;
    result.last_tokens_generated = static_cast<int64_t>(result.outcomes[0].tokens.size());
  }
  result.wall_seconds = seconds_since(start);
  result.metrics = core.metrics();
  for (size_t i = 0; i < requests.size(); ++i) {
    if (!result.outcomes[i].error.empty()) {
      throw std::runtime_error(configs[i].label() + ": request failed: " + result.outcomes[i].error);
    }
  }
  return result;
}

// run_batch_of_dtype for each KV dtype among the configs (one EngineCore per
// dtype, in order of first appearance); outcomes in request order, policy
// counters and wall time summed, the other metrics those of the last engine.
BatchResult run_batch(kvs::LlamaModel& model, const std::vector<Config>& configs, std::vector<kvs::Request> requests,
                      int64_t batched_tokens, bool track = false) {
  // One engine per (KV dtype, checkpoint dtype).
  using EngineKind = std::pair<kvs::kernels::KvDType, kvs::ResidualCheckpoints::DType>;
  std::vector<EngineKind> dtypes;
  for (const Config& c : configs) {
    const EngineKind kind{c.dtype, c.checkpoint_dtype};
    if (std::find(dtypes.begin(), dtypes.end(), kind) == dtypes.end()) dtypes.push_back(kind);
  }
  BatchResult result;
  result.outcomes.resize(requests.size());
  std::array<kvs::KvPolicyCounters, kvs::kNumKvPolicies> counters{};
  for (const EngineKind& kind : dtypes) {
    std::vector<size_t> which;
    std::vector<Config> cs;
    std::vector<kvs::Request> rs;
    for (size_t i = 0; i < configs.size(); ++i) {
      if (EngineKind{configs[i].dtype, configs[i].checkpoint_dtype} != kind) continue;
      which.push_back(i);
      cs.push_back(configs[i]);
      rs.push_back(requests[i]);
    }
    BatchResult part = run_batch_of_dtype(model, cs, std::move(rs), batched_tokens, track);
    for (size_t k = 0; k < which.size(); ++k) result.outcomes[which[k]] = std::move(part.outcomes[k]);
    for (size_t k = 0; k < counters.size(); ++k) {
      counters[k].evicted_tokens += part.metrics.kv_policies[k].evicted_tokens;
      counters[k].recomputed_tokens += part.metrics.kv_policies[k].recomputed_tokens;
      counters[k].bytes_saved += part.metrics.kv_policies[k].bytes_saved;
      counters[k].recompute_seconds += part.metrics.kv_policies[k].recompute_seconds;
    }
    result.wall_seconds += part.wall_seconds;
    result.metrics = part.metrics;
    result.last_blocks_used = part.last_blocks_used;
    result.last_bytes_saved = part.last_bytes_saved;
    result.last_tokens_generated = part.last_tokens_generated;
  }
  result.metrics.kv_policies = counters;
  return result;
}

nlohmann::json policy_counters(const kvs::EngineMetrics& m) {
  nlohmann::json out = nlohmann::json::object();
  for (int k = 0; k < kvs::kNumKvPolicies; ++k) {
    const kvs::KvPolicyCounters& c = m.kv_policies[static_cast<size_t>(k)];
    out[kvs::kv_policy_name(static_cast<kvs::KvPolicyKind>(k))] = {
        {"evicted_tokens", c.evicted_tokens}, {"recomputed_tokens", c.recomputed_tokens},
        {"recompute_seconds", c.recompute_seconds}};
  }
  return out;
}

// Real text: the "text" of every line of a fixtures expected.jsonl (licence and
// documentation lines), each tokenized as line + "\n" (no special tokens).
std::vector<Ids> load_lines(const std::string& path, const kvs::Tokenizer& tokenizer) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<Ids> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json row = nlohmann::json::parse(line);
    std::string text = row.at("text").get<std::string>();
    // Trim; skip near-empty lines.
    const auto b = text.find_first_not_of(" \t");
    if (b == std::string::npos || text.size() - b < 8) continue;
    Ids ids = tokenizer.encode(text + "\n", false, false);
    if (!ids.empty()) lines.push_back(std::move(ids));
  }
  return lines;
}

// Consecutive lines from `cursor` (advanced) until at least n tokens; exactly n returned.
Ids take_tokens(const std::vector<Ids>& lines, size_t& cursor, int64_t n) {
  Ids out;
  while (static_cast<int64_t>(out.size()) < n) {
    if (cursor >= lines.size()) throw std::runtime_error("the fixtures file ran out of text");
    out.insert(out.end(), lines[cursor].begin(), lines[cursor].end());
    ++cursor;
  }
  out.resize(static_cast<size_t>(n));
  return out;
}

// `body` with `sentence` inserted at the line boundary nearest depth * size (the
// line boundaries are where the per-line token lists meet).
Ids insert_at_line(const std::vector<Ids>& lines, size_t& cursor, int64_t n, double depth, const Ids& sentence) {
  Ids out;
  const int64_t at = static_cast<int64_t>(depth * static_cast<double>(n));
  bool inserted = false;
  while (static_cast<int64_t>(out.size()) < n + static_cast<int64_t>(sentence.size())) {
    if (!inserted && static_cast<int64_t>(out.size()) >= at) {
      out.insert(out.end(), sentence.begin(), sentence.end());
      inserted = true;
      continue;
    }
    if (cursor >= lines.size()) throw std::runtime_error("the fixtures file ran out of text");
    out.insert(out.end(), lines[cursor].begin(), lines[cursor].end());
    ++cursor;
  }
  out.resize(static_cast<size_t>(n + static_cast<int64_t>(sentence.size())));
  return out;
}

Ids cat(std::initializer_list<const Ids*> parts) {
  Ids out;
  for (const Ids* p : parts) out.insert(out.end(), p->begin(), p->end());
  return out;
}

struct Passkey {
  Ids prompt;
  std::string key;
};

// Intro + filler (real text lines, or the classic repeated sentences) with the key
// sentence at `depth`, then the question; about `length` tokens in all.
Passkey make_passkey(const kvs::Tokenizer& tok, const std::vector<Ids>& lines, size_t& cursor, int64_t length,
                     double depth, uint64_t seed, bool repeat_filler) {
  std::mt19937_64 rng(seed);
  Passkey p;
  p.key = std::to_string(10000 + rng() % 90000);
  const Ids intro = tok.encode(
      "There is an important piece of information hidden inside a lot of irrelevant text. "
      "Find it and memorize it. I will quiz you about the important information there.\n",
      true, false);
  const Ids sentence = tok.encode("The pass key is " + p.key + ". Remember it. " + p.key + " is the pass key.\n",
                                  false, false);
  const Ids question = tok.encode("What is the pass key? The pass key is", false, false);
  const int64_t filler_tokens = length - static_cast<int64_t>(intro.size() + sentence.size() + question.size());
  Ids body;
  if (repeat_filler) {
    const Ids unit = tok.encode("The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.\n",
                                false, false);
    std::vector<Ids> units(static_cast<size_t>(filler_tokens / static_cast<int64_t>(unit.size()) + 2), unit);
    size_t c = 0;
    body = insert_at_line(units, c, filler_tokens, depth, sentence);
  } else {
    body = insert_at_line(lines, cursor, filler_tokens, depth, sentence);
  }
  p.prompt = cat({&intro, &body, &question});
  return p;
}

bool contains_key(const kvs::Tokenizer& tok, const Ids& answer, const std::string& key) {
  return tok.decode(answer, true).find(key) != std::string::npos;
}

std::vector<double> parse_list(const std::string& s) {
  std::vector<double> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(std::stod(item));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvserve KV compression quality and cost (issue 8)"};
  std::string model_path, fixtures, out_path, sections = "match,ppl,passkey,cost", dump_ppl_tokens;
  bool residual_checkpoint_f16 = false;
  std::string policies = "streaming,h2o,snapkv,keyformer,residual", budgets = "0.1,0.25,0.5";
  std::string kv_dtypes = "f16";
  std::string passkey_lengths = "2048", ppl_budgets;
  int threads = 0;
  int64_t batched_tokens = 512;
  int64_t match_prompts = 20, match_prompt_tokens = 96, match_tokens = 128;
  int64_t ppl_prompt_tokens = 3840, ppl_forced_tokens = 256;
  bool ppl_passkey = true;
  int64_t passkey_trials = 1, passkey_answer_tokens = 8;
  bool repeat_filler = false;
  int64_t cost_prompt_tokens = 1024, cost_decode_tokens = 64;
  app.add_option("--model", model_path)->required();
  app.add_option("--fixtures", fixtures, "expected.jsonl whose \"text\" lines are the real text")->required();
  app.add_option("--out", out_path, "Write the JSON here (default: stdout)");
  app.add_flag("--residual-checkpoint-f16", residual_checkpoint_f16,
               "Also run every residual budget with half-precision checkpoints (rows labelled :ckpt_f16)");
  app.add_option("--dump-ppl-tokens", dump_ppl_tokens,
                 "Write the perplexity section's prompt and forced token ids here as JSON (for the same measurement "
                 "with llama.cpp: bench/llamacpp_kv_dtype_ppl.py)");
  app.add_option("--threads", threads);
  app.add_option("--sections", sections, "Comma list of match,ppl,passkey,cost");
  app.add_option("--policies", policies, "Compressing policies (none always runs)");
  app.add_option("--kv-dtypes", kv_dtypes,
                 "KV cache dtypes, each with none and every policy x budget (the first: the token match's reference)");
  app.add_option("--budgets", budgets, "Budgets: fractions in (0,1) or integer tokens");
  app.add_option("--max-num-batched-tokens", batched_tokens);
  app.add_option("--match-prompts", match_prompts);
  app.add_option("--match-prompt-tokens", match_prompt_tokens);
  app.add_option("--match-tokens", match_tokens, "Greedy tokens per prompt");
  app.add_option("--ppl-prompt-tokens", ppl_prompt_tokens);
  app.add_option("--ppl-forced-tokens", ppl_forced_tokens, "Teacher-forced tokens scored for perplexity");
  app.add_option("--ppl-budgets", ppl_budgets, "Budgets the ppl section runs (default: all of --budgets)");
  app.add_option("--ppl-passkey", ppl_passkey,
                 "Put a pass key in the perplexity prompt and force the question after the text: "
                 "passkey retrieval at the full length from the same request");
  app.add_option("--passkey-lengths", passkey_lengths, "Context lengths of the separate passkey runs");
  app.add_option("--passkey-trials", passkey_trials, "Trials per separate length (the cost run adds one at --cost-prompt-tokens)");
  app.add_option("--passkey-answer-tokens", passkey_answer_tokens);
  app.add_flag("--repeat-filler", repeat_filler, "Classic repeated-sentence filler instead of real text");
  app.add_option("--cost-prompt-tokens", cost_prompt_tokens);
  app.add_option("--cost-decode-tokens", cost_decode_tokens);
  CLI11_PARSE(app, argc, argv);

  const auto total_start = Clock::now();
  const auto has = [&](const std::string& name) { return ("," + sections + ",").find("," + name + ",") != std::string::npos; };

  std::shared_ptr<const kvs::LoadedModel> loaded = kvs::load_model(model_path);
  const std::unique_ptr<kvs::Tokenizer> tok = kvs::Tokenizer::create(loaded->tokenizer);
  kvs::ModelOptions options;
  options.num_threads = threads;
  kvs::LlamaModel model(loaded, options);
  const kvs::ModelConfig& mc = model.config();

  // Per KV dtype (the first one is the reference of the token match): none,
  // then every policy x budget.
  std::vector<Config> configs;
  {
    std::stringstream dtype_list(kv_dtypes);
    std::string dtype_name;
    while (std::getline(dtype_list, dtype_name, ',')) {
      const std::optional<kvs::kernels::KvDType> dtype = kvs::kernels::kv_dtype_from_name(dtype_name);
      if (!dtype.has_value()) throw std::runtime_error("--kv-dtypes: unknown dtype " + dtype_name);
      configs.push_back({kvs::KvPolicyKind::kNone, 0.0, *dtype});
      std::stringstream in(policies);
      std::string name;
      const std::vector<double> bs = parse_list(budgets);
      while (std::getline(in, name, ',')) {
        if (name.empty() || name == "none") continue;
        for (double b : bs) {
          const kvs::KvPolicyKind kind = kvs::parse_kv_policy(name);
          configs.push_back({kind, b, *dtype});
          if (kind == kvs::KvPolicyKind::kResidual && residual_checkpoint_f16) {
            configs.push_back({kind, b, *dtype, kvs::ResidualCheckpoints::DType::F16});
          }
        }
      }
    }
    if (configs.empty()) throw std::runtime_error("--kv-dtypes names no dtype");
  }
  const size_t num_configs = configs.size();

  const std::vector<Ids> lines = load_lines(fixtures, *tok);
  // Disjoint regions of the text: match prompts, then perplexity, then passkey filler.
  size_t cursor = 0;

  const kvs::kernels::KvDType kv_dtype = kvs::EngineConfig{}.cache.dtype;
  const int64_t kv_bytes_per_token = kvs::KvStorage::bytes_per_block(mc, 16, kv_dtype) / 16;  // f16 K and V, all layers
  const int64_t checkpoint_bytes_per_token = mc.num_layers * mc.hidden_size * 4;             // f32 per layer
  nlohmann::json out = {
      {"model", model_path},
      {"fixtures", fixtures},
      {"threads", threads},
      {"max_num_batched_tokens", batched_tokens},
      {"model_config",
       {{"num_layers", mc.num_layers}, {"hidden_size", mc.hidden_size}, {"num_heads", mc.num_heads},
        {"num_kv_heads", mc.num_kv_heads}, {"head_dim", mc.head_dim}}},
      {"kv_bytes_per_token", kv_bytes_per_token},
      {"checkpoint_bytes_per_token", checkpoint_bytes_per_token},
      {"num_text_lines", lines.size()},
  };
  std::vector<nlohmann::json> rows(num_configs);
  for (size_t c = 0; c < num_configs; ++c) {
    const int64_t bytes_per_token = kvs::KvStorage::bytes_per_block(mc, 16, configs[c].dtype) / 16;
    rows[c] = {{"label", configs[c].label()}, {"policy", kvs::kv_policy_name(configs[c].kind)},
               {"budget", configs[c].budget}, {"kv_dtype", kvs::kernels::kv_dtype_name(configs[c].dtype)},
               {"checkpoint_dtype",
                configs[c].checkpoint_dtype == kvs::ResidualCheckpoints::DType::F16 ? "f16" : "f32"},
               {"kv_bytes_per_token", bytes_per_token},
               {"tokens_per_gib", static_cast<double>(int64_t{1} << 30) / static_cast<double>(bytes_per_token)}};
  }
  const auto log = [&](const std::string& s) {
    std::cerr << "[" << static_cast<int64_t>(seconds_since(total_start)) << "s] " << s << std::endl;
  };
  log("model loaded; " + std::to_string(num_configs) + " configs, " + std::to_string(lines.size()) + " text lines");

  // ---- token match ----------------------------------------------------------------
  std::vector<Ids> match_set;
  for (int64_t p = 0; p < match_prompts; ++p) match_set.push_back(take_tokens(lines, cursor, match_prompt_tokens));
  if (has("match")) {
    std::vector<Config> cs;
    std::vector<kvs::Request> rs;
    for (size_t c = 0; c < num_configs; ++c) {
      for (const Ids& prompt : match_set) {
        kvs::Request r;
        r.prompt_token_ids = prompt;
        r.max_tokens = match_tokens;  // no stop tokens: exactly match_tokens greedy tokens
        cs.push_back(configs[c]);
        rs.push_back(std::move(r));
      }
    }
    log("match: " + std::to_string(rs.size()) + " requests");
    const BatchResult br = run_batch(model, cs, rs, batched_tokens);
    const auto at = [&](size_t c, size_t p) -> const Outcome& { return br.outcomes[c * match_set.size() + p]; };
    for (size_t c = 0; c < num_configs; ++c) {
      double prefix_sum = 0.0, positional_sum = 0.0;
      int64_t evicted = 0, recomputed = 0, identical = 0;
      for (size_t p = 0; p < match_set.size(); ++p) {
        const Ids& ref = at(0, p).tokens;
        const Ids& got = at(c, p).tokens;
        const size_t n = std::min(ref.size(), got.size());
        size_t first_div = 0;
        while (first_div < n && ref[first_div] == got[first_div]) ++first_div;
        int64_t same = 0;
        for (size_t i = 0; i < n; ++i) same += ref[i] == got[i] ? 1 : 0;
        const double denom = static_cast<double>(std::max<size_t>(ref.size(), 1));
        prefix_sum += static_cast<double>(first_div) / denom;
        positional_sum += static_cast<double>(same) / denom;
        identical += (got == ref) ? 1 : 0;
        evicted += at(c, p).stats.num_evicted_tokens;
        recomputed += at(c, p).stats.num_recomputed_tokens;
      }
      const double np = static_cast<double>(match_set.size());
      rows[c]["match"] = {{"prefix_match", prefix_sum / np}, {"positional_match", positional_sum / np},
                          {"identical_prompts", identical}, {"prompts", match_set.size()},
                          {"evicted_tokens", evicted}, {"recomputed_tokens", recomputed}};
      if (configs[c].kind == kvs::KvPolicyKind::kResidual && identical != static_cast<int64_t>(match_set.size())) {
        std::cerr << "WARNING: residual " << configs[c].label() << " differs from none on "
                  << match_set.size() - static_cast<size_t>(identical) << " prompts" << std::endl;
      }
    }
    out["match"] = {{"prompts", match_set.size()}, {"prompt_tokens", match_prompt_tokens},
                    {"greedy_tokens", match_tokens}, {"wall_seconds", br.wall_seconds},
                    {"policies", policy_counters(br.metrics)}};
    log("match done in " + std::to_string(br.wall_seconds) + " s");
  }

  // ---- perplexity (+ passkey at the full length) --------------------------------------
  {
    const size_t ppl_cursor_start = cursor;
    Passkey pk;
    Ids prompt, forced;
    if (ppl_passkey) {
      std::mt19937_64 rng(4242);
      pk.key = std::to_string(10000 + rng() % 90000);
      const Ids sentence = tok->encode("The pass key is " + pk.key + ". Remember it. " + pk.key + " is the pass key.\n",
                                       false, false);
      prompt = insert_at_line(lines, cursor, ppl_prompt_tokens - static_cast<int64_t>(sentence.size()), 0.5, sentence);
    } else {
      prompt = take_tokens(lines, cursor, ppl_prompt_tokens);
    }
    forced = take_tokens(lines, cursor, ppl_forced_tokens);
    const Ids question = tok->encode("\nWhat is the pass key? The pass key is", false, false);
    if (!dump_ppl_tokens.empty()) {
      std::ofstream(dump_ppl_tokens) << nlohmann::json{{"prompt", prompt}, {"forced", forced}}.dump() << "\n";
    }
    if (has("ppl")) {
      const std::vector<double> pb = parse_list(ppl_budgets);
      std::vector<size_t> which;
      for (size_t c = 0; c < num_configs; ++c) {
        if (configs[c].kind == kvs::KvPolicyKind::kNone || pb.empty() ||
            std::find(pb.begin(), pb.end(), configs[c].budget) != pb.end()) {
          which.push_back(c);
        }
      }
      std::vector<Config> cs;
      std::vector<kvs::Request> rs;
      for (size_t c : which) {
        cs.push_back(configs[c]);
        kvs::Request r;
        r.prompt_token_ids = prompt;
        r.forced_output_ids = forced;
        if (ppl_passkey) r.forced_output_ids.insert(r.forced_output_ids.end(), question.begin(), question.end());
        r.max_tokens = static_cast<int64_t>(r.forced_output_ids.size()) + (ppl_passkey ? passkey_answer_tokens : 0);
        r.num_logprobs = 0;
        rs.push_back(std::move(r));
      }
      log("ppl: " + std::to_string(rs.size()) + " requests of " + std::to_string(prompt.size()) + " + " +
          std::to_string(rs[0].max_tokens) + " tokens");
      const BatchResult br = run_batch(model, cs, rs, batched_tokens);
      for (size_t w = 0; w < which.size(); ++w) {
        const size_t c = which[w];
        const Outcome& o = br.outcomes[w];
        double nll = 0.0;
        for (int64_t i = 0; i < ppl_forced_tokens; ++i) nll -= static_cast<double>(o.logprobs[static_cast<size_t>(i)]);
        nll /= static_cast<double>(ppl_forced_tokens);
        rows[c]["ppl"] = {{"perplexity", std::exp(nll)}, {"mean_nll", nll},
                          {"evicted_tokens", o.stats.num_evicted_tokens},
                          {"recomputed_tokens", o.stats.num_recomputed_tokens}};
        if (ppl_passkey) {
          const size_t skip = forced.size() + question.size();
          const Ids answer(o.tokens.begin() + static_cast<std::ptrdiff_t>(std::min(skip, o.tokens.size())), o.tokens.end());
          rows[c]["passkey_long"] = {{"context_tokens", prompt.size() + skip}, {"key", pk.key},
                                     {"answer", tok->decode(answer, true)},
                                     {"correct", contains_key(*tok, answer, pk.key)}};
        }
      }
      out["ppl"] = {{"prompt_tokens", prompt.size()}, {"forced_tokens", ppl_forced_tokens},
                    {"text_lines", cursor - ppl_cursor_start}, {"passkey_in_prompt", ppl_passkey},
                    {"passkey_depth", 0.5}, {"wall_seconds", br.wall_seconds},
                    {"policies", policy_counters(br.metrics)}};
      log("ppl done in " + std::to_string(br.wall_seconds) + " s");
    }
  }

  // ---- passkey at shorter lengths ---------------------------------------------------------
  const std::vector<double> depths{0.5, 0.25, 0.75, 0.1, 0.9};
  // The cost run's prompt (passkey trial 0 at cost_prompt_tokens) comes first in the filler
  // region, whichever sections run, so every section sees the same text.
  const Passkey cost_prompt = make_passkey(*tok, lines, cursor, cost_prompt_tokens, depths[0],
                                           1000 * static_cast<uint64_t>(cost_prompt_tokens), repeat_filler);
  std::vector<std::vector<std::pair<int64_t, bool>>> passkey_results(num_configs);  // (length, correct)
  if (has("passkey")) {
    std::vector<Config> cs;
    std::vector<kvs::Request> rs;
    std::vector<Passkey> pks;
    std::vector<int64_t> lens;
    size_t filler_cursor = cursor;
    for (double len_d : parse_list(passkey_lengths)) {
      const int64_t len = static_cast<int64_t>(len_d);
      for (int64_t t = 0; t < passkey_trials; ++t) {
        // Trial 0 at cost_prompt_tokens is the cost run's prompt; these use later trials' seeds.
        const int64_t trial = t + (len == cost_prompt_tokens ? 1 : 0);
        pks.push_back(make_passkey(*tok, lines, filler_cursor, len, depths[static_cast<size_t>(trial) % depths.size()],
                                   1000 * static_cast<uint64_t>(len) + static_cast<uint64_t>(trial), repeat_filler));
        lens.push_back(len);
      }
    }
    for (size_t c = 0; c < num_configs; ++c) {
      for (const Passkey& p : pks) {
        kvs::Request r;
        r.prompt_token_ids = p.prompt;
        r.max_tokens = passkey_answer_tokens;
        cs.push_back(configs[c]);
        rs.push_back(std::move(r));
      }
    }
    if (!rs.empty()) {
      log("passkey: " + std::to_string(rs.size()) + " requests");
      const BatchResult br = run_batch(model, cs, rs, batched_tokens);
      for (size_t c = 0; c < num_configs; ++c) {
        for (size_t k = 0; k < pks.size(); ++k) {
          const Outcome& o = br.outcomes[c * pks.size() + k];
          passkey_results[c].push_back({lens[k], contains_key(*tok, o.tokens, pks[k].key)});
          rows[c]["passkey_answers"].push_back({{"length", lens[k]}, {"key", pks[k].key},
                                                {"answer", tok->decode(o.tokens, true)}});
        }
      }
      out["passkey"] = {{"trials_per_length", passkey_trials}, {"lengths", parse_list(passkey_lengths)},
                        {"filler", repeat_filler ? "repeat" : "text"}, {"wall_seconds", br.wall_seconds},
                        {"policies", policy_counters(br.metrics)}};
      log("passkey done in " + std::to_string(br.wall_seconds) + " s");
    }
    cursor = filler_cursor;
  }

  // ---- cost: each config alone ---------------------------------------------------------------
  if (has("cost")) {
    const Passkey& p = cost_prompt;
    double total = 0.0;
    for (size_t c = 0; c < num_configs; ++c) {
      kvs::Request r;
      r.prompt_token_ids = p.prompt;
      r.max_tokens = cost_decode_tokens;
      const BatchResult br = run_batch(model, {configs[c]}, {r}, batched_tokens, /*track=*/true);
      total += br.wall_seconds;
      const Outcome& o = br.outcomes[0];
      const kvs::KvPolicyCounters& pc = br.metrics.kv_policies[static_cast<size_t>(configs[c].kind)];
      // State after the last step that held the sequence: prompt + (generated - 1) tokens computed.
      const int64_t computed = static_cast<int64_t>(p.prompt.size()) + br.last_tokens_generated - 1;
      const int64_t config_block_bytes = kvs::KvStorage::bytes_per_block(mc, 16, configs[c].dtype);
      const int64_t full_bytes = computed * (config_block_bytes / 16);
      const int64_t resident_bytes = full_bytes - br.last_bytes_saved;
      const int64_t held_bytes = br.last_blocks_used * config_block_bytes;
      const bool residual = configs[c].kind == kvs::KvPolicyKind::kResidual;
      const double decode_s = o.last_token_s - o.first_token_s;
      const Ids answer(o.tokens.begin(), o.tokens.begin() + std::min<std::ptrdiff_t>(passkey_answer_tokens,
                                                                                     static_cast<std::ptrdiff_t>(o.tokens.size())));
      passkey_results[c].push_back({cost_prompt_tokens, contains_key(*tok, answer, p.key)});
      rows[c]["passkey_answers"].push_back({{"length", cost_prompt_tokens}, {"key", p.key},
                                            {"answer", tok->decode(answer, true)}, {"cost_run", true}});
      rows[c]["cost"] = {{"computed_tokens", computed},
                         {"full_kv_bytes", full_bytes},
                         {"resident_kv_bytes", resident_bytes},
                         {"held_block_bytes", held_bytes},
                         {"checkpoint_bytes", residual ? computed * checkpoint_bytes_per_token : 0},
                         {"prefill_seconds", o.first_token_s},
                         {"decode_tokens_per_second", static_cast<double>(o.tokens.size() - 1) / decode_s},
                         {"recompute_seconds", pc.recompute_seconds},
                         {"recomputed_tokens", pc.recomputed_tokens},
                         {"evicted_tokens", pc.evicted_tokens}};
      log("cost " + configs[c].label() + ": " + std::to_string(br.wall_seconds) + " s");
    }
    out["cost"] = {{"prompt_tokens", p.prompt.size()}, {"decode_tokens", cost_decode_tokens},
                   {"wall_seconds", total}, {"note", "each config alone in its own EngineCore; the prompt is passkey trial 0"}};
  }

  // Passkey accuracy per length (and the long one from the ppl request).
  for (size_t c = 0; c < num_configs; ++c) {
    std::map<int64_t, std::pair<int, int>> acc;
    for (const auto& [len, ok] : passkey_results[c]) {
      acc[len].first += ok ? 1 : 0;
      acc[len].second += 1;
    }
    if (rows[c].contains("passkey_long")) {
      const int64_t len = rows[c]["passkey_long"]["context_tokens"].get<int64_t>();
      acc[len].first += rows[c]["passkey_long"]["correct"].get<bool>() ? 1 : 0;
      acc[len].second += 1;
    }
    for (const auto& [len, v] : acc) {
      rows[c]["passkey"][std::to_string(len)] = {{"correct", v.first}, {"trials", v.second}};
    }
  }
  out["rows"] = rows;
  out["wall_seconds"] = seconds_since(total_start);
  log("all done");
  if (out_path.empty()) {
    std::cout << out.dump(2) << std::endl;
  } else {
    std::ofstream f(out_path);
    f << out.dump(2) << std::endl;
  }
  return 0;
}
