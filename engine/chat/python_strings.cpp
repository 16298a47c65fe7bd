#include "engine/chat/python_strings.h"

#include <cstdint>

namespace kvs::chat {
namespace {

bool is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// Decodes the code point starting at text[pos]; sets `length` to its byte count.
// Returns false (length 1) for bytes that do not start a valid sequence.
bool decode_at(std::string_view text, size_t pos, char32_t& code_point, size_t& length) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  length = 1;
  if (lead < 0x80) {
    code_point = lead;
    return true;
  }
  size_t extra = 0;
  if ((lead & 0xE0) == 0xC0) {
    extra = 1;
    code_point = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    extra = 2;
    code_point = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    extra = 3;
    code_point = lead & 0x07;
  } else {
    return false;
  }
  if (pos + extra >= text.size()) return false;
  for (size_t i = 1; i <= extra; ++i) {
    const auto byte = static_cast<unsigned char>(text[pos + i]);
    if (!is_continuation(byte)) return false;
    code_point = (code_point << 6) | (byte & 0x3F);
  }
  static constexpr char32_t kSmallest[] = {0, 0x80, 0x800, 0x10000};
  if (code_point < kSmallest[extra] || code_point > 0x10FFFF) return false;  // overlong / too big
  length = extra + 1;
  return true;
}

// Byte length of the Python whitespace character starting at `pos`, or 0.
size_t whitespace_length_at(std::string_view text, size_t pos) {
  char32_t code_point = 0;
  size_t length = 0;
  if (!decode_at(text, pos, code_point, length)) return 0;
  return is_python_whitespace(code_point) ? length : 0;
}

}  // namespace

bool is_python_whitespace(char32_t c) {
  if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return true;
  if (c < 0x80) return false;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string python_strip(std::string_view text) {
  size_t begin = 0;
  while (begin < text.size()) {
    const size_t length = whitespace_length_at(text, begin);
    if (length == 0) break;
    begin += length;
  }
  size_t end = text.size();
  while (end > begin) {
    size_t start = end - 1;  // back up to the lead byte of the last character
    while (start > begin && is_continuation(static_cast<unsigned char>(text[start]))) --start;
    const size_t length = whitespace_length_at(text, start);
    if (length == 0 || start + length != end) break;
    end = start;
  }
  return std::string(text.substr(begin, end - begin));
}

std::string_view lstrip_char(std::string_view text, char c) {
  const size_t begin = text.find_first_not_of(c);
  return begin == std::string_view::npos ? std::string_view() : text.substr(begin);
}

std::string_view rstrip_char(std::string_view text, char c) {
  const size_t last = text.find_last_not_of(c);
  return last == std::string_view::npos ? std::string_view() : text.substr(0, last + 1);
}

std::string_view strip_char(std::string_view text, char c) {
  return rstrip_char(lstrip_char(text, c), c);
}

std::string_view before_first(std::string_view text, std::string_view separator) {
  const size_t at = text.find(separator);
  return at == std::string_view::npos ? text : text.substr(0, at);
}

std::string_view after_last(std::string_view text, std::string_view separator) {
  const size_t at = text.rfind(separator);
  return at == std::string_view::npos ? text : text.substr(at + separator.size());
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool contains(std::string_view text, std::string_view needle) {
  return text.find(needle) != std::string_view::npos;
}

}  // namespace kvs::chat
