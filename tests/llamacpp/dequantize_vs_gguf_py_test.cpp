// Our dequantization (engine/loader/dequantize.h) against gguf-py's, bit for
// bit, for every GGML type kvserve reads:
//  - RandomBlocks: random blocks of each quantized type (Q8_0 Q4_0 Q4_1 Q5_0
//    Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_NL; random bytes with finite fp16
//    scales including +-0, subnormals and negatives), written with gguf-py's
//    values by scripts/reference/gguf_random_blocks.py (ctest fixture
//    `gguf_random_blocks`): every float32 must have gguf-py's exact bits.
//  - EveryTensorOfEveryFile: every tensor of the default model and of its
//    re-quantizations by llama.cpp (Q4_K_M ... Q5_1, fixture
//    `llamacpp_requantized`), read with our GGUF reader (GgufFile, raw GGUF
//    names and layout) and dequantized with dequantize_row, must have the
//    checksum of gguf-py's values that scripts/reference/gguf_dequant_reference.py
//    recorded (fixture `gguf_dequant_reference`). The checksum is
//      sum over i of float32_bits(x[i]) * (2*i + 1) modulo 2^64
//    (i in storage order), which any single-bit change alters.
// A type our reader does not support is a failure naming the file, tensor and
// type; the printed tables show which tensors and types passed.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <exception>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/loader/dequantize.h"
#include "engine/loader/dtype.h"
#include "engine/loader/ggml_types.h"
#include "engine/loader/gguf_file.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

// The checksum of scripts/reference/gguf_dequant_reference.py (see there).
uint64_t checksum(const float* values, size_t count) {
  uint64_t sum = 0;
  for (size_t i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], sizeof bits);
    sum += static_cast<uint64_t>(bits) * (2 * static_cast<uint64_t>(i) + 1);  // wraps modulo 2^64
  }
  return sum;
}

uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

std::vector<uint8_t> from_hex(const std::string& hex) {
  auto nibble = [](char c) -> uint8_t {
    if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<uint8_t>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return static_cast<uint8_t>(c - 'A' + 10);
    throw std::runtime_error(std::string("bad hex digit ") + c);
  };
  if (hex.size() % 2 != 0) throw std::runtime_error("odd-length hex string");
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  return out;
}

std::string hex32(uint32_t bits) {
  std::ostringstream out;
  out << "0x" << std::hex << std::setw(8) << std::setfill('0') << bits;
  return out.str();
}

std::string hex64(uint64_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << std::setw(16) << std::setfill('0') << value;
  return out.str();
}

std::string describe(float value) {
  std::ostringstream out;
  out << std::setprecision(9) << value << " (" << hex32(float_bits(value)) << ")";
  return out.str();
}

nlohmann::json read_reference(const std::string& file) {
  return nlohmann::json::parse(test::read_file(test::binary_dir() + "/reference/" + file));
}

TEST(GgufPyDequantTest, RandomBlocksBitIdentical) {
  const nlohmann::json reference = read_reference("gguf_random_blocks.json");
  ASSERT_GE(reference["types"].size(), 11u);
  std::cout << "type     blocks  values  result\n";
  for (const auto& entry : reference["types"]) {
    const std::string type = entry["type"];
    const auto ggml_type = entry["ggml_type"].get<uint32_t>();
    const auto block_elements = entry["block_elements"].get<int64_t>();
    const auto block_bytes = entry["block_bytes"].get<size_t>();
    const auto num_blocks = entry["num_blocks"].get<int64_t>();
    const std::vector<uint8_t> blocks = from_hex(entry["blocks_hex"].get<std::string>());
    const std::vector<uint8_t> expected_bytes = from_hex(entry["expected_hex"].get<std::string>());
    const int64_t count = num_blocks * block_elements;
    ASSERT_EQ(blocks.size(), static_cast<size_t>(num_blocks) * block_bytes) << type;
    ASSERT_EQ(expected_bytes.size(), static_cast<size_t>(count) * sizeof(float)) << type;
    std::vector<float> expected(static_cast<size_t>(count));
    std::memcpy(expected.data(), expected_bytes.data(), expected_bytes.size());
    std::cout << std::left << std::setw(8) << type << " " << std::right << std::setw(6) << num_blocks << "  "
              << std::setw(6) << count << "  ";

    std::vector<float> ours(static_cast<size_t>(count));
    try {
      const DType dtype = GgufFile::to_dtype(ggml_type, "random " + type + " blocks");
      if (dtype_block_elements(dtype) != block_elements || dtype_block_bytes(dtype) != block_bytes) {
        throw std::runtime_error("our block layout is " + std::to_string(dtype_block_elements(dtype)) +
                                 " elements in " + std::to_string(dtype_block_bytes(dtype)) + " bytes");
      }
      dequantize_row(dtype, blocks.data(), ours.data(), count);
    } catch (const std::exception& e) {
      std::cout << "FAILED: " << e.what() << "\n";
      ADD_FAILURE() << type << ": our loader cannot dequantize it: " << e.what();
      continue;
    }
    int64_t mismatches = 0, zero_sign_only = 0, first = -1;
    for (int64_t i = 0; i < count; ++i) {
      if (float_bits(ours[i]) == float_bits(expected[i])) continue;
      ++mismatches;
      if (ours[i] == expected[i]) ++zero_sign_only;  // +0 vs -0
      if (first < 0) first = i;
    }
    if (mismatches == 0) {
      std::cout << "bit-identical\n";
      continue;
    }
    std::cout << "MISMATCH " << mismatches << " values (" << zero_sign_only << " differ only in the sign of zero)\n";
    ADD_FAILURE() << type << ": " << mismatches << " of " << count << " values differ from gguf-py ("
                  << zero_sign_only << " only in the sign of zero); first at block " << first / block_elements
                  << " element " << first % block_elements << ": ours " << describe(ours[first]) << ", gguf-py "
                  << describe(expected[first]);
  }
}

