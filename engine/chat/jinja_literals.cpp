#include "engine/chat/jinja_literals.h"

#include <cctype>
#include <cstdint>

namespace kvs::chat {
namespace {

void append_utf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// Reads exactly `digits` hex digits at source[pos]; false if they are not there.
bool read_hex(const std::string& source, size_t pos, int digits, char32_t& value) {
  if (pos + digits > source.size()) return false;
  value = 0;
  for (int i = 0; i < digits; ++i) {
    const char c = source[pos + i];
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    value = value * 16 + static_cast<char32_t>(std::isdigit(static_cast<unsigned char>(c))
                                                   ? c - '0'
                                                   : std::tolower(c) - 'a' + 10);
  }
  return value <= 0x10FFFF;
}

// The character a one-letter escape stands for (\n -> newline), or 0.
char simple_escape(char c) {
  switch (c) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'a': return '\a';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'v': return '\v';
    case '\\': case '\'': case '"': return c;
    default: return 0;
  }
}

// Decodes the escape whose backslash is at source[pos]; returns the index after it.
size_t decode_escape(const std::string& source, size_t pos, std::string& out) {
  if (pos + 1 >= source.size()) {
    out += '\\';
    return pos + 1;
  }
  const char c = source[pos + 1];
  if (const char decoded = simple_escape(c)) {
    out += decoded;
    return pos + 2;
  }
  if (c == '\n') return pos + 2;  // line continuation
  if (c >= '0' && c <= '7') {
    char32_t value = 0;
    size_t end = pos + 1;
    while (end < source.size() && end < pos + 4 && source[end] >= '0' && source[end] <= '7') {
      value = value * 8 + static_cast<char32_t>(source[end] - '0');
      ++end;
    }
    append_utf8(value, out);
    return end;
  }
  const int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
  char32_t value = 0;
  if (digits > 0 && read_hex(source, pos + 2, digits, value)) {
    append_utf8(value, out);
    return pos + 2 + digits;
  }
  out += '\\';  // unknown escape: Python keeps it as written
  out += c;
  return pos + 2;
}

// Reads the literal whose opening quote is at source[pos]. Returns the index
// after the closing quote, or npos when the literal is not terminated.
size_t read_literal(const std::string& source, size_t pos, std::string& literal) {
  const char quote = source[pos];
  size_t i = pos + 1;
  while (i < source.size()) {
    if (source[i] == quote) return i + 1;
    if (source[i] == '\\') {
      i = decode_escape(source, i, literal);
    } else {
      literal += source[i++];
    }
  }
  return std::string::npos;
}

}  // namespace

std::vector<std::string> jinja_string_literals(const std::string& source) {
  std::vector<std::string> literals;
  size_t i = 0;
  while (true) {
    const size_t open = source.find('{', i);
    if (open == std::string::npos || open + 1 >= source.size()) return literals;
    const char kind = source[open + 1];
    if (kind == '#') {
      const size_t close = source.find("#}", open + 2);
      if (close == std::string::npos) return literals;
      i = close + 2;
      continue;
    }
    if (kind != '{' && kind != '%') {
      i = open + 1;
      continue;
    }
    const char closer = kind == '{' ? '}' : '%';
    size_t j = open + 2;
    while (true) {
      if (j + 1 >= source.size()) return literals;
      const char c = source[j];
      if (c == '\'' || c == '"') {
        std::string literal;
        j = read_literal(source, j, literal);
        if (j == std::string::npos) return literals;
        literals.push_back(std::move(literal));
      } else if (c == closer && source[j + 1] == '}') {
        break;
      } else {
        ++j;
      }
    }
    i = j + 2;
  }
}

}  // namespace kvs::chat
