// Harness: Hugging Face tokenizer.json + tokenizer_config.json
// (engine/tokenizer/tokenizer_json.h) and building a Tokenizer from the result.
//
// Input: tokenizer.json text, optionally a NUL byte and tokenizer_config.json.
// Contract: tokenizer_spec_from_json returns a spec or throws kvs::Error
// (ModelLoadError); Tokenizer::create on a returned spec returns a tokenizer
// or throws kvs::Error; that tokenizer encodes a fixed text to in-range ids
// and decodes them. Never a crash, leak, UB, any other exception or a hang.
// Seeds: fuzz/corpus/tokenizer_json_fuzzer (tiny hand-written tokenizers).
#include <cstdint>

#include "engine/errors.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/tokenizer_json.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto [tokenizer_json, config_json] = kvs::fuzz::split_at_nul(data, size);
  try {
    const kvs::TokenizerSpec spec = kvs::tokenizer_spec_from_json(tokenizer_json, config_json);
    const auto tokenizer = kvs::Tokenizer::create(spec);
    for (bool special : {false, true}) {
      const std::vector<int32_t> ids = tokenizer->encode("Hi there, h\xc3\xa9llo 42 <s>!\n", special, special);
      for (int32_t id : ids) KVS_FUZZ_CHECK(id >= 0 && id < tokenizer->vocab_size());
      (void)tokenizer->decode(ids, special);
    }
  } catch (const kvs::Error&) {
  }
  return 0;
}
