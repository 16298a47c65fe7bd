#include "engine/loader/hf_export.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/errors.h"
#include "engine/loader/dequantize.h"
#include "engine/loader/hf_config.h"
#include "engine/loader/model_tensors.h"
#include "engine/loader/safetensors.h"
#include "engine/tokenizer/tokenizer_json.h"

namespace kvs {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw Error(path.string() + ": cannot write");
}

void write_weights(const LoadedModel& model, const fs::path& path) {
  std::vector<SafetensorsWriter::Entry> entries;
  std::vector<const WeightTensor*> tensors;
  for (const ExpectedTensor& expected : expected_tensors(model.config)) {
    const WeightTensor& tensor = model.tensor(expected.name);
    entries.push_back({tensor.name, "F32", tensor.shape});
    tensors.push_back(&tensor);
  }
  SafetensorsWriter writer(path.string(), std::move(entries), {{"format", "pt"}});
  for (const WeightTensor* tensor : tensors) {
    const std::vector<float> values = dequantize_tensor(*tensor);
    writer.append(values.data(), values.size() * sizeof(float));
  }
  writer.finish();
}

// The tokenizer's own tokenizer_config.json plus the chat template and the
// context length.
std::string tokenizer_config_json(const LoadedModel& model) {
  json out = model.tokenizer.tokens.empty()
                 ? json::object()
                 : json::parse(tokenizer_config_json_from_spec(model.tokenizer));
  out["model_max_length"] = model.config.max_position_embeddings;
  if (!model.chat_template.empty()) out["chat_template"] = model.chat_template;
  return out.dump(2) + "\n";
}

}  // namespace

void export_hf_folder(const LoadedModel& model, const std::string& out_dir) {
  const fs::path dir(out_dir);
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) throw Error(out_dir + ": cannot create folder: " + error.message());
  write_weights(model, dir / "model.safetensors");
  write_text(dir / "config.json", hf_config_json(model.config));
  write_text(dir / "generation_config.json", hf_generation_config_json(model.config));
  if (!model.tokenizer.tokens.empty()) {
    write_text(dir / "tokenizer.json", tokenizer_json_from_spec(model.tokenizer));
  }
  if (!model.tokenizer.tokens.empty() || !model.chat_template.empty()) {
    write_text(dir / "tokenizer_config.json", tokenizer_config_json(model));
  }
}

}  // namespace kvs
