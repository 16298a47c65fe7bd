#include "engine/tokenizer/byte_level.h"

#include <array>

#include "engine/tokenizer/utf8.h"

namespace kvs::byte_level {
namespace {

struct Tables {
  std::array<std::string, 256> char_for_byte;
  std::array<int16_t, 512> byte_for_code_point;  // -1 where no byte maps here

  Tables() {
    byte_for_code_point.fill(-1);
    uint32_t next_unprintable = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const uint32_t cp = printable ? b : next_unprintable++;
      utf8::append(char_for_byte[b], cp);
      byte_for_code_point[cp] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables instance;
  return instance;
}

}  // namespace

const std::string& char_for_byte(uint8_t byte) { return tables().char_for_byte[byte]; }

std::string encode(std::string_view bytes) {
  const Tables& t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += t.char_for_byte[static_cast<uint8_t>(c)];
  return out;
}

bool decode(std::string_view token, std::string& out) {
  const Tables& t = tables();
  bool all_mapped = true;
  size_t pos = 0;
  while (pos < token.size()) {
    const size_t start = pos;
    uint32_t cp = 0;
    const bool ok = utf8::decode(token, pos, cp);
    if (ok && cp < t.byte_for_code_point.size() && t.byte_for_code_point[cp] >= 0) {
      out += static_cast<char>(t.byte_for_code_point[cp]);
    } else {
      out.append(token.substr(start, pos - start));
      all_mapped = false;
    }
  }
  return all_mapped;
}

}  // namespace kvs::byte_level
