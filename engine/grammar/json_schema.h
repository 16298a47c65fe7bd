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
//
// Precisely (every accepted text is valid for the schema; where the grammar
// is stricter than the schema it is said here):
// - type (one or a list); without it the type is inferred from the keywords
//   present (object / array / string / number ones), else any JSON value.
// - object: properties in schema order, required ones always, optional ones
//   may be left out; names in "required" but not in "properties" come last.
//   additionalProperties false or absent or true: only the listed properties
//   are written; a schema: the listed ones only, or, with no properties, a
//   map of any keys to that schema. No properties and no additionalProperties
//   schema: any object.
// - array: items (a schema, true / false), prefixItems (all written, up to
//   maxItems), draft-4 "items": [...] with additionalItems, minItems and
//   maxItems (at most 1000), uniqueItems false.
// - string: JSON characters and escapes (no raw control characters, no
//   escaped surrogate pairs); minLength / maxLength (at most 1000, in code
//   points); pattern (regex_to_gbnf.h's subset, searched as JSON Schema says:
//   an end without ^ / $ is padded with any characters); format date, time,
//   date-time, uuid, email, hostname, ipv4 (common forms: see
//   string_formats.h). One of pattern / format / lengths per string schema.
// - integer: canonical decimals of at most 18 digits; minimum / maximum /
//   exclusive* (draft 4 boolean exclusive* too) exact. number: no exponent
//   when bounded; integral bounds exact, others rounded inwards.
//   multipleOf: an integer k <= 1000, without bounds (k = 1 allows them),
//   exact on integers; a "number" with it is written as an integer.
// - enum / const (with "type" filtering the values), anyOf, oneOf (written as
//   anyOf: branches that overlap may both match), allOf of object schemas
//   (merged; the same property in two branches must have the same schema),
//   $ref to "#" or "#/json/pointer" ($defs, definitions, anywhere), "$ref"
//   siblings other than annotations are rejected.
// - Ignored annotations: title, description, examples, example, default,
//   $schema, $id, id, $comment, strict, deprecated, readOnly, writeOnly,
//   contentEncoding, contentMediaType, $anchor, $vocabulary, $defs,
//   definitions, x-*. Every other keyword (not, if/then/else,
//   patternProperties, propertyNames, dependent*, unevaluated*, contains,
//   min/maxProperties, uniqueItems true, nullable...) is
//   rejected: "unsupported keyword 'K' at #/json/pointer".
// - Whitespace: after { [ , : and before } ], at most one space or one
//   newline with up to 20 spaces / tabs of indent; none elsewhere.
std::string json_schema_to_gbnf(std::string_view schema_json, std::string_view prefix = "",
                                const SchemaLimits& limits = {});
// Any JSON object (response_format {"type": "json_object"}), start rule "<prefix>root".
std::string json_object_gbnf(std::string_view prefix = "");

}  // namespace kvs::grammar
