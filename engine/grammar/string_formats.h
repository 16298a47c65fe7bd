#pragma once
// Internal to kvs_grammar: GBNF for the JSON Schema string formats the
// converter enforces (json_schema.cpp).
#include <string>
#include <string_view>

namespace kvs::grammar {

// An expression matching the text between the quotes of a JSON string in
// `format` ("date", "time", "date-time", "uuid", "email", "hostname", "ipv4"), all ASCII
// characters that need no JSON escaping; "" for a format not supported.
// Every matched text is valid for the format (a stricter subset where exact
// is awkward: dates have years 1000-9999 and no 29 February, times have no
// leap second, emails use the common dot-atom form).
std::string string_format_gbnf(std::string_view format);

}  // namespace kvs::grammar
