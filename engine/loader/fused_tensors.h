#pragma once
// Phi-3 stores fused projections: self_attn.qkv_proj.weight ([q; k; v] rows)
// and mlp.gate_up_proj.weight ([gate; up] rows), in its HF folders and (as
// attn_qkv / ffn_up) in its GGUFs. The rest of kvserve knows one layout, the
// Llama one, so the loaders split them into the canonical q/k/v_proj and
// gate/up_proj tensors right after reading.
#include "engine/loader/loaded_model.h"

namespace kvs {

// For config.architecture == "phi3": replaces, in every layer, the fused
// tensors by views of their rows (no copy: the views point into the fused
// tensor's storage, which the model keeps; whole rows, so any dtype works):
//   qkv_proj    -> q_proj [num_heads * head_dim], k_proj and v_proj
//                  [num_kv_heads * head_dim] rows each
//   gate_up_proj -> gate_proj and up_proj [intermediate_size] rows each
// Other architectures: no-op. Throws ModelLoadError("<source_path>: ...")
// naming a fused tensor that is missing or whose shape is not the one the
// config implies.
void split_fused_tensors(LoadedModel& model);

}  // namespace kvs
