#pragma once
// The greedy token of many logits rows at once (the engine loop's plain-greedy
// sequences): one pass over each row, the rows split across threads, so a
// step's 64 rows of a 262k vocabulary (67 MB, read from memory once) take
// both cores' bandwidth instead of one.
#include <cstdint>

namespace kvs::kernels {

// What greedy_rows writes for a row that has no greedy token.
inline constexpr int32_t kGreedyUnusable = -1;  // a NaN or +Inf in the row
inline constexpr int32_t kGreedyAllMasked = -2; // every logit is -inf

// For i < count: best[i] = the id of row i's largest logit, the lowest id on
// ties (Sampler's argmax); kGreedyUnusable when the row holds a NaN or +Inf
// (-Inf is a masked token and fine); kGreedyAllMasked when every logit is
// -Inf. rows[i] points at `vocab` floats (not owned, only read). Runs on
// `num_threads` OpenMP threads (<= 1: the calling thread). Thread-safe for
// distinct `best` arrays.
void greedy_rows(const float* const* rows, int64_t count, int64_t vocab, int32_t* best, int num_threads);

}  // namespace kvs::kernels
