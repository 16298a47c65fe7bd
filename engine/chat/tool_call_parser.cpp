#include "engine/chat/tool_call_parser.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>

namespace kvs {
namespace {

// A call's header ("<tool_call>" ... the '{' of ARGS) or trailer ("}" ... the
// closing marker) longer than this is not a call: the decision must not depend
// on how the text was split, so this is a property of the text.
constexpr size_t kMaxHeaderBytes = 4096;
constexpr size_t kMaxTrailerBytes = 256;
constexpr std::string_view kPythonTag = "<|python_tag|>";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view open_marker(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::kHermes: return "<tool_call>";
    case ToolCallFormat::kGemma: return "```tool_call";
    case ToolCallFormat::kLlama31Json: return "";
  }
  return "";
}

std::string_view close_marker(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::kHermes: return "</tool_call>";
    case ToolCallFormat::kGemma: return "```";
    case ToolCallFormat::kLlama31Json: return "";
  }
  return "";
}

enum class Match { kNeedMore, kMismatch, kMatched };

// Incremental matching of a prefix of `text` against a small pattern.
class Cursor {
 public:
  explicit Cursor(std::string_view text, size_t limit) : text_(text.substr(0, limit)),
                                                         truncated_(text.size() > limit) {}
  size_t pos() const { return pos_; }
  bool at_end() const { return pos_ == text_.size(); }
  char peek() const { return text_[pos_]; }
  // At the end of the available text: more input could still match, unless the
  // limit cut the text.
  Match need_more() const { return truncated_ ? Match::kMismatch : Match::kNeedMore; }
  void skip_space() {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
  }
  Match literal(std::string_view word) {
    const size_t n = std::min(word.size(), text_.size() - pos_);
    if (text_.substr(pos_, n) != word.substr(0, n)) return Match::kMismatch;
    if (n < word.size()) return need_more();
    pos_ += n;
    return Match::kMatched;
  }
  // A JSON string literal; its decoded value in `value`.
  Match string(std::string& value) {
    if (at_end()) return need_more();
    if (peek() != '"') return Match::kMismatch;
    bool escaped = false;
    for (size_t i = pos_ + 1; i < text_.size(); ++i) {
      const char c = text_[i];
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        const std::string_view literal = text_.substr(pos_, i + 1 - pos_);
        const nlohmann::json decoded = nlohmann::json::parse(literal, nullptr, false);
        if (decoded.is_discarded() || !decoded.is_string()) return Match::kMismatch;
        value = decoded.get<std::string>();
        pos_ = i + 1;
        return Match::kMatched;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        return Match::kMismatch;
      }
    }
    return need_more();
  }

 private:
  std::string_view text_;
  bool truncated_;
  size_t pos_ = 0;
};

#define KVS_MATCH(expr)                                 \
  do {                                                  \
    const Match kvs_match_result = (expr);              \
    if (kvs_match_result != Match::kMatched) return {kvs_match_result, "", 0, false}; \
  } while (false)

struct HeaderMatch {
  Match match;
  std::string name;        // "" when arguments_first
  size_t arguments_start;  // the '{' of ARGS
  bool arguments_first;    // {"arguments": ARGS, "name": NAME} (Hermes 2 Pro's order)
};

// "arguments" or "parameters" as a key.
Match arguments_key(Cursor& cursor) {
  Cursor arguments = cursor;
  const Match as_arguments = arguments.literal("\"arguments\"");
  const Match as_parameters = cursor.literal("\"parameters\"");
  if (as_arguments == Match::kMatched) {
    cursor = arguments;
    return Match::kMatched;
  }
  if (as_parameters == Match::kMatched) return Match::kMatched;
  const bool more = as_arguments == Match::kNeedMore || as_parameters == Match::kNeedMore;
  return more ? Match::kNeedMore : Match::kMismatch;
}

// ws ":" ws "{": the start of ARGS.
HeaderMatch arguments_value(Cursor& cursor, std::string name, bool arguments_first) {
  cursor.skip_space();
  KVS_MATCH(cursor.literal(":"));
  cursor.skip_space();
  if (cursor.at_end()) return {cursor.need_more(), "", 0, false};
  if (cursor.peek() != '{') return {Match::kMismatch, "", 0, false};
  return {Match::kMatched, std::move(name), cursor.pos(), arguments_first};
}

