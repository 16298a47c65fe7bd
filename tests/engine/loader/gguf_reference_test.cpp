// Our dequantized weights of the real model against gguf-py's (the official
// GGUF Python package, gguf.quants.dequantize), computed at test time in the
// project's venv. Bit-exact: both evaluate ggml's reference formulas in float32.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "engine/loader/dequantize.h"
#include "engine/loader/loaded_model.h"
#include "tests/common/test_paths.h"
#include "tests/engine/loader/gguf_test_writer.h"
#include "tests/engine/loader/loader_test_util.h"

namespace kvs {
namespace {

using namespace test;

const char* kScript = R"(import sys
import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize
reader = GGUFReader(sys.argv[1])
wanted = set(sys.argv[3:])
for t in reader.tensors:
    if t.name in wanted:
        dequantize(t.data, t.tensor_type).astype(np.float32).tofile(sys.argv[2] + "/" + t.name + ".bin")
)";

// llama.cpp converter's Q/K row order (see rope_permutation_test.cpp).
std::vector<float> to_gguf_row_order(const std::vector<float>& hf, int64_t rows, int64_t cols,
                                     int64_t n_head) {
  const int64_t half = rows / n_head / 2;
  std::vector<float> out(hf.size());
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j)
        std::copy_n(hf.begin() + ((h * 2 + j) * half + i) * cols, cols,
                    out.begin() + ((h * half + i) * 2 + j) * cols);
  return out;
}

TEST(GgufReference, DequantizedWeightsMatchGgufPy) {
  const std::string python = venv_python();
  if (!std::filesystem::exists(python)) GTEST_SKIP() << "no Python venv at " << python;
  TempDir dir("gguf-reference");
  write_bytes(dir.file("reference.py"), kScript);
  const std::vector<std::pair<std::string, std::string>> tensors = {
      {"token_embd.weight", "model.embed_tokens.weight"},                  // Q8_0
      {"blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight"},   // Q4_1, permuted
      {"blk.17.attn_k.weight", "model.layers.17.self_attn.k_proj.weight"}, // Q4_1, permuted
      {"blk.5.ffn_down.weight", "model.layers.5.mlp.down_proj.weight"},    // Q4_1
      {"blk.0.attn_norm.weight", "model.layers.0.input_layernorm.weight"}, // F32
  };
  std::string command = "'" + python + "' '" + dir.file("reference.py") + "' '" + default_model() +
                        "' '" + dir.path() + "'";
  for (const auto& [gguf_name, hf_name] : tensors) command += " " + gguf_name;
  if (std::system((command + " 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << "the venv has no working gguf package (command: " << command << ")";
  }
  auto model = load_model(default_model());
  for (const auto& [gguf_name, hf_name] : tensors) {
    const WeightTensor& tensor = model->tensor(hf_name);
    std::vector<float> ours = dequantize_tensor(tensor);
    if (gguf_name.find("attn_q") != std::string::npos) {
      ours = to_gguf_row_order(ours, tensor.rows(), tensor.cols(), model->config.num_heads);
    } else if (gguf_name.find("attn_k") != std::string::npos) {
      ours = to_gguf_row_order(ours, tensor.rows(), tensor.cols(), model->config.num_kv_heads);
    }
    const std::string reference = read_file(dir.file(gguf_name + ".bin"));
    ASSERT_EQ(reference.size(), ours.size() * sizeof(float)) << gguf_name;
    size_t mismatches = 0;
    for (size_t i = 0; i < ours.size(); ++i) {
      if (std::memcmp(&ours[i], reference.data() + i * sizeof(float), sizeof(float)) != 0) ++mismatches;
    }
    EXPECT_EQ(mismatches, 0u) << gguf_name << ": " << mismatches << " of " << ours.size()
                              << " values differ from gguf-py";
  }
}

}  // namespace
}  // namespace kvs
