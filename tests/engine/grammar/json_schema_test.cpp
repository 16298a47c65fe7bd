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
  for (const char* keyword : {"if", "then", "else", "dependentSchemas", "multipleOf", "contains", "minProperties",
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
