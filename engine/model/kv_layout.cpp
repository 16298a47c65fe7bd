#include "engine/model/kv_layout.h"

#include <numeric>

namespace kvs {

bool KvLayout::has_window_groups() const {
  for (int64_t window : group_windows) {
    if (window > 0) return true;
  }
  return false;
}

KvLayout single_group_layout(const ModelConfig& config) {
  KvLayout layout;
  layout.layers_per_group = config.num_layers;
  layout.layer_group.assign(static_cast<size_t>(config.num_layers), 0);
  layout.layer_slot.resize(static_cast<size_t>(config.num_layers));
  std::iota(layout.layer_slot.begin(), layout.layer_slot.end(), 0);
  layout.group_windows = {0};
  return layout;
}

KvLayout make_kv_layout(const ModelConfig& config, bool group_window_layers) {
  if (!group_window_layers || config.sliding_window <= 0) return single_group_layout(config);
  std::vector<int32_t> full, window;
  for (int64_t i = 0; i < config.num_layers; ++i) (config.is_window_layer(i) ? window : full).push_back(static_cast<int32_t>(i));
  if (window.empty()) return single_group_layout(config);
  const int64_t per_group = full.empty() ? static_cast<int64_t>(window.size())
                                         : std::gcd(static_cast<int64_t>(full.size()), static_cast<int64_t>(window.size()));
  KvLayout layout;
  layout.layers_per_group = per_group;
  layout.layer_group.assign(static_cast<size_t>(config.num_layers), 0);
  layout.layer_slot.assign(static_cast<size_t>(config.num_layers), 0);
  const auto add_groups = [&](const std::vector<int32_t>& layers, int64_t window_tokens) {
    for (size_t k = 0; k < layers.size(); ++k) {
      if (static_cast<int64_t>(k) % per_group == 0) layout.group_windows.push_back(window_tokens);
      layout.layer_group[static_cast<size_t>(layers[k])] = static_cast<int32_t>(layout.num_groups() - 1);
      layout.layer_slot[static_cast<size_t>(layers[k])] = static_cast<int32_t>(static_cast<int64_t>(k) % per_group);
    }
  };
  add_groups(full, 0);
  add_groups(window, config.sliding_window);
  return layout;
}

}  // namespace kvs
