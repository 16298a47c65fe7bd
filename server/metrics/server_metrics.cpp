#include "server/metrics/server_metrics.h"

#include <sstream>

namespace kvs {
namespace {

std::vector<double> latency_buckets() {
  return {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
}
std::vector<double> token_buckets() { return {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000}; }

std::string number(double value) {
  std::ostringstream s;
  s << value;
  return s.str();
}

void family(std::string& out, const std::string& name, const char* type, const char* help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void sample(std::string& out, const std::string& name, const std::string& labels, double value) {
  out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + number(value) + "\n";
}

// The per-policy KV compression series: one sample per policy name, every
// policy always present (zeros for those no request used).
void render_kv_policies(std::string& out, const EngineMetrics& engine, const std::string& labels) {
  struct Series {
    const char* name;
    const char* type;
    const char* help;
    double (*value)(const KvPolicyCounters&);
  };
  static const Series series[] = {
      {"kvserve:kv_evicted_tokens_total", "counter", "KV entries dropped by the compression policy.",
       [](const KvPolicyCounters& c) { return static_cast<double>(c.evicted_tokens); }},
      {"kvserve:kv_recomputed_tokens_total", "counter", "K/V rows recomputed from residual checkpoints.",
       [](const KvPolicyCounters& c) { return static_cast<double>(c.recomputed_tokens); }},
      {"kvserve:kv_bytes_saved", "gauge", "K/V bytes the running sequences do not hold because of compression.",
       [](const KvPolicyCounters& c) { return static_cast<double>(c.bytes_saved); }},
      {"kvserve:kv_recompute_seconds_total", "counter", "Wall-clock seconds spent recomputing dropped K/V.",
       [](const KvPolicyCounters& c) { return c.recompute_seconds; }},
  };
  for (const Series& s : series) {
    family(out, s.name, s.type, s.help);
    for (int i = 0; i < kNumKvPolicies; ++i) {
      const auto kind = static_cast<KvPolicyKind>(i);
      sample(out, s.name, labels + ",policy=\"" + kv_policy_name(kind) + "\"", s.value(engine.kv_policies[i]));
    }
  }
}

}  // namespace

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

ServerMetrics::ServerMetrics(std::string model_name)
    : labels_("model_name=\"" + escape_label_value(model_name) + "\""),
      ttft_(latency_buckets()),
      tpot_(latency_buckets()),
      e2e_(latency_buckets()),
      prompt_len_(token_buckets()),
      output_len_(token_buckets()) {}

void ServerMetrics::record_choice(const ChoiceRecord& record) {
  std::lock_guard<std::mutex> lock(mutex_);
  prompt_tokens_ += record.num_prompt_tokens;
  generation_tokens_ += record.num_output_tokens;
  ++finished_[record.finish_reason];
  if (record.time_to_first_token >= 0) ttft_.observe(record.time_to_first_token);
  e2e_.observe(record.e2e_seconds);
  prompt_len_.observe(static_cast<double>(record.num_prompt_tokens));
  output_len_.observe(static_cast<double>(record.num_output_tokens));
}

void ServerMetrics::record_inter_token(double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  tpot_.observe(seconds);
}

void ServerMetrics::record_http(int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++http_responses_[status];
}

// Prefix-cache tiers (--kv-offload-*): one series per enabled tier.
static void render_kv_offload(std::string& out, const EngineMetrics& engine, const std::string& l) {
  if (!engine.host_tier_enabled && !engine.disk_tier_enabled) return;
  struct Series {
    const char* name;
    const char* type;
    const char* help;
    double (*value)(const TierCounters&);
  };
  static const Series kSeries[] = {
      {"kvserve:kv_offload_hits_total", "counter", "Prefix-cache blocks loaded from a tier.",
       [](const TierCounters& c) { return static_cast<double>(c.hits); }},
      {"kvserve:kv_offload_misses_total", "counter", "Prefix-cache block lookups a tier could not serve.",
       [](const TierCounters& c) { return static_cast<double>(c.misses); }},
      {"kvserve:kv_offload_bytes", "gauge", "Bytes a tier holds.",
       [](const TierCounters& c) { return static_cast<double>(c.bytes); }},
      {"kvserve:kv_offload_entries", "gauge", "KV blocks a tier holds.",
       [](const TierCounters& c) { return static_cast<double>(c.entries); }},
      {"kvserve:kv_offload_load_seconds_total", "counter", "Seconds spent loading blocks from a tier.",
       [](const TierCounters& c) { return c.load_seconds; }},
      {"kvserve:kv_offload_stores_total", "counter", "KV blocks stored into a tier.",
       [](const TierCounters& c) { return static_cast<double>(c.stores); }},
      {"kvserve:kv_offload_store_errors_total", "counter", "Failed writes to a tier (the tier then stops writing).",
       [](const TierCounters& c) { return static_cast<double>(c.store_errors); }},
      {"kvserve:kv_offload_rejected_total", "counter", "Tier entries found torn, corrupt or foreign (each a miss).",
       [](const TierCounters& c) { return static_cast<double>(c.rejected); }},
      {"kvserve:kv_offload_evictions_total", "counter", "Entries a tier removed to stay within its bound.",
       [](const TierCounters& c) { return static_cast<double>(c.evictions); }},
  };
  for (const Series& series : kSeries) {
    family(out, series.name, series.type, series.help);
    if (engine.host_tier_enabled) sample(out, series.name, l + ",tier=\"host\"", series.value(engine.host_tier));
    if (engine.disk_tier_enabled) sample(out, series.name, l + ",tier=\"disk\"", series.value(engine.disk_tier));
  }
  family(out, "kvserve:kv_offload_loaded_tokens_total", "counter",
         "Prompt tokens whose KV blocks came from a tier instead of being computed.");
  sample(out, "kvserve:kv_offload_loaded_tokens_total", l, static_cast<double>(engine.tier_loaded_tokens));
}

std::string ServerMetrics::render(const EngineMetrics& engine, int64_t num_active_requests, bool draining) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  const std::string& l = labels_;
  family(out, "vllm:num_requests_running", "gauge", "Number of requests in model execution batches.");
  sample(out, "vllm:num_requests_running", l, static_cast<double>(engine.num_running));
  family(out, "vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.");
  sample(out, "vllm:num_requests_waiting", l, static_cast<double>(engine.num_waiting));
  family(out, "vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.");
  const double total = static_cast<double>(engine.kv_blocks_total);
  sample(out, "vllm:kv_cache_usage_perc", l, total > 0 ? static_cast<double>(engine.kv_blocks_used) / total : 0.0);
  family(out, "vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.");
  sample(out, "vllm:prompt_tokens_total", l, static_cast<double>(prompt_tokens_));
  family(out, "vllm:generation_tokens_total", "counter", "Number of generation tokens processed.");
  sample(out, "vllm:generation_tokens_total", l, static_cast<double>(generation_tokens_));
  family(out, "vllm:prefix_cache_queries_total", "counter", "Prefix cache queries, in terms of number of queried tokens.");
  sample(out, "vllm:prefix_cache_queries_total", l, static_cast<double>(engine.prefix_query_tokens));
  family(out, "vllm:prefix_cache_hits_total", "counter", "Prefix cache hits, in terms of number of cached tokens.");
  sample(out, "vllm:prefix_cache_hits_total", l, static_cast<double>(engine.prefix_hit_tokens));
  family(out, "vllm:num_preemptions_total", "counter", "Cumulative number of preemptions from the engine.");
  sample(out, "vllm:num_preemptions_total", l, static_cast<double>(engine.num_preemptions));
  family(out, "vllm:request_success_total", "counter", "Count of finished requests by finish reason.");
  for (const auto& [reason, count] : finished_) {
    sample(out, "vllm:request_success_total", l + ",finished_reason=\"" + escape_label_value(reason) + "\"", static_cast<double>(count));
  }
  family(out, "vllm:time_to_first_token_seconds", "histogram", "Histogram of time to first token in seconds.");
  ttft_.render(out, "vllm:time_to_first_token_seconds", l);
  family(out, "vllm:time_per_output_token_seconds", "histogram", "Histogram of time per output token in seconds.");
  tpot_.render(out, "vllm:time_per_output_token_seconds", l);
  family(out, "vllm:e2e_request_latency_seconds", "histogram", "Histogram of end to end request latency in seconds.");
  e2e_.render(out, "vllm:e2e_request_latency_seconds", l);
  family(out, "vllm:request_prompt_tokens", "histogram", "Number of prefill tokens processed.");
  prompt_len_.render(out, "vllm:request_prompt_tokens", l);
  family(out, "vllm:request_generation_tokens", "histogram", "Number of generation tokens processed.");
  output_len_.render(out, "vllm:request_generation_tokens", l);

  family(out, "kvserve:kv_blocks_used", "gauge", "KV-cache blocks in use.");
  sample(out, "kvserve:kv_blocks_used", l, static_cast<double>(engine.kv_blocks_used));
  family(out, "kvserve:kv_blocks_in_use", "gauge",
         "KV-cache blocks in use by KV-cache group kind (a block holds kvserve:kv_layers_per_block layers).");
  sample(out, "kvserve:kv_blocks_in_use", l + ",group=\"full\"", static_cast<double>(engine.kv_blocks_used_full));
  sample(out, "kvserve:kv_blocks_in_use", l + ",group=\"sliding_window\"", static_cast<double>(engine.kv_blocks_used_window));
  family(out, "kvserve:kv_layers_per_block", "gauge", "Layers whose K/V one KV-cache block holds.");
  sample(out, "kvserve:kv_layers_per_block", l, static_cast<double>(engine.kv_layers_per_block));
  family(out, "kvserve:kv_window_blocks_freed_total", "counter",
         "KV-cache blocks sliding-window layers gave back to the pool once they slid out of the window.");
  sample(out, "kvserve:kv_window_blocks_freed_total", l, static_cast<double>(engine.kv_window_released_blocks));
  family(out, "kvserve:kv_blocks_total", "gauge", "KV-cache blocks in the pool.");
  sample(out, "kvserve:kv_blocks_total", l, static_cast<double>(engine.kv_blocks_total));
  family(out, "kvserve:kv_cache_bytes_per_token", "gauge",
         "Bytes one token's K/V takes in the KV cache over all layers (label dtype: the cache's element type).");
  sample(out, "kvserve:kv_cache_bytes_per_token", l + ",dtype=\"" + engine.kv_cache_dtype + "\"",
         static_cast<double>(engine.kv_cache_bytes_per_token));
  family(out, "kvserve:kv_block_size_tokens", "gauge", "Tokens per KV-cache block.");
  sample(out, "kvserve:kv_block_size_tokens", l, static_cast<double>(engine.kv_block_size));
  family(out, "kvserve:engine_steps_total", "counter", "Engine steps run.");
  sample(out, "kvserve:engine_steps_total", l, static_cast<double>(engine.num_steps));
  family(out, "kvserve:engine_step_tokens_total", "counter", "Tokens put through the model (recompute included).");
  sample(out, "kvserve:engine_step_tokens_total", l, static_cast<double>(engine.total_step_tokens));
  family(out, "kvserve:engine_step_seconds_total", "counter", "Wall-clock seconds spent in engine steps.");
  sample(out, "kvserve:engine_step_seconds_total", l, engine.total_step_seconds);
  render_kv_policies(out, engine, l);
  render_kv_offload(out, engine, l);
  family(out, "vllm:spec_decode_num_drafts_total", "counter", "Number of spec decoding drafts.");
  sample(out, "vllm:spec_decode_num_drafts_total", l, static_cast<double>(engine.spec_num_drafts));
  family(out, "vllm:spec_decode_num_draft_tokens_total", "counter", "Number of draft tokens.");
  sample(out, "vllm:spec_decode_num_draft_tokens_total", l, static_cast<double>(engine.spec_num_draft_tokens));
  family(out, "vllm:spec_decode_num_accepted_tokens_total", "counter", "Number of accepted tokens.");
  sample(out, "vllm:spec_decode_num_accepted_tokens_total", l, static_cast<double>(engine.spec_num_accepted_tokens));
  family(out, "vllm:spec_decode_num_accepted_tokens_per_pos_total", "counter", "Accepted tokens per draft position.");
  for (size_t i = 0; i < engine.spec_accepted_per_position.size(); ++i) {
    sample(out, "vllm:spec_decode_num_accepted_tokens_per_pos_total", l + ",position=\"" + std::to_string(i) + "\"",
           static_cast<double>(engine.spec_accepted_per_position[i]));
  }
  family(out, "kvserve:grammar_masks_total", "counter", "Logits rows masked by a request's grammar (structured output).");
  sample(out, "kvserve:grammar_masks_total", l, static_cast<double>(engine.grammar_num_masks));
  family(out, "kvserve:grammar_mask_seconds_total", "counter",
         "Engine-thread seconds spent computing and applying grammar masks and budget checks.");
  sample(out, "kvserve:grammar_mask_seconds_total", l, engine.grammar_mask_seconds);
  family(out, "kvserve:grammar_steered_total", "counter",
         "Grammar rows resampled towards a shortest completion so the answer ends within max_tokens.");
  sample(out, "kvserve:grammar_steered_total", l, static_cast<double>(engine.grammar_num_steered));
  family(out, "kvserve:active_requests", "gauge", "API requests being served (all choices).");
  sample(out, "kvserve:active_requests", l, static_cast<double>(num_active_requests));
  family(out, "kvserve:draining", "gauge", "1 while the server drains before exit.");
  sample(out, "kvserve:draining", l, draining ? 1.0 : 0.0);
  family(out, "kvserve:http_responses_total", "counter", "HTTP responses by status code.");
  for (const auto& [status, count] : http_responses_) {
    sample(out, "kvserve:http_responses_total", "code=\"" + std::to_string(status) + "\"", static_cast<double>(count));
  }
  return out;
}

}  // namespace kvs
