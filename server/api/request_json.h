#pragma once
// Reading the fields of a request body with 400s that name them: the helpers
// the parsers of server/api share (internal to server/api).
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "server/api/api_error.h"

namespace kvs::request_json {

// NOTE: ordered: a JSON Schema's property order is the order the model writes
// them in, and tools are printed into the prompt as the client sent them.
using json = nlohmann::ordered_json;

[[noreturn]] inline void bad(const std::string& param, const std::string& message) {
  throw ApiError(400, message, param);
}

// A present, non-null field, or nullptr.
inline const json* field(const json& doc, const char* name) {
  const auto it = doc.find(name);
  return it == doc.end() || it->is_null() ? nullptr : &*it;
}

inline double number(const json& doc, const char* name, double fallback) {
  const json* value = field(doc, name);
  if (value == nullptr) return fallback;
  if (!value->is_number()) bad(name, std::string("'") + name + "' must be a number");
  return value->get<double>();
}

inline int64_t integer(const json& doc, const char* name, int64_t fallback) {
  const json* value = field(doc, name);
  if (value == nullptr) return fallback;
  if (!value->is_number_integer()) bad(name, std::string("'") + name + "' must be an integer");
  return value->get<int64_t>();
}

inline bool boolean(const json& doc, const char* name, bool fallback) {
  const json* value = field(doc, name);
  if (value == nullptr) return fallback;
  if (!value->is_boolean()) bad(name, std::string("'") + name + "' must be a boolean");
  return value->get<bool>();
}

inline std::string string_field(const json& doc, const char* name) {
  const json* value = field(doc, name);
  if (value == nullptr) return "";
  if (!value->is_string()) bad(name, std::string("'") + name + "' must be a string");
  return value->get<std::string>();
}

}  // namespace kvs::request_json
