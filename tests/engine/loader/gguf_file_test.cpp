#include "engine/loader/gguf_file.h"

#include <gtest/gtest.h>

#include "engine/errors.h"
#include "tests/common/test_paths.h"
#include "tests/engine/loader/gguf_test_writer.h"
#include "tests/engine/loader/loader_test_util.h"

namespace kvs {
namespace {

using test::contains;

TEST(GgufFile, ReadsRealModelHeaderAndMetadata) {
  auto file = GgufFile::open(test::default_model());
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->get_string("general.architecture"), "llama");
  EXPECT_EQ(file->get_int("llama.block_count"), 30);
  EXPECT_EQ(file->get_int("llama.embedding_length"), 576);
  EXPECT_EQ(file->get_int("llama.attention.head_count_kv"), 3);
  EXPECT_EQ(file->get_float("llama.rope.freq_base"), 100000.0);
  EXPECT_EQ(static_cast<float>(file->get_float("llama.attention.layer_norm_rms_epsilon")), 1e-5f);
  EXPECT_EQ(file->get_float("llama.context_length"), 8192.0);  // integers read as floats too
  EXPECT_FALSE(file->get_bool_or("tokenizer.ggml.add_bos_token", true));
  EXPECT_EQ(file->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(file->get_string("tokenizer.ggml.pre"), "smollm");
  const auto tokens = file->get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 49152u);
  EXPECT_EQ(tokens[2], "<|im_end|>");
  EXPECT_EQ(file->get_int_array("tokenizer.ggml.token_type").size(), 49152u);
  EXPECT_EQ(file->get_string_array("tokenizer.ggml.merges").size(), 48900u);
  EXPECT_TRUE(contains(file->get_string("tokenizer.chat_template"), "<|im_start|>"));
  EXPECT_EQ(file->metadata().size(), 33u);  // the header's key/value count

