// Malformed GGUF files: each must give a ModelLoadError naming the file and
// the problem -- never a crash or a huge allocation.
#include <gtest/gtest.h>

#include "engine/loader/gguf_file.h"
#include "tests/common/test_paths.h"
#include "tests/engine/loader/gguf_test_writer.h"
#include "tests/engine/loader/loader_test_util.h"

namespace kvs {
namespace {

using namespace test;

std::string open_error(const std::string& path) {
  return model_load_error([&] { GgufFile::open(path); });
}

// Writes `w` to a file in `dir` and returns GgufFile::open's error.
std::string open_error(const TempDir& dir, const GgufWriter& w) {
  const std::string path = dir.file("bad.gguf");
  w.write(path);
  return open_error(path);
}

std::string open_error(const TempDir& dir, const std::string& bytes) {
  const std::string path = dir.file("bad.gguf");
  write_bytes(path, bytes);
  return open_error(path);
}

// A small valid file to break in one way.
GgufWriter valid_writer() {
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_tensor("a", 0, {8}, std::string(32, '\0'));
  return w;
}

TEST(GgufErrors, BadMagicAndVersion) {
  TempDir dir("gguf-magic");
  std::string bytes = valid_writer().build();
  const std::string path = dir.file("bad.gguf");
  EXPECT_EQ(open_error(dir, bytes), "<no error>");
  bytes[3] = 'X';
  const std::string magic = open_error(dir, bytes);
  EXPECT_TRUE(contains(magic, path));
  EXPECT_TRUE(contains(magic, "not a GGUF file (bad magic)"));
  for (uint32_t version : {1u, 4u}) {
    GgufWriter w = valid_writer();
    w.version = version;
    EXPECT_TRUE(contains(open_error(dir, w),
                         "unsupported GGUF version " + std::to_string(version) + " (supported: 2, 3)"));
  }
  GgufWriter big_endian = valid_writer();
  big_endian.version = 0x03000000;
  EXPECT_TRUE(contains(open_error(dir, big_endian), "big-endian"));
}

TEST(GgufErrors, TruncatedHeader) {
  TempDir dir("gguf-header");
  const std::string bytes = valid_writer().build();
  EXPECT_TRUE(contains(open_error(dir, std::string()), "truncated file: magic"));
  EXPECT_TRUE(contains(open_error(dir, bytes.substr(0, 6)), "truncated file: version"));
  EXPECT_TRUE(contains(open_error(dir, bytes.substr(0, 12)), "truncated file: tensor count"));
  EXPECT_TRUE(contains(open_error(dir, bytes.substr(0, 30)), "metadata count 1 is larger than the file can hold (truncated"));
  EXPECT_TRUE(contains(open_error(dir.file("missing.gguf")), "cannot open"));
}

// Copies of the real model cut inside the metadata, the tensor table and the
// data section.
TEST(GgufErrors, TruncatedCopiesOfRealModel) {
  const std::string bytes = read_file(default_model());
  size_t data_offset = 0;
  {
    auto file = GgufFile::open(default_model());
    data_offset = file->data_offset();
  }
  TempDir dir("gguf-truncated");
  const std::string path = dir.file("cut.gguf");
  const std::vector<size_t> cuts = {
      20,                   // inside the header's counts
      400,                  // inside the general.* metadata
      200000,               // inside the tokens array
      1200000,              // inside the merges array
      data_offset - 5000,   // inside the tensor table
      data_offset + 1000,   // inside the first tensor's data
      bytes.size() / 2,     // middle of the data
      bytes.size() - 1,     // one byte short
  };
  for (size_t cut : cuts) {
    write_bytes(path, bytes.substr(0, cut));
    const std::string error = load_error(path);
    EXPECT_TRUE(contains(error, path)) << "cut at " << cut;
    EXPECT_TRUE(contains(error, "truncated")) << "cut at " << cut;
  }
}

TEST(GgufErrors, AbsurdLengthsAndCounts) {
  TempDir dir("gguf-absurd");
  {
    std::string bytes = "GGUF";
    append_pod<uint32_t>(bytes, 3);
    append_pod<uint64_t>(bytes, 0);
    append_pod<uint64_t>(bytes, 1);
    append_pod<uint64_t>(bytes, 1ull << 60);  // key length
    bytes += "general.architecture";
    EXPECT_TRUE(contains(open_error(dir, bytes), "length 1152921504606846976 of metadata key #0"));
  }
  {
    GgufWriter w = valid_writer();
    std::string value;
    append_pod<uint64_t>(value, 1ull << 50);
    value += "abc";
    w.add_raw("general.name", kGgufString, value);
    EXPECT_TRUE(contains(open_error(dir, w), "of value of 'general.name'"));
  }
  {
    GgufWriter w = valid_writer();
    std::string value;
    append_pod<uint32_t>(value, kGgufU32);
    append_pod<uint64_t>(value, 1ull << 62);
    append_pod<uint32_t>(value, 7);
    w.add_raw("tokenizer.ggml.token_type", kGgufArray, value);
    EXPECT_TRUE(contains(open_error(dir, w), "array 'tokenizer.ggml.token_type' claims 4611686018427387904 elements"));
  }
  {
    std::string value;  // an array of strings whose count is plausible but whose strings are not there
    append_pod<uint32_t>(value, kGgufString);
    append_pod<uint64_t>(value, 3);
    append_gguf_string(value, "ok");
    GgufWriter w;
    w.add_raw("tokenizer.ggml.tokens", kGgufArray, value);
    const std::string bytes = w.build();
    EXPECT_TRUE(contains(open_error(dir, bytes.substr(0, bytes.size() - 2)), "truncated"));
  }
  for (bool tensors : {true, false}) {
    std::string bytes = "GGUF";
    append_pod<uint32_t>(bytes, 3);
    append_pod<uint64_t>(bytes, tensors ? 1ull << 40 : 0);
    append_pod<uint64_t>(bytes, tensors ? 0 : 1ull << 40);
    bytes += std::string(64, '\0');
    EXPECT_TRUE(contains(open_error(dir, bytes), tensors ? "tensor count 1099511627776 is larger"
                                                         : "metadata count 1099511627776 is larger"));
  }
  {
    GgufWriter w;
    w.add_tensor("huge", 0, {1ull << 45, 4}, "");
    EXPECT_TRUE(contains(open_error(dir, w), "tensor 'huge' has an absurd shape"));
  }
}

TEST(GgufErrors, BadTensorData) {
  TempDir dir("gguf-data");
  {
    GgufWriter w = valid_writer();
    w.add_tensor("far", 0, {8}, "", 1 << 20);
    EXPECT_TRUE(contains(open_error(dir, w), "tensor 'far' data [1048576, 1048608) extends past the end"));
  }
  {
    GgufWriter w;
    w.add_tensor("short", 0, {64}, std::string(100, '\0'));  // needs 256 bytes
    EXPECT_TRUE(contains(open_error(dir, w), "tensor 'short' data [0, 256) extends past the end"));
  }
  {
    GgufWriter w = valid_writer();
    w.add_tensor("odd", 0, {8}, std::string(32, '\0'), 8);
    EXPECT_TRUE(contains(open_error(dir, w), "tensor 'odd' data offset 8 is not a multiple of the alignment 32"));
  }
  {
    GgufWriter w = valid_writer();
    w.add_tensor("b", 0, {8}, std::string(32, '\0'), 0);  // same bytes as "a"
    EXPECT_TRUE(contains(open_error(dir, w), "overlap"));
  }
  {
    GgufWriter w;
    w.add_tensor("bad_type", 99, {8}, std::string(32, '\0'));
    EXPECT_TRUE(contains(open_error(dir, w), "tensor 'bad_type' has unknown GGML type id 99"));
  }
  {
    GgufWriter w;
    w.add_tensor("partial", 8, {33, 1}, std::string(64, '\0'));
    EXPECT_TRUE(contains(open_error(dir, w), "33 elements per row, not a multiple of Q8_0's block size 32"));
  }
  {
    GgufWriter w;
    w.add_tensor("five", 0, {1, 1, 1, 1, 1}, std::string(4, '\0'));
    EXPECT_TRUE(contains(open_error(dir, w), "tensor 'five' has 5 dimensions"));
  }
  {
    GgufWriter w = valid_writer();
    w.add_tensor("a", 0, {8}, std::string(32, '\0'));
    EXPECT_TRUE(contains(open_error(dir, w), "tensor 'a' appears twice"));
  }
}

TEST(GgufErrors, BadMetadata) {
  TempDir dir("gguf-metadata");
  {
    GgufWriter w = valid_writer();
    w.add_raw("weird", 99, "");
    EXPECT_TRUE(contains(open_error(dir, w), "metadata 'weird' has unknown value type 99"));
  }
  {
    GgufWriter w = valid_writer();
    std::string value;
    append_pod<uint32_t>(value, kGgufArray);
    append_pod<uint64_t>(value, 0);
    w.add_raw("nested", kGgufArray, value);
    EXPECT_TRUE(contains(open_error(dir, w), "metadata 'nested' is a nested array (unsupported)"));
  }
  {
    GgufWriter w = valid_writer();
    w.add_string("general.architecture", "qwen2");
    EXPECT_TRUE(contains(open_error(dir, w), "metadata key 'general.architecture' appears twice"));
  }
  {
    GgufWriter w = valid_writer();
    w.add_u32("general.alignment", 24);
    EXPECT_TRUE(contains(open_error(dir, w), "general.alignment must be an unsigned power of two"));
  }
}

}  // namespace
}  // namespace kvs
