// Harness: Hugging Face config.json + generation_config.json
// (engine/loader/hf_config.h).
//
// Input: config.json text, optionally a NUL byte and generation_config.json.
// Contract: model_config_from_hf_json returns a config or throws kvs::Error
// (ModelLoadError); never a crash, leak, UB, any other exception or a hang.
// A config it returns is written back by hf_config_json /
// hf_generation_config_json and reads back equal (the documented round trip),
// unless hf_config_json refuses it with InvalidArgument (architectures other
// than llama / qwen2, sliding windows, yarn: documented as not exported).
// Seeds: fuzz/corpus/hf_config_fuzzer (the tiny models' configs).
#include <cstdint>
#include <string>

#include "engine/errors.h"
#include "engine/loader/hf_config.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto [config_json, generation_json] = kvs::fuzz::split_at_nul(data, size);
  kvs::ModelConfig config;
  try {
    config = kvs::model_config_from_hf_json(config_json, generation_json);
  } catch (const kvs::Error&) {
    return 0;
  }
  std::string written;
  try {
    written = kvs::hf_config_json(config);
  } catch (const kvs::InvalidArgument&) {
    return 0;
  }
  const kvs::ModelConfig again = kvs::model_config_from_hf_json(written, kvs::hf_generation_config_json(config));
  KVS_FUZZ_CHECK(again == config);
  return 0;
}
