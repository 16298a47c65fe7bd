#pragma once
// Test helper: tiny random-weight models, as GGUF (via GgufWriter) with every
// supported storage type.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tests/engine/loader/gguf_test_writer.h"

namespace kvs::test {

struct TinyDims {
  int64_t vocab = 64, hidden = 64, ffn = 96, layers = 2, heads = 4, kv_heads = 2;
};

// GGML type ids used by the tiny models.
enum : uint32_t { kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ8_0 = 8, kQ4_K = 12, kIQ4_XS = 23, kBF16 = 30 };

// A finite, normal half with a random sign (if `signed_value`), magnitude in
// about [2^-10, 2^-2].
inline uint16_t random_half(std::mt19937& rng, bool signed_value) {
  const uint16_t exponent = static_cast<uint16_t>(5 + rng() % 9);
  const uint16_t mantissa = static_cast<uint16_t>(rng() % 1024);
  const uint16_t sign = signed_value && (rng() & 1) ? 0x8000 : 0;
  return static_cast<uint16_t>(sign | (exponent << 10) | mantissa);
}

// Random bytes for `num_elements` elements of a GGML type (valid scales).
inline std::string random_tensor_bytes(std::mt19937& rng, uint32_t type, int64_t num_elements) {
  std::string out;
  auto put_half = [&](uint16_t h) { append_pod<uint16_t>(out, h); };
  auto put_random = [&](size_t n) {
    for (size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(rng() & 0xFF));
  };
  const int64_t blocks = num_elements / 32;
  switch (type) {
    case kF32: {
      std::normal_distribution<float> normal(0.0f, 0.5f);
      for (int64_t i = 0; i < num_elements; ++i) append_pod<float>(out, normal(rng));
      break;
    }
    case kF16:
      for (int64_t i = 0; i < num_elements; ++i) put_half(random_half(rng, true));
      break;
    case kBF16: {
      std::normal_distribution<float> normal(0.0f, 0.5f);
      for (int64_t i = 0; i < num_elements; ++i) {
        uint32_t bits;
        const float value = normal(rng);
        std::memcpy(&bits, &value, 4);
        put_half(static_cast<uint16_t>(bits >> 16));
      }
      break;
    }
    case kQ8_0:
      for (int64_t b = 0; b < blocks; ++b) {
        put_half(random_half(rng, false));
        put_random(32);
      }
      break;
    case kQ4_0:
      for (int64_t b = 0; b < blocks; ++b) {
        put_half(random_half(rng, false));
        put_random(16);
      }
      break;
    case kQ4_1:
      for (int64_t b = 0; b < blocks; ++b) {
        put_half(random_half(rng, false));
        put_half(random_half(rng, true));
        put_random(16);
      }
      break;
    case kQ4_K:  // 256-element blocks of 144 bytes; contents irrelevant to the loader
      put_random(static_cast<size_t>(num_elements / 256) * 144);
      break;
    case kIQ4_XS:  // 256-element blocks of 136 bytes (a type kvserve does not load)
      put_random(static_cast<size_t>(num_elements / 256) * 136);
      break;
  }
  return out;
}

// A tiny llama ("llama") or qwen2 ("qwen2") GGUF. Types: token_embd Q8_0,
// attn_q Q4_1, attn_k Q4_0, attn_v BF16, attn_output F16, ffn_* Q4_1/Q8_0/
// Q4_0, norms F32, output (if untied) F16; qwen2 biases F32. No tokenizer:
// the vocabulary size comes from {arch}.vocab_size.
inline GgufWriter tiny_gguf_model(const std::string& arch, const TinyDims& d, uint32_t seed,
                                  bool tied) {
  std::mt19937 rng(seed);
  GgufWriter w;
  const std::string p = arch + ".";
  w.add_string("general.architecture", arch);
  w.add_string("general.name", "tiny-" + arch);
  w.add_u32(p + "context_length", 256);
  w.add_u32(p + "embedding_length", static_cast<uint32_t>(d.hidden));
  w.add_u32(p + "feed_forward_length", static_cast<uint32_t>(d.ffn));
  w.add_u32(p + "block_count", static_cast<uint32_t>(d.layers));
  w.add_u32(p + "attention.head_count", static_cast<uint32_t>(d.heads));
  w.add_u32(p + "attention.head_count_kv", static_cast<uint32_t>(d.kv_heads));
  w.add_f32(p + "rope.freq_base", 10000.0f);
  w.add_f32(p + "attention.layer_norm_rms_epsilon", 1e-6f);
  w.add_u32(p + "rope.dimension_count", static_cast<uint32_t>(d.hidden / d.heads));
  w.add_u32("tokenizer.ggml.bos_token_id", 1);
  w.add_u32("tokenizer.ggml.eos_token_id", 2);
  w.add_u32(p + "vocab_size", static_cast<uint32_t>(d.vocab));
  const uint64_t h = static_cast<uint64_t>(d.hidden);
  const uint64_t q = static_cast<uint64_t>(d.hidden);
  const uint64_t kv = static_cast<uint64_t>(d.hidden / d.heads * d.kv_heads);
  const uint64_t f = static_cast<uint64_t>(d.ffn);
  const uint64_t v = static_cast<uint64_t>(d.vocab);
  auto add = [&](const std::string& name, uint32_t type, std::vector<uint64_t> ne) {
    int64_t n = 1;
    for (uint64_t x : ne) n *= static_cast<int64_t>(x);
    w.add_tensor(name, type, ne, random_tensor_bytes(rng, type, n));
  };
  add("token_embd.weight", kQ8_0, {h, v});
  for (int64_t i = 0; i < d.layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    add(b + "attn_norm.weight", kF32, {h});
    add(b + "attn_q.weight", kQ4_1, {h, q});
    add(b + "attn_k.weight", kQ4_0, {h, kv});
    add(b + "attn_v.weight", kBF16, {h, kv});
    if (arch == "qwen2") {
      add(b + "attn_q.bias", kF32, {q});
      add(b + "attn_k.bias", kF32, {kv});
      add(b + "attn_v.bias", kF32, {kv});
    }
    add(b + "attn_output.weight", kF16, {q, h});
    add(b + "ffn_norm.weight", kF32, {h});
    add(b + "ffn_gate.weight", kQ4_1, {h, f});
    add(b + "ffn_up.weight", kQ8_0, {h, f});
    add(b + "ffn_down.weight", kQ4_0, {f, h});
  }
  add("output_norm.weight", kF32, {h});
  if (!tied) add("output.weight", kF16, {h, v});
  return w;
}

}  // namespace kvs::test
