#include "engine/chat/python_json.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace kvs::chat {
namespace {

// Python's float repr: the shortest round-trip digits, positional for decimal
// exponents -4 <= e < 16 (always with a fractional part), else d.ddde+XX.
std::string python_float_repr(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value < 0 ? "-Infinity" : "Infinity";
  if (value == 0) return std::signbit(value) ? "-0.0" : "0.0";
  char buffer[64];
  const std::to_chars_result result =
      std::to_chars(buffer, buffer + sizeof buffer, std::fabs(value), std::chars_format::scientific);
  const std::string text(buffer, result.ptr);  // "d.ddde+XX"
  const size_t e = text.find('e');
  std::string digits = text.substr(0, e);
  if (digits.size() > 1) digits.erase(1, 1);  // drop the '.'
  const int exponent = std::atoi(text.c_str() + e + 1);
  std::string out = value < 0 ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    } else {
      const size_t integral = static_cast<size_t>(exponent) + 1;
      if (digits.size() < integral) digits.append(integral - digits.size(), '0');
      out += digits.substr(0, integral) + "." +
             (digits.size() > integral ? digits.substr(integral) : "0");
    }
  } else {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += exponent < 0 ? "e-" : "e+";
    const int magnitude = std::abs(exponent);
    if (magnitude < 10) out += '0';
    out += std::to_string(magnitude);
  }
  return out;
}

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
  } else if (value.is_number_float()) {
    out += python_float_repr(value.get<double>());
  } else {
    out += value.dump();  // null, true, false, integers: as Python prints them
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
