#pragma once
// The LeanAttention workspace (kernels/cuda/lean_attention.h): its byte layout
// and the checks of a launch against it, shared by the CUDA launcher and the
// CPU emulation (kernels/cpu/lean_attention_emulation.h), so both address the
// same bytes.
//
// Layout (each part 256-byte aligned, in this order):
//   counters    int32 [max_num_seqs, num_kv_heads]: per-pair arrival counters.
//               The only state that outlives a launch: zero-filled once, each
//               launch returns the counters it used to zero.
//   partials    float [2 * grid][group * (head_dim + 2)]: partial slots, slot
//               = unnormalised output [group][head_dim], max [group], sum
//               [group] (kernels/lean_schedule.h: partial_slot).
//   head_stats  float [max_num_seqs, num_heads, 2]: final (max, sum) per head
//               (side output only).
//   scores      float [max_num_seqs, num_heads, token_mass_stride]: raw
//               base-2 scores (side output only).
// NOTE: the offsets depend only on the capacity the workspace was sized for
// (max_num_seqs) and on the kernel instance (grid, heads, head_dim), never on
// a launch's num_seqs: a workspace reused by launches of different batch sizes
// keeps its counters where they were, and partials of a big batch can never
// land on counters of a small one. token_mass_stride only sizes the last part.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/lean_schedule.h"
#include "kernels/status.h"

namespace kvs::kernels {

// Scratch memory of LeanAttention launches, owned by the caller: device
// memory for the CUDA launcher, host memory for the CPU emulation. Size it
// with the capacity it must serve (lean_attention_workspace_bytes for the
// GPU, lean::workspace_layout(...).total in general), zero-fill it once, and
// record that capacity in max_num_seqs: launches of any num_seqs <=
// max_num_seqs may then share it (one launch at a time).
struct LeanWorkspace {
  void* data = nullptr;
  size_t bytes = 0;
  int64_t max_num_seqs = 0;  // the capacity it was sized for; launches with more sequences are rejected
};

namespace lean {

constexpr int64_t kWorkspaceAlign = 256;

KVS_HD int64_t align_workspace(int64_t bytes) { return (bytes + kWorkspaceAlign - 1) / kWorkspaceAlign * kWorkspaceAlign; }

// What the layout depends on. group = num_heads / num_kv_heads.
struct WorkspaceShape {
  int64_t max_num_seqs = 0;       // capacity
  int64_t grid = 0;               // CTAs the kernel instance launches
  int64_t num_kv_heads = 0;
  int64_t num_heads = 0;
  int64_t head_dim = 0;
  int64_t token_mass_stride = 0;  // 0: no side output (no head_stats / scores)
};

// Byte offsets of the parts (see the top comment). Parts a launch without the
// side output does not use have size 0 (their offset equals the next one's).
struct WorkspaceLayout {
  int64_t counters = 0, partials = 0, head_stats = 0, scores = 0, total = 0;
};

KVS_HD int64_t partial_slot_floats(const WorkspaceShape& s) {
  return s.num_heads / s.num_kv_heads * (s.head_dim + 2);
}

KVS_HD WorkspaceLayout workspace_layout(const WorkspaceShape& s) {
  const bool mass = s.token_mass_stride > 0;
  WorkspaceLayout w;
  w.counters = 0;
  w.partials = align_workspace(w.counters + 4 * s.max_num_seqs * s.num_kv_heads);
  w.head_stats = align_workspace(w.partials + 4 * 2 * s.grid * partial_slot_floats(s));
  w.scores = align_workspace(w.head_stats + (mass ? 4 * 2 * s.max_num_seqs * s.num_heads : 0));
  w.total = align_workspace(w.scores + (mass ? 4 * s.max_num_seqs * s.num_heads * s.token_mass_stride : 0));
  return w;
}

// Checks a launch of `num_seqs` sequences against `workspace` laid out for
// `shape` (whose max_num_seqs must be workspace.max_num_seqs): the data is
// set, num_seqs fits the capacity, the bytes cover the layout. `who` prefixes
// the messages. All failures are InvalidArgument.
inline Status check_workspace(const LeanWorkspace& workspace, int64_t num_seqs, const WorkspaceShape& shape,
                              const char* who) {
  if (workspace.data == nullptr) return Status::invalid(std::string(who) + ": no workspace");
  if (num_seqs > workspace.max_num_seqs) {
    return Status::invalid(std::string(who) + ": " + std::to_string(num_seqs) +
                           " sequences, workspace sized for max_num_seqs " + std::to_string(workspace.max_num_seqs) +
                           " (set LeanWorkspace::max_num_seqs to the capacity it was sized for)");
  }
  const int64_t need = workspace_layout(shape).total;
  if (static_cast<int64_t>(workspace.bytes) < need) {
    return Status::invalid(std::string(who) + ": workspace of " + std::to_string(workspace.bytes) + " bytes, need " +
                           std::to_string(need) + " for max_num_seqs " + std::to_string(shape.max_num_seqs));
  }
  return Status::success();
}

}  // namespace lean
}  // namespace kvs::kernels
