#include "kernels/cpu/naive_attention_reference.h"

#include <vector>

#include "kernels/cpu/half.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cpu/prefill_attention_reference.h"

namespace kvs::kernels {

Status naive_attention_reference(const NaiveAttentionArgs& args, float* out) {
  const PrefillAttentionArgs& a = args.attention;
  if (a.num_seqs < 0 || a.head_dim <= 0 || a.num_kv_heads <= 0 || a.num_heads <= 0 ||
      a.num_heads % a.num_kv_heads != 0 || a.q_row_stride < a.num_heads * a.head_dim) {
    return Status::invalid("naive_attention_reference: bad shape");
  }
  if (a.num_seqs == 0) return Status::success();
  for (int64_t s = 0; s < a.num_seqs; ++s) {
    const int32_t query_len = a.cu_query_lens[s + 1] - a.cu_query_lens[s];
    if (query_len < 0 || a.context_lens[s] < query_len) {
      return Status::invalid("naive_attention_reference: context shorter than the query");
    }
  }
  const int64_t num_tokens = a.cu_query_lens[a.num_seqs];
  if (num_tokens != args.num_query_tokens) {
    return Status::invalid("naive_attention_reference: num_query_tokens is not cu_query_lens[num_seqs]");
  }
  AttentionScores side{args.score_row_begin, args.score_offsets, args.scores, args.score_seeds, args.score_tau};
  if (args.scores != nullptr && (args.score_row_begin == nullptr || args.score_offsets == nullptr)) {
    return Status::invalid("naive_attention_reference: scores without row_begin / offsets");
  }
  // Widened to float (exact), the CPU kernel's F32 path with the score side output.
  return prefill_attention_reference(a, out, args.scores != nullptr ? &side : nullptr);
}

}  // namespace kvs::kernels