  // Fallbacks and kind checks.
  EXPECT_FALSE(file->has("llama.rope.scaling.type"));
  EXPECT_EQ(file->get_string_or("llama.rope.scaling.type", "none"), "none");
  EXPECT_EQ(file->get_int_or("llama.missing", -7), -7);
  EXPECT_EQ(file->get_float_or("llama.missing", 2.5), 2.5);
  EXPECT_TRUE(file->get_float_array("tokenizer.ggml.scores").empty());
  EXPECT_TRUE(contains(test::model_load_error([&] { file->get_int("general.architecture"); }),
                       "metadata 'general.architecture' is not an integer"));
  EXPECT_TRUE(contains(test::model_load_error([&] { file->get_string("nope"); }),
                       "missing metadata 'nope'"));
  EXPECT_TRUE(contains(test::model_load_error([&] { file->get_string_array("llama.block_count"); }),
                       "not an array of strings"));
}

TEST(GgufFile, ReadsRealModelTensorTable) {
  auto file = GgufFile::open(test::default_model());
  ASSERT_EQ(file->tensors().size(), 272u);
  const GgufTensorInfo* embed = file->find_tensor("token_embd.weight");
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(embed->ne, (std::vector<int64_t>{576, 49152}));
  EXPECT_EQ(embed->ggml_type, 8u);  // Q8_0
  EXPECT_EQ(embed->num_bytes, 49152u * 18u * 34u);
  EXPECT_EQ(GgufFile::to_dtype(embed->ggml_type, embed->name), DType::Q8_0);
  const GgufTensorInfo* k = file->find_tensor("blk.0.attn_k.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->ne, (std::vector<int64_t>{576, 192}));
  EXPECT_EQ(GgufFile::to_dtype(k->ggml_type, k->name), DType::Q4_1);
  const GgufTensorInfo* norm = file->find_tensor("blk.29.ffn_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(GgufFile::to_dtype(norm->ggml_type, norm->name), DType::F32);
  EXPECT_EQ(file->find_tensor("output.weight"), nullptr);  // tied embeddings
  EXPECT_EQ(file->data_offset() % 32, 0u);
  // The last tensor ends inside the file, and data pointers are ordered by offset.
  size_t end = 0;
  for (const auto& info : file->tensors()) end = std::max<size_t>(end, info.offset + info.num_bytes);
  EXPECT_LE(file->data_offset() + end, file->file_size());
  EXPECT_EQ(file->tensor_data(*embed), file->tensor_data(file->tensors()[0]) + (embed->offset - file->tensors()[0].offset));
}

TEST(GgufFile, ToDtypeNamesUnsupportedTypes) {
  EXPECT_EQ(GgufFile::to_dtype(0, "a"), DType::F32);
  EXPECT_EQ(GgufFile::to_dtype(1, "a"), DType::F16);
  EXPECT_EQ(GgufFile::to_dtype(2, "a"), DType::Q4_0);
  EXPECT_EQ(GgufFile::to_dtype(3, "a"), DType::Q4_1);
  EXPECT_EQ(GgufFile::to_dtype(8, "a"), DType::Q8_0);
  EXPECT_EQ(GgufFile::to_dtype(30, "a"), DType::BF16);
  EXPECT_EQ(GgufFile::to_dtype(6, "a"), DType::Q5_0);
  EXPECT_EQ(GgufFile::to_dtype(7, "a"), DType::Q5_1);
  EXPECT_EQ(GgufFile::to_dtype(10, "a"), DType::Q2_K);
  EXPECT_EQ(GgufFile::to_dtype(11, "a"), DType::Q3_K);
  EXPECT_EQ(GgufFile::to_dtype(12, "a"), DType::Q4_K);
  EXPECT_EQ(GgufFile::to_dtype(13, "a"), DType::Q5_K);
  EXPECT_EQ(GgufFile::to_dtype(14, "a"), DType::Q6_K);
  EXPECT_EQ(GgufFile::to_dtype(20, "a"), DType::IQ4_NL);
  const std::string iq4xs =
      test::model_load_error([] { GgufFile::to_dtype(23, "blk.0.ffn_down.weight"); });
  EXPECT_TRUE(contains(iq4xs, "tensor blk.0.ffn_down.weight has type IQ4_XS, which kvserve does not "
                              "support (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, "
                              "IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)"));
  EXPECT_TRUE(contains(test::model_load_error([] { GgufFile::to_dtype(9, "x"); }), "Q8_1"));
  EXPECT_TRUE(contains(test::model_load_error([] { GgufFile::to_dtype(16, "x"); }), "IQ2_XXS"));
  EXPECT_TRUE(contains(test::model_load_error([] { GgufFile::to_dtype(500, "x"); }),
                       "unknown GGML type id 500"));
}

// Every metadata value type, a v2 file, a custom alignment, and tensor data
// placement.
TEST(GgufFile, ReadsEveryValueTypeAndCustomAlignment) {
  using namespace test;
  GgufWriter w;
  w.version = 2;
  w.alignment = 64;
  w.add_u32("general.alignment", 64);
  w.add_scalar<uint8_t>("u8", kGgufU8, 200);
  w.add_scalar<int8_t>("i8", kGgufI8, -100);
  w.add_scalar<uint16_t>("u16", kGgufU16, 60000);
  w.add_scalar<int16_t>("i16", kGgufI16, -30000);
  w.add_scalar<int32_t>("i32", kGgufI32, -2000000000);
  w.add_scalar<uint64_t>("u64", kGgufU64, 1ull << 40);
  w.add_scalar<int64_t>("i64", kGgufI64, -(1ll << 40));
  w.add_f32("f32", 0.25f);
  w.add_scalar<double>("f64", kGgufF64, 1e-300);
  w.add_bool("flag", true);
  w.add_string("text", "héllo");
  w.add_array<float>("floats", kGgufF32, {1.5f, -2.0f});
  w.add_array<int16_t>("shorts", kGgufI16, {-1, 2, 3});
  w.add_array<uint8_t>("bools", kGgufBool, {1, 0});
  w.add_string_array("empty_strings", {});
  const std::vector<float> a = {1, 2, 3, 4};
  const std::vector<float> b = {5, 6};
  w.add_tensor("a", 0, {4}, raw(a));
  w.add_tensor("b", 0, {2}, raw(b));
  TempDir dir("gguf-types");
  w.write(dir.file("types.gguf"));

  auto file = GgufFile::open(dir.file("types.gguf"));
  EXPECT_EQ(file->version(), 2u);
  EXPECT_EQ(file->get_int("u8"), 200);
  EXPECT_EQ(file->get_int("i8"), -100);
  EXPECT_EQ(file->get_int("u16"), 60000);
  EXPECT_EQ(file->get_int("i16"), -30000);
  EXPECT_EQ(file->get_int("i32"), -2000000000);
  EXPECT_EQ(file->get_int("u64"), 1ll << 40);
  EXPECT_EQ(file->get_int("i64"), -(1ll << 40));
  EXPECT_EQ(file->get_float("f32"), 0.25);
  EXPECT_EQ(file->get_float("f64"), 1e-300);
  EXPECT_TRUE(file->get_bool_or("flag", false));
  EXPECT_EQ(file->get_string("text"), "héllo");
  EXPECT_EQ(file->get_float_array("floats"), (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(file->get_int_array("shorts"), (std::vector<int64_t>{-1, 2, 3}));
  EXPECT_EQ(file->get_float_array("shorts"), (std::vector<double>{-1, 2, 3}));
  EXPECT_EQ(file->get_int_array("bools"), (std::vector<int64_t>{1, 0}));
  EXPECT_TRUE(file->get_string_array("empty_strings").empty());
  EXPECT_TRUE(std::holds_alternative<uint64_t>(file->metadata().at("u8")));
  EXPECT_TRUE(std::holds_alternative<int64_t>(file->metadata().at("i16")));
  EXPECT_EQ(file->data_offset() % 64, 0u);
  const GgufTensorInfo* tb = file->find_tensor("b");
  ASSERT_NE(tb, nullptr);
  EXPECT_EQ(tb->offset, 64u);
  float values[2];
  std::memcpy(values, file->tensor_data(*tb), sizeof(values));
  EXPECT_EQ(values[0], 5.0f);
  EXPECT_EQ(values[1], 6.0f);
}

}  // namespace
}  // namespace kvs
