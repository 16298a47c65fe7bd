#include "engine/model/forward_batch.h"

#include <algorithm>
#include <string>

#include "engine/errors.h"

namespace kvs {

namespace {

// Appends one sequence's row to `tables` ([previous rows, width]), padding
// with -1 to `width` (>= the row's length).
void append_row(std::vector<int32_t>& tables, const std::vector<int32_t>& row, int64_t width) {
  tables.insert(tables.end(), row.begin(), row.end());
  tables.insert(tables.end(), static_cast<size_t>(width - static_cast<int64_t>(row.size())), -1);
}

// Re-pads `tables` of num_rows rows from `from` to `to` columns.
void widen(std::vector<int32_t>& tables, int64_t num_rows, int64_t from, int64_t to) {
  std::vector<int32_t> wider;
  wider.reserve(static_cast<size_t>(num_rows * to));
  for (int64_t s = 0; s < num_rows; ++s) {
    auto begin = tables.begin() + s * from;
    wider.insert(wider.end(), begin, begin + from);
    wider.insert(wider.end(), static_cast<size_t>(to - from), -1);
  }
  tables = std::move(wider);
}

}  // namespace

void ForwardBatch::add_sequence(const std::vector<int32_t>& new_tokens, int32_t num_cached_tokens,
                                const std::vector<int32_t>& block_table, bool want_logits, int32_t first_position) {
  add_sequence_groups(new_tokens, num_cached_tokens, std::vector<std::vector<int32_t>>{block_table}, want_logits,
                      first_position);
}

void ForwardBatch::add_sequence_groups(const std::vector<int32_t>& new_tokens, int32_t num_cached_tokens,
                                       const std::vector<std::vector<int32_t>>& tables, bool want_logits,
                                       int32_t first_position) {
  if (tables.empty()) throw InvalidArgument("forward batch: a sequence needs a block table");
  if (num_seqs() > 0 && static_cast<int64_t>(tables.size()) != num_kv_groups()) {
    throw InvalidArgument("forward batch: sequences name different numbers of KV-cache groups");
  }
  if (first_position < 0) first_position = num_cached_tokens;
  if (cu_query_lens.empty()) cu_query_lens.push_back(0);
  const int64_t previous = num_seqs();
  const int32_t first_row = static_cast<int32_t>(token_ids.size());
  for (size_t i = 0; i < new_tokens.size(); ++i) {
    token_ids.push_back(new_tokens[i]);
    positions.push_back(first_position + static_cast<int32_t>(i));
  }
  cu_query_lens.push_back(static_cast<int32_t>(token_ids.size()));
  context_lens.push_back(num_cached_tokens + static_cast<int32_t>(new_tokens.size()));
  group_block_tables.resize(tables.size() - 1);
  // Re-pad existing tables when this one is wider.
  const int64_t width = static_cast<int64_t>(tables[0].size());
  for (const std::vector<int32_t>& table : tables) {
    if (static_cast<int64_t>(table.size()) != width) throw InvalidArgument("forward batch: group tables differ in length");
  }
  if (width > max_blocks_per_seq) {
    widen(block_tables, previous, max_blocks_per_seq, width);
    for (std::vector<int32_t>& group : group_block_tables) widen(group, previous, max_blocks_per_seq, width);
    max_blocks_per_seq = width;
  }
  append_row(block_tables, tables[0], max_blocks_per_seq);
  for (size_t g = 1; g < tables.size(); ++g) append_row(group_block_tables[g - 1], tables[g], max_blocks_per_seq);
  if (want_logits && !new_tokens.empty()) {
    logits_rows.push_back(first_row + static_cast<int32_t>(new_tokens.size()) - 1);
  }
}

std::vector<int32_t> slot_mapping(const ForwardBatch& batch, int64_t block_size, int64_t group) {
  const std::vector<int32_t>& tables = batch.tables_of_group(group);
  std::vector<int32_t> slots(static_cast<size_t>(batch.num_tokens()));
  for (int64_t s = 0; s < batch.num_seqs(); ++s) {
    const int32_t begin = batch.cu_query_lens[s], query_len = batch.cu_query_lens[s + 1] - begin;
    for (int32_t j = 0; j < query_len; ++j) {
      const int64_t index = batch.context_lens[s] - query_len + j;
      const int64_t table_index = index / block_size;
      const int32_t block =
          table_index < batch.max_blocks_per_seq ? tables[s * batch.max_blocks_per_seq + table_index] : -1;
      if (block < 0) throw InvalidArgument("no KV block for cache index " + std::to_string(index));
      slots[begin + j] = static_cast<int32_t>(block * block_size + index % block_size);
    }
  }
  return slots;
}

void check_forward_batch(const ForwardBatch& batch, const ModelConfig& c, int64_t num_kv_blocks) {
  const int64_t num_seqs = batch.num_seqs();
  if (batch.cu_query_lens.size() != static_cast<size_t>(num_seqs + 1) || batch.cu_query_lens[0] != 0 ||
      batch.cu_query_lens[num_seqs] != batch.num_tokens() || batch.positions.size() != batch.token_ids.size() ||
      batch.block_tables.size() != static_cast<size_t>(num_seqs * batch.max_blocks_per_seq)) {
    throw InvalidArgument("malformed forward batch");
  }
  for (const std::vector<int32_t>& tables : batch.group_block_tables) {
    if (tables.size() != batch.block_tables.size()) throw InvalidArgument("malformed forward batch: group block tables");
    for (int32_t block : tables) {
      if (block >= num_kv_blocks) throw InvalidArgument("block id outside the KV cache");
    }
  }
  for (int64_t s = 0; s < num_seqs; ++s) {
    const int32_t begin = batch.cu_query_lens[s], query_len = batch.cu_query_lens[s + 1] - begin;
    // The attention kernels place new tokens at the end of the context, at
    // consecutive positions no smaller than their cache indices.
    if (query_len > batch.context_lens[s]) throw InvalidArgument("forward batch: sequence " + std::to_string(s) + " has more new tokens than context");
    for (int32_t j = 0; j < query_len; ++j) {
      if (batch.positions[begin + j] < batch.context_lens[s] - query_len + j ||
          batch.positions[begin + j] != batch.positions[begin] + j) {
        throw InvalidArgument("forward batch: positions of sequence " + std::to_string(s) +
                              " are not consecutive from its cache length");
      }
    }
  }
  const auto per_seq = [&](size_t size, const char* what) {
    if (size != 0 && size != static_cast<size_t>(num_seqs)) throw InvalidArgument(std::string("forward batch: ") + what + " must have one entry per sequence");
  };
  per_seq(batch.score_row_begin.size(), "score_row_begin");
  per_seq(batch.checkpoint_ids.size(), "checkpoint_ids");
  per_seq(batch.single_token_order.size(), "single_token_order");
  if (!batch.score_row_begin.empty() && (batch.score_seeds.size() != batch.score_row_begin.size() ||
                                         batch.score_tau.size() != batch.score_row_begin.size())) {
    throw InvalidArgument("forward batch: score_seeds and score_tau must match score_row_begin");
  }
  if (!batch.checkpoint_ids.empty() && batch.checkpoints == nullptr) {
    throw InvalidArgument("forward batch: residual checkpoints requested without a checkpoint store");
  }
  for (int64_t s = 0; s < num_seqs; ++s) {
    const bool checkpointed = !batch.checkpoint_ids.empty() && batch.checkpoint_ids[s] >= 0;
    for (int64_t b = 0; b < batch.max_blocks_per_seq; ++b) {
      if (batch.block_tables[s * batch.max_blocks_per_seq + b] >= num_kv_blocks && !checkpointed) {
        throw InvalidArgument("block id outside the KV cache");
      }
    }
  }
  for (int32_t id : batch.token_ids) {
    if (id < 0 || id >= c.vocab_size) throw InvalidArgument("token id " + std::to_string(id) + " is outside the vocabulary");
  }
  for (int32_t p : batch.positions) {
    if (p < 0 || p >= c.max_position_embeddings) {
      throw InvalidArgument("position " + std::to_string(p) + " is past the model's context of " +
                            std::to_string(c.max_position_embeddings) + " tokens");
    }
  }
  for (int32_t row : batch.logits_rows) {
    if (row < 0 || row >= batch.num_tokens()) throw InvalidArgument("logits row outside the batch");
  }
}

}  // namespace kvs
