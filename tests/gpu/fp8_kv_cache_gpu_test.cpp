// The fp8 E4M3 KV cache on the GPU (issue 21):
// - kernels/fp8_e4m3.h equals cuda_fp8.h's conversions bit for bit: its host
//   path here (no device needed) and the device's (kernels/cuda/fp8_convert.h,
//   through the helpers the attention kernels use): all 256 decodes, encodes
//   of every midpoint, neighbour, special and a stride through all floats;
// - rope_kv_write with an fp8 cache against the CPU reference (V bytes exact,
//   K bytes the reference's or its neighbour: sincosf vs accurate cos/sin);
// - prefill and naive attention (with scores) over an fp8 cache: bit for bit
//   the same kernel over a bf16 cache of the decoded values (the fp8 rows are
//   widened into the same bf16 tiles), and within the bf16 tests' tolerance
//   of the fp8 CPU reference;
// - LeanAttention and split-K over an fp8 cache against the fp8 CPU reference,
//   with the tolerances of lean_attention_gpu_test.cpp (fp32 accumulation).
// Skips the device parts without a GPU; the header and argument checks run
// everywhere.
#include <gtest/gtest.h>

#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include "kernels/cpu/decode_attention_reference.h"
#include "kernels/cpu/naive_attention_reference.h"
#include "kernels/cpu/prefill_attention_reference.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/rope_kv_write_reference.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/fp8_convert.h"
#include "kernels/cuda/lean_attention.h"
#include "kernels/cuda/naive_attention.h"
#include "kernels/cuda/prefill_attention.h"
#include "kernels/cuda/rope_kv_write.h"
#include "kernels/cuda/splitk_decode_attention.h"
#include "kernels/fp8_e4m3.h"
#include "tests/common/decode_attention_batch.h"
#include "tests/common/fp8_kv_cache.h"
#include "tests/common/prefill_attention_batch.h"
#include "tests/gpu/gpu_test_util.h"

namespace kvs::kernels {
namespace {

using test::bf16_from_fp8;
using test::fp8_from_16bit;
using test::gpu::DeviceBuffer;

#define REQUIRE_GPU() \
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine"

uint32_t bits_of(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

// Same float, or both NaN (NaN payloads are not part of the contract).
bool same_value(float a, float b) { return (std::isnan(a) && std::isnan(b)) || bits_of(a) == bits_of(b); }

// Encode inputs: every value, the midpoints between neighbours and the floats
// beside them (both signs), specials, and a stride through all float bits.
std::vector<float> encode_inputs() {
  std::vector<float> in;
  for (int code = 0; code < 0x7E; ++code) {
    const float lo = fp8_e4m3_to_float(static_cast<uint8_t>(code)), hi = fp8_e4m3_to_float(static_cast<uint8_t>(code + 1));
    const float mid = (lo + hi) / 2;
    for (float x : {lo, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1000.0f)}) {
      in.push_back(x);
      in.push_back(-x);
    }
  }
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (float x : {448.0f, 464.0f, 464.01f, 1e30f, inf, nan, std::ldexp(1.0f, -10), 1e-30f,
                  std::numeric_limits<float>::denorm_min()}) {
    in.push_back(x);
    in.push_back(-x);
  }
  for (uint64_t b = 0; b <= 0xFFFFFFFFull; b += 4093) {
    const auto bits = static_cast<uint32_t>(b);
    float x;
    std::memcpy(&x, &bits, sizeof x);
    in.push_back(x);
  }
  return in;
}

TEST(Fp8E4M3CudaHeaderTest, HostFunctionsEqualCudaFp8HostPath) {
  for (int code = 0; code < 256; ++code) {
    const __half_raw raw = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(code), __NV_E4M3);
    const float cuda = __half2float(__half(raw));
    ASSERT_TRUE(same_value(fp8_e4m3_to_float(static_cast<uint8_t>(code)), cuda)) << "decode " << code;
  }
  for (const float x : encode_inputs()) {
    ASSERT_EQ(fp8_e4m3_from_float(x), __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3))
        << x << " (bits " << std::hex << bits_of(x) << ")";
  }
}

