#include "engine/model/step_meta.h"

#include <algorithm>

#include "engine/errors.h"

namespace kvs {

StepMetaLayout::StepMetaLayout(int64_t num_tokens, int64_t num_seqs, int64_t table_entries, int64_t num_logits_rows) {
  token_ids = 0;
  positions = token_ids + num_tokens;
  slots = positions + num_tokens;
  cu_query_lens = slots + num_tokens;
  context_lens = cu_query_lens + num_seqs + 1;
  block_tables = context_lens + num_seqs;
  logits_rows = block_tables + table_entries;
  total = logits_rows + num_logits_rows;
}

std::vector<int32_t> pack_step_meta(const ForwardBatch& batch, const std::vector<int32_t>& slots) {
  std::vector<int32_t> packed;
  packed.reserve(static_cast<size_t>(StepMetaLayout(batch.num_tokens(), batch.num_seqs(), batch.block_tables.size(),
                                                    batch.logits_rows.size())
                                         .total));
  packed.insert(packed.end(), batch.token_ids.begin(), batch.token_ids.end());
  packed.insert(packed.end(), batch.positions.begin(), batch.positions.end());
  packed.insert(packed.end(), slots.begin(), slots.end());
  packed.insert(packed.end(), batch.cu_query_lens.begin(), batch.cu_query_lens.end());
  packed.insert(packed.end(), batch.context_lens.begin(), batch.context_lens.end());
  packed.insert(packed.end(), batch.block_tables.begin(), batch.block_tables.end());
  packed.insert(packed.end(), batch.logits_rows.begin(), batch.logits_rows.end());
  return packed;
}

bool is_graph_decode_step(const ForwardBatch& batch) {
  if (batch.num_tokens() != batch.num_seqs()) return false;
  if (static_cast<int64_t>(batch.logits_rows.size()) != batch.num_seqs()) return false;
  for (int64_t s = 0; s < batch.num_seqs(); ++s) {
    if (batch.cu_query_lens[s + 1] != s + 1 || batch.logits_rows[s] != s) return false;
  }
  return true;
}

std::vector<int32_t> pack_padded_decode_meta(const ForwardBatch& batch, const std::vector<int32_t>& slots,
                                             int64_t bucket, int64_t table_width) {
  const int64_t n = batch.num_seqs();
  if (!is_graph_decode_step(batch) || n > bucket || batch.max_blocks_per_seq > table_width ||
      static_cast<int64_t>(slots.size()) != n) {
    throw InvalidArgument("not a decode step that fits a graph of " + std::to_string(bucket) + " sequences");
  }
  const StepMetaLayout layout(bucket, bucket, bucket * table_width, bucket);
  std::vector<int32_t> host(static_cast<size_t>(layout.total), 0);
  for (int64_t s = 0; s < bucket; ++s) {
    const bool real = s < n;
    host[layout.token_ids + s] = real ? batch.token_ids[s] : 0;
    host[layout.positions + s] = real ? batch.positions[s] : 0;
    host[layout.slots + s] = real ? slots[s] : -1;
    host[layout.cu_query_lens + s + 1] = static_cast<int32_t>(s + 1);
    host[layout.context_lens + s] = real ? batch.context_lens[s] : 1;
    host[layout.logits_rows + s] = static_cast<int32_t>(s);
    if (real) {
      // Entries past the batch's width (and the batch's own -1 padding) stay
      // block 0: never read, since the kernels stop at the context length.
      const auto row = batch.block_tables.begin() + s * batch.max_blocks_per_seq;
      std::transform(row, row + batch.max_blocks_per_seq, host.begin() + layout.block_tables + s * table_width,
                     [](int32_t block) { return std::max(block, 0); });
    }
  }
  return host;
}

}  // namespace kvs
