// The shared structured-output schemas (tests/data/structured_schemas.json)
// compiled to grammars over the default model's real vocabulary (SmolLM2):
// the tokens of every valid instance are allowed by the mask at every step
// and end in a state that may terminate; every invalid instance hits a
// disallowed token or cannot terminate.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/grammar/grammar_matcher.h"
#include "engine/grammar/json_schema.h"
#include "tests/common/test_paths.h"
#include "tests/engine/grammar/smollm_vocabulary.h"

namespace kvs::grammar {
namespace {

using OrderedJson = nlohmann::ordered_json;

// True iff every token of `text` is in the mask when it comes and the
// grammar may end after the last one.
bool walk_tokens(const std::shared_ptr<const CompiledGrammar>& compiled, const std::string& text) {
  GrammarMatcher m(compiled);
  std::vector<uint64_t> mask;
  for (const int32_t id : test::smollm_tokenizer().encode(text, false, false)) {
    m.fill_next_token_mask(mask);
    const bool allowed = (mask[id / 64] >> (id % 64)) & 1;
    GrammarMatcher probe = m;
    EXPECT_EQ(allowed, probe.accept_token(id)) << "mask and accept_token disagree on token " << id;
    if (!allowed) return false;
    m.accept_token(id);
  }
  return m.can_terminate();
}

TEST(JsonSchemaTokens, SharedSchemaCasesOnSmolLM2Vocabulary) {
  const std::string model = kvs::test::default_model();
  if (model.empty() || !std::filesystem::exists(model)) GTEST_SKIP() << "default model not available";
  const OrderedJson data =
      OrderedJson::parse(kvs::test::read_file(kvs::test::source_dir() + "/tests/data/structured_schemas.json"));
  const auto vocabulary = test::smollm_vocabulary();
  for (const OrderedJson& c : data["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto compiled =
        std::make_shared<CompiledGrammar>(parse_gbnf(json_schema_to_gbnf(c["schema"].dump())), vocabulary);
    for (const OrderedJson& instance : c["valid"]) {
      EXPECT_TRUE(walk_tokens(compiled, instance.dump())) << instance.dump();
      EXPECT_TRUE(walk_tokens(compiled, instance.dump(2))) << instance.dump(2);
    }
    for (const OrderedJson& instance : c["invalid"]) {
      EXPECT_FALSE(walk_tokens(compiled, instance.dump())) << instance.dump();
    }
  }
}

}  // namespace
}  // namespace kvs::grammar
