#include "server/http/openai_responses.h"

namespace kvs {
namespace {

using nlohmann::json;

const char* object_name(const ResponseMeta& meta, bool chunk) {
  if (meta.kind == ApiKind::kCompletion) return "text_completion";
  return chunk ? "chat.completion.chunk" : "chat.completion";
}

json envelope(const ResponseMeta& meta, bool chunk) {
  return {{"id", meta.id}, {"object", object_name(meta, chunk)}, {"created", meta.created}, {"model", meta.model}};
}

json finish_json(const std::string& reason) { return reason.empty() ? json(nullptr) : json(reason); }

// A JSON string must be valid UTF-8; a token may hold part of a character.
std::string valid_utf8(const std::string& text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= text.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    if (ok) {
      out.append(text, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

json token_bytes(const std::string& text) {
  json bytes = json::array();
  for (const char c : text) bytes.push_back(static_cast<int>(static_cast<unsigned char>(c)));
  return bytes;
}

}  // namespace

json usage_json(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", cached_tokens}}}};
}

int64_t cached_prompt_tokens(const std::vector<ChoiceResult>& results) {
  int64_t cached = 0;
  for (const ChoiceResult& r : results) {
    if (r.counts_prompt) cached += r.num_cached_prompt_tokens;
  }
  return cached;
}

json logprobs_json(const ResponseMeta& meta, const std::vector<TokenLogprob>& tokens, size_t text_offset) {
  if (meta.kind == ApiKind::kChat) {
    json content = json::array();
    for (const TokenLogprob& t : tokens) {
      json top = json::array();
      for (const auto& [text, logprob] : t.top) {
        top.push_back({{"token", valid_utf8(text)}, {"logprob", logprob}, {"bytes", token_bytes(text)}});
      }
      content.push_back(
          {{"token", valid_utf8(t.text)}, {"logprob", t.logprob}, {"bytes", token_bytes(t.text)}, {"top_logprobs", top}});
    }
    return {{"content", content}};
  }
  json out = {{"tokens", json::array()}, {"token_logprobs", json::array()}, {"top_logprobs", json::array()},
              {"text_offset", json::array()}};
  size_t offset = text_offset;
  for (const TokenLogprob& t : tokens) {
    const std::string text = valid_utf8(t.text);
    out["tokens"].push_back(text);
    out["token_logprobs"].push_back(t.has_logprob ? json(t.logprob) : json(nullptr));
    json top = json::object();
    for (const auto& [alternative, logprob] : t.top) top[valid_utf8(alternative)] = logprob;
    out["top_logprobs"].push_back(meta.top_logprobs > 0 && t.has_logprob ? top : json(nullptr));
    out["text_offset"].push_back(offset);
    offset += t.text.size();
  }
  return out;
}

json full_response(const ResponseMeta& meta, const std::vector<ChoiceResult>& results,
                   const std::vector<std::string>& prefixes, const std::vector<std::vector<TokenLogprob>>& prefix_tokens,
                   int64_t prompt_tokens) {
  json out = envelope(meta, false);
  json choices = json::array();
  int64_t completion_tokens = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    const ChoiceResult& r = results[i];
    completion_tokens += r.num_output_tokens;
    const std::string text = prefixes[i] + r.text;
    json choice = {{"index", i}, {"finish_reason", finish_json(r.finish_reason)}};
    if (!meta.logprobs) {
      choice["logprobs"] = nullptr;
    } else if (i < prefix_tokens.size() && !prefix_tokens[i].empty()) {
      std::vector<TokenLogprob> all = prefix_tokens[i];
      all.insert(all.end(), r.tokens.begin(), r.tokens.end());
      choice["logprobs"] = logprobs_json(meta, all, 0);
    } else {
      choice["logprobs"] = logprobs_json(meta, r.tokens, prefixes[i].size());
    }
    if (meta.kind == ApiKind::kChat && !r.tool_calls.empty()) {
      json calls = json::array();
      for (const ToolCall& call : r.tool_calls) {
        calls.push_back({{"id", call.id},
                         {"type", "function"},
                         {"function", {{"name", call.name}, {"arguments", valid_utf8(call.arguments_json)}}}});
      }
      // OpenAI: content is null when the reply is only calls.
      choice["message"] = {{"role", "assistant"}, {"content", text.empty() ? json(nullptr) : json(text)},
                           {"tool_calls", std::move(calls)}};
    } else if (meta.kind == ApiKind::kChat) {
      choice["message"] = {{"role", "assistant"}, {"content", text}};
    } else {
      choice["text"] = text;
    }
    choices.push_back(std::move(choice));
  }
  out["choices"] = std::move(choices);
  out["usage"] = usage_json(prompt_tokens, completion_tokens, cached_prompt_tokens(results));
  return out;
}

json stream_chunk(const ResponseMeta& meta, const ChoiceDelta& delta, bool include_usage_field, size_t text_offset) {
  json out = envelope(meta, true);
  json choice = {{"index", delta.index}, {"finish_reason", finish_json(delta.finish_reason)}};
  choice["logprobs"] = meta.logprobs && !delta.tokens.empty() ? logprobs_json(meta, delta.tokens, text_offset) : json(nullptr);
  if (meta.kind == ApiKind::kChat) {
    choice["delta"] = delta.text.empty() ? json::object() : json{{"content", delta.text}};
    if (!delta.tool_calls.empty()) {
      json calls = json::array();
      for (const ToolCallDelta& call : delta.tool_calls) {
        json piece = {{"index", call.index}};
        json function = {{"arguments", valid_utf8(call.arguments)}};
        if (!call.id.empty()) {  // a call's first piece: its id, type and name
          piece["id"] = call.id;
          piece["type"] = "function";
          function["name"] = call.name;
        }
        piece["function"] = std::move(function);
        calls.push_back(std::move(piece));
      }
      choice["delta"]["tool_calls"] = std::move(calls);
    }
  } else {
    choice["text"] = delta.text;
  }
  out["choices"] = json::array({choice});
  if (include_usage_field) out["usage"] = nullptr;
  return out;
}

json chat_role_chunk(const ResponseMeta& meta, size_t index, bool include_usage_field) {
  json out = envelope(meta, true);
  out["choices"] = json::array(
      {{{"index", index}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}});
  if (include_usage_field) out["usage"] = nullptr;
  return out;
}

json usage_chunk(const ResponseMeta& meta, int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens) {
  json out = envelope(meta, true);
  out["choices"] = json::array();
  out["usage"] = usage_json(prompt_tokens, completion_tokens, cached_tokens);
  return out;
}

}  // namespace kvs
