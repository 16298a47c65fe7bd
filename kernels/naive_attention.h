#pragma once
// Arguments of the simple ("naive") varlen paged attention, shared by the CPU
// reference (kernels/cpu/naive_attention_reference.h) and the CUDA kernel
// (kernels/cuda/naive_attention.h): the batch contract of
// kernels/prefill_attention.h (packed causal batch, bf16 q/out with row
// strides, bf16 or fp8_e4m3 paged K/V cache, block tables) for any head dim and any GQA
// group, plus the KV-policy score side output. Pointers are host pointers for
// the CPU function and device pointers for the CUDA launcher; nothing owned.
//
// Score side output (optional; `scores` null = off): exactly the statistic of
// AttentionScores in kernels/cpu/paged_attention.h. For every query row j of
// sequence s with score_row_begin[s] >= 0 and j >= score_row_begin[s], every
// head h and every cache index p in [0, i] (i = the row's cache index,
// context_lens[s] - query_len(s) + j):
//   x_p = scale * q·k_p (fp32: products and sums in index order, as the CPU);
//   with tau = score_tau[s] > 0 (score_tau null: 0):
//     x_p = (x_p + gumbel_noise_value(gumbel_row_seed(score_seeds[s], i), h, p))
//           * (1 / tau) in double (kernels/gumbel_noise.h);
//   w_p = exp(x_p - max x) / sum exp(x - max x) in double;
//   scores[score_offsets[s] + p] += llround(w_p * kScoreOne) (int64 fixed
//   point, 2^32 = 1; added into, the caller zeroes).
#include <cstdint>

#include "kernels/prefill_attention.h"

namespace kvs::kernels {

struct NaiveAttentionArgs {
  // The batch, q/out, the bf16 / fp8_e4m3 cache and the scale (max_query_len is not
  // used). head_dim 1..256; num_heads a multiple of num_kv_heads.
  PrefillAttentionArgs attention;
  // Host-side value: the number of packed query rows, cu_query_lens[num_seqs]
  // (the GPU grid is sized from it, so no device-to-host copy is needed).
  int64_t num_query_tokens = 0;
  // Side output, all [num_seqs] except `scores` ([sum of context_lens], or as
  // far as the offsets reach); score_seeds read only where score_tau > 0.
  const int32_t* score_row_begin = nullptr;
  const int64_t* score_offsets = nullptr;
  const float* score_tau = nullptr;  // null: no Gumbel noise for any sequence
  const uint64_t* score_seeds = nullptr;
  int64_t* scores = nullptr;  // null: no side output
};

}  // namespace kvs::kernels