TEST(Fp8E4M3GpuTest, DeviceConversionsEqualHostFunctions) {
  REQUIRE_GPU();
  const std::vector<float> in = encode_inputs();
  DeviceBuffer d_in(in), d_codes(in.size());
  ASSERT_TRUE(cuda::fp8_e4m3_from_f32(d_in.as<float>(), d_codes.as<uint8_t>(), static_cast<int64_t>(in.size()), nullptr).ok());
  test::gpu::sync_ok();
  const auto codes = d_codes.download<uint8_t>(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    ASSERT_EQ(codes[i], fp8_e4m3_from_float(in[i])) << in[i] << " (bits " << std::hex << bits_of(in[i]) << ")";
  }
  std::vector<uint8_t> all(257);
  for (int code = 0; code < 257; ++code) all[code] = static_cast<uint8_t>(code * 7 % 256);  // odd count: a lone last byte
  for (int code = 0; code < 256; ++code) all.push_back(static_cast<uint8_t>(code));
  DeviceBuffer d_all(all), d_values(all.size() * sizeof(float));
  ASSERT_TRUE(cuda::fp8_e4m3_to_f32(d_all.as<uint8_t>(), d_values.as<float>(), static_cast<int64_t>(all.size()), nullptr).ok());
  test::gpu::sync_ok();
  const auto values = d_values.download<float>(all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_TRUE(same_value(values[i], fp8_e4m3_to_float(all[i]))) << "decode " << int{all[i]} << " at " << i;
  }
}

// One E4M3 step at magnitude m (the spacing of the binade holding m).
double fp8_step(double m) { return m < std::ldexp(1.0, -6) ? std::ldexp(1.0, -9) : std::ldexp(1.0, std::ilogb(m) - 3); }

