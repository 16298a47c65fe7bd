// json_schema_to_gbnf / json_object_gbnf: errors for what the converter
// cannot enforce, and the shape of what it writes.
#include "engine/grammar/json_schema.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/errors.h"

namespace kvs::grammar {
namespace {

std::string error_of(const std::string& schema, const SchemaLimits& limits = {}) {
  try {
    json_schema_to_gbnf(schema, "", limits);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(JsonSchemaErrors, UnsupportedKeywordsNameKeywordAndPointer) {
  EXPECT_EQ(error_of(R"({"type":"object","patternProperties":{"^a":{}}})"),
            "json_schema: unsupported keyword 'patternProperties' at #/patternProperties");
  EXPECT_EQ(error_of(R"({"properties":{"a":{"not":{"type":"string"}}}})"),
            "json_schema: unsupported keyword 'not' at #/properties/a/not");
  for (const char* keyword : {"if", "then", "else", "dependentSchemas", "maxContains", "contains", "minProperties",
                              "maxProperties", "propertyNames", "unevaluatedProperties", "dependentRequired",
                              "minContains", "nullable"}) {
    const std::string schema = std::string(R"({"type":"object","properties":{"x/y":{"type":"integer",")") +
                               keyword + "\":1}}}";
    EXPECT_EQ(error_of(schema),
              std::string("json_schema: unsupported keyword '") + keyword + "' at #/properties/x~1y/" + keyword);
  }
  EXPECT_EQ(error_of(R"({"type":"array","uniqueItems":true})"),
            "json_schema: unsupported keyword 'uniqueItems' (true) at #/uniqueItems");
  EXPECT_EQ(error_of(R"({"type":"string","format":"uri"})"), "json_schema: unsupported format 'uri' at #/format");
  EXPECT_EQ(error_of(R"({"type":"number","minimum":0.2,"maximum":0.8})"),
            "json_schema: no number this converter writes is within 'minimum'/'maximum' at #");
  EXPECT_EQ(error_of(R"({"type":"string","maxLength":100000})"),
            "json_schema: 'maxLength' above 1000 is not supported at #/maxLength");
  EXPECT_EQ(error_of(R"({"type":"string","pattern":"a","maxLength":3})"),
            "json_schema: only one of 'pattern', 'format' and 'minLength'/'maxLength' per string schema is supported at #");
}

TEST(JsonSchemaErrors, AnnotationsAreIgnored) {
  EXPECT_EQ(error_of(R"({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"x","title":"t",
      "description":"d","examples":[1],"default":1,"$comment":"c","deprecated":false,"readOnly":true,
      "x-vendor":1,"type":"integer"})"),
            "(no error)");
}

TEST(JsonSchemaErrors, InvalidJsonAndBadValues) {
  EXPECT_EQ(error_of("{").rfind("json_schema: invalid JSON", 0), 0u);
  EXPECT_EQ(error_of(R"({"type":"strnig"})"), "json_schema: unknown type \"strnig\" at #/type");
  EXPECT_EQ(error_of("false"), "json_schema: the schema 'false' matches nothing at #");
  EXPECT_EQ(error_of("[]"), "json_schema: a schema must be an object or a boolean at #");
  EXPECT_EQ(error_of(R"({"type":"string","pattern":"(a)\\1"})"),
            "json_schema: regex: backreferences are not supported at offset 3 at #/pattern");
  EXPECT_EQ(error_of(R"({"type":"integer","minimum":5,"maximum":4})"),
            "json_schema: no integer is within 'minimum'/'maximum' at #");
  EXPECT_EQ(error_of(R"({"type":"object","required":["a"],"additionalProperties":false})"),
            "json_schema: required property 'a' is not allowed by 'additionalProperties': false at #/required");
}

TEST(JsonSchemaErrors, AllOfItCannotMerge) {
  EXPECT_EQ(error_of(R"({"allOf":[{"properties":{"a":{}}}],"additionalProperties":false})"),
            "json_schema: 'additionalProperties' beside 'allOf' is not supported at #/additionalProperties");
  EXPECT_EQ(error_of(R"({"allOf":[{"properties":{"a":{"type":"string"}}},{"properties":{"a":{"type":"integer"}}}]})"),
            "json_schema: 'allOf' branches give property 'a' different schemas at #/allOf/1/properties/a");
  EXPECT_EQ(error_of(R"({"allOf":[{"minimum":1},{"minimum":2}]})"),
            "json_schema: 'allOf' branches disagree on 'minimum' at #/allOf/1/minimum");
  EXPECT_EQ(error_of(R"({"allOf":[{"anyOf":[{}]}]})"), "json_schema: 'anyOf' inside 'allOf' is not supported at #/allOf/0");
}

TEST(JsonSchemaErrors, References) {
  EXPECT_EQ(error_of(R"({"$ref":"#/$defs/missing"})"), "json_schema: unresolvable $ref '#/$defs/missing' at #");
  EXPECT_EQ(error_of(R"({"$ref":"https://example.com/s.json"})"),
            "json_schema: unsupported $ref 'https://example.com/s.json' (only local '#/...' references) at #");
  EXPECT_EQ(error_of(R"({"properties":{"a":{"$ref":"#/$defs/x","type":"object"}}, "$defs":{"x":{}}})"),
            "json_schema: '$ref' together with 'type' is not supported at #/properties/a");
}

TEST(JsonSchemaErrors, Limits) {
  std::string big_enum = R"({"enum":[)";
  for (int i = 0; i < 1025; ++i) big_enum += (i ? "," : "") + std::to_string(i);
  big_enum += "]}";
  EXPECT_EQ(error_of(big_enum), "json_schema: 'enum' has 1025 values, more than the limit 1024 at #/enum");
  SchemaLimits small;
  small.max_schema_bytes = 10;
  EXPECT_EQ(error_of(R"({"type":"integer"})", small), "json_schema: the schema is 18 bytes, more than the limit 10");
  small = {};
  small.max_depth = 3;
  EXPECT_EQ(error_of(R"({"items":{"items":{"items":{"items":{"items":{}}}}}})", small),
            "json_schema: schema nested deeper than 3 levels at #/items/items/items/items");
  small = {};
  small.max_grammar_bytes = 100;
  EXPECT_NE(error_of(R"({"type":"object","properties":{"a":{"type":"string"}}})", small).find("more than the limit"),
            std::string::npos);
}

TEST(JsonSchemaText, RulesArePrefixedAndStartAtRoot) {
  const std::string gbnf = json_schema_to_gbnf(R"({"type":"object","properties":{"a":{"type":"boolean"}},
      "required":["a"],"additionalProperties":false})",
                                               "tool-1-");
  EXPECT_NE(gbnf.find("tool-1-root ::= "), std::string::npos) << gbnf;
  for (size_t line = 0; line < gbnf.size();) {
    EXPECT_EQ(gbnf.compare(line, 7, "tool-1-"), 0) << gbnf.substr(line);
    line = gbnf.find('\n', line) + 1;
  }
  EXPECT_NE(json_object_gbnf("p-").find("p-root ::= p-object\n"), std::string::npos);
}

}  // namespace
}  // namespace kvs::grammar

// ---- grammars checked with the real parser and matcher ----------------------
#include <nlohmann/json.hpp>

#include "engine/grammar/constraint.h"
#include "tests/common/test_paths.h"
#include "tests/engine/grammar/schema_test_util.h"

namespace kvs::grammar {
namespace {

using OrderedJson = nlohmann::ordered_json;
using test::accepts;
using test::compile_for_bytes;

std::shared_ptr<const CompiledGrammar> schema_grammar(const std::string& schema) {
  return compile_for_bytes(json_schema_to_gbnf(schema));
}

// tests/data/structured_schemas.json: every valid instance is accepted,
// compact and pretty-printed; every invalid / stricter one is rejected.
TEST(JsonSchemaMatch, SharedSchemaCases) {
  const OrderedJson data =
      OrderedJson::parse(kvs::test::read_file(kvs::test::source_dir() + "/tests/data/structured_schemas.json"));
  size_t cases = 0, accepted = 0, rejected = 0;
  for (const OrderedJson& c : data["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const std::string gbnf = json_schema_to_gbnf(c["schema"].dump());
    const auto grammar = compile_for_bytes(gbnf);
    for (const OrderedJson& instance : c["valid"]) {
      EXPECT_TRUE(accepts(grammar, instance.dump())) << instance.dump() << "\n" << gbnf;
      EXPECT_TRUE(accepts(grammar, instance.dump(2))) << instance.dump(2) << "\n" << gbnf;
      ++accepted;
    }
    for (const char* list : {"invalid", "stricter"}) {
      for (const OrderedJson& instance : c[list]) {
        EXPECT_FALSE(accepts(grammar, instance.dump())) << list << ": " << instance.dump() << "\n" << gbnf;
        ++rejected;
      }
    }
    ++cases;
  }
  EXPECT_GE(cases, 30u);
  EXPECT_GE(accepted, 90u);
  EXPECT_GE(rejected, 100u);
}

TEST(JsonSchemaMatch, WhitespaceIsBounded) {
  const auto g = schema_grammar(R"({"type":"object","properties":{"a":{"type":"array","items":{"type":"integer"}}},
      "required":["a"],"additionalProperties":false})");
  EXPECT_TRUE(accepts(g, R"({"a":[1,2]})"));
  EXPECT_TRUE(accepts(g, R"({ "a": [ 1, 2 ] })"));
  EXPECT_TRUE(accepts(g, "{\n  \"a\": [\n    1,\n    2\n  ]\n}"));
  EXPECT_FALSE(accepts(g, R"({"a":  [1]})"));
  EXPECT_FALSE(accepts(g, R"({"a" : [1]})"));
  EXPECT_FALSE(accepts(g, R"({"a":[1 ,2]})"));
  EXPECT_FALSE(accepts(g, "{\n" + std::string(21, ' ') + "\"a\":[]}"));
  EXPECT_FALSE(accepts(g, "{\"a\":[]}\n"));
  const auto any = compile_for_bytes(json_object_gbnf());
  EXPECT_TRUE(accepts(any, R"({"x": {"y": [1, "z", null, true, 2.5e-3]}, "w": {}})"));
  EXPECT_FALSE(accepts(any, R"({"x":   1})"));
  EXPECT_FALSE(accepts(any, R"([1])"));
}

TEST(JsonSchemaMatch, PropertiesKeepSchemaOrderAndOptionalOnesMayBeLeftOut) {
  const auto g = schema_grammar(R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"},
      "c":{"type":"integer"},"d":{"type":"integer"}},"required":["b","d"],"additionalProperties":false})");
  for (const char* ok : {R"({"b":1,"d":2})", R"({"a":0,"b":1,"d":2})", R"({"b":1,"c":3,"d":2})",
                         R"({"a":0,"b":1,"c":3,"d":2})"}) {
    EXPECT_TRUE(accepts(g, ok)) << ok;
  }
  for (const char* bad : {R"({"d":2,"b":1})", R"({"b":1})", R"({"a":0,"d":2})", R"({"b":1,"b":1,"d":2})",
                          R"({,"b":1,"d":2})", R"({"b":1,"d":2,})", R"({"b":1,"d":2,"e":3})"}) {
    EXPECT_FALSE(accepts(g, bad)) << bad;
  }
}

TEST(JsonSchemaMatch, StringsEscapesAndLengths) {
  const auto g = schema_grammar(R"({"type":"string","minLength":2,"maxLength":3})");
  EXPECT_TRUE(accepts(g, R"("ab")"));
  EXPECT_TRUE(accepts(g, R"("\n\u00e9x")"));  // escapes count as one character each
  EXPECT_TRUE(accepts(g, "\"\xc3\xa9\xe4\xb8\xad\""));  // two code points
  EXPECT_FALSE(accepts(g, R"("a")"));
  EXPECT_FALSE(accepts(g, R"("abcd")"));
  EXPECT_FALSE(accepts(g, "\"a\tb\""));       // raw control character
  EXPECT_FALSE(accepts(g, R"("a\qb")"));      // bad escape
  EXPECT_FALSE(accepts(g, R"("\ud83d\ude00")"));  // surrogate escapes are not written
}

TEST(JsonSchemaMatch, IntegerRangesAreExact) {
  const auto g = schema_grammar(R"({"type":"integer","minimum":-1234,"exclusiveMaximum":5678})");
  for (int v = -1300; v <= 5700; ++v) {
    ASSERT_EQ(accepts(g, std::to_string(v)), v >= -1234 && v < 5678) << v;
  }
  EXPECT_FALSE(accepts(g, "-0"));
  EXPECT_FALSE(accepts(g, "007"));
  EXPECT_FALSE(accepts(g, "1.0"));
}

TEST(JsonSchemaMatch, IntegerMultipleOfIsExact) {
  const auto g = schema_grammar(R"({"type":"integer","multipleOf":7})");
  for (int v = -300; v <= 300; ++v) ASSERT_EQ(accepts(g, std::to_string(v)), v % 7 == 0) << v;
  EXPECT_TRUE(accepts(g, "700000000000000000007"));
  EXPECT_FALSE(accepts(g, "-0"));
  EXPECT_FALSE(accepts(g, "014"));
  const auto number = schema_grammar(R"({"type":["number","null"],"multipleOf":3})");
  EXPECT_TRUE(accepts(number, "-39"));
  EXPECT_TRUE(accepts(number, "null"));
  EXPECT_FALSE(accepts(number, "3.0"));
  EXPECT_FALSE(accepts(number, "4"));
  EXPECT_EQ(error_of(R"({"type":"number","multipleOf":0.5})"),
            "json_schema: 'multipleOf' other than an integer from 1 to 1000 is not supported at #/multipleOf");
  EXPECT_EQ(error_of(R"({"type":"integer","multipleOf":5,"minimum":0})"),
            "json_schema: 'multipleOf' with 'minimum'/'maximum' is not supported at #/multipleOf");
  EXPECT_EQ(error_of(R"({"type":"integer","multipleOf":0})"),
            "json_schema: 'multipleOf' must be a number above 0 at #/multipleOf");
}

TEST(JsonSchemaMatch, PrefixedRulesShareOneGrammar) {
  const std::string a = json_schema_to_gbnf(R"({"type":"integer"})", "a-");
  const std::string b = json_schema_to_gbnf(R"({"type":"array","items":{"type":"boolean"}})", "b-");
  const auto g = compile_for_bytes(a + b + "root ::= a-root \" \" b-root\n");
  EXPECT_TRUE(accepts(g, "12 [true, false]"));
  EXPECT_FALSE(accepts(g, "12 [1]"));
}

TEST(JsonSchemaErrors, RecursionWithoutBaseCaseNamesTheRef) {
  const std::string self = error_of(R"({"type":"object","properties":{"self":{"$ref":"#"}},"required":["self"]})");
  EXPECT_EQ(self.rfind("json_schema: recursion without a base case through $ref '#'", 0), 0u) << self;
  const std::string list = error_of(
      R"({"$ref":"#/$defs/a","$defs":{"a":{"type":"array","items":{"$ref":"#/$defs/a"},"minItems":1}}})");
  EXPECT_EQ(list.rfind("json_schema: recursion without a base case through $ref '#/$defs/a'", 0), 0u) << list;
  const std::string alias = error_of(R"({"anyOf":[{"$ref":"#"},{"type":"null"}]})");
  EXPECT_EQ(alias.rfind("json_schema: $ref '#' reaches itself before any character", 0), 0u) << alias;
  // With a base case the same shapes are fine.
  EXPECT_EQ(error_of(R"({"$ref":"#/$defs/a","$defs":{"a":{"type":"array","items":{"$ref":"#/$defs/a"}}}})"),
            "(no error)");
}

TEST(Constraint, DispatchesOnKind) {
  ConstraintSpec spec;
  spec.kind = ConstraintSpec::Kind::kJsonObject;
  EXPECT_TRUE(accepts(compile_for_bytes(constraint_to_gbnf(spec)), R"({"a": 1})"));
  spec.kind = ConstraintSpec::Kind::kJsonSchema;
  spec.text = R"({"enum":["x","y"]})";
  EXPECT_TRUE(accepts(compile_for_bytes(constraint_to_gbnf(spec)), R"("y")"));
  spec.kind = ConstraintSpec::Kind::kRegex;
  spec.text = "[a-c]+!";
  EXPECT_TRUE(accepts(compile_for_bytes(constraint_to_gbnf(spec)), "abca!"));
  spec.kind = ConstraintSpec::Kind::kChoice;
  spec.choices = {"left", "right"};
  EXPECT_TRUE(accepts(compile_for_bytes(constraint_to_gbnf(spec)), "right"));
  EXPECT_FALSE(accepts(compile_for_bytes(constraint_to_gbnf(spec)), "up"));
  spec.kind = ConstraintSpec::Kind::kGbnf;
  spec.text = "root ::= \"hi\"";
  EXPECT_EQ(constraint_to_gbnf(spec), "root ::= \"hi\"");
  spec.kind = ConstraintSpec::Kind::kJsonSchema;
  spec.text = R"({"not":{}})";
  EXPECT_THROW(constraint_to_gbnf(spec), InvalidArgument);
}

}  // namespace
}  // namespace kvs::grammar

namespace kvs::grammar {
namespace {

TEST(JsonSchemaMatch, DefinitionNamesDoNotClashWithBuildingBlocks) {
  const auto g = test::compile_for_bytes(json_schema_to_gbnf(
      R"({"type":"object","properties":{"a":{"$ref":"#/$defs/string"},"b":{"$ref":"#/$defs/ws"},
          "c":{"type":"string"}},"required":["a","b","c"],"additionalProperties":false,
          "$defs":{"string":{"type":"integer"},"ws":{"enum":[true]}}})"));
  EXPECT_TRUE(test::accepts(g, R"({"a": 1, "b": true, "c": "x"})"));
  EXPECT_FALSE(test::accepts(g, R"({"a": "1", "b": true, "c": "x"})"));
  EXPECT_FALSE(test::accepts(g, R"({"a": 1, "b": true, "c": 1})"));
}

TEST(JsonSchemaMatch, Draft4TupleItemsAndAdditionalItems) {
  const auto g = test::compile_for_bytes(json_schema_to_gbnf(
      R"({"type":"array","items":[{"type":"integer"},{"enum":["x","y"]}],"additionalItems":{"type":"null"},"maxItems":3})"));
  EXPECT_TRUE(test::accepts(g, R"([1,"x"])"));
  EXPECT_TRUE(test::accepts(g, R"([1, "y", null])"));
  EXPECT_FALSE(test::accepts(g, R"([1,"x",null,null])"));
  EXPECT_FALSE(test::accepts(g, R"([1,"x",2])"));
  EXPECT_FALSE(test::accepts(g, R"(["x",1])"));
}

TEST(JsonSchemaText, IntegerRuleIsCompact) {
  const std::string gbnf = json_schema_to_gbnf(R"({"type":"integer"})");
  EXPECT_NE(gbnf.find("integer ::= (\"-\" ([1-9] | [1-9] [0-9]{1,17}) | ([0-9] | [1-9] [0-9]{1,17}))\n"), std::string::npos)
      << gbnf;
}

}  // namespace
}  // namespace kvs::grammar
