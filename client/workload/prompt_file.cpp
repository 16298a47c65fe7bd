#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "client/workload/lengths.h"
#include "client/workload/workload.h"

namespace kvs::client {
namespace {

using nlohmann::json;

// One entry -> a spec; false when the entry has no usable prompt.
bool to_spec(const json& entry, int64_t fixed_output_len, RequestSpec& spec) {
  if (!entry.is_object()) return false;
  if (auto it = entry.find("prompt"); it != entry.end() && it->is_string()) {
    spec.prompt = it->get<std::string>();
    spec.max_tokens = fixed_output_len;
    for (const char* key : {"output_len", "max_tokens"}) {
      if (auto n = entry.find(key); fixed_output_len <= 0 && n != entry.end() && n->is_number_integer()) {
        spec.max_tokens = n->get<int64_t>();
      }
    }
  } else if (auto conv = entry.find("conversations"); conv != entry.end() && conv->is_array()) {
    std::string reply;
    for (const json& turn : *conv) {
      if (!turn.is_object() || !turn.contains("value") || !turn["value"].is_string()) continue;
      const std::string from = turn.value("from", "");
      if (spec.prompt.empty() && (from == "human" || from == "user")) {
        spec.prompt = turn["value"].get<std::string>();
      } else if (!spec.prompt.empty() && (from == "gpt" || from == "assistant")) {
        reply = turn["value"].get<std::string>();
        break;
      }
    }
    if (fixed_output_len > 0) spec.max_tokens = fixed_output_len;
    else if (!reply.empty()) spec.max_tokens = estimate_tokens(reply);
    else return false;  // no reply to size the output by
  } else {
    return false;
  }
  if (spec.prompt.empty()) return false;
  if (spec.max_tokens <= 0) spec.max_tokens = 128;
  spec.expected_prompt_tokens = estimate_tokens(spec.prompt);
  return true;
}

}  // namespace

std::vector<RequestSpec> load_prompt_file(const std::string& path, int64_t fixed_output_len) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open dataset '" + path + "'");
  std::vector<RequestSpec> specs;
  const auto add = [&](const json& entry) {
    RequestSpec spec;
    if (to_spec(entry, fixed_output_len, spec)) specs.push_back(std::move(spec));
  };
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') {
    json array;
    try {
      array = json::parse(text);
    } catch (const json::exception& e) {
      throw std::runtime_error("dataset '" + path + "' is not valid JSON: " + e.what());
    }
    for (const json& entry : array) add(entry);
  } else {
    std::istringstream lines(text);
    std::string line;
    int64_t line_number = 0;
    while (std::getline(lines, line)) {
      ++line_number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      try {
        add(json::parse(line));
      } catch (const json::exception& e) {
        throw std::runtime_error("dataset '" + path + "' line " + std::to_string(line_number) + ": " + e.what());
      }
    }
  }
  if (specs.empty()) throw std::runtime_error("dataset '" + path + "' has no usable prompts");
  return specs;
}

std::vector<RequestSpec> build_workload(const BenchOptions& o, int64_t count) {
  switch (o.dataset) {
    case DatasetKind::kSharedPrefix: return shared_prefix_workload(o, count);
    case DatasetKind::kJsonl: {
      std::vector<RequestSpec> pool = load_prompt_file(o.dataset_path, o.output_len_set ? o.output_len : 0);
      std::vector<RequestSpec> specs;
      for (int64_t i = 0; i < count; ++i) specs.push_back(pool[static_cast<size_t>(i) % pool.size()]);
      return specs;
    }
    default: return synthetic_workload(o, count);
  }
}

}  // namespace kvs::client
