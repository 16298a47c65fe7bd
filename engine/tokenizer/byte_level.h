#pragma once
// GPT-2's reversible byte <-> printable-character mapping used by byte-level
// BPE vocabularies: every byte 0..255 stands for one code point (printable
// Latin-1 bytes map to themselves, the rest to U+0100 upwards, e.g. ' ' -> 'Ġ').
#include <cstdint>
#include <string>
#include <string_view>

namespace kvs::byte_level {

// UTF-8 of the character that stands for `byte`.
const std::string& char_for_byte(uint8_t byte);

// Maps raw bytes to their byte-level characters ("a b" -> "aĠb").
std::string encode(std::string_view bytes);

// Maps a byte-level token back to raw bytes. Characters outside the mapping
// (not produced by encode) are copied through as their UTF-8. Returns false if
// any such character was met.
bool decode(std::string_view token, std::string& out);

}  // namespace kvs::byte_level