// [open marker | "<|python_tag|>"?] ws "{" ws "\"name\"" ws ":" ws STRING ws "," ws
// ("\"arguments\"" | "\"parameters\"") ws ":" ws "{", or the arguments key first:
// ... "{" ws ("\"arguments\"" | "\"parameters\"") ws ":" ws "{"
HeaderMatch match_header(std::string_view text, ToolCallFormat format) {
  Cursor cursor(text, kMaxHeaderBytes);
  if (format == ToolCallFormat::kLlama31Json) {
    if (!cursor.at_end() && cursor.peek() == '<') KVS_MATCH(cursor.literal(kPythonTag));
  } else {
    KVS_MATCH(cursor.literal(open_marker(format)));
  }
  cursor.skip_space();
  KVS_MATCH(cursor.literal("{"));
  cursor.skip_space();
  {
    Cursor by_name = cursor;
    const Match name_first = by_name.literal("\"name\"");
    if (name_first == Match::kMismatch) {
      KVS_MATCH(arguments_key(cursor));
      return arguments_value(cursor, "", true);
    }
    if (name_first == Match::kNeedMore) {
      // A prefix of "name" may also be one of the other keys (only '"' is shared).
      return {Match::kNeedMore, "", 0, false};
    }
    cursor = by_name;
  }
  cursor.skip_space();
  KVS_MATCH(cursor.literal(":"));
  cursor.skip_space();
  std::string name;
  KVS_MATCH(cursor.string(name));
  if (name.empty()) return {Match::kMismatch, "", 0, false};
  cursor.skip_space();
  KVS_MATCH(cursor.literal(","));
  cursor.skip_space();
  KVS_MATCH(arguments_key(cursor));
  return arguments_value(cursor, std::move(name), false);
}

// After an arguments-first ARGS: ws "," ws "\"name\"" ws ":" ws STRING ws "}" ws close.
HeaderMatch match_name_trailer(std::string_view text, ToolCallFormat format) {
  Cursor cursor(text, kMaxHeaderBytes);
  cursor.skip_space();
  KVS_MATCH(cursor.literal(","));
  cursor.skip_space();
  KVS_MATCH(cursor.literal("\"name\""));
  cursor.skip_space();
  KVS_MATCH(cursor.literal(":"));
  cursor.skip_space();
  std::string name;
  KVS_MATCH(cursor.string(name));
  if (name.empty()) return {Match::kMismatch, "", 0, false};
  cursor.skip_space();
  KVS_MATCH(cursor.literal("}"));
  if (!close_marker(format).empty()) {
    cursor.skip_space();
    KVS_MATCH(cursor.literal(close_marker(format)));
  }
  return {Match::kMatched, std::move(name), cursor.pos(), true};
}

#undef KVS_MATCH

// ws "}" ws close-marker; `length` set when matched.
Match match_trailer(std::string_view text, ToolCallFormat format, size_t& length) {
  Cursor cursor(text, kMaxTrailerBytes);
  cursor.skip_space();
  Match match = cursor.literal("}");
  if (match != Match::kMatched) return match;
  if (!close_marker(format).empty()) {
    cursor.skip_space();
    match = cursor.literal(close_marker(format));
    if (match != Match::kMatched) return match;
  }
  length = cursor.pos();
  return Match::kMatched;
}

// Length of the longest proper prefix of `marker` that ends `text`.
size_t partial_marker_suffix(std::string_view text, std::string_view marker) {
  for (size_t n = std::min(text.size(), marker.size() - 1); n > 0; --n) {
    if (text.substr(text.size() - n) == marker.substr(0, n)) return n;
  }
  return 0;
}

}  // namespace

std::optional<ToolCallFormat> tool_call_format_for_style(std::string_view style) {
  if (style == "chatml" || style == "qwen3") return ToolCallFormat::kHermes;
  if (style == "llama3.1") return ToolCallFormat::kLlama31Json;
  if (style == "gemma") return ToolCallFormat::kGemma;
  return std::nullopt;
}

