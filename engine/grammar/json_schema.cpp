#include "engine/grammar/json_schema.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/errors.h"
#include "engine/grammar/gbnf_text.h"
#include "engine/grammar/grammar.h"
#include "engine/grammar/int_range_gbnf.h"
#include "engine/grammar/multiple_of_gbnf.h"
#include "engine/grammar/number_range_gbnf.h"
#include "engine/grammar/regex_compiler.h"
#include "engine/grammar/string_formats.h"

namespace kvs::grammar {
namespace {

using Json = nlohmann::ordered_json;  // keeps "properties" in schema order

constexpr int64_t kMaxCount = 1000;  // largest minItems / maxItems / minLength / maxLength
constexpr size_t kMaxJsonNesting = 512;  // brackets in the schema text

// Keywords that do not constrain instances (annotations); ignored.
const std::set<std::string, std::less<>> kAnnotations = {
    "title",   "description", "examples",  "example",         "default",          "$schema",
    "$id",     "id",          "$comment",  "strict",          "deprecated",       "readOnly",
    "writeOnly", "contentEncoding", "contentMediaType", "$anchor", "$vocabulary", "$defs",
    "definitions"};
// Keywords the converter enforces.
const std::set<std::string, std::less<>> kSupported = {
    "type",     "properties", "required",  "additionalProperties", "items",    "prefixItems",
    "additionalItems", "minItems", "maxItems", "minLength", "maxLength", "pattern", "format",
    "minimum",  "maximum",    "exclusiveMinimum", "exclusiveMaximum", "enum", "const", "anyOf",
    "oneOf",    "allOf",      "$ref",      "uniqueItems", "multipleOf"};
// Keywords per instance type (used to infer a missing "type").
const std::set<std::string, std::less<>> kObjectKeywords = {"properties", "required", "additionalProperties"};
const std::set<std::string, std::less<>> kArrayKeywords = {"items", "prefixItems", "additionalItems", "minItems",
                                                           "maxItems"};
const std::set<std::string, std::less<>> kStringKeywords = {"minLength", "maxLength", "pattern", "format"};
const std::set<std::string, std::less<>> kNumberKeywords = {"minimum", "maximum", "exclusiveMinimum",
                                                            "exclusiveMaximum", "multipleOf"};

std::string escape_pointer_token(const std::string& token) {
  std::string out;
  for (const char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

bool is_annotation(const std::string& key) {
  return kAnnotations.count(key) != 0 || key.rfind("x-", 0) == 0;
}

class SchemaConverter {
 public:
  SchemaConverter(const Json& root, std::string prefix, const SchemaLimits& limits)
      : root_(root), prefix_(std::move(prefix)), limits_(limits) {
    // Reserved for primitive(), defined or not.
    for (const char* kind : {"ws", "char", "string", "number", "integer", "boolean", "null", "value", "object", "array"}) {
      names_.insert(prefix_ + kind);
    }
  }

  std::string convert() {
    const std::string root_name = prefix_ + "root";
    names_.insert(root_name);
    ref_rules_[""] = root_name;  // "$ref": "#"
    rule_refs_[root_name] = "";
    const std::string expr = visit(root_, "", "root", 0);
    define(root_name, expr);
    std::string gbnf = text();
    if (ref_rules_.size() > 1 || references_root_) check_references(gbnf, root_name);
    return gbnf;
  }

  // With $refs the grammar may recurse without a base case (every instance
  // infinite) or loop on itself; the GBNF checks find it, this names the $ref.
  void check_references(const std::string& gbnf, const std::string& root_name) const {
    try {
      (void)parse_gbnf(gbnf, root_name);
    } catch (const InvalidArgument& e) {
      const std::string message = e.what();
      std::string refs;
      for (const auto& [pointer, rule] : ref_rules_) {
        if (pointer.empty() && !references_root_) continue;
        refs += (refs.empty() ? "'#" : ", '#") + pointer + "'";
      }
      if (message.find("derives no finite string") != std::string::npos) {
        throw InvalidArgument("json_schema: recursion without a base case through $ref " + refs +
                              " (no finite instance; make the recursive property optional or an anyOf with a "
                              "non-recursive branch): " + message);
      }
      if (message.find("left recursion") != std::string::npos) {
        throw InvalidArgument("json_schema: $ref " + refs +
                              " reaches itself before any character of the instance (a schema that is its own "
                              "alternative): " + message);
      }
      throw InvalidArgument("json_schema: " + message);
    }
  }

  std::string json_object() {
    const std::string root_name = prefix_ + "root";
    names_.insert(root_name);
    define(root_name, primitive("object"));
    return text();
  }

 private:
  [[noreturn]] static void fail(const std::string& pointer, const std::string& what) {
    throw InvalidArgument("json_schema: " + what + " at #" + pointer);
  }

  std::string text() const {
    std::string out;
    for (const auto& [name, body] : rules_) out += name + " ::= " + body + "\n";
    if (out.size() > limits_.max_grammar_bytes) {
      throw InvalidArgument("json_schema: the grammar would be " + std::to_string(out.size()) +
                            " bytes, more than the limit " + std::to_string(limits_.max_grammar_bytes));
    }
    return out;
  }

  std::string new_name(const std::string& hint) {
    const std::string base = prefix_ + gbnf::name_fragment(hint);
    std::string name = base;
    size_t& n = next_suffix_[base];  // the suffixes tried so far for `base`
    while (names_.count(name)) name = base + "-" + std::to_string(++n + 1);
    names_.insert(name);
    return name;
  }

  void define(const std::string& name, const std::string& body) {
    bytes_ += name.size() + body.size() + 6;
    if (bytes_ > limits_.max_grammar_bytes) {
      throw InvalidArgument("json_schema: the grammar would be more than the limit of " +
                            std::to_string(limits_.max_grammar_bytes) + " bytes");
    }
    rules_.emplace_back(name, body);
  }

  // A named rule for `body` (returns a plain rule name unchanged).
  // Identical bodies share one rule (the GBNF parser then expands a
  // repetition such as char{0,50} once, not once per property).
  std::string named(const std::string& hint, const std::string& body) {
    if (names_.count(body)) return body;
    const auto found = rule_of_body_.find(body);
    if (found != rule_of_body_.end()) return found->second;
    const std::string name = new_name(hint);
    define(name, body);
    rule_of_body_.emplace(body, name);
    return name;
  }

  // Shared building blocks, defined on first use.
  std::string primitive(const std::string& kind) {
    const std::string name = prefix_ + kind;
    if (primitives_.count(kind)) return name;
    primitives_.insert(kind);
    std::string body;
    if (kind == "ws") {
      // Bounded: one space, or a newline and an indent of at most 20.
      body = "([ ] | \"\\n\" [ \\t]{0,20})?";
    } else if (kind == "char") {
      // One JSON string character; \u escapes of surrogates are left out so
      // that every grammar character is one code point (minLength/maxLength).
      body =
          "[^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" ([0-9a-cA-Ce-fE-F] [0-9a-fA-F]{3} | [dD] [0-7] "
          "[0-9a-fA-F]{2}))";
    } else if (kind == "string") {
      body = "\"\\\"\" " + primitive("char") + "* \"\\\"\"";
    } else if (kind == "number") {
      body = "\"-\"? (\"0\" | [1-9] [0-9]{0,17}) (\".\" [0-9]{1,17})? ([eE] [-+]? [0-9]{1,2})?";
    } else if (kind == "integer") {
      body = int_range_gbnf(-kMaxIntMagnitude, kMaxIntMagnitude);
    } else if (kind == "boolean") {
      body = "\"true\" | \"false\"";
    } else if (kind == "null") {
      body = "\"null\"";
    } else if (kind == "value") {
      body = primitive("object") + " | " + primitive("array") + " | " + primitive("string") + " | " +
             primitive("number") + " | " + primitive("boolean") + " | " + primitive("null");
    } else if (kind == "object") {
      const std::string member = primitive("string") + " \":\" " + primitive("ws") + " " + prefix_ + "value";
      body = "\"{\" " + primitive("ws") + " (" + member + " (\",\" " + primitive("ws") + " " + member + ")* " +
             primitive("ws") + ")? \"}\"";
      primitive("value");
    } else if (kind == "array") {
      const std::string value = prefix_ + "value";
      body = "\"[\" " + primitive("ws") + " (" + value + " (\",\" " + primitive("ws") + " " + value + ")* " +
             primitive("ws") + ")? \"]\"";
      primitive("value");
    }
    define(name, body);
    return name;
  }

  // The schema a local $ref names; `pointer` gets its JSON pointer.
  const Json& resolve(const Json& ref, const std::string& at, std::string& pointer) {
    if (!ref.is_string()) fail(at, "'$ref' must be a string");
    const std::string value = ref.get<std::string>();
    if (value.empty() || value[0] != '#') fail(at, "unsupported $ref '" + value + "' (only local '#/...' references)");
    std::string decoded;
    for (size_t i = 1; i < value.size(); ++i) {
      if (value[i] == '%' && i + 2 < value.size() + 0 && std::isxdigit(static_cast<unsigned char>(value[i + 1])) &&
          std::isxdigit(static_cast<unsigned char>(value[i + 2]))) {
        decoded += static_cast<char>(std::stoi(value.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        decoded += value[i];
      }
    }
    if (!decoded.empty() && decoded[0] != '/') fail(at, "unsupported $ref '" + value + "' (anchors)");
    pointer = decoded;
    const Json* node = &root_;
    size_t i = 0;
    while (i < decoded.size()) {
      const size_t next = decoded.find('/', i + 1);
      std::string token = decoded.substr(i + 1, next == std::string::npos ? std::string::npos : next - i - 1);
      std::string unescaped;
      for (size_t k = 0; k < token.size(); ++k) {
        if (token[k] == '~' && k + 1 < token.size() && (token[k + 1] == '0' || token[k + 1] == '1')) {
          unescaped += token[k + 1] == '0' ? '~' : '/';
          ++k;
        } else {
          unescaped += token[k];
        }
      }
      if (node->is_object() && node->contains(unescaped)) {
        node = &(*node)[unescaped];
      } else if (node->is_array() && !unescaped.empty() &&
                 unescaped.find_first_not_of("0123456789") == std::string::npos && unescaped.size() < 10 &&
                 std::stoul(unescaped) < node->size()) {
        node = &(*node)[std::stoul(unescaped)];
      } else {
        fail(at, "unresolvable $ref '" + value + "'");
      }
      if (next == std::string::npos) break;
      i = next;
    }
    return *node;
  }

  std::string ref_rule(const Json& schema, const std::string& at, size_t depth) {
    std::string pointer;
    const Json& target = resolve(schema["$ref"], at, pointer);
    if (pointer.empty()) references_root_ = true;
    const auto found = ref_rules_.find(pointer);
    if (found != ref_rules_.end()) return found->second;
    std::string hint = "ref";
    const size_t slash = pointer.rfind('/');
    if (slash != std::string::npos) hint = pointer.substr(slash + 1);
    const std::string name = new_name(hint);
    ref_rules_[pointer] = name;
    rule_refs_[name] = pointer;
    define(name, visit(target, pointer, hint, depth + 1));
    return name;
  }

  static std::vector<std::string> constraining_keys(const Json& schema) {
    std::vector<std::string> keys;
    for (const auto& [key, value] : schema.items()) {
      if (!is_annotation(key)) keys.push_back(key);
    }
    return keys;
  }

  std::string visit(const Json& schema, const std::string& at, const std::string& hint, size_t depth) {
    if (depth > limits_.max_depth) {
      fail(at, "schema nested deeper than " + std::to_string(limits_.max_depth) + " levels");
    }
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) fail(at, "the schema 'false' matches nothing");
      return primitive("value");
    }
    if (!schema.is_object()) fail(at, "a schema must be an object or a boolean");
    const std::vector<std::string> keys = constraining_keys(schema);
    for (const std::string& key : keys) {
      if (!kSupported.count(key)) fail(at + "/" + escape_pointer_token(key), "unsupported keyword '" + key + "'");
    }
    if (schema.contains("uniqueItems") && !(schema["uniqueItems"].is_boolean() && !schema["uniqueItems"].get<bool>())) {
      fail(at + "/uniqueItems", "unsupported keyword 'uniqueItems' (true)");
    }
    auto only = [&](const std::string& keyword, const std::set<std::string, std::less<>>& allowed) {
      for (const std::string& key : keys) {
        if (key != keyword && !allowed.count(key)) {
          fail(at, "'" + keyword + "' together with '" + key + "' is not supported");
        }
      }
    };
    if (schema.contains("$ref")) {
      only("$ref", {"uniqueItems"});
      return ref_rule(schema, at, depth);
    }
    if (schema.contains("allOf")) return visit_all_of(schema, at, hint, depth);
    for (const char* combinator : {"anyOf", "oneOf"}) {
      if (!schema.contains(combinator)) continue;
      only(combinator, {"uniqueItems"});
      const Json& branches = schema[combinator];
      if (!branches.is_array() || branches.empty()) fail(at + "/" + combinator, "must be a non-empty array");
      std::string body;
      for (size_t i = 0; i < branches.size(); ++i) {
        if (i) body += " | ";
        body += visit(branches[i], at + "/" + combinator + "/" + std::to_string(i), hint + "-" + std::to_string(i),
                      depth + 1);
      }
      return branches.size() == 1 ? body : named(hint, body);
    }
    if (schema.contains("enum") || schema.contains("const")) return visit_enum(schema, at, keys);
    return visit_types(schema, at, hint, depth, keys);
  }

  std::string visit_enum(const Json& schema, const std::string& at, const std::vector<std::string>& keys) {
    for (const std::string& key : keys) {
      if (key != "enum" && key != "const" && key != "type" && key != "uniqueItems") {
        fail(at, "'enum' / 'const' together with '" + key + "' is not supported");
      }
    }
    std::vector<Json> values;
    if (schema.contains("enum")) {
      const Json& list = schema["enum"];
      if (!list.is_array() || list.empty()) fail(at + "/enum", "'enum' must be a non-empty array");
      if (list.size() > limits_.max_enum_values) {
        fail(at + "/enum", "'enum' has " + std::to_string(list.size()) + " values, more than the limit " +
                               std::to_string(limits_.max_enum_values));
      }
      values.assign(list.begin(), list.end());
    }
    if (schema.contains("const")) {
      const Json& c = schema["const"];
      if (schema.contains("enum")) {
        bool found = false;
        for (const Json& v : values) found = found || v == c;
        if (!found) fail(at, "'const' is not one of the 'enum' values");
      }
      values = {c};
    }
    std::set<std::string> types;
    if (schema.contains("type")) types = type_list(schema["type"], at);
    std::string body;
    std::set<std::string> seen;
    for (const Json& v : values) {
      if (!types.empty() && !types.count(json_type(v)) &&
          !(json_type(v) == "integer" && types.count("number"))) {
        continue;
      }
      const std::string text = v.dump(-1, ' ', false, Json::error_handler_t::replace);
      if (!seen.insert(text).second) continue;
      if (!body.empty()) body += " | ";
      body += value_gbnf(v);
    }
    if (body.empty()) fail(at, "no 'enum' / 'const' value has the schema's 'type'");
    return seen.size() == 1 ? body : "(" + body + ")";
  }

  // Exactly the JSON value `v` (objects keep their key order), with the
  // usual bounded whitespace inside objects and arrays.
  std::string value_gbnf(const Json& v) {
    if (!v.is_object() && !v.is_array()) return gbnf::literal(v.dump(-1, ' ', false, Json::error_handler_t::replace));
    const std::string ws = primitive("ws");
    if (v.empty()) return v.is_object() ? "(\"{\" " + ws + " \"}\")" : "(\"[\" " + ws + " \"]\")";
    std::string out = v.is_object() ? "(\"{\" " + ws : "(\"[\" " + ws;
    bool first = true;
    for (const auto& [key, item] : v.items()) {
      out += first ? " " : " \",\" " + ws + " ";
      first = false;
      if (v.is_object()) out += gbnf::literal(Json(key).dump()) + " \":\" " + ws + " ";
      out += value_gbnf(item);
    }
    return out + " " + ws + (v.is_object() ? " \"}\")" : " \"]\")");
  }

  static std::string json_type(const Json& v) {
    if (v.is_null()) return "null";
    if (v.is_boolean()) return "boolean";
    if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
    if (v.is_number_float()) {
      const double d = v.get<double>();
      return std::isfinite(d) && d == std::floor(d) ? "integer" : "number";
    }
    if (v.is_string()) return "string";
    if (v.is_array()) return "array";
    return "object";
  }

  std::set<std::string> type_list(const Json& type, const std::string& at) {
    static const std::set<std::string> kTypes = {"object", "array", "string", "number", "integer", "boolean", "null"};
    std::set<std::string> types;
    const auto add = [&](const Json& t) {
      if (!t.is_string() || !kTypes.count(t.get<std::string>())) fail(at + "/type", "unknown type " + t.dump());
      types.insert(t.get<std::string>());
    };
    if (type.is_array()) {
      if (type.empty()) fail(at + "/type", "'type' must not be an empty list");
      for (const Json& t : type) add(t);
    } else {
      add(type);
    }
    return types;
  }

  std::string visit_types(const Json& schema, const std::string& at, const std::string& hint, size_t depth,
                          const std::vector<std::string>& keys) {
    std::set<std::string> types;
    if (schema.contains("type")) {
      types = type_list(schema["type"], at);
    } else {
      for (const std::string& key : keys) {
        if (kObjectKeywords.count(key)) types.insert("object");
        if (kArrayKeywords.count(key)) types.insert("array");
        if (kStringKeywords.count(key)) types.insert("string");
        if (kNumberKeywords.count(key)) types.insert("number");
      }
      if (types.empty()) return primitive("value");
    }
    if (types.count("number")) types.erase("integer");
    std::vector<std::string> alts;
    // Schema order is irrelevant here; a fixed order keeps the output stable.
    for (const char* t : {"object", "array", "string", "number", "integer", "boolean", "null"}) {
      if (!types.count(t)) continue;
      const std::string type = t;
      if (type == "object") {
        alts.push_back(visit_object(schema, at, hint, depth));
      } else if (type == "array") {
        alts.push_back(visit_array(schema, at, hint, depth));
      } else if (type == "string") {
        alts.push_back(visit_string(schema, at));
      } else if (type == "number" || type == "integer") {
        alts.push_back(visit_number(schema, at, type == "integer"));
      } else {
        alts.push_back(primitive(type));
      }
    }
    if (alts.size() == 1) return alts[0];
    std::string body;
    for (const std::string& a : alts) body += (body.empty() ? "" : " | ") + a;
    return "(" + body + ")";
  }

  int64_t count_keyword(const Json& schema, const char* key, const std::string& at, int64_t fallback) {
    if (!schema.contains(key)) return fallback;
    const Json& v = schema[key];
    if (!(v.is_number_integer() || v.is_number_unsigned()) || v.get<int64_t>() < 0) {
      fail(at + "/" + key, std::string("'") + key + "' must be a non-negative integer");
    }
    const int64_t n = v.get<int64_t>();
    if (n > kMaxCount) {
      fail(at + "/" + key, std::string("'") + key + "' above " + std::to_string(kMaxCount) + " is not supported");
    }
    return n;
  }

  static std::string repeat(const std::string& expr, int64_t lo, int64_t hi) {
    if (hi == 0) return "";
    if (lo == 1 && hi == 1) return expr;
    if (hi < 0) {
      if (lo == 0) return "(" + expr + ")*";
      if (lo == 1) return "(" + expr + ")+";
      return "(" + expr + "){" + std::to_string(lo) + ",}";
    }
    if (lo == 0 && hi == 1) return "(" + expr + ")?";
    if (lo == hi) return "(" + expr + "){" + std::to_string(lo) + "}";
    return "(" + expr + "){" + std::to_string(lo) + "," + std::to_string(hi) + "}";
  }

  std::string visit_string(const Json& schema, const std::string& at) {
    const bool has_pattern = schema.contains("pattern"), has_format = schema.contains("format");
    const bool has_length = schema.contains("minLength") || schema.contains("maxLength");
    if (has_pattern + has_format + has_length > 1) {
      fail(at, "only one of 'pattern', 'format' and 'minLength'/'maxLength' per string schema is supported");
    }
    const std::string quote = "\"\\\"\"";
    if (has_pattern) {
      if (!schema["pattern"].is_string()) fail(at + "/pattern", "'pattern' must be a string");
      std::string body;
      try {
        body = regex_expression(schema["pattern"].get<std::string>(), RegexTarget::kJsonStringSearch,
                                primitive("char"));
      } catch (const InvalidArgument& e) {
        fail(at + "/pattern", e.what());
      }
      return named("pattern", quote + (body.empty() ? "" : " " + body) + " " + quote);
    }
    if (has_format) {
      if (!schema["format"].is_string()) fail(at + "/format", "'format' must be a string");
      const std::string format = schema["format"].get<std::string>();
      const std::string body = string_format_gbnf(format);
      if (body.empty()) fail(at + "/format", "unsupported format '" + format + "'");
      return named(format, quote + " " + body + " " + quote);
    }
    if (has_length) {
      const int64_t lo = count_keyword(schema, "minLength", at, 0);
      const int64_t hi = count_keyword(schema, "maxLength", at, -1);
      if (hi >= 0 && hi < lo) fail(at, "'maxLength' is below 'minLength'");
      const std::string chars = repeat(primitive("char"), lo, hi);
      return named("string-" + std::to_string(lo) + "-" + (hi < 0 ? std::string("inf") : std::to_string(hi)),
                   quote + (chars.empty() ? "" : " " + chars) + " " + quote);
    }
    return primitive("string");
  }

  // An integer bound: minimum / exclusiveMinimum (lower) or maximum /
  // exclusiveMaximum (upper), made inclusive; false if none.
  bool int_bound(const Json& schema, const std::string& at, bool lower, int64_t& out) {
    const char* inclusive = lower ? "minimum" : "maximum";
    const char* exclusive = lower ? "exclusiveMinimum" : "exclusiveMaximum";
    bool found = false;
    auto tighten = [&](double limit, bool strict, const char* key) {
      if (!std::isfinite(limit)) fail(at + "/" + key, "bound must be finite");
      double b = lower ? (strict ? std::floor(limit) + 1 : std::ceil(limit))
                       : (strict ? std::ceil(limit) - 1 : std::floor(limit));
      const double cap = static_cast<double>(kMaxIntMagnitude);
      if (lower && b > cap) fail(at + "/" + key, "bound beyond the supported integer range");
      if (!lower && b < -cap) fail(at + "/" + key, "bound beyond the supported integer range");
      b = std::max(-cap, std::min(cap, b));
      const int64_t v = static_cast<int64_t>(b);
      if (!found) {
        out = v;
      } else {
        out = lower ? std::max(out, v) : std::min(out, v);
      }
      found = true;
    };
    const bool draft4_exclusive = schema.contains(exclusive) && schema[exclusive].is_boolean();
    if (schema.contains(inclusive)) {
      const Json& v = schema[inclusive];
      if (!v.is_number()) fail(at + "/" + inclusive, std::string("'") + inclusive + "' must be a number");
      tighten(v.get<double>(), draft4_exclusive && schema[exclusive].get<bool>(), inclusive);
    }
    if (schema.contains(exclusive) && !draft4_exclusive) {
      const Json& v = schema[exclusive];
      if (!v.is_number()) fail(at + "/" + exclusive, std::string("'") + exclusive + "' must be a number");
      tighten(v.get<double>(), true, exclusive);
    }
    return found;
  }

  // A number bound as an integer bound: integral bounds exactly, others
  // rounded inwards (ceil of a lower bound, floor of an upper one, then
  // inclusive), so that what is written always satisfies the schema.
  NumberBound number_bound(const Json& schema, const std::string& at, bool lower) {
    const char* inclusive = lower ? "minimum" : "maximum";
    const char* exclusive = lower ? "exclusiveMinimum" : "exclusiveMaximum";
    NumberBound out;
    const double cap = static_cast<double>(kMaxIntMagnitude);
    auto tighten = [&](const char* key, bool strict) {
      const Json& v = schema[key];
      if (!v.is_number()) fail(at + "/" + key, std::string("'") + key + "' must be a number");
      const double d = v.get<double>();
      if (!std::isfinite(d)) fail(at + "/" + key, "bound must be finite");
      if ((lower && d < -cap) || (!lower && d > cap)) return;  // beyond every number written
      if ((lower && d > cap) || (!lower && d < -cap)) fail(at + "/" + key, "bound beyond the supported range");
      NumberBound b;
      const double r = lower ? std::ceil(d) : std::floor(d);
      b.value = static_cast<int64_t>(r);
      b.exclusive = strict && r == d;
      if (!out.value || (lower ? (*b.value > *out.value || (*b.value == *out.value && b.exclusive))
                               : (*b.value < *out.value || (*b.value == *out.value && b.exclusive)))) {
        out = b;
      }
    };
    const bool draft4 = schema.contains(exclusive) && schema[exclusive].is_boolean();
    if (schema.contains(inclusive)) tighten(inclusive, draft4 && schema[exclusive].get<bool>());
    if (schema.contains(exclusive) && !draft4) tighten(exclusive, true);
    return out;
  }

  // The integers divisible by k (k > 1): one rule per remainder, shared by
  // every schema with the same k.
  std::string multiple_of(uint32_t k) {
    const std::string key = "multiple-of-" + std::to_string(k);
    const auto found = rule_of_body_.find(key);
    if (found != rule_of_body_.end()) return found->second;
    std::vector<std::string> states;
    for (uint32_t r = 0; r < k; ++r) states.push_back(new_name(key + "-r" + std::to_string(r)));
    const MultipleOfGbnf g = multiple_of_gbnf(k, states);
    for (uint32_t r = 0; r < k; ++r) define(states[r], g.states[r]);
    const std::string name = new_name(key);
    define(name, g.start);
    rule_of_body_.emplace(key, name);
    return name;
  }

  std::string visit_number(const Json& schema, const std::string& at, bool integer) {
    bool bounded = false;
    for (const std::string& key : kNumberKeywords) bounded = bounded || (key != "multipleOf" && schema.contains(key));
    if (schema.contains("multipleOf")) {
      const Json& m = schema["multipleOf"];
      const double k = m.is_number() ? m.get<double>() : 0;
      if (!(k > 0)) fail(at + "/multipleOf", "'multipleOf' must be a number above 0");
      if (k != std::floor(k) || k > kMaxMultipleOf) {
        fail(at + "/multipleOf", "'multipleOf' other than an integer from 1 to " + std::to_string(kMaxMultipleOf) +
                                     " is not supported");
      }
      // Integral multiples only (so "number" is written as integers).
      if (k > 1 && bounded) fail(at + "/multipleOf", "'multipleOf' with 'minimum'/'maximum' is not supported");
      integer = true;
      if (k > 1) return multiple_of(static_cast<uint32_t>(k));
    }
    if (!bounded) return primitive(integer ? "integer" : "number");
    if (!integer) {
      const NumberBound lower = number_bound(schema, at, true), upper = number_bound(schema, at, false);
      const std::string body = number_range_gbnf(lower, upper);
      if (body.empty()) fail(at, "no number this converter writes is within 'minimum'/'maximum'");
      return named("number-range", body);
    }
    int64_t lo = -kMaxIntMagnitude, hi = kMaxIntMagnitude;
    int_bound(schema, at, true, lo);
    int_bound(schema, at, false, hi);
    if (lo > hi) fail(at, "no integer is within 'minimum'/'maximum'");
    return named("integer-range", int_range_gbnf(lo, hi));
  }

  std::string visit_object(const Json& schema, const std::string& at, const std::string& hint, size_t depth) {
    const Json empty = Json::object();
    const Json& properties = schema.contains("properties") ? schema["properties"] : empty;
    if (!properties.is_object()) fail(at + "/properties", "'properties' must be an object");
    std::vector<std::string> required_list;
    if (schema.contains("required")) {
      const Json& required = schema["required"];
      if (!required.is_array()) fail(at + "/required", "'required' must be an array of strings");
      for (const Json& r : required) {
        if (!r.is_string()) fail(at + "/required", "'required' must be an array of strings");
        required_list.push_back(r.get<std::string>());
      }
    }
    const std::set<std::string> required(required_list.begin(), required_list.end());
    const Json* additional = schema.contains("additionalProperties") ? &schema["additionalProperties"] : nullptr;
    if (additional && !additional->is_boolean() && !additional->is_object()) {
      fail(at + "/additionalProperties", "'additionalProperties' must be a boolean or a schema");
    }
    const bool additional_false = additional && additional->is_boolean() && !additional->get<bool>();
    const bool additional_schema = additional && additional->is_object();
    const std::string ws = primitive("ws");

    if (properties.empty() && required.empty()) {
      if (additional_false) return "(\"{\" " + ws + " \"}\")";
      if (!additional_schema) return primitive("object");
      const std::string value = visit(*additional, at + "/additionalProperties", hint + "-value", depth + 1);
      const std::string member = named(hint + "-kv", primitive("string") + " \":\" " + ws + " " + value);
      return named(hint, "\"{\" " + ws + " (" + member + " (\",\" " + ws + " " + member + ")* " + ws + ")? \"}\"");
    }

    // (name, value expression, required) in schema order; required names
    // that "properties" lacks come last.
    struct Member {
      std::string kv;
      bool required;
    };
    std::vector<Member> members;
    for (const auto& [name, sub] : properties.items()) {
      const std::string value =
          visit(sub, at + "/properties/" + escape_pointer_token(name), hint + "-" + name, depth + 1);
      members.push_back({gbnf::literal(Json(name).dump()) + " \":\" " + ws + " " + value, required.count(name) != 0});
    }
    std::set<std::string> listed;
    for (const std::string& name : required_list) {
      if (properties.contains(name) || !listed.insert(name).second) continue;
      if (additional_false) {
        fail(at + "/required", "required property '" + name + "' is not allowed by 'additionalProperties': false");
      }
      const std::string value = additional_schema
                                    ? visit(*additional, at + "/additionalProperties", hint + "-value", depth + 1)
                                    : primitive("value");
      members.push_back({gbnf::literal(Json(name).dump()) + " \":\" " + ws + " " + value, true});
    }
    // first[i] / rest[i]: the members from i on, without / with a leading
    // comma; optional members may be left out, the order is kept.
    const size_t n = members.size();
    std::vector<std::string> first(n + 1), rest(n + 1);
    const std::string comma = "\",\" " + ws + " ";
    auto seq = [](const std::string& a, const std::string& b) { return b.empty() ? a : a + " " + b; };
    auto either = [](const std::string& a, const std::string& b) {
      return b.empty() ? "(" + a + ")?" : "(" + a + " | " + b + ")";
    };
    for (size_t k = n; k-- > 0;) {
      const Member& m = members[k];
      if (m.required) {
        first[k] = seq(m.kv, rest[k + 1]);
        rest[k] = seq(comma + m.kv, rest[k + 1]);
      } else {
        first[k] = either(seq(m.kv, rest[k + 1]), first[k + 1]);
        rest[k] = either(seq(comma + m.kv, rest[k + 1]), rest[k + 1]);
      }
      // Name every suffix (they are shared), except the last one.
      if (k + 1 < n || !m.required) {
        first[k] = named(hint + "-m" + std::to_string(k) + "f", first[k]);
        rest[k] = named(hint + "-m" + std::to_string(k) + "r", rest[k]);
      }
    }
    return named(hint, "\"{\" " + ws + " " + first[0] + " " + ws + " \"}\"");
  }

  std::string visit_array(const Json& schema, const std::string& at, const std::string& hint, size_t depth) {
    const int64_t min_items = count_keyword(schema, "minItems", at, 0);
    int64_t max_items = count_keyword(schema, "maxItems", at, -1);
    if (max_items >= 0 && max_items < min_items) fail(at, "'maxItems' is below 'minItems'");
    // Positional schemas (prefixItems, or draft-4 "items": [...]) and the rest.
    const Json* prefix = nullptr;
    const Json* rest = nullptr;
    std::string prefix_at, rest_at;
    if (schema.contains("prefixItems")) {
      prefix = &schema["prefixItems"];
      prefix_at = at + "/prefixItems";
      if (schema.contains("additionalItems")) fail(at + "/additionalItems", "use 'items' with 'prefixItems'");
      if (schema.contains("items")) rest = &schema["items"], rest_at = at + "/items";
    } else if (schema.contains("items") && schema["items"].is_array()) {
      prefix = &schema["items"];
      prefix_at = at + "/items";
      if (schema.contains("additionalItems")) rest = &schema["additionalItems"], rest_at = at + "/additionalItems";
    } else {
      if (schema.contains("additionalItems")) fail(at + "/additionalItems", "'additionalItems' needs array 'items'");
      if (schema.contains("items")) rest = &schema["items"], rest_at = at + "/items";
    }
    if (prefix && !prefix->is_array()) fail(prefix_at, "must be an array of schemas");
    const int64_t prefix_size = prefix ? static_cast<int64_t>(prefix->size()) : 0;
    if (prefix_size > kMaxCount) fail(prefix_at, "more than " + std::to_string(kMaxCount) + " positional schemas");
    // All positional items are written (up to maxItems); then [rest_lo, rest_hi] more.
    const int64_t written = max_items >= 0 ? std::min(prefix_size, max_items) : prefix_size;
    const int64_t rest_lo = std::max<int64_t>(0, min_items - written);
    int64_t rest_hi = max_items >= 0 ? max_items - written : -1;
    const bool rest_false = rest && rest->is_boolean() && !rest->get<bool>();
    if (rest_false || (!rest && prefix_size > 0)) rest_hi = rest_lo;  // nothing (more) beyond what is needed
    if (rest_false && rest_lo > 0) fail(at, "'minItems' needs more items than the array schema allows");
    std::vector<std::string> parts;
    const std::string ws = primitive("ws");
    for (int64_t i = 0; i < written; ++i) {
      const std::string item = visit((*prefix)[static_cast<size_t>(i)], prefix_at + "/" + std::to_string(i),
                                     hint + "-" + std::to_string(i), depth + 1);
      parts.push_back(i == 0 ? item : "\",\" " + ws + " " + item);
    }
    std::string elements;
    for (const std::string& p : parts) elements += (elements.empty() ? "" : " ") + p;
    if (rest_hi != 0) {
      const std::string item = rest ? visit(*rest, rest_at, hint + "-item", depth + 1) : primitive("value");
      const std::string more = "\",\" " + ws + " " + item;
      if (written > 0) {
        const std::string tail = repeat(more, rest_lo, rest_hi);
        if (!tail.empty()) elements += " " + tail;
      } else {
        // item ("," item){lo-1, hi-1}, optional when lo == 0.
        std::string list = item;
        const std::string tail = repeat(more, std::max<int64_t>(0, rest_lo - 1), rest_hi < 0 ? -1 : rest_hi - 1);
        if (!tail.empty()) list += " " + tail;
        elements = rest_lo == 0 ? "(" + list + ")?" : list;
      }
    }
    if (elements.empty()) return "(\"[\" " + ws + " \"]\")";
    return named(hint, "\"[\" " + ws + " " + elements + " " + ws + " \"]\"");
  }

  // allOf: the branches' keywords merged into one schema (objects: their
  // properties and required lists united), then converted.
  std::string visit_all_of(const Json& schema, const std::string& at, const std::string& hint, size_t depth) {
    const Json& branches = schema["allOf"];
    if (!branches.is_array() || branches.empty()) fail(at + "/allOf", "'allOf' must be a non-empty array");
    // The outer additionalProperties would judge the branches' properties
    // as additional ones: not merged.
    if (schema.contains("additionalProperties") &&
        !(schema["additionalProperties"].is_boolean() && schema["additionalProperties"].get<bool>())) {
      fail(at + "/additionalProperties", "'additionalProperties' beside 'allOf' is not supported");
    }
    Json merged = schema;
    merged.erase("allOf");
    for (size_t i = 0; i < branches.size(); ++i) {
      const std::string branch_at = at + "/allOf/" + std::to_string(i);
      const Json* branch = &branches[i];
      std::string pointer;
      if (branch->is_object() && branch->contains("$ref") && constraining_keys(*branch).size() == 1) {
        branch = &resolve((*branch)["$ref"], branch_at, pointer);
      }
      if (branch->is_boolean() && branch->get<bool>()) continue;
      if (!branch->is_object()) fail(branch_at, "'allOf' branches must be object schemas");
      for (const auto& [key, value] : branch->items()) {
        if (is_annotation(key)) continue;
        if (key == "allOf" || key == "$ref" || key == "anyOf" || key == "oneOf") {
          fail(branch_at, "'" + key + "' inside 'allOf' is not supported");
        }
        if (key == "additionalProperties" && !(value.is_boolean() && value.get<bool>())) {
          fail(branch_at + "/additionalProperties", "'additionalProperties' inside 'allOf' is not supported");
        }
        if (!merged.contains(key)) {
          merged[key] = value;
        } else if (key == "properties" && value.is_object() && merged[key].is_object()) {
          for (const auto& [name, sub] : value.items()) {
            if (merged[key].contains(name) && merged[key][name] != sub) {
              fail(branch_at + "/properties/" + escape_pointer_token(name),
                   "'allOf' branches give property '" + name + "' different schemas");
            }
            merged[key][name] = sub;
          }
        } else if (key == "required" && value.is_array() && merged[key].is_array()) {
          for (const Json& r : value) {
            if (std::find(merged[key].begin(), merged[key].end(), r) == merged[key].end()) merged[key].push_back(r);
          }
        } else if (merged[key] != value) {
          fail(branch_at + "/" + escape_pointer_token(key), "'allOf' branches disagree on '" + key + "'");
        }
      }
    }
    merged_.push_back(std::make_unique<Json>(std::move(merged)));
    return visit(*merged_.back(), at, hint, depth + 1);
  }

  const Json& root_;
  std::string prefix_;
  SchemaLimits limits_;
  std::vector<std::pair<std::string, std::string>> rules_;
  std::set<std::string> names_;
  std::set<std::string> primitives_;
  std::map<std::string, size_t> next_suffix_;
  std::map<std::string, std::string> rule_of_body_;  // named() bodies
  std::map<std::string, std::string> ref_rules_;  // JSON pointer -> rule
  std::map<std::string, std::string> rule_refs_;  // rule -> JSON pointer
  std::vector<std::unique_ptr<Json>> merged_;     // allOf merges (rules point into them while converting)
  size_t bytes_ = 0;
  bool references_root_ = false;  // some "$ref": "#"
};

}  // namespace

std::string json_schema_to_gbnf(std::string_view schema_json, std::string_view prefix, const SchemaLimits& limits) {
  if (schema_json.size() > limits.max_schema_bytes) {
    throw InvalidArgument("json_schema: the schema is " + std::to_string(schema_json.size()) +
                          " bytes, more than the limit " + std::to_string(limits.max_schema_bytes));
  }
  // Bounded nesting before parsing: the JSON library's printer and
  // comparisons recurse.
  size_t nesting = 0;
  bool in_string = false;
  for (size_t i = 0; i < schema_json.size(); ++i) {
    const char c = schema_json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++nesting > kMaxJsonNesting) {
        throw InvalidArgument("json_schema: JSON nested deeper than " + std::to_string(kMaxJsonNesting) + " levels");
      }
    } else if ((c == '}' || c == ']') && nesting > 0) {
      --nesting;
    }
  }
  Json root;
  try {
    root = Json::parse(schema_json);
  } catch (const Json::exception& e) {
    throw InvalidArgument(std::string("json_schema: invalid JSON: ") + e.what());
  }
  return SchemaConverter(root, std::string(prefix), limits).convert();
}

std::string json_object_gbnf(std::string_view prefix) {
  const Json root = Json::object();
  return SchemaConverter(root, std::string(prefix), SchemaLimits{}).json_object();
}

}  // namespace kvs::grammar
