// Harness: GGUF files (engine/loader/gguf_file.h, gguf_config.h, gguf_tokenizer.h).
//
// Contract: for any bytes as a GGUF file, GgufFile::open either returns a file
// whose every tensor lies inside the file (data_offset + offset + num_bytes <=
// file_size) or throws kvs::Error; the readers on top of its metadata
// (model_config_from_gguf, tokenizer_spec_from_gguf + Tokenizer::create and a
// short encode/decode) return or throw kvs::Error. Never a crash, leak, UB,
// any other exception or a hang. The bytes reach the parser through a memfd
// (fuzz_common.h): no name from the input touches the filesystem.
// Seeds: fuzz/corpus/gguf_fuzzer (fuzz/make_seeds.py).
#include <cstdint>

#include "engine/errors.h"
#include "engine/loader/gguf_config.h"
#include "engine/loader/gguf_file.h"
#include "engine/loader/gguf_tokenizer.h"
#include "engine/tokenizer/tokenizer.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const kvs::fuzz::MemoryFile input(data, size);
  std::shared_ptr<kvs::GgufFile> file;
  try {
    file = kvs::GgufFile::open(input.path());
  } catch (const kvs::Error&) {
    return 0;
  }
  KVS_FUZZ_CHECK(file->file_size() == size);
  for (const kvs::GgufTensorInfo& tensor : file->tensors()) {
    KVS_FUZZ_CHECK(file->data_offset() <= size);
    KVS_FUZZ_CHECK(tensor.offset <= size - file->data_offset());
    KVS_FUZZ_CHECK(tensor.num_bytes <= size - file->data_offset() - tensor.offset);
    KVS_FUZZ_CHECK(file->find_tensor(tensor.name) == &tensor);
  }
  try {
    (void)kvs::model_config_from_gguf(*file);
  } catch (const kvs::Error&) {
  }
  try {
    const kvs::TokenizerSpec spec = kvs::tokenizer_spec_from_gguf(*file);
    const auto tokenizer = kvs::Tokenizer::create(spec);
    const std::vector<int32_t> ids = tokenizer->encode("Hello, world! 123 <|im_start|>", true, true);
    for (int32_t id : ids) KVS_FUZZ_CHECK(id >= 0 && id < tokenizer->vocab_size());
    (void)tokenizer->decode(ids, false);
  } catch (const kvs::Error&) {
  }
  return 0;
}
