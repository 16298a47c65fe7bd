#pragma once
// Reads the string literals out of a Jinja template's tags, so style detection
// can look at what a template emits (e.g. its default system prompt) without
// interpreting it.
#include <string>
#include <vector>

namespace kvs::chat {

// Every '...' / "..." literal inside {{ }} and {% %} tags, in source order, with
// Jinja's escapes decoded (Python unicode-escape: \n \t \r \\ \' \" \a \b \f \v
// \0-\7 octal, \xNN, \uNNNN, \UNNNNNNNN; unknown escapes stay as written).
// Comments {# #} and text outside tags are skipped. An unterminated literal or
// tag ends the scan; what was read so far is returned.
std::vector<std::string> jinja_string_literals(const std::string& source);

}  // namespace kvs::chat
