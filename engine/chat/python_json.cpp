#include "engine/chat/python_json.h"

namespace kvs::chat {
namespace {

void append_string(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[static_cast<unsigned char>(c) >> 4];
          out += kHex[static_cast<unsigned char>(c) & 15];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_newline(int indent, int depth, std::string& out) {
  out += '\n';
  out.append(static_cast<size_t>(indent) * static_cast<size_t>(depth), ' ');
}

void append_value(const nlohmann::ordered_json& value, int indent, int depth, std::string& out) {
  if (value.is_string()) {
    append_string(value.get_ref<const std::string&>(), out);
  } else if (value.is_object() || value.is_array()) {
    const bool object = value.is_object();
    if (value.empty()) {
      out += object ? "{}" : "[]";
      return;
    }
    out += object ? '{' : '[';
    bool first = true;
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (!first) out += indent < 0 ? ", " : ",";
      first = false;
      if (indent >= 0) append_newline(indent, depth + 1, out);
      if (object) {
        append_string(it.key(), out);
        out += ": ";
      }
      append_value(it.value(), indent, depth + 1, out);
    }
    if (indent >= 0) append_newline(indent, depth, out);
    out += object ? '}' : ']';
  } else {
    out += value.dump();  // null, true, false, numbers: as Python prints them
  }
}

}  // namespace

std::string python_json_dumps(const nlohmann::ordered_json& value, int indent) {
  std::string out;
  append_value(value, indent, 0, out);
  return out;
}

std::string python_json_string(std::string_view text) {
  std::string out;
  append_string(text, out);
  return out;
}

std::optional<nlohmann::ordered_json> parse_ordered_json(std::string_view text) {
  nlohmann::ordered_json value =
      nlohmann::ordered_json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

}  // namespace kvs::chat
