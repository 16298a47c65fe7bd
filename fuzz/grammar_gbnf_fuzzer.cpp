// Harness: GBNF grammars and their matcher (engine/grammar/grammar.h,
// grammar_matcher.h).
//
// Input: GBNF text, then a 0x00 byte, then bytes for the matcher split into
// chunks at 0x01 bytes. The text is parsed (root rule "root", small limits);
// the chunks are fed to accept_bytes in turn; the chunks also serve as extra
// tokens of a vocabulary whose first 256 tokens are the single bytes.
// Contract: parse_gbnf returns a grammar or throws kvs::InvalidArgument. On a
// parsed grammar the matcher never crashes or hangs: accept_bytes returns
// true / false (or throws kvs::InvalidArgument for a grammar too ambiguous for
// the parse-stack caps); a refused chunk leaves the state as it was; after the
// chunks, fill_next_token_mask equals trying every token on a copy
// (accept_token), no never-allowed token is set, and can_terminate holds when
// is_complete does. Never any other exception, UB or leak.
// Seeds: fuzz/corpus/grammar_gbnf_fuzzer (fuzz/make_seeds.py).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/errors.h"
#include "engine/grammar/grammar.h"
#include "engine/grammar/grammar_matcher.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find('\0');
  const std::string_view text = input.substr(0, split);
  std::vector<std::string> chunks;
  if (split != std::string_view::npos) {
    chunks.emplace_back();
    for (char c : input.substr(split + 1)) {
      if (c == '\x01') {
        chunks.emplace_back();
      } else {
        chunks.back().push_back(c);
      }
    }
  }
  kvs::grammar::GrammarLimits limits;
  limits.max_rules = 2000;
  limits.max_elements = 20000;
  std::shared_ptr<const kvs::grammar::Grammar> grammar;
  try {
    grammar = kvs::grammar::parse_gbnf(text, "root", limits);
  } catch (const kvs::InvalidArgument&) {
    return 0;
  }
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  for (const std::string& c : chunks) tokens.push_back(c);
  const int32_t never = 0;  // byte 0x00 is never allowed
  auto compiled = std::make_shared<kvs::grammar::CompiledGrammar>(
      grammar, kvs::grammar::build_token_vocabulary(tokens, {never}));
  try {
    kvs::grammar::GrammarMatcher m(compiled);
    for (const std::string& c : chunks) {
      const kvs::grammar::GrammarMatcher before = m;
      if (!m.accept_bytes(c)) {
        // Unchanged: the same bytes are refused again and the same mask results.
        std::vector<uint64_t> a, b;
        m.fill_next_token_mask(a);
        before.fill_next_token_mask(b);
        KVS_FUZZ_CHECK(a == b);
      }
    }
    if (m.is_complete()) KVS_FUZZ_CHECK(m.can_terminate());
    std::vector<uint64_t> mask;
    m.fill_next_token_mask(mask);
    KVS_FUZZ_CHECK(mask.size() == (tokens.size() + 63) / 64);
    KVS_FUZZ_CHECK(!(mask[0] & 1));
    for (int32_t id = 0; id < static_cast<int32_t>(tokens.size()); ++id) {
      kvs::grammar::GrammarMatcher copy = m;
      const bool ok = copy.accept_token(id);
      KVS_FUZZ_CHECK(ok == static_cast<bool>((mask[id / 64] >> (id % 64)) & 1));
    }
  } catch (const kvs::InvalidArgument&) {
  }
  return 0;
}
