#pragma once
// The few Python string operations chat templates use, on UTF-8 text.
#include <string>
#include <string_view>

namespace kvs::chat {

// Python's str.isspace() for one code point (what str.strip() and Jinja's trim
// remove): ASCII \t \n \v \f \r, \x1c-\x1f and space, U+0085, U+00A0, U+1680,
// U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. Not U+200B.
bool is_python_whitespace(char32_t code_point);

// str.strip(): removes Python whitespace at both ends. Bytes that are not valid
// UTF-8 count as non-whitespace.
std::string python_strip(std::string_view text);

// str.lstrip(c) / str.rstrip(c) / str.strip(c) for one ASCII character.
std::string_view lstrip_char(std::string_view text, char c);
std::string_view rstrip_char(std::string_view text, char c);
std::string_view strip_char(std::string_view text, char c);

// text.split(separator)[0] / text.split(separator)[-1]: before the first
// occurrence / after the last (the whole text when absent).
std::string_view before_first(std::string_view text, std::string_view separator);
std::string_view after_last(std::string_view text, std::string_view separator);

bool starts_with(std::string_view text, std::string_view prefix);
bool ends_with(std::string_view text, std::string_view suffix);
bool contains(std::string_view text, std::string_view needle);

}  // namespace kvs::chat
