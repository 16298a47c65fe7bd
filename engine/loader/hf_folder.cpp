#include "engine/loader/hf_folder.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "engine/errors.h"
#include "engine/loader/fused_tensors.h"
#include "engine/loader/hf_config.h"
#include "engine/loader/model_storage.h"
#include "engine/loader/model_tensors.h"
#include "engine/loader/safetensors.h"
#include "engine/tokenizer/tokenizer_json.h"

namespace kvs {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelLoadError(path.string() + ": cannot read");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string read_text_or_empty(const fs::path& path) {
  return fs::exists(path) ? read_text(path) : std::string();
}

// The safetensors files holding the weights, and (from an index) which file
// each tensor must come from.
std::vector<fs::path> weight_files(const fs::path& dir, std::map<std::string, std::string>& index) {
  if (fs::exists(dir / "model.safetensors")) return {dir / "model.safetensors"};
  const fs::path index_path = dir / "model.safetensors.index.json";
  if (fs::exists(index_path)) {
    const json parsed = json::parse(read_text(index_path), nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("weight_map") ||
        !parsed["weight_map"].is_object()) {
      throw ModelLoadError(index_path.string() + ": not a JSON object with a weight_map");
    }
    std::set<std::string> names;
    for (const auto& [tensor, file] : parsed["weight_map"].items()) {
      if (!file.is_string()) throw ModelLoadError(index_path.string() + ": bad entry " + tensor);
      const std::string file_name = file.get<std::string>();
      if (file_name.find('/') != std::string::npos) {
        throw ModelLoadError(index_path.string() + ": shard name " + file_name + " has a '/'");
      }
      index[tensor] = file_name;
      names.insert(file_name);
    }
    std::vector<fs::path> files;
    for (const std::string& name : names) files.push_back(dir / name);
    return files;
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".safetensors") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw ModelLoadError(dir.string() + ": no *.safetensors weight files");
  return files;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void add_tensors(const SafetensorsFile& file, LoadedModel& model, ModelStorage& storage,
                 const std::map<std::string, std::string>& index) {
  const std::string file_name = fs::path(file.path()).filename().string();
  for (const SafetensorsTensor& source : file.tensors()) {
    if (ends_with(source.name, "rotary_emb.inv_freq")) continue;
    if (source.name == "lm_head.weight" && model.config.tie_word_embeddings) continue;
    if (!index.empty()) {
      auto it = index.find(source.name);
      if (it == index.end() || it->second != file_name) continue;  // the index names another shard
    }
    WeightTensor tensor;
    tensor.name = source.name;
    try {
      tensor.dtype = safetensors_dtype_to_dtype(source.dtype, source.name);
    } catch (const ModelLoadError& error) {
      throw ModelLoadError(file.path() + ": " + error.what());
    }
    tensor.shape = source.shape;
    tensor.num_bytes = source.num_bytes;
    tensor.data = source.data;
    if (reinterpret_cast<uintptr_t>(source.data) % dtype_block_bytes(tensor.dtype) != 0) {
      tensor.data = storage.keep(std::vector<uint8_t>(source.data, source.data + source.num_bytes));
    }
    if (!model.tensors.emplace(source.name, std::move(tensor)).second) {
      throw ModelLoadError(file.path() + ": tensor " + source.name +
                           " appears in more than one weight file");
    }
  }
}

std::string chat_template_of(const fs::path& dir, const std::string& tokenizer_config_text) {
  if (fs::exists(dir / "chat_template.jinja")) return read_text(dir / "chat_template.jinja");
  if (tokenizer_config_text.empty()) return "";
  const json config = json::parse(tokenizer_config_text, nullptr, false);
  if (config.is_discarded() || !config.is_object()) {
    throw ModelLoadError((dir / "tokenizer_config.json").string() + ": not a valid JSON object");
  }
  if (!config.contains("chat_template")) return "";
  const json& value = config["chat_template"];
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array()) {
    std::string first;
    for (const json& entry : value) {
      if (!entry.is_object() || !entry.contains("template") || !entry["template"].is_string()) continue;
      if (entry.value("name", "") == "default") return entry["template"].get<std::string>();
      if (first.empty()) first = entry["template"].get<std::string>();
    }
    return first;
  }
  return "";
}

}  // namespace

std::shared_ptr<const LoadedModel> load_hf_folder(const std::string& dir_name) {
  const fs::path dir(dir_name);
  if (!fs::exists(dir / "config.json")) {
    throw ModelLoadError(dir_name + ": no config.json (not a Hugging Face model folder)");
  }
  auto model = std::make_shared<LoadedModel>();
  auto storage = std::make_shared<ModelStorage>();
  model->source_path = dir_name;
  try {
    model->config = model_config_from_hf_json(read_text(dir / "config.json"),
                                              read_text_or_empty(dir / "generation_config.json"));
  } catch (const ModelLoadError& error) {
    throw ModelLoadError((dir / "").string() + error.what());
  }
  std::map<std::string, std::string> index;
  for (const fs::path& path : weight_files(dir, index)) {
    auto file = SafetensorsFile::open(path.string());
    storage->files.push_back(file);
    add_tensors(*file, *model, *storage, index);
  }
  for (const auto& [tensor, file] : index) {
    if (model->tensors.count(tensor) == 0 && !ends_with(tensor, "rotary_emb.inv_freq") &&
        !(tensor == "lm_head.weight" && model->config.tie_word_embeddings)) {
      throw ModelLoadError((dir / file).string() + ": missing tensor " + tensor +
                           " (listed in model.safetensors.index.json)");
    }
  }
  split_fused_tensors(*model);
  check_model_tensors(*model);
  const std::string tokenizer_config = read_text_or_empty(dir / "tokenizer_config.json");
  if (fs::exists(dir / "tokenizer.json")) {
    model->tokenizer = tokenizer_spec_from_json(read_text(dir / "tokenizer.json"), tokenizer_config);
  }
  model->chat_template = chat_template_of(dir, tokenizer_config);
  model->storage = storage;
  return model;
}

}  // namespace kvs
