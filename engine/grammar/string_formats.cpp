#include "engine/grammar/string_formats.h"

namespace kvs::grammar {
namespace {

// YYYY-MM-DD with days valid in every year.
constexpr const char* kDate =
    "[1-9] [0-9]{3} \"-\" ("
    "(\"0\" [1-9] | \"1\" [0-2]) \"-\" (\"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8]) | "
    "(\"0\" [13-9] | \"1\" [0-2]) \"-\" (\"29\" | \"30\") | "
    "(\"0\" [13578] | \"1\" [02]) \"-\" \"31\")";
// HH:MM:SS[.frac](Z|+HH:MM|-HH:MM), RFC 3339 full-time.
constexpr const char* kTime =
    "([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \":\" [0-5] [0-9] (\".\" [0-9]{1,9})? "
    "(\"Z\" | [+-] ([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9])";

}  // namespace

std::string string_format_gbnf(std::string_view format) {
  if (format == "date") return std::string("(") + kDate + ")";
  if (format == "time") return std::string("(") + kTime + ")";
  if (format == "date-time") return std::string("(") + kDate + ") \"T\" (" + kTime + ")";
  if (format == "uuid") {
    return "[0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{12}";
  }
  if (format == "email") {
    return "[A-Za-z0-9_%+-]{1,32} (\".\" [A-Za-z0-9_%+-]{1,32}){0,4} \"@\" "
           "[A-Za-z0-9] ([A-Za-z0-9-]{0,30} [A-Za-z0-9])? "
           "(\".\" [A-Za-z0-9] ([A-Za-z0-9-]{0,30} [A-Za-z0-9])?){1,4}";
  }
  if (format == "hostname") {
    // Dot-separated labels of letters, digits and inner hyphens (at most
    // 5 labels of 1-40 characters: within the 253-character limit).
    const std::string label = "[A-Za-z0-9] ([A-Za-z0-9-]{0,38} [A-Za-z0-9])?";
    return label + " (\".\" " + label + "){0,4}";
  }
  if (format == "ipv4") {
    const std::string octet = "(\"25\" [0-5] | \"2\" [0-4] [0-9] | \"1\" [0-9] [0-9] | [1-9] [0-9] | [0-9])";
    return octet + " \".\" " + octet + " \".\" " + octet + " \".\" " + octet;
  }
  return "";
}

}  // namespace kvs::grammar
