#pragma once
// JSON Schema (and "any JSON object") to GBNF, for response_format,
// guided_json and tool arguments.
#include <string>
#include <string_view>

namespace kvs::grammar {

// Caps on a schema's size (a 400 beyond them).
struct SchemaLimits {
  size_t max_schema_bytes = 1 << 20;
  size_t max_enum_values = 1024;     // enum / const choices per keyword
  size_t max_depth = 64;             // nesting of subschemas
  size_t max_grammar_bytes = 1 << 20;  // GBNF produced
};

// schema_json: a JSON Schema as JSON text. Returns GBNF whose rules are all
// named "<prefix>..." and whose start rule is "<prefix>root", so several
// schemas (tools) can share one grammar. Output is compact JSON-ish text the
// way models write it: optional whitespace is limited (no unbounded runs).
// Supports everything OpenAI's strict mode accepts (type incl. lists, object
// properties/required/additionalProperties, array items/minItems/maxItems,
// string, number, integer, boolean, null, enum, const, anyOf, $defs/$ref incl.
// recursion) plus string pattern / format (date, time, date-time, uuid, email)
// / minLength / maxLength, integer minimum/maximum where practical, oneOf /
// allOf of objects where practical. Throws kvs::InvalidArgument naming the
// keyword and its JSON pointer for invalid JSON, unsupported keywords,
// unresolvable or unproductive $ref recursion, and limits exceeded.
std::string json_schema_to_gbnf(std::string_view schema_json, std::string_view prefix = "",
                                const SchemaLimits& limits = {});
// Any JSON object (response_format {"type": "json_object"}), start rule "<prefix>root".
std::string json_object_gbnf(std::string_view prefix = "");

}  // namespace kvs::grammar