TEST(CudaRopeKvWriteFp8Test, MatchesCpuReference) {
  REQUIRE_GPU();
  struct Case { int64_t tokens, kv_heads, group, head_dim, block_size; };
  for (const Case& c : {Case{1, 8, 4, 64, 16}, Case{7, 1, 1, 128, 7}, Case{257, 4, 8, 128, 32}, Case{33, 3, 3, 64, 1}}) {
    const int64_t heads = c.kv_heads * c.group, d = c.head_dim, row = (heads + 2 * c.kv_heads) * d;
    auto qkv = test::gpu::random_bf16(c.tokens * row, 13, 200.0f);  // stddev 200: ~2.5% of K/V beyond 448 saturate
    const int64_t num_blocks = (c.tokens + c.block_size - 1) / c.block_size + 3;
    const int64_t kv_row = c.kv_heads * d, cache_elems = num_blocks * c.block_size * kv_row;
    std::vector<uint8_t> k_cache(cache_elems, 0x7F), v_cache(cache_elems, 0x7F);  // NaN sentinels
    std::vector<int32_t> positions(c.tokens), slots(c.tokens), slot_order(num_blocks * c.block_size);
    std::iota(slot_order.begin(), slot_order.end(), 0);
    std::shuffle(slot_order.begin(), slot_order.end(), std::mt19937(5));
    for (int64_t t = 0; t < c.tokens; ++t) {
      positions[t] = static_cast<int32_t>(t * 37 % 9000 + (t == 0 ? 131000 : 0));
      slots[t] = t % 5 == 3 ? -1 : slot_order[t];
    }
    const std::vector<float> inv_freq = rope_inverse_frequencies(d, 500000.0f, "llama3", 32.0f, 1.0f, 4.0f, 8192);
    const std::vector<uint16_t> input = qkv;
    DeviceBuffer d_qkv(qkv), d_k(k_cache), d_v(v_cache), d_pos(positions), d_slots(slots), d_freq(inv_freq);
    RopeKvWriteArgs a;
    a.num_tokens = c.tokens;
    a.num_heads = heads;
    a.q_row_stride = a.k_row_stride = a.v_row_stride = row;
    a.num_blocks = num_blocks;
    a.block_size = c.block_size;
    a.num_kv_heads = c.kv_heads;
    a.head_dim = d;
    a.kv_dtype = KvDType::FP8_E4M3;
    RopeKvWriteArgs host = a;
    host.q = qkv.data();
    host.k = qkv.data() + heads * d;
    host.v = qkv.data() + (heads + c.kv_heads) * d;
    host.k_cache = k_cache.data();
    host.v_cache = v_cache.data();
    host.positions = positions.data();
    host.slot_mapping = slots.data();
    host.inv_freq = inv_freq.data();
    a.q = d_qkv.as<uint16_t>();
    a.k = a.q + heads * d;
    a.v = a.q + (heads + c.kv_heads) * d;
    a.k_cache = d_k.as<uint8_t>();
    a.v_cache = d_v.as<uint8_t>();
    a.positions = d_pos.as<int32_t>();
    a.slot_mapping = d_slots.as<int32_t>();
    a.inv_freq = d_freq.as<float>();
    ASSERT_TRUE(rope_kv_write_reference(host).ok());
    ASSERT_TRUE(cuda::rope_kv_write(a, nullptr).ok());
    test::gpu::sync_ok();
    std::vector<int64_t> token_of_slot(static_cast<size_t>(num_blocks * c.block_size), -1);
    for (int64_t t = 0; t < c.tokens; ++t) {
      if (slots[t] >= 0) token_of_slot[slots[t]] = t;
    }
    const auto got_k = d_k.download<uint8_t>(cache_elems);
    int64_t saturated = 0;
    for (int64_t e = 0; e < cache_elems; ++e) {
      const int64_t t = token_of_slot[e / kv_row], g = e % kv_row / d, i = e % d, half = d / 2;
      if (t < 0) {
        ASSERT_EQ(got_k[e], 0x7F) << "k cache slot " << e / kv_row << " written";
        continue;
      }
      saturated += (k_cache[e] & 0x7F) == 0x7E;
      if (got_k[e] == k_cache[e]) continue;
      const uint16_t* head = input.data() + t * row + (heads + g) * d;
      const double magnitude = std::abs(bf16_to_fp32(head[i])) + std::abs(bf16_to_fp32(head[i < half ? i + half : i - half]));
      const double g_value = fp8_e4m3_to_float(got_k[e]), w_value = fp8_e4m3_to_float(k_cache[e]);
      ASSERT_LE(std::abs(g_value - w_value), fp8_step(std::max(std::abs(g_value), std::abs(w_value))) + std::ldexp(magnitude, -20))
          << "k cache t=" << t << " element " << e % kv_row << " got " << g_value << " want " << w_value;
    }
    EXPECT_GT(saturated, 0) << "the case should exercise saturation";
    EXPECT_EQ(d_v.download<uint8_t>(cache_elems), v_cache) << "v cache";
  }
}