std::optional<ToolCallFormat> tool_call_format(const ChatTemplate& chat_template) {
  return tool_call_format_for_style(chat_template.style());
}

const char* tool_call_format_name(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::kHermes: return "hermes";
    case ToolCallFormat::kLlama31Json: return "llama3.1-json";
    case ToolCallFormat::kGemma: return "gemma";
  }
  return "?";
}

std::string random_tool_call_id() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 generator{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, sizeof kAlphabet - 2);
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id += kAlphabet[pick(generator)];
  return id;
}

ToolCallParser::ToolCallParser(ToolCallFormat format, std::function<std::string()> new_id)
    : format_(format), new_id_(std::move(new_id)) {}

ToolParseDelta ToolCallParser::push(std::string_view text) {
  if (finished_) throw std::logic_error("ToolCallParser::push after finish");
  pending_.append(text);
  ToolParseDelta out;
  process(false, out);
  return out;
}

ToolParseDelta ToolCallParser::finish() {
  if (finished_) throw std::logic_error("ToolCallParser::finish called twice");
  finished_ = true;
  ToolParseDelta out;
  process(true, out);
  return out;
}

// Whitespace is held until non-space text follows; whitespace right after a
// call's end is dropped when that text comes.
void ToolCallParser::emit_content(std::string_view text, ToolParseDelta& out) {
  std::string joined = held_space_;
  joined.append(text);
  size_t last = joined.size();
  while (last > 0 && is_space(joined[last - 1])) --last;
  if (last == 0) {
    held_space_ = std::move(joined);
    return;
  }
  held_space_ = joined.substr(last);
  size_t first = 0;
  if (after_call_) {
    while (is_space(joined[first])) ++first;
    after_call_ = false;
  }
  const std::string_view piece = std::string_view(joined).substr(first, last - first);
  out.content.append(piece);
  result_.content.append(piece);
}

void ToolCallParser::add_arguments(std::string_view text, ToolParseDelta& out) {
  if (text.empty()) return;
  const size_t index = result_.tool_calls.size() - 1;
  result_.tool_calls.back().arguments_json.append(text);
  if (out.tool_calls.empty() || out.tool_calls.back().index != index) {
    out.tool_calls.push_back({index, "", "", ""});
  }
  out.tool_calls.back().arguments.append(text);
}

size_t ToolCallParser::scan_arguments(bool& closed) {
  size_t i = 0;
  closed = false;
  while (i < pending_.size() && !closed) {
    const char c = pending_[i++];
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
    } else if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
    } else if ((c == '}' || c == ']') && --depth_ == 0) {
      closed = true;
    }
  }
  return i;
}

void ToolCallParser::revert_block(ToolParseDelta& out) {
  // An arguments-first block that did not end well: content, as if its marker
  // had not matched (its first character is content; look again after it).
  pending_.insert(0, block_);
  block_.clear();
  arguments_.clear();
  state_ = State::kText;
  if (format_ == ToolCallFormat::kLlama31Json) {
    plain_ = true;
  } else {
    emit_content(std::string_view(pending_).substr(0, 1), out);
    pending_.erase(0, 1);
  }
}

