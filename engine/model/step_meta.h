#pragma once
// The int32 metadata of one CUDA engine step, packed on the host for one
// upload: token ids, positions, KV slots, cumulative query lengths, context
// lengths, block tables and logits rows, end to end (StepMetaLayout). Decode
// steps replayed from a CUDA graph are padded to their bucket: extra rows
// feed token 0 at position 0, write no KV (slot -1), attend to one token of
// block 0 and their logits are dropped; block tables are widened to the
// graph's fixed width with block 0. Pure host code, tested on the CPU.
#include <cstdint>
#include <vector>

#include "engine/model/forward_batch.h"

namespace kvs {

// Offsets (in int32 elements) of each array in the packed buffer.
struct StepMetaLayout {
  int64_t token_ids = 0, positions = 0, slots = 0, cu_query_lens = 0, context_lens = 0, block_tables = 0,
          logits_rows = 0, total = 0;
  StepMetaLayout(int64_t num_tokens, int64_t num_seqs, int64_t table_entries, int64_t num_logits_rows);
};

// The batch as it is (layout: num_tokens, num_seqs, num_seqs *
// max_blocks_per_seq, logits_rows.size()). slots: slot_mapping(batch, ...).
std::vector<int32_t> pack_step_meta(const ForwardBatch& batch, const std::vector<int32_t>& slots);

// True when the batch is decode-only (one token per sequence) and wants the
// logits of every sequence in order: what a decode graph computes.
bool is_graph_decode_step(const ForwardBatch& batch);

// A graph decode step padded to `bucket` sequences with block tables
// `table_width` wide (layout: bucket, bucket, bucket * table_width, bucket).
// Throws InvalidArgument unless is_graph_decode_step, num_seqs <= bucket and
// max_blocks_per_seq <= table_width.
std::vector<int32_t> pack_padded_decode_meta(const ForwardBatch& batch, const std::vector<int32_t>& slots,
                                             int64_t bucket, int64_t table_width);

}  // namespace kvs
