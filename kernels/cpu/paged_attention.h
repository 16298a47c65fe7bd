#pragma once
// Causal attention over a packed, padding-free batch, reading K/V through
// per-sequence block tables (the CPU reference for the GPU prefill and decode
// kernels, and the CPU backend's kernel).
#include <cstdint>

#include "kernels/kv_dtype.h"
#include "kernels/status.h"

namespace kvs::kernels {

// Element type of the KV cache (kernels/kv_dtype.h). On the CPU: F16
// halves the memory and rounds, step for step, as llama.cpp's CPU backend
// (AVX-512 build) does with its default f16 cache and flash attention off:
// K/V stored as IEEE half, queries and softmax weights rounded to half,
// ggml's orders of accumulation and its exp (attention_half.h). F32 keeps
// everything in float (used against float32 references). Q8_0 / Q4_0 store
// llama.cpp's blocks (kv_quantized_rows.h; head_dim must be a multiple of
// 32, else Invalid) and are read in place (attention_quantized.h). BF16 and
// FP8_E4M3 are the CUDA engine's (kernels/cuda/); the CPU kernels here
// reject them (Unsupported).

// Bytes of one cache element of an unquantized dtype (F32, F16, BF16).
inline int64_t kv_element_bytes(KvDType dtype) { return dtype == KvDType::F32 ? 4 : 2; }

// One layer's K and V cache, each [num_blocks, block_size, num_kv_heads,
// head_dim] elements of `dtype` (quantized dtypes: each slot's row is
// kv_row_bytes(dtype, num_kv_heads * head_dim) bytes of blocks). Not owned.
struct PagedKvLayer {
  void* k = nullptr;
  void* v = nullptr;
  KvDType dtype = KvDType::F32;
  int64_t num_blocks = 0;
  int64_t block_size = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  // Optional overlay: block ids in [num_blocks, num_blocks +
  // num_overlay_blocks) read their K/V from these buffers (same layout and
  // dtype; block id - num_blocks), e.g. K/V recomputed for one step from
  // residual checkpoints. Not owned.
  void* overlay_k = nullptr;
  void* overlay_v = nullptr;
  int64_t num_overlay_blocks = 0;
};

// The packed batch. Sequence s owns query rows [cu_query_lens[s],
// cu_query_lens[s+1]); after this step its cache holds context_lens[s] tokens,
// the new ones last, so query j of s sits at position
// context_lens[s] - query_len(s) + j and attends to cache positions
// [0, that position]. Token p of s lives in block block_tables[s *
// max_blocks_per_seq + p / block_size] at offset p % block_size.
struct VarlenBatch {
  int64_t num_seqs = 0;
  const int32_t* cu_query_lens = nullptr;  // [num_seqs + 1]
  const int32_t* context_lens = nullptr;   // [num_seqs]
  const int32_t* block_tables = nullptr;   // [num_seqs, max_blocks_per_seq]
  int64_t max_blocks_per_seq = 0;
  // > 0: sliding-window attention: the query at cache position q attends to
  // positions [max(0, q - sliding_window + 1), q] only; earlier positions are
  // never read (their blocks may be gone) and weigh exactly 0, so sums round
  // as llama.cpp's masked softmax over the whole cache does.
  int64_t sliding_window = 0;
  // F16 cache: non-null [num_seqs]: sequences with a nonzero entry sum every
  // row in the one-token (kSingle) order whatever their query length, so a
  // multi-token step (speculative verification) gives each row the bits a
  // one-token step would. Null: kBatched for query_len >= 2, as llama.cpp.
  const uint8_t* single_order = nullptr;
};

// Optional side output for the KV compression policies. Rows j >=
// row_begin[s] of sequence s (row_begin < 0: none of its rows) add, for every
// head, their score of every cache position p < context_lens[s] into
// out[offsets[s] + p]. The score is, with tau = tau[s] (tau null: 0):
//   tau <= 0: softmax(scale q·Kᵀ), the attention probabilities (H2O, SnapKV);
//   tau > 0:  softmax((scale q·Kᵀ + g) / tau), g Gumbel(0, 1) noise drawn
//             from (seeds[s], the query row's cache index, head, key cache
//             index): Keyformer's score. Every term depends only on its own
//             row, so sums do not depend on how a prompt was chunked. Sums are fixed point
// (value * kScoreOne, rounded per term) so they are exact and independent of
// thread timing and of the rest of the batch. Not owned.
struct AttentionScores {
  const int32_t* row_begin = nullptr;  // [num_seqs]
  const int64_t* offsets = nullptr;    // [num_seqs]
  int64_t* out = nullptr;              // [sum of context_lens], added into
  const uint64_t* seeds = nullptr;     // [num_seqs]; read where tau > 0
  const float* tau = nullptr;          // [num_seqs], or null
};
inline constexpr double kScoreOne = 4294967296.0;  // 2^32

// Writes K/V rows of num_tokens tokens into their cache slots
// (slot = block * block_size + offset). k, v: [num_tokens, num_kv_heads *
// head_dim] with the given row strides (floats). Quantized dtypes:
// quantize_kv_row of each row (ggml's reference rounding).
Status write_kv(const PagedKvLayer& cache, const float* k, int64_t k_row_stride, const float* v,
                int64_t v_row_stride, const int32_t* slot_mapping, int64_t num_tokens);

// out[t, h, :] = softmax(scale * q[t, h] · K[kv(h)]ᵀ) · V[kv(h)] over the
// causal window, with kv(h) = h / (num_heads / num_kv_heads) (GQA).
//   q:   [num_query_tokens, q_row_stride], head h at column h * head_dim
//   out: [num_query_tokens, num_heads * head_dim]
// Multi-threaded over (token, KV head); each output depends only on its own
// sequence, never on the rest of the batch or the thread count. F32: softmax in float with max
// subtraction, sum in double. F16: attend_one_half, in llama.cpp's batched
// (tinyBLAS) order for sequences with >= 2 new tokens in this step and its
// single-token (vec_dot) order for sequences with one. Q8_0 / Q4_0:
// attend_group_quantized per (token, KV head), softmax in float with max
// subtraction, sum in double.
// With `scores`, also fills the side output (AttentionScores); the extra
// cost is one exp per score, none without it. Runs num_threads OpenMP
// threads (resolve_cpu_threads: 0 = every hardware thread).
Status attention_varlen_paged(const float* q, int64_t q_row_stride, float* out, const PagedKvLayer& cache,
                              const VarlenBatch& batch, int64_t num_heads, float scale,
                              const AttentionScores* scores = nullptr, int num_threads = 0);

// Gumbel(0, 1) noise for (seed, head, position): -log(-log(u)), u uniform in
// (0, 1) from a 64-bit mix of the three. Deterministic.
float gumbel_noise(uint64_t seed, int64_t head, int64_t position);

}  // namespace kvs::kernels
