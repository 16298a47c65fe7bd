// Harness: the tokenizer on arbitrary bytes (engine/tokenizer/tokenizer.h).
//
// Tokenizers: the two reference tokenizers in ../shared/fixtures/tokenizers
// (qwen3: byte-level BPE with NFC and a PCRE2 split regex; llama2:
// SentencePiece BPE with byte fallback), loaded once from fixed paths
// (KVS_FIXTURES_DIR, or $KVS_FUZZ_FIXTURES_DIR); a missing one is skipped.
// Input: byte 0 picks the tokenizer (bit 0) and add_special / parse_special /
// skip_special (bits 1-3); the rest is the text, any bytes (invalid UTF-8
// included). Contract: encode returns ids inside the vocabulary (invalid
// UTF-8 becomes U+FFFD, never an error); token_bytes and decode of those ids
// and an IncrementalDetokenizer fed them (push + flush) return. Never a
// crash, leak, UB, any exception or a hang.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "engine/errors.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/tokenizer_json.h"
#include "fuzz/fuzz_common.h"

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::unique_ptr<kvs::Tokenizer>>& tokenizers() {
  static std::vector<std::unique_ptr<kvs::Tokenizer>> all;
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* env = std::getenv("KVS_FUZZ_FIXTURES_DIR");
  const std::string dir = std::string(env != nullptr ? env : KVS_FIXTURES_DIR) + "/tokenizers/";
  for (const char* name : {"qwen3", "llama2"}) {
    const std::string json = read_text(dir + name + "/tokenizer.json");
    if (json.empty()) {
      std::fprintf(stderr, "tokenizer_encode_fuzzer: no %s%s/tokenizer.json; skipped\n", dir.c_str(), name);
      continue;
    }
    tokenizers().push_back(
        kvs::Tokenizer::create(kvs::tokenizer_spec_from_json(json, read_text(dir + name + "/tokenizer_config.json"))));
  }
  if (tokenizers().empty()) kvs::fuzz::violated("no tokenizer fixture found");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const kvs::Tokenizer& tokenizer = *tokenizers()[(flags & 1) % tokenizers().size()];
  const bool add_special = flags & 2, parse_special = flags & 4, skip_special = flags & 8;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::vector<int32_t> ids = tokenizer.encode(text, add_special, parse_special);
  for (int32_t id : ids) {
    KVS_FUZZ_CHECK(id >= 0 && id < tokenizer.vocab_size());
    (void)tokenizer.token_bytes(id);
  }
  const std::string decoded = tokenizer.decode(ids, skip_special);
  kvs::IncrementalDetokenizer detokenizer(tokenizer, skip_special);
  std::string pieces;
  for (int32_t id : ids) pieces += detokenizer.push(id);
  pieces += detokenizer.flush();
  (void)pieces;  // may differ from `decoded` by the SentencePiece leading-space strip
  return 0;
}
