// Harness: the constraint compilers of issue 23 (engine/grammar/json_schema.h,
// regex_to_gbnf.h) and the GBNF parser on what they write (grammar.h).
//
// Input: the whole input is given as a JSON Schema to json_schema_to_gbnf and
// as a pattern to regex_to_gbnf; it is also split at 0x1f into a choice list
// for choice_to_gbnf.
// Contract: each converter returns GBNF text or throws kvs::InvalidArgument;
// parse_gbnf of any text they return builds a grammar or throws
// kvs::InvalidArgument (its limits, or recursion without a base case). Never
// a crash, leak, UB, any other exception or a hang.
// Seeds: fuzz/corpus/json_schema_fuzzer (schemas and patterns).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/errors.h"
#include "engine/grammar/grammar.h"
#include "engine/grammar/json_schema.h"
#include "engine/grammar/regex_to_gbnf.h"
#include "fuzz/fuzz_common.h"

namespace {

// Parses converter output; a rejection must be an InvalidArgument.
void parse_output(const std::string& gbnf, std::string_view root) {
  KVS_FUZZ_CHECK(!gbnf.empty());
  try {
    (void)kvs::grammar::parse_gbnf(gbnf, root);
  } catch (const kvs::InvalidArgument&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    parse_output(kvs::grammar::json_schema_to_gbnf(input, "s-"), "s-root");
  } catch (const kvs::InvalidArgument&) {
  }
  try {
    parse_output(kvs::grammar::regex_to_gbnf(input, "r"), "r");
  } catch (const kvs::InvalidArgument&) {
  }
  std::vector<std::string> choices(1);
  for (const char c : input) {
    if (c == '\x1f') {
      choices.emplace_back();
    } else {
      choices.back().push_back(c);
    }
  }
  try {
    parse_output(kvs::grammar::choice_to_gbnf(choices), "root");
  } catch (const kvs::InvalidArgument&) {
  }
  return 0;
}