// Prefill and naive attention over an fp8 cache: against the fp8 reference
// and bit for bit against the same kernel over the decoded values in bf16.
void check_prefill_like(bool naive, const std::vector<std::pair<int32_t, int32_t>>& seqs, int64_t kv_heads, int64_t group,
                        int64_t head_dim, int64_t block_size) {
  SCOPED_TRACE(::testing::Message() << (naive ? "naive" : "prefill") << " D=" << head_dim << " group " << group
                                    << " block " << block_size);
  const test::PrefillBatch b = test::make_prefill_batch(seqs, kv_heads * group, kv_heads, head_dim, block_size, 31);
  const std::vector<uint8_t> k8 = fp8_from_16bit(b.k), v8 = fp8_from_16bit(b.v);
  const std::vector<uint16_t> k_decoded = bf16_from_fp8(k8), v_decoded = bf16_from_fp8(v8);
  const int64_t width = b.num_heads * head_dim, num_seqs = static_cast<int64_t>(seqs.size());
  std::vector<int32_t> row_begin(static_cast<size_t>(num_seqs), 0);
  std::vector<int64_t> offsets;
  int64_t total = 0;
  for (int64_t s = 0; s < num_seqs; ++s) offsets.push_back(std::exchange(total, total + b.context_lens[s]));
  PrefillAttentionArgs host = b.args();
  host.k_cache = k8.data();
  host.v_cache = v8.data();
  host.kv_dtype = KvDType::FP8_E4M3;
  std::vector<float> want(static_cast<size_t>(std::max<int64_t>(b.num_tokens, 1) * width));
  std::vector<int64_t> want_scores(static_cast<size_t>(total), 0);
  NaiveAttentionArgs naive_host;
  naive_host.attention = host;
  naive_host.num_query_tokens = b.num_tokens;
  naive_host.score_row_begin = row_begin.data();
  naive_host.score_offsets = offsets.data();
  naive_host.scores = want_scores.data();
  ASSERT_TRUE((naive ? naive_attention_reference(naive_host, want.data()) : prefill_attention_reference(host, want.data())).ok());

  DeviceBuffer d_q(b.q), d_k8(k8), d_v8(v8), d_k16(k_decoded), d_v16(v_decoded), d_cu(b.cu_query_lens),
      d_ctx(b.context_lens), d_tables(b.block_tables), d_row_begin(row_begin), d_offsets(offsets);
  std::vector<uint16_t> outputs[2];
  std::vector<int64_t> scores[2];
  for (const bool fp8 : {true, false}) {
    DeviceBuffer d_out(want.size() * sizeof(uint16_t)), d_scores(want_scores.size() * sizeof(int64_t));
    PrefillAttentionArgs a = b.args();
    a.q = d_q.as<uint16_t>();
    a.k_cache = fp8 ? d_k8.as<void>() : d_k16.as<void>();
    a.v_cache = fp8 ? d_v8.as<void>() : d_v16.as<void>();
    a.kv_dtype = fp8 ? KvDType::FP8_E4M3 : KvDType::BF16;
    a.cu_query_lens = d_cu.as<int32_t>();
    a.context_lens = d_ctx.as<int32_t>();
    a.block_tables = d_tables.as<int32_t>();
    a.out = d_out.as<uint16_t>();
    Status status;
    if (naive) {
      NaiveAttentionArgs args;
      args.attention = a;
      args.num_query_tokens = b.num_tokens;
      args.score_row_begin = d_row_begin.as<int32_t>();
      args.score_offsets = d_offsets.as<int64_t>();
      args.scores = d_scores.as<int64_t>();
      status = cuda::naive_attention(args, nullptr);
    } else {
      status = cuda::prefill_attention(a, nullptr);
    }
    ASSERT_TRUE(status.ok()) << status.message;
    test::gpu::sync_ok();
    outputs[fp8] = d_out.download<uint16_t>(static_cast<size_t>(b.num_tokens * width));
    scores[fp8] = d_scores.download<int64_t>(want_scores.size());
  }
  EXPECT_EQ(outputs[1], outputs[0]) << "fp8 cache vs bf16 cache of the same values";
  if (naive) {
    EXPECT_EQ(scores[1], scores[0]) << "scores: fp8 cache vs bf16 cache of the same values";
  }
  for (size_t i = 0; i < outputs[1].size(); ++i) {
    const float g = bf16_to_fp32(outputs[1][i]), w = want[i];
    ASSERT_LE(std::abs(g - w), 1e-2f + 1e-2f * std::abs(w)) << "element " << i << " got " << g << " want " << w;
  }
  if (!naive) return;
  // Scores: within 1 fixed-point unit per summed (row, head) term, as naive_attention_gpu_test.cpp.
  for (int64_t s = 0, at = 0; s < num_seqs; ++s) {
    const int64_t query_len = seqs[s].first;
    for (int64_t p = 0; p < b.context_lens[s]; ++p, ++at) {
      int64_t terms = 0;
      for (int64_t j = 0; j < query_len; ++j) terms += p <= b.context_lens[s] - query_len + j ? b.num_heads : 0;
      ASSERT_LE(std::abs(scores[1][at] - want_scores[at]), terms) << "score " << at;
    }
  }
}