TEST(GgufPyDequantTest, EveryTensorOfEveryFileBitIdentical) {
  const nlohmann::json reference = read_reference("gguf_dequant_reference.json");
  ASSERT_FALSE(reference["files"].empty());
  for (const auto& file : reference["files"]) {
    const std::string path = file["path"];
    std::cout << "\n" << path << "\n";
    ASSERT_FALSE(file["tensors"].empty()) << path;
    std::shared_ptr<GgufFile> gguf;
    try {
      gguf = GgufFile::open(path);
    } catch (const std::exception& e) {
      ADD_FAILURE() << path << ": our GGUF reader cannot open it: " << e.what();
      continue;
    }
    EXPECT_EQ(gguf->tensors().size(), file["tensors"].size()) << path << ": tensor count";
    // Per type: tensors checked, tensors identical, the first failure.
    struct Tally {
      int checked = 0, identical = 0, failed = 0;
      std::string first_failure;
    };
    std::map<std::string, Tally> tally;
    for (const auto& t : file["tensors"]) {
      const std::string name = t["name"], type = t["type"];
      Tally& row = tally[type];
      ++row.checked;
      // Every failing tensor is counted; the first three of a type are printed.
      auto fail = [&](const std::string& why) {
        if (++row.failed <= 3) std::cout << "  FAILED " << name << " [" << type << "]: " << why << "\n";
        if (row.first_failure.empty()) row.first_failure = name + ": " + why;
      };
      const GgufTensorInfo* info = gguf->find_tensor(name);
      if (info == nullptr) {
        fail("not found by our reader");
        continue;
      }
      const GgmlTypeInfo* type_info = ggml_type_info(info->ggml_type);
      const std::string our_type = type_info != nullptr ? type_info->name : "id " + std::to_string(info->ggml_type);
      if (our_type != type || info->ne != t["ne"].get<std::vector<int64_t>>()) {
        fail("our reader sees type " + our_type + " and another shape");
        continue;
      }
      const int64_t count = t["num_elements"].get<int64_t>();
      std::vector<float> ours;
      try {
        const DType dtype = GgufFile::to_dtype(info->ggml_type, name);
        if (dtype_row_bytes(dtype, count) != info->num_bytes) {
          fail("size " + std::to_string(info->num_bytes) + " bytes, dtype_row_bytes says " +
               std::to_string(dtype_row_bytes(dtype, count)));
          continue;
        }
        ours.resize(static_cast<size_t>(count));
        dequantize_row(dtype, gguf->tensor_data(*info), ours.data(), count);
      } catch (const std::exception& e) {
        fail(std::string("not supported: ") + e.what());
        continue;
      }
      const uint64_t sum = checksum(ours.data(), ours.size());
      const uint64_t want = std::stoull(t["checksum"].get<std::string>(), nullptr, 16);
      if (sum == want) {
        ++row.identical;
        continue;
      }
      std::ostringstream why;
      why << "checksum " << hex64(sum) << ", gguf-py " << hex64(want) << "; first values (ours / gguf-py):";
      const auto& first_bits = t["first_bits"];
      for (size_t i = 0; i < first_bits.size() && i < ours.size(); ++i) {
        const auto bits = static_cast<uint32_t>(std::stoul(first_bits[i].get<std::string>(), nullptr, 16));
        float theirs;
        std::memcpy(&theirs, &bits, sizeof theirs);
        why << " " << describe(ours[i]) << " / " << describe(theirs);
      }
      fail(why.str());
    }
    std::cout << "  type     tensors  identical\n";
    for (const auto& [type, row] : tally) {
      std::cout << "  " << std::left << std::setw(8) << type << " " << std::right << std::setw(7) << row.checked
                << "  " << std::setw(9) << row.identical << (row.identical == row.checked ? "" : "  FAILED") << "\n";
      EXPECT_EQ(row.identical, row.checked) << path << ": " << row.checked - row.identical << " " << type
                                            << " tensors not bit-identical to gguf-py; first: " << row.first_failure;
    }
  }
}

}  // namespace
}  // namespace kvs
