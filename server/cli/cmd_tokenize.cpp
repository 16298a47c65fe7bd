#include <iostream>

#include <nlohmann/json.hpp>

#include "server/cli/commands.h"
#include "server/cli/model_bundle.h"

namespace kvs {

int run_tokenize(const TokenizeCommand& command) {
  const std::string path = command.model.empty() ? default_model_path() : command.model;
  ModelBundle bundle = load_bundle(path, ModelOptions{}, /*with_model=*/false);
  const std::vector<int32_t> ids = bundle.tokenizer->encode(command.text, command.add_special, command.special);
  std::cout << nlohmann::json(ids).dump() << "\n";
  return 0;
}

}  // namespace kvs