void ToolCallParser::process(bool final, ToolParseDelta& out) {
  while (true) {
    switch (state_) {
      case State::kText: {
        if (format_ == ToolCallFormat::kLlama31Json && !plain_) {
          // Calls only where no content has been written: skip space (and ';'
          // between calls), then a call must start.
          size_t i = 0;
          std::string space;
          for (; i < pending_.size(); ++i) {
            const char c = pending_[i];
            if (is_space(c)) {
              space += c;
            } else if (!(after_call_ && c == ';')) {
              break;
            }
          }
          emit_content(space, out);  // all space: held
          pending_.erase(0, i);
          if (!pending_.empty()) {
            if (pending_[0] == '{' || pending_[0] == '<') {
              state_ = State::kHeader;
            } else {
              plain_ = true;
            }
            continue;
          }
        } else if (format_ == ToolCallFormat::kLlama31Json) {
          emit_content(pending_, out);
          pending_.clear();
        } else {
          const std::string_view marker = open_marker(format_);
          const size_t at = pending_.find(marker);
          if (at != std::string::npos) {
            emit_content(std::string_view(pending_).substr(0, at), out);
            pending_.erase(0, at);
            state_ = State::kHeader;
            continue;
          }
          const size_t keep = final ? 0 : partial_marker_suffix(pending_, marker);
          emit_content(std::string_view(pending_).substr(0, pending_.size() - keep), out);
          pending_.erase(0, pending_.size() - keep);
        }
        if (final) {
          if (!after_call_ && !held_space_.empty()) {
            out.content += held_space_;
            result_.content += held_space_;
          }
          held_space_.clear();
        }
        return;
      }
      case State::kHeader: {
        HeaderMatch header = match_header(pending_, format_);
        if (header.match == Match::kNeedMore && !final) return;
        if (header.match != Match::kMatched) {
          // Not a call: its first character is content; look again after it.
          state_ = State::kText;
          if (format_ == ToolCallFormat::kLlama31Json) {
            plain_ = true;
          } else {
            emit_content(std::string_view(pending_).substr(0, 1), out);
            pending_.erase(0, 1);
          }
          continue;
        }
        if (header.arguments_first) {  // nothing is certain until the name comes
          block_ = pending_.substr(0, header.arguments_start);
          arguments_.clear();
          pending_.erase(0, header.arguments_start);
          state_ = State::kArgumentsFirst;
          depth_ = 0;
          in_string_ = escaped_ = false;
          continue;
        }
        held_space_.clear();
        after_call_ = false;
        ToolCall call{new_id_(), std::move(header.name), ""};
        out.tool_calls.push_back({result_.tool_calls.size(), call.id, call.name, ""});
        result_.tool_calls.push_back(std::move(call));
        pending_.erase(0, header.arguments_start);
        state_ = State::kArguments;
        depth_ = 0;
        in_string_ = escaped_ = false;
        continue;
      }
      case State::kArgumentsFirst: {
        bool closed = false;
        const size_t i = scan_arguments(closed);
        arguments_.append(pending_, 0, i);
        block_.append(pending_, 0, i);
        pending_.erase(0, i);
        if (closed) {
          state_ = State::kNameTrailer;
          continue;
        }
        if (final) {
          revert_block(out);
          continue;
        }
        return;
      }
      case State::kNameTrailer: {
        HeaderMatch trailer = match_name_trailer(pending_, format_);
        if (trailer.match == Match::kNeedMore && !final) return;
        if (trailer.match != Match::kMatched) {
          revert_block(out);
          continue;
        }
        held_space_.clear();
        const size_t index = result_.tool_calls.size();
        ToolCall call{new_id_(), std::move(trailer.name), std::move(arguments_)};
        out.tool_calls.push_back({index, call.id, call.name, call.arguments_json});
        result_.tool_calls.push_back(std::move(call));
        pending_.erase(0, trailer.arguments_start);  // the trailer's length
        block_.clear();
        arguments_.clear();
        after_call_ = true;
        state_ = State::kText;
        continue;
      }
      case State::kArguments: {
        bool closed = false;
        const size_t i = scan_arguments(closed);
        add_arguments(std::string_view(pending_).substr(0, i), out);
        pending_.erase(0, i);
        if (closed) {
          state_ = State::kTrailer;
          continue;
        }
        if (final) {  // cut off inside ARGS: the call keeps what was written
          after_call_ = true;
          state_ = State::kText;
          continue;
        }
        return;
      }
      case State::kTrailer: {
        size_t length = 0;
        const Match match = match_trailer(pending_, format_, length);
        if (match == Match::kNeedMore && !final) return;
        after_call_ = true;
        state_ = State::kText;
        if (match == Match::kMatched) {
          pending_.erase(0, length);
        } else if (match == Match::kNeedMore) {
          pending_.clear();  // the output ended inside the expected trailer
        }  // else: what follows ARGS is not the trailer; it is content
        continue;
      }
    }
  }
}

ParsedToolOutput parse_tool_calls(std::string_view text, ToolCallFormat format,
                                  std::function<std::string()> new_id) {
  ToolCallParser parser(format, std::move(new_id));
  parser.push(text);
  parser.finish();
  return parser.result();
}

}  // namespace kvs
