// Head dim 256 (Gemma-style models) in the varlen prefill kernel: not
// supported by its design (kernels/cuda/README.md), so the launcher must
// return Unsupported cleanly, before any CUDA call, for the engine to fall
// back. Runs everywhere (no device needed). The decode kernels do support 256
// (LeanAttentionGpuTest.HeadDim256).
#include <gtest/gtest.h>

#include <vector>

#include "kernels/cuda/prefill_attention.h"
#include "tests/common/prefill_attention_batch.h"

namespace kvs::kernels {
namespace {

TEST(CudaPrefillAttentionHeadDimTest, HeadDim256IsUnsupported) {
  for (const int64_t group : {1, 2, 8}) {
    const test::PrefillBatch b = test::make_prefill_batch({{5, 9}, {1, 300}}, 2 * group, 2, 256, 16, 3);
    PrefillAttentionArgs a = b.args();
    std::vector<uint16_t> out(static_cast<size_t>(b.num_tokens * b.num_heads * 256));
    a.out = out.data();
    const Status st = cuda::prefill_attention(a, nullptr);
    EXPECT_EQ(st.code, StatusCode::Unsupported) << "group " << group;
    EXPECT_NE(st.message.find("head_dim 256"), std::string::npos) << st.message;
  }
}

}  // namespace
}  // namespace kvs::kernels
