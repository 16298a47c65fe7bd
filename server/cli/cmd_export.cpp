#include <iostream>

#include "engine/loader/hf_export.h"
#include "engine/loader/loaded_model.h"
#include "server/cli/commands.h"
#include "server/cli/model_bundle.h"

namespace kvs {

int run_export(const ExportCommand& command) {
  const std::string path = command.model.empty() ? default_model_path() : command.model;
  const auto model = load_model(path);
  export_hf_folder(*model, command.out_dir);
  std::cerr << "kvserve: wrote " << model->tensors.size() << " tensors to " << command.out_dir << "\n";
  return 0;
}

}  // namespace kvs
