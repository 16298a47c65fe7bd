// Harness: Hugging Face config.json + generation_config.json
// (engine/loader/hf_config.h).
//
// Input: config.json text, optionally a NUL byte and generation_config.json.
// Contract: model_config_from_hf_json returns a config or throws kvs::Error
// (ModelLoadError); never a crash, leak, UB, any other exception or a hang.
// A config it returns is written back by hf_config_json /
// hf_generation_config_json and reads back equal (the documented round trip).
// Seeds: fuzz/corpus/hf_config_fuzzer (the tiny models' configs).
#include <cstdint>

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
  const kvs::ModelConfig again =
      kvs::model_config_from_hf_json(kvs::hf_config_json(config), kvs::hf_generation_config_json(config));
  KVS_FUZZ_CHECK(again == config);
  return 0;
}
