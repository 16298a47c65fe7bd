#pragma once
// The packed, padding-free input of one model step.
#include <cstdint>
#include <vector>

namespace kvs {

// Sequence s contributes the tokens token_ids[cu_query_lens[s] ..
// cu_query_lens[s+1]) at consecutive positions ending at context_lens[s] - 1
// (earlier positions are already in its KV blocks). block_tables is
// [num_seqs, max_blocks_per_seq], padded with -1; every block a sequence
// touches in this step must be listed. logits_rows are the rows of the packed
// batch whose logits the caller wants (usually each sequence's last token), in
// the order the logits are returned.
struct ForwardBatch {
  std::vector<int32_t> token_ids;      // [num_tokens]
  std::vector<int32_t> positions;      // [num_tokens]
  std::vector<int32_t> cu_query_lens;  // [num_seqs + 1], cu_query_lens[0] == 0
  std::vector<int32_t> context_lens;   // [num_seqs]
  std::vector<int32_t> block_tables;   // [num_seqs * max_blocks_per_seq]
  int64_t max_blocks_per_seq = 0;
  std::vector<int32_t> logits_rows;    // rows of token_ids to compute logits for

  int64_t num_tokens() const { return static_cast<int64_t>(token_ids.size()); }
  int64_t num_seqs() const { return static_cast<int64_t>(context_lens.size()); }

  // Appends a sequence: its new tokens, its block table and its context
  // length after the step (positions follow). want_logits adds its last row.
  void add_sequence(const std::vector<int32_t>& new_tokens, int32_t num_cached_tokens,
                    const std::vector<int32_t>& block_table, bool want_logits);
};

}  // namespace kvs
