#include "engine/model/generate.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "engine/errors.h"

namespace kvs {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<int32_t> sequential_blocks(int64_t num_blocks) {
  std::vector<int32_t> table(static_cast<size_t>(num_blocks));
  std::iota(table.begin(), table.end(), 0);
  return table;
}

kernels::KvDType checked_kv_dtype(const ForwardModel& model, kernels::KvDType dtype) {
  const std::string error = model.kv_dtype_error(dtype);
  if (!error.empty()) throw InvalidArgument(error);
  return dtype;
}

}  // namespace

GenerateResult generate(ForwardModel& model, const std::vector<int32_t>& prompt, const GenerateOptions& options,
                        const std::function<bool(int32_t)>& on_token) {
  options.sampling.validate();
  if (prompt.empty()) throw InvalidArgument("the prompt is empty");
  if (options.max_tokens < 0) throw InvalidArgument("max_tokens must be >= 0");
  const int64_t context = model.config().max_position_embeddings;
  const int64_t prompt_len = static_cast<int64_t>(prompt.size());
  if (prompt_len + 1 > context) {
    throw InvalidArgument("the prompt has " + std::to_string(prompt_len) + " tokens; the model's context is " +
                          std::to_string(context));
  }
  const int64_t max_new = std::min(options.max_tokens, context - prompt_len);
  const int64_t total = prompt_len + max_new;
  const int64_t num_blocks = std::max<int64_t>(1, (total + options.block_size - 1) / options.block_size);
  KvStorage kv(model.config(), num_blocks, options.block_size, checked_kv_dtype(model, options.kv_dtype),
               model.num_kv_shards(), model.make_kv_memory());
  const std::vector<int32_t> table = sequential_blocks(num_blocks);
  Sampler sampler(options.sampling, /*fallback_seed=*/std::random_device{}());
  GenerateResult result;
  result.finish_reason = "length";
  if (max_new == 0) return result;

  const auto start = std::chrono::steady_clock::now();
  std::vector<float> logits;
  for (int64_t begin = 0; begin < prompt_len; begin += options.prefill_chunk) {
    const int64_t end = std::min(prompt_len, begin + options.prefill_chunk);
    ForwardBatch batch;
    batch.add_sequence(std::vector<int32_t>(prompt.begin() + begin, prompt.begin() + end), static_cast<int32_t>(begin),
                       table, /*want_logits=*/end == prompt_len);
    logits = model.forward(batch, kv);
  }
  result.prefill_seconds = seconds_since(start);
  const auto decode_start = std::chrono::steady_clock::now();
  const int64_t vocab = model.config().vocab_size;
  while (true) {
    const int32_t token = sampler.sample(logits.data(), vocab, prompt, result.tokens);
    result.tokens.push_back(token);
    const bool stop_token = std::find(options.stop_token_ids.begin(), options.stop_token_ids.end(), token) !=
                            options.stop_token_ids.end();
    const bool keep_going = on_token ? on_token(token) : true;
    if (stop_token || !keep_going) {
      result.finish_reason = "stop";
      break;
    }
    if (static_cast<int64_t>(result.tokens.size()) >= max_new) break;
    ForwardBatch batch;
    batch.add_sequence({token}, static_cast<int32_t>(prompt_len + result.tokens.size() - 1), table, true);
    logits = model.forward(batch, kv);
  }
  result.decode_seconds = seconds_since(decode_start);
  return result;
}

std::vector<float> prompt_logits(ForwardModel& model, const std::vector<int32_t>& prompt, int64_t block_size,
                                 kernels::KvDType kv_dtype) {
  if (prompt.empty()) throw InvalidArgument("the prompt is empty");
  const int64_t num_blocks = (static_cast<int64_t>(prompt.size()) + block_size - 1) / block_size;
  KvStorage kv(model.config(), num_blocks, block_size, checked_kv_dtype(model, kv_dtype), model.num_kv_shards(),
               model.make_kv_memory());
  ForwardBatch batch;
  batch.add_sequence(prompt, 0, sequential_blocks(num_blocks), false);
  batch.logits_rows.resize(prompt.size());
  std::iota(batch.logits_rows.begin(), batch.logits_rows.end(), 0);
  return model.forward(batch, kv);
}

}  // namespace kvs
