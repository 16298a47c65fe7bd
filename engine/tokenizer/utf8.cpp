#include "engine/tokenizer/utf8.h"

namespace kvs::utf8 {

size_t sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xC2) return 0;  // continuation byte, or overlong 2-byte lead
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF5) return 4;
  return 0;
}

static bool is_continuation(uint8_t byte) { return (byte & 0xC0) == 0x80; }

bool decode(std::string_view text, size_t& pos, uint32_t& code_point) {
  const auto lead = static_cast<uint8_t>(text[pos]);
  const size_t length = sequence_length(lead);
  if (length == 0 || pos + length > text.size()) {
    pos += 1;
    return false;
  }
  if (length == 1) {
    code_point = lead;
    pos += 1;
    return true;
  }
  uint32_t value = lead & (0x7F >> length);
  for (size_t i = 1; i < length; ++i) {
    const auto byte = static_cast<uint8_t>(text[pos + i]);
    if (!is_continuation(byte)) {
      pos += 1;
      return false;
    }
    value = (value << 6) | (byte & 0x3F);
  }
  static constexpr uint32_t kMinimum[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (value < kMinimum[length] || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    pos += 1;
    return false;
  }
  code_point = value;
  pos += length;
  return true;
}

void append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_valid(std::string_view text) {
  size_t pos = 0;
  uint32_t cp = 0;
  while (pos < text.size()) {
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    if (!decode(text, pos, cp)) return false;
  }
  return true;
}

std::string repair(std::string_view text) {
  if (is_valid(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  size_t pos = 0;
  uint32_t cp = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    if (decode(text, pos, cp)) {
      out.append(text.substr(start, pos - start));
    } else {
      append(out, kReplacementChar);
    }
  }
  return out;
}

size_t complete_prefix_length(std::string_view bytes) {
  // Only the last three bytes can belong to an unfinished sequence.
  const size_t size = bytes.size();
  const size_t lowest = size >= 3 ? size - 3 : 0;
  for (size_t i = size; i > lowest; --i) {
    const auto byte = static_cast<uint8_t>(bytes[i - 1]);
    if (is_continuation(byte)) continue;
    const size_t length = sequence_length(byte);
    // A lead byte whose sequence runs past the end is held back; anything
    // else (ASCII, a finished sequence, an invalid byte) ends a complete prefix.
    return (length > 1 && i - 1 + length > size) ? i - 1 : size;
  }
  return size;
}

}  // namespace kvs::utf8
