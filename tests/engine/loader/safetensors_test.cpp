#include "engine/loader/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>

#include "engine/errors.h"
#include "tests/common/test_paths.h"
#include "tests/engine/loader/loader_test_util.h"
#include "tests/engine/loader/safetensors_test_writer.h"

namespace kvs {
namespace {

using namespace test;

std::string open_error(const TempDir& dir, const std::string& bytes) {
  write_file(dir.file("bad.safetensors"), bytes);
  return model_load_error([&] { SafetensorsFile::open(dir.file("bad.safetensors")); });
}

TEST(Safetensors, ReadsTestWrittenFile) {
  TempDir dir("st-read");
  const std::vector<float> a = {1.0f, -2.0f, 3.5f, 4.0f, 5.0f, 6.0f};
  const std::vector<uint16_t> b = {0x3F80, 0xC040};
  const std::vector<int64_t> c = {7};
  write_file(dir.file("x.safetensors"),
             safetensors_bytes({{"a", "F32", {2, 3}, raw_bytes(a)},
                                {"b", "BF16", {2}, raw_bytes(b)},
                                {"c", "I64", {}, raw_bytes(c)}}));
  auto file = SafetensorsFile::open(dir.file("x.safetensors"));
  ASSERT_EQ(file->tensors().size(), 3u);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  const SafetensorsTensor* ta = file->find("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->dtype, "F32");
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(ta->num_bytes, 24u);
  EXPECT_EQ(std::memcmp(ta->data, a.data(), 24), 0);
  EXPECT_EQ(file->find("b")->shape, (std::vector<int64_t>{2}));
  EXPECT_TRUE(file->find("c")->shape.empty());
  EXPECT_EQ(file->find("c")->num_bytes, 8u);
  EXPECT_EQ(file->find("zzz"), nullptr);
  EXPECT_EQ(safetensors_dtype_to_dtype("BF16", "b"), DType::BF16);
  EXPECT_TRUE(contains(model_load_error([] { safetensors_dtype_to_dtype("I64", "model.norm.weight"); }),
                       "tensor model.norm.weight has dtype I64, which kvserve does not support for "
                       "weights (supported: F32, F16, BF16)"));
}

TEST(Safetensors, LibraryWriterRoundTrips) {
  TempDir dir("st-write");
  const std::vector<float> a = {1.0f, 2.0f, 3.0f};
  const std::vector<uint16_t> b = {0x3C00, 0x4000, 0x4200, 0x4400};
  {
    SafetensorsWriter writer(dir.file("w.safetensors"),
                             {{"a", "F32", {3}}, {"b", "F16", {2, 2}}}, {{"format", "pt"}});
    writer.append(a.data(), 12);
    EXPECT_THROW(writer.append(b.data(), 4), InvalidArgument);  // wrong size for "b"
    writer.append(b.data(), 8);
    EXPECT_THROW(writer.append(b.data(), 8), InvalidArgument);  // nothing left to write
    writer.finish();
  }
  const std::string bytes = read_file(dir.file("w.safetensors"));
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, bytes.data(), 8);
  EXPECT_EQ(header_bytes % 8, 0u);  // data section 8-byte aligned
  auto file = SafetensorsFile::open(dir.file("w.safetensors"));
  ASSERT_NE(file->find("b"), nullptr);
  EXPECT_EQ(file->find("b")->shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(std::memcmp(file->find("b")->data, b.data(), 8), 0);
  EXPECT_EQ(std::memcmp(file->find("a")->data, a.data(), 12), 0);

  SafetensorsWriter partial(dir.file("p.safetensors"), {{"a", "F32", {3}}});
  EXPECT_THROW(partial.finish(), Error);
}

TEST(Safetensors, Errors) {
  TempDir dir("st-errors");
  const std::string data(16, '\0');
  EXPECT_TRUE(contains(open_error(dir, "abc"), "truncated safetensors file (no header length)"));
  EXPECT_TRUE(contains(open_error(dir, safetensors_bytes(R"({"a":1})", "").substr(0, 10)),
                       "safetensors header length 7 exceeds the file size 10"));
  {
    std::string bytes = safetensors_bytes("{}", "");
    const uint64_t huge = 1ull << 62;
    std::memcpy(bytes.data(), &huge, 8);
    EXPECT_TRUE(contains(open_error(dir, bytes), "header length 4611686018427387904 exceeds"));
  }
  EXPECT_TRUE(contains(open_error(dir, safetensors_bytes("{\"a\": [1,", data)),
                       "safetensors header is not a valid JSON object"));
  EXPECT_TRUE(contains(open_error(dir, safetensors_bytes("[1, 2]", data)), "not a valid JSON object"));
  EXPECT_TRUE(contains(open_error(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2]}})", data)),
                       "header entry for tensor 'w' needs a dtype string, a shape array and two data_offsets"));
  EXPECT_TRUE(contains(
      open_error(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})", data)),
      "tensor 'w' data_offsets [0, 32) are out of range (data section holds 16 bytes"));
  EXPECT_TRUE(contains(
      open_error(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", data)),
      "tensor 'w' has 16 bytes of data, but its shape and dtype need 12"));
  EXPECT_TRUE(contains(
      open_error(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", data)),
      "out of range"));
  EXPECT_TRUE(contains(
      open_error(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data)),
      "shape of tensor 'w' must be a non-negative integer"));
  EXPECT_TRUE(contains(
      open_error(dir, safetensors_bytes(R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", data)),
      "tensor 'w' has unknown dtype 'Q4'"));
  EXPECT_TRUE(contains(
      open_error(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                        R"("v":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                        data)),
      "overlap"));
  EXPECT_TRUE(contains(
      open_error(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}})", data)),
      "absurd shape"));
}

// Found by fuzz/safetensors_fuzzer (issue 11): after a 0 dimension any
// dimension passed, and one over INT64_MAX read back as a negative shape.
TEST(Safetensors, FuzzRegressionZeroThenHugeDimension) {
  TempDir dir("st-fuzz");
  const std::string data(16, '\0');
  EXPECT_TRUE(contains(
      open_error(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}})", data)),
      "absurd shape"));
  EXPECT_TRUE(contains(
      open_error(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[0,2251799813685249],"data_offsets":[0,0]}})", data)),
      "absurd shape"));
}

}  // namespace
}  // namespace kvs
