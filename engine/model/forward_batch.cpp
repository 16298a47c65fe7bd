#include "engine/model/forward_batch.h"

#include <algorithm>

namespace kvs {

void ForwardBatch::add_sequence(const std::vector<int32_t>& new_tokens, int32_t num_cached_tokens,
                                const std::vector<int32_t>& block_table, bool want_logits, int32_t first_position) {
  if (first_position < 0) first_position = num_cached_tokens;
  if (cu_query_lens.empty()) cu_query_lens.push_back(0);
  const int32_t first_row = static_cast<int32_t>(token_ids.size());
  for (size_t i = 0; i < new_tokens.size(); ++i) {
    token_ids.push_back(new_tokens[i]);
    positions.push_back(first_position + static_cast<int32_t>(i));
  }
  cu_query_lens.push_back(static_cast<int32_t>(token_ids.size()));
  context_lens.push_back(num_cached_tokens + static_cast<int32_t>(new_tokens.size()));
  // Re-pad existing tables when this one is wider.
  const int64_t width = static_cast<int64_t>(block_table.size());
  if (width > max_blocks_per_seq) {
    std::vector<int32_t> wider;
    const int64_t previous = num_seqs() - 1;
    for (int64_t s = 0; s < previous; ++s) {
      auto begin = block_tables.begin() + s * max_blocks_per_seq;
      wider.insert(wider.end(), begin, begin + max_blocks_per_seq);
      wider.insert(wider.end(), static_cast<size_t>(width - max_blocks_per_seq), -1);
    }
    block_tables = std::move(wider);
    max_blocks_per_seq = width;
  }
  block_tables.insert(block_tables.end(), block_table.begin(), block_table.end());
  block_tables.insert(block_tables.end(), static_cast<size_t>(max_blocks_per_seq - width), -1);
  if (want_logits && !new_tokens.empty()) {
    logits_rows.push_back(first_row + static_cast<int32_t>(new_tokens.size()) - 1);
  }
}

}  // namespace kvs
