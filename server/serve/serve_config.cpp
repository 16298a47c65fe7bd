#include "server/serve/serve_config.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <limits>
#include <type_traits>
#include <variant>

#include <nlohmann/json.hpp>

#include "engine/errors.h"
#include "kernels/kv_dtype.h"
#include "server/serve/serve_flags.h"

namespace kvs {

void ServeConfig::validate() const {
  const auto check = [](bool ok, const std::string& message) {
    if (!ok) throw InvalidArgument(message);
  };
  check(port > 0 && port < 65536, "--port must be in 1..65535");
  check(grpc_port >= 0 && grpc_port < 65536, "--grpc-port must be in 0..65535");
  check(max_num_seqs >= 1, "--max-num-seqs must be >= 1");
  check(speculative_ngram >= 0 && speculative_ngram <= 64, "--speculative-ngram must be in [0, 64]");
  check(max_num_batched_tokens >= 3, "--max-num-batched-tokens must be >= 3");
  // A byte-size flag's value, with the flag named in the error.
  const auto byte_size = [](const std::string& text, const char* flag) {
    try {
      return parse_byte_size(text);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(std::string(flag) + ": " + e.what());
    }
  };
  check(kv_cache_memory.empty() || byte_size(kv_cache_memory, "--kv-cache-memory") > 0, "--kv-cache-memory must be > 0");
  check(kv_offload_memory.empty() || kv_offload_memory == "0" || byte_size(kv_offload_memory, "--kv-offload-memory") > 0,
        "--kv-offload-memory must be >= 0");
  check(kv_offload_dir.empty() || byte_size(kv_offload_disk_bytes, "--kv-offload-disk-bytes") > 0,
        "--kv-offload-disk-bytes must be > 0");
  check(kv_cache_dtype == "auto" || kernels::kv_dtype_from_name(kv_cache_dtype).has_value(),
        "--kv-cache-dtype must be auto, f16, f32, bf16, q8_0, q4_0 or fp8_e4m3 (got \"" + kv_cache_dtype + "\")");
  check(device == "auto" || device == "cpu" || device == "cuda", "--device must be auto, cpu or cuda");
  check(gpu_memory_utilization > 0.0 && gpu_memory_utilization <= 1.0, "--gpu-memory-utilization must be in (0, 1]");
  check(max_queue >= 0, "--max-queue must be >= 0");
  check(drain_timeout >= 0, "--drain-timeout must be >= 0");
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();  // gRPC takes these as int
  check(limits.max_body_bytes >= 1024 && limits.max_body_bytes <= kIntMax, "--max-body-bytes must be in 1024..2147483647");
  check(limits.max_header_bytes >= 1024 && limits.max_header_bytes <= kIntMax,
        "--max-header-bytes must be in 1024..2147483647");
  check(limits.max_n >= 1, "--max-n must be >= 1");
  check(limits.max_tokens >= 0, "--max-tokens-limit must be >= 0 (0 = only the context bounds max_tokens)");
  check(limits.max_stop >= 0, "--max-stop must be >= 0");
  check(limits.max_stop_bytes >= 1, "--max-stop-bytes must be >= 1");
  check(limits.max_streams_per_key >= 0, "--max-streams-per-key must be >= 0 (0 = unlimited)");
  check(threads >= 0, "--threads must be >= 0");
  check(tensor_parallel_size >= 1, "--tensor-parallel-size must be >= 1");
  check(http_threads >= 2, "--http-threads must be >= 2");
  check(max_model_len == 0 || max_model_len >= 2, "--max-model-len must be >= 2 (0 = the model's context)");
  check(log_format == "text" || log_format == "json", "--log-format must be text or json");
  check(log_level == "trace" || log_level == "debug" || log_level == "info" || log_level == "warn" ||
            log_level == "error" || log_level == "critical" || log_level == "off",
        "--log-level must be trace, debug, info, warn, error, critical or off");
  for (const std::string& key : api_keys) check(!key.empty(), "--api-key must not be empty");
  kv_policy_from_flags(kv_policy, kv_budget);
}

KvPolicySpec kv_policy_from_flags(const std::string& policy, double budget) {
  KvPolicySpec spec;
  try {
    spec.kind = parse_kv_policy(policy);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(std::string("--kv-policy: ") + e.what());
  }
  if (spec.compresses() && budget == 0.0) {
    throw InvalidArgument("--kv-policy " + policy + " needs --kv-budget (tokens kept per sequence, or a fraction in (0, 1))");
  }
  spec.budget = budget;
  if (budget != 0.0) {
    // The budget is checked even under `none`: it is then the default for requests that pick a policy.
    KvPolicySpec check = spec;
    if (!check.compresses()) check.kind = KvPolicyKind::kStreaming;
    try {
      check.validate();
    } catch (const InvalidArgument&) {
      throw InvalidArgument("--kv-budget must be an integer >= 1 (tokens kept per sequence) or a fraction in (0, 1), not " +
                            nlohmann::json(budget).dump());
    }
  }
  return spec;
}

int64_t parse_byte_size(const std::string& text) {
  size_t end = 0;
  double value = 0;
  try {
    value = std::stod(text, &end);
  } catch (const std::exception&) {
    throw InvalidArgument("not a byte size: '" + text + "'");
  }
  std::string unit = text.substr(end);
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double scale = 1;
  if (unit == "" || unit == "b") scale = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib") scale = 1024.0;
  else if (unit == "m" || unit == "mb" || unit == "mib") scale = 1024.0 * 1024;
  else if (unit == "g" || unit == "gb" || unit == "gib") scale = 1024.0 * 1024 * 1024;
  else throw InvalidArgument("unknown byte-size unit in '" + text + "'");
  if (value <= 0) throw InvalidArgument("byte size must be positive: '" + text + "'");
  return static_cast<int64_t>(value * scale);
}

namespace {

// One config-file value into the flag's field (nlohmann::json::exception on a
// wrong type, InvalidArgument for a value outside the flag's choices).
void set_from_json(const ServeFlag& flag, const nlohmann::json& value) {
  std::visit(
      [&](auto* field) {
        using T = std::remove_pointer_t<decltype(field)>;
        if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          field->push_back(value.get<std::string>());  // one key per entry, as a repeated flag
        } else if constexpr (std::is_same_v<T, std::string>) {
          *field = flag.integer_as_text && value.is_number_integer() ? std::to_string(value.get<int64_t>())
                                                                     : value.get<std::string>();
          if (!flag.choices.empty() &&
              std::find(flag.choices.begin(), flag.choices.end(), *field) == flag.choices.end()) {
            std::string allowed;
            for (const std::string& choice : flag.choices) allowed += (allowed.empty() ? "" : ", ") + choice;
            throw InvalidArgument("must be one of " + allowed);
          }
        } else {
          *field = value.get<T>();
        }
      },
      flag.target);
}

}  // namespace