const std::vector<std::pair<int32_t, int32_t>> kSeqs = {{1, 100}, {7, 7}, {33, 233}, {0, 5}, {65, 130}, {257, 321}};

TEST(CudaPrefillAttentionFp8Test, MatchesReferenceAndBf16KernelOverDecodedValues) {
  REQUIRE_GPU();
  for (const int64_t head_dim : {64, 128}) {
    for (const int64_t group : {1, 3, 8}) {
      for (const int64_t block_size : {16, 7}) check_prefill_like(false, kSeqs, 2, group, head_dim, block_size);
    }
  }
}

TEST(CudaNaiveAttentionFp8Test, MatchesReferenceAndBf16KernelOverDecodedValues) {
  REQUIRE_GPU();
  for (const int64_t head_dim : {5, 64, 80, 128, 256}) {  // 5: the byte-wise load path
    for (const int64_t group : {1, 3}) check_prefill_like(true, kSeqs, 2, group, head_dim, head_dim == 5 ? 7 : 16);
  }
}

// fp32 accumulation (different order, exp2f) against the double reference,
// as lean_attention_gpu_test.cpp.
constexpr float kOutAbsTol = 5e-5f, kOutRelTol = 1e-4f, kMassRelTol = 2e-4f;

void check_decode(const std::vector<int32_t>& lens, int64_t num_heads, int64_t num_kv_heads, int64_t head_dim,
                  int64_t block_size) {
  SCOPED_TRACE(::testing::Message() << "heads " << num_heads << "/" << num_kv_heads << " dim " << head_dim << " block "
                                    << block_size << " seqs " << lens.size());
  test::DecodeBatch b = test::make_decode_batch(lens, num_heads, num_kv_heads, head_dim, block_size, DecodeKvType::BF16, 9);
  const std::vector<uint8_t> k8 = fp8_from_16bit(b.k), v8 = fp8_from_16bit(b.v);
  const int64_t stride = b.max_len() + 5;
  const size_t out_floats = static_cast<size_t>(b.num_seqs() * num_heads * head_dim);
  const size_t mass_floats = static_cast<size_t>(b.num_seqs() * num_kv_heads * stride);
  std::vector<float> ref(out_floats), ref_mass(mass_floats, 0.0f);
  DecodeAttentionArgs host = b.args(ref.data(), ref_mass.data(), stride);
  host.k_cache = k8.data();
  host.v_cache = v8.data();
  host.kv_type = DecodeKvType::FP8_E4M3;
  ASSERT_TRUE(decode_attention_reference(host).ok());

  DeviceBuffer d_q(b.q), d_k(k8), d_v(v8), d_lens(b.lens), d_tables(b.tables), d_out(out_floats * sizeof(float)),
      d_mass(std::vector<float>(mass_floats, 0.0f));
  DecodeAttentionArgs a = host;
  a.q = d_q.as<float>();
  a.out = d_out.as<float>();
  a.k_cache = d_k.as<void>();
  a.v_cache = d_v.as<void>();
  a.context_lens = d_lens.as<int32_t>();
  a.block_tables = d_tables.as<int32_t>();
  a.token_mass = d_mass.as<float>();
  auto expect_out = [&](const char* what) {
    const auto got = d_out.download<float>(out_floats);
    for (size_t i = 0; i < out_floats; ++i) {
      ASSERT_NEAR(got[i], ref[i], kOutAbsTol + kOutRelTol * std::abs(ref[i])) << what << " element " << i;
    }
  };
  size_t ws_bytes = 0;
  ASSERT_TRUE(cuda::lean_attention_workspace_bytes(a, b.num_seqs(), &ws_bytes).ok());
  DeviceBuffer ws(ws_bytes);
  const cuda::LeanWorkspace workspace{ws.as<void>(), ws_bytes, b.num_seqs()};
  Status st = cuda::lean_attention_decode(a, workspace, nullptr);
  ASSERT_TRUE(st.ok()) << st.message;
  test::gpu::sync_ok();
  expect_out("lean");
  const auto mass = d_mass.download<float>(mass_floats);
  for (size_t i = 0; i < mass_floats; ++i) ASSERT_NEAR(mass[i], ref_mass[i], kMassRelTol * std::abs(ref_mass[i])) << "mass " << i;
  a.token_mass = nullptr;
  cuda::LeanLaunchInfo info;
  ASSERT_TRUE(cuda::lean_attention_launch_info(a, &info).ok());
  for (const int splits : {1, 7, cuda::splitk_default_num_splits(a, b.max_len(), info.num_sms, info.ctas_per_sm)}) {
    size_t bytes = 0;
    ASSERT_TRUE(cuda::splitk_decode_attention_workspace_bytes(a, b.num_seqs(), splits, &bytes).ok());
    DeviceBuffer split_ws(bytes);
    cudaMemset(d_out.as<void>(), 0xff, out_floats * sizeof(float));
    st = cuda::splitk_decode_attention(a, splits, split_ws.as<void>(), bytes, nullptr);
    ASSERT_TRUE(st.ok()) << st.message;
    test::gpu::sync_ok();
    expect_out("split-k");
  }
}

