#include "kernels/cuda/kv_copy_slots.h"

#include "kernels/cuda/bf16_util.cuh"

namespace kvs::kernels::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int64_t kUnitBytes = 16;
// Items (copy x 16-byte column) per CTA of the independent kernel.
constexpr int64_t kItemsPerCta = 4 * kThreads;
constexpr int64_t kMaxGridY = 65535;

// Copies bytes [unit * 16, min(unit * 16 + 16, row_bytes)) of row `from` to
// row `to` of `base` (16-byte access when `vector`).
__device__ __forceinline__ void copy_unit(uint8_t* base, int64_t row_bytes, int64_t from, int64_t to, int64_t unit,
                                          bool vector) {
  const int64_t column = unit * kUnitBytes;
  uint8_t* dst = base + to * row_bytes + column;
  const uint8_t* src = base + from * row_bytes + column;
  if (vector) {
    *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src);
    return;
  }
  const int64_t n = row_bytes - column < kUnitBytes ? row_bytes - column : kUnitBytes;
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

__device__ __forceinline__ bool valid_pair(int64_t from, int64_t to, int64_t num_slots) {
  return from >= 0 && from < num_slots && to >= 0 && to < num_slots;
}

__device__ __forceinline__ bool vector_ok(const void* base, int64_t row_bytes) {
  return row_bytes % kUnitBytes == 0 && reinterpret_cast<uintptr_t>(base) % kUnitBytes == 0;
}

// grid (num_tensors, column blocks). NOTE: one thread owns one column of
// every row and applies the copies in order: a copy that reads a slot an
// earlier copy wrote reads it in the same thread, after the write (program
// order on one address), so no barrier is needed.
__global__ void kv_copy_in_order_kernel(void* const* tensors, int64_t num_slots, int64_t row_bytes,
                                        const int64_t* copies, int64_t num_copies) {
  uint8_t* base = static_cast<uint8_t*>(tensors[blockIdx.x]);
  const int64_t unit = static_cast<int64_t>(blockIdx.y) * kThreads + threadIdx.x;
  if (unit * kUnitBytes >= row_bytes) return;
  const bool vector = vector_ok(base, row_bytes);
  for (int64_t c = 0; c < num_copies; ++c) {
    const int64_t from = __ldg(copies + 2 * c), to = __ldg(copies + 2 * c + 1);
    if (valid_pair(from, to, num_slots)) copy_unit(base, row_bytes, from, to, unit, vector);
  }
}

// grid (num_tensors, copy chunks): CTA y walks chunks y, y + gridDim.y, ...
// of `copies_per_cta` copies, its threads over (copy, column) items.
__global__ void kv_copy_independent_kernel(void* const* tensors, int64_t num_slots, int64_t row_bytes,
                                           const int64_t* copies, int64_t num_copies, int64_t copies_per_cta) {
  uint8_t* base = static_cast<uint8_t*>(tensors[blockIdx.x]);
  const bool vector = vector_ok(base, row_bytes);
  const int64_t units = (row_bytes + kUnitBytes - 1) / kUnitBytes;
  for (int64_t first = static_cast<int64_t>(blockIdx.y) * copies_per_cta; first < num_copies;
       first += static_cast<int64_t>(gridDim.y) * copies_per_cta) {
    const int64_t count = num_copies - first < copies_per_cta ? num_copies - first : copies_per_cta;
    for (int64_t item = threadIdx.x; item < count * units; item += kThreads) {
      const int64_t c = first + item / units;
      const int64_t from = __ldg(copies + 2 * c), to = __ldg(copies + 2 * c + 1);
      if (valid_pair(from, to, num_slots)) copy_unit(base, row_bytes, from, to, item % units, vector);
    }
  }
}

Status check(const char* name, void* const* tensors, int64_t num_tensors, int64_t num_slots, int64_t row_bytes,
             const int64_t* copies, int64_t num_copies) {
  if (num_tensors < 0 || num_slots < 0 || row_bytes <= 0 || num_copies < 0) {
    return Status::invalid(std::string(name) + ": bad shape");
  }
  if (num_tensors > INT32_MAX) return Status::unsupported(std::string(name) + ": more than 2^31 - 1 tensors");
  if ((row_bytes + kUnitBytes - 1) / kUnitBytes > kMaxGridY * kThreads) {
    return Status::unsupported(std::string(name) + ": rows over 128 MiB");
  }
  if (num_tensors > 0 && num_copies > 0 && (tensors == nullptr || copies == nullptr)) {
    return Status::invalid(std::string(name) + ": null pointer");
  }
  return Status::success();
}

}  // namespace

Status kv_copy_slots(void* const* tensors, int64_t num_tensors, int64_t num_slots, int64_t row_bytes,
                     const int64_t* copies, int64_t num_copies, cudaStream_t stream) {
  if (Status s = check("cuda kv_copy_slots", tensors, num_tensors, num_slots, row_bytes, copies, num_copies); !s.ok()) {
    return s;
  }
  if (num_tensors == 0 || num_copies == 0) return Status::success();
  const int64_t units = (row_bytes + kUnitBytes - 1) / kUnitBytes;
  const dim3 grid(static_cast<unsigned>(num_tensors), static_cast<unsigned>((units + kThreads - 1) / kThreads));
  kv_copy_in_order_kernel<<<grid, kThreads, 0, stream>>>(tensors, num_slots, row_bytes, copies, num_copies);
  return launch_status("cuda kv_copy_slots");
}

Status kv_copy_slots_independent(void* const* tensors, int64_t num_tensors, int64_t num_slots, int64_t row_bytes,
                                 const int64_t* copies, int64_t num_copies, cudaStream_t stream) {
  if (Status s = check("cuda kv_copy_slots_independent", tensors, num_tensors, num_slots, row_bytes, copies, num_copies);
      !s.ok()) {
    return s;
  }
  if (num_tensors == 0 || num_copies == 0) return Status::success();
  const int64_t units = (row_bytes + kUnitBytes - 1) / kUnitBytes;
  const int64_t copies_per_cta = units >= kItemsPerCta ? 1 : kItemsPerCta / units;
  const int64_t chunks = (num_copies + copies_per_cta - 1) / copies_per_cta;
  const dim3 grid(static_cast<unsigned>(num_tensors), static_cast<unsigned>(chunks < kMaxGridY ? chunks : kMaxGridY));
  kv_copy_independent_kernel<<<grid, kThreads, 0, stream>>>(tensors, num_slots, row_bytes, copies, num_copies,
                                                            copies_per_cta);
  return launch_status("cuda kv_copy_slots_independent");
}

}  // namespace kvs::kernels::cuda
