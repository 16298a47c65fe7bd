#pragma once
// UTF-8 helpers shared by the tokenizer: strict decoding, repair of invalid
// input, and finding where a byte stream stops being whole characters.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kvs::utf8 {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Number of bytes a sequence starting with `lead` has (1..4), or 0 when `lead`
// is a continuation byte or can never start a valid sequence (0xC0, 0xC1, >0xF4).
size_t sequence_length(uint8_t lead);

// Decodes the code point at text[pos] and advances pos past it. Strict: an
// overlong form, a surrogate, a value above U+10FFFF or a truncated sequence
// returns false and advances pos by one byte.
bool decode(std::string_view text, size_t& pos, uint32_t& code_point);

// Appends the UTF-8 encoding of a valid code point (<= U+10FFFF, not a surrogate).
void append(std::string& out, uint32_t code_point);

bool is_valid(std::string_view text);

// `text` with every invalid byte sequence replaced by U+FFFD (one per bad byte),
// so it can be handed to PCRE2 in UTF mode. Valid text is returned unchanged.
std::string repair(std::string_view text);

// Length of the longest prefix of `bytes` that does not end inside an
// incomplete (but so far valid) multi-byte sequence. Bytes that can never
// become valid are counted as complete so they are not held back forever.
size_t complete_prefix_length(std::string_view bytes);

}  // namespace kvs::utf8
