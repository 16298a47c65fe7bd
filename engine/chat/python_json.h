#pragma once
// Python's json.dumps as chat templates print values with `tojson` (internal to
// kvs_chat): ensure_ascii=False, key order kept, separators ", " / ": " without
// indent and "," / ": " with one.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace kvs::chat {

// json.dumps(value, ensure_ascii=False, indent=indent); indent < 0 means None.
// Strings escape only '"', '\\' and U+0000-U+001F (\b \f \n \r \t by name, others
// as \u00xx); other text, non-ASCII included, is copied. Integers print
// exactly (within nlohmann's 64-bit range; larger ones were parsed as floats);
// floats as Python's repr (shortest round-trip digits, 1e+16 but
// 1000000000000000.0, 1e-05 but 0.0001).
std::string python_json_dumps(const nlohmann::ordered_json& value, int indent = -1);

// json.dumps(text): the JSON string literal of `text` (UTF-8 copied through).
std::string python_json_string(std::string_view text);

// Parses JSON text keeping object key order; nullopt when it is not JSON.
std::optional<nlohmann::ordered_json> parse_ordered_json(std::string_view text);

}  // namespace kvs::chat
