#include "engine/loader/loaded_model.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "engine/errors.h"
#include "engine/loader/gguf_model.h"
#include "engine/loader/hf_folder.h"

namespace kvs {

const WeightTensor& LoadedModel::tensor(const std::string& name) const {
  const WeightTensor* found = find(name);
  if (found == nullptr) throw ModelLoadError(source_path + ": missing tensor " + name);
  return *found;
}

const WeightTensor* LoadedModel::find(const std::string& name) const {
  auto it = tensors.find(name);
  return it == tensors.end() ? nullptr : &it->second;
}

std::shared_ptr<const LoadedModel> load_model(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    throw ModelLoadError(path + ": cannot access model path: " + std::strerror(errno));
  }
  if (S_ISDIR(info.st_mode)) return load_hf_folder(path);
  char magic[4] = {};
  std::ifstream in(path, std::ios::binary);
  in.read(magic, sizeof(magic));
  const bool gguf_magic = in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0;
  const bool gguf_name = path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0;
  if (gguf_magic || gguf_name) return load_gguf_model(path);
  throw ModelLoadError(path + ": not a model: expected a .gguf file or a Hugging Face folder "
                       "(config.json + *.safetensors)");
}

}  // namespace kvs
