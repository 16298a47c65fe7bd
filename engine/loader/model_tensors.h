#pragma once
// The tensors a config implies, and the check that a loaded model has them.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/loader/loaded_model.h"
#include "engine/loader/model_config.h"

namespace kvs {

struct ExpectedTensor {
  std::string name;            // canonical HF name
  std::vector<int64_t> shape;  // HF order, e.g. {out, in}
};

// Every tensor a model with `config` needs, in a stable order: embeddings,
// then per layer (norms, attention q/k/v[/biases]/o, mlp gate/up/down), then
// the final norm and lm_head (absent when tie_word_embeddings).
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config);

// Throws ModelLoadError("<source_path>: ...") naming the first expected tensor
// that is missing or has another shape, or a tensor whose byte size does not
// match its shape and dtype, or a tensor the config does not expect.
void check_model_tensors(const LoadedModel& model);

// "[576, 49152]" for messages.
std::string shape_to_string(const std::vector<int64_t>& shape);

}  // namespace kvs
