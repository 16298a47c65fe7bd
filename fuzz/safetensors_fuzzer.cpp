// Harness: safetensors files (engine/loader/safetensors.h).
//
// Contract: for any bytes as a .safetensors file, SafetensorsFile::open either
// returns tensors whose data lie inside the file, do not overlap and match
// their shape (no negative dimension) and dtype, or throws kvs::Error
// (ModelLoadError). Never a crash, leak, UB, any other exception or a hang.
// The bytes reach the parser through a memfd (fuzz_common.h): no name from
// the input touches the filesystem.
// Seeds: fuzz/corpus/safetensors_fuzzer (fuzz/make_seeds.py).
#include <cstdint>

#include "engine/errors.h"
#include "engine/loader/safetensors.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const kvs::fuzz::MemoryFile input(data, size);
  std::shared_ptr<kvs::SafetensorsFile> file;
  try {
    file = kvs::SafetensorsFile::open(input.path());
  } catch (const kvs::Error&) {
    return 0;
  }
  // Tensor pointers are into the map (not ASan-tracked memory): touch each
  // tensor's first and last byte so data outside the map faults.
  for (const kvs::SafetensorsTensor& tensor : file->tensors()) {
    KVS_FUZZ_CHECK(file->find(tensor.name) == &tensor);
    KVS_FUZZ_CHECK(tensor.num_bytes <= size);
    for (int64_t dim : tensor.shape) KVS_FUZZ_CHECK(dim >= 0);
    if (tensor.num_bytes > 0) {
      volatile uint8_t first = tensor.data[0], last = tensor.data[tensor.num_bytes - 1];
      (void)first, (void)last;
    }
    try {
      (void)kvs::safetensors_dtype_to_dtype(tensor.dtype, tensor.name);
    } catch (const kvs::Error&) {
    }
  }
  return 0;
}
