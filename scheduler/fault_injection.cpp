#include "scheduler/fault_injection.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <stdexcept>

#include "engine/errors.h"

namespace kvs {
namespace {

int64_t parse_int(const std::string& entry, const std::string& value, int64_t min) {
  size_t used = 0;
  int64_t number = 0;
  try {
    number = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value.size() || number < min) {
    throw InvalidArgument("KVS_FAULT_INJECT: bad entry '" + entry + "' (want throw_step:N or nan_logits:TOKEN_ID)");
  }
  return number;
}

}  // namespace

FaultPlan parse_fault_plan(const std::string& spec) {
  FaultPlan plan;
  size_t begin = 0;
  while (begin < spec.size()) {
    const size_t end = std::min(spec.find(',', begin), spec.size());
    const std::string entry = spec.substr(begin, end - begin);
    begin = end + 1;
    if (entry.empty()) continue;
    const size_t colon = entry.find(':');
    const std::string kind = entry.substr(0, colon);
    const std::string value = colon == std::string::npos ? "" : entry.substr(colon + 1);
    if (kind == "throw_step") {
      plan.throw_step = parse_int(entry, value, 1);
    } else if (kind == "nan_logits") {
      plan.nan_token = static_cast<int32_t>(parse_int(entry, value, 0));
    } else {
      parse_int(entry, "", 0);  // throws, naming the entry
    }
  }
  return plan;
}

std::vector<float> FaultInjectingModel::forward(const ForwardBatch& batch, KvStorage& kv, ForwardSideOutputs* side) {
  ++num_forwards_;
  if (num_forwards_ == plan_.throw_step) {
    throw std::runtime_error("injected fault: forward pass " + std::to_string(num_forwards_) + " throws");
  }
  std::vector<float> logits = inner_.forward(batch, kv, side);
  if (plan_.nan_token < 0) return logits;
  const int64_t vocab = config().vocab_size;
  for (size_t r = 0; r < batch.logits_rows.size(); ++r) {
    const int32_t row = batch.logits_rows[r];
    // The sequence whose tokens hold `row`: cu_query_lens[s] <= row < cu_query_lens[s + 1].
    const auto next = std::upper_bound(batch.cu_query_lens.begin(), batch.cu_query_lens.end(), row);
    const auto first = batch.token_ids.begin() + *(next - 1);
    const auto last = batch.token_ids.begin() + *next;
    if (std::find(first, last, plan_.nan_token) == last) continue;
    std::fill_n(logits.begin() + static_cast<int64_t>(r) * vocab, vocab, std::numeric_limits<float>::quiet_NaN());
  }
  return logits;
}

}  // namespace kvs