void load_serve_config_file(const std::string& path, ServeConfig& config) {
  std::ifstream in(path);
  if (!in) throw InvalidArgument("cannot read config file " + path);
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument("config file " + path + ": " + e.what());
  }
  if (!doc.is_object()) throw InvalidArgument("config file " + path + ": must be a JSON object");
  const std::vector<ServeFlag> flags = serve_flags(config);
  for (const auto& [raw_key, value] : doc.items()) {
    std::string key = raw_key;
    for (char& c : key) c = c == '_' ? '-' : c;
    const auto flag = std::find_if(flags.begin(), flags.end(), [&key](const ServeFlag& f) { return f.name == key; });
    if (flag == flags.end()) throw InvalidArgument("config file " + path + ": unknown key '" + raw_key + "'");
    try {
      set_from_json(*flag, value);
    } catch (const nlohmann::json::exception&) {
      throw InvalidArgument("config file " + path + ": bad type for '" + raw_key + "'");
    } catch (const InvalidArgument& e) {
      throw InvalidArgument("config file " + path + ": '" + raw_key + "' " + e.what());
    }
  }
}

std::vector<std::string> resolve_api_keys(const ServeConfig& config) {
  std::vector<std::string> keys = config.api_keys;
  if (config.api_key_file.empty()) return keys;
  std::ifstream in(config.api_key_file);
  if (!in) throw InvalidArgument("cannot read --api-key-file " + config.api_key_file);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    size_t start = 0;
    while (start < line.size() && std::isspace(static_cast<unsigned char>(line[start]))) ++start;
    line = line.substr(start);
    if (!line.empty() && line[0] != '#') keys.push_back(line);
  }
  if (keys.empty()) throw InvalidArgument("--api-key-file " + config.api_key_file + " holds no key");
  return keys;
}

}  // namespace kvs