TEST(LeanAttentionFp8GpuTest, LeanAndSplitKMatchReference) {
  REQUIRE_GPU();
  const std::vector<int32_t> lens = {1, 17, 63, 64, 65, 1000, 4097, 129};
  for (const int64_t dim : {64, 128, 256}) {
    for (const int64_t group : {1, 3, 8}) check_decode(lens, 2 * group, 2, dim, dim == 256 ? 16 : 7);
  }
  check_decode({1, 300, 2049}, 9, 3, 64, 16);  // the default model's shape
}

// Launcher dtype checks: no device needed (rejected before any CUDA call).
TEST(Fp8KvLaunchersTest, RejectDtypesTheyDoNotRead) {
  const test::PrefillBatch b = test::make_prefill_batch({{4, 4}}, 4, 2, 64, 16, 1);
  std::vector<uint16_t> out(4 * 4 * 64);
  PrefillAttentionArgs a = b.args();
  a.out = out.data();
  a.kv_dtype = KvDType::F16;
  EXPECT_EQ(cuda::prefill_attention(a, nullptr).code, StatusCode::Unsupported);
  NaiveAttentionArgs naive;
  naive.attention = a;
  naive.attention.kv_dtype = KvDType::Q4_0;
  naive.num_query_tokens = 4;
  EXPECT_EQ(cuda::naive_attention(naive, nullptr).code, StatusCode::Unsupported);
  RopeKvWriteArgs rope;
  std::vector<uint16_t> qkv(8 * 64);
  std::vector<int32_t> positions = {0}, slots = {0};
  std::vector<float> inv_freq(32, 1.0f);
  rope.num_tokens = 1;
  rope.k = rope.v = qkv.data();
  rope.k_row_stride = rope.v_row_stride = 2 * 64;
  rope.k_cache = rope.v_cache = qkv.data();
  rope.num_blocks = rope.block_size = 1;
  rope.num_kv_heads = 2;
  rope.head_dim = 64;
  rope.positions = positions.data();
  rope.slot_mapping = slots.data();
  rope.inv_freq = inv_freq.data();
  rope.kv_dtype = KvDType::Q8_0;
  EXPECT_EQ(cuda::rope_kv_write(rope, nullptr).code, StatusCode::Unsupported);
}

}  // namespace
}  // namespace kvs::kernels
