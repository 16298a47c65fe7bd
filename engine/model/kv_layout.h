#pragma once
// How a model's layers share the paged KV cache's blocks: one KV-cache group
// per block table. A block id names, in every layer of the group that holds
// it, that layer's K/V of block_size tokens; groups hold disjoint block ids of
// one pool, so all blocks have one byte size and one free list (vLLM's hybrid
// KV cache manager). Full-attention groups keep a sequence's whole context;
// sliding-window groups may release blocks that slid out of their window.
#include <cstdint>
#include <vector>

#include "engine/loader/model_config.h"

namespace kvs {

// Plain value; shared vocabulary of engine/ (KvStorage, the model) and
// kvcache/ (group windows). Groups are numbered full-attention ones first.
struct KvLayout {
  // Layers per group, equal for all groups: a block holds this many layers'
  // K/V (and KvStorage keeps this many K and V arrays per shard).
  int64_t layers_per_group = 0;
  std::vector<int32_t> layer_group;    // [num_layers]: the group of layer i
  std::vector<int32_t> layer_slot;     // [num_layers]: layer i's index inside its group
  std::vector<int64_t> group_windows;  // [num_groups]: window in tokens, 0 = full attention

  int64_t num_groups() const { return static_cast<int64_t>(group_windows.size()); }
  int64_t num_layers() const { return static_cast<int64_t>(layer_group.size()); }
  bool has_window_groups() const;
};

// One group of all layers, window 0: every layer sees every block of a
// sequence's single table (the layout of models without window layers, and
// of every model when window freeing is off or unsupported).
KvLayout single_group_layout(const ModelConfig& config);
// With group_window_layers and a model that mixes full and window layers:
// layers_per_group = gcd(#full, #window); full layers (in order) fill the
// first groups, window layers the rest (Gemma 3 270M: 3 full + 15 window
// layers -> 6 groups of 3). A model whose layers all have a window gets one
// window group. Otherwise single_group_layout.
KvLayout make_kv_layout(const ModelConfig& config, bool group_window_layers);

}  // namespace kvs
