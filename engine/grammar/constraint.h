#pragma once
// What a request asks its output to match, as typed values (the server edge
// fills it from response_format / guided_* / grammar / json_schema, or gRPC's
// constraint field).
#include <string>
#include <vector>

namespace kvs::grammar {

struct ConstraintSpec {
  enum class Kind { kJsonObject, kJsonSchema, kRegex, kChoice, kGbnf };
  Kind kind = Kind::kJsonObject;
  std::string text;                  // schema JSON, regex or GBNF (unused for kJsonObject / kChoice)
  std::vector<std::string> choices;  // kChoice
};

// The GBNF of a constraint, start rule "root". Throws kvs::InvalidArgument
// (from the converters above) when it cannot be compiled.
std::string constraint_to_gbnf(const ConstraintSpec& spec);

}  // namespace kvs::grammar
