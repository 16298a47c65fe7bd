// OpenAI HTTP backend: POST /v1/completions or /v1/chat/completions over a
// keep-alive cpp-httplib connection, the streamed body read as it arrives.
#include <atomic>
#include <mutex>
#include <stdexcept>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "client/backend/backend.h"
#include "client/backend/sse_parser.h"
#include "client/backend/stream_state.h"

namespace kvs::client {
namespace {

using nlohmann::json;

// Output text of one choice in a completion or chat chunk/response.
std::string choice_text(const json& choice, bool chat, bool stream) {
  const char* holder = stream ? "delta" : "message";
  const json* source = &choice;
  if (chat) {
    auto it = choice.find(holder);
    if (it == choice.end() || !it->is_object()) return "";
    source = &*it;
    std::string text;
    for (const char* key : {"reasoning_content", "content"}) {
      if (auto c = source->find(key); c != source->end() && c->is_string()) text += c->get<std::string>();
    }
    return text;
  }
  if (auto t = source->find("text"); t != source->end() && t->is_string()) return t->get<std::string>();
  return "";
}

std::string error_text(const std::string& body) {
  try {
    const json doc = json::parse(body);
    if (doc.contains("error") && doc["error"].is_object()) return doc["error"].value("message", body);
  } catch (const json::exception&) {
  }
  return body;
}

bool read_usage(const json& doc, StreamState& state) {
  auto it = doc.find("usage");
  if (it == doc.end() || !it->is_object()) return false;
  state.on_usage(it->value("prompt_tokens", int64_t{0}), it->value("completion_tokens", int64_t{0}));
  return true;
}

// One SSE event of an OpenAI stream; false (after state.fail) stops reading.
// `done` is set by [DONE], `finished` by a finish_reason.
bool on_event(const std::string& data, bool chat, StreamState& state, bool& done, bool& finished) {
  if (data == "[DONE]") {
    done = true;
    return true;
  }
  json doc;
  try {
    doc = json::parse(data);
  } catch (const json::exception&) {
    state.fail("malformed_sse", "event data is not JSON: " + data.substr(0, 120));
    return false;
  }
  if (!doc.is_object()) {
    state.fail("malformed_sse", "event data is not a JSON object");
    return false;
  }
  if (auto err = doc.find("error"); err != doc.end()) {
    state.fail("stream_error", err->is_object() ? err->value("message", err->dump()) : err->dump());
    return false;
  }
  const bool has_usage = read_usage(doc, state);
  auto choices = doc.find("choices");
  if (choices == doc.end() || !choices->is_array()) {
    if (has_usage) return true;
    state.fail("malformed_sse", "event without choices: " + data.substr(0, 120));
    return false;
  }
  for (const json& choice : *choices) {
    if (!choice.is_object()) continue;
    const std::string text = choice_text(choice, chat, true);
    state.on_output(text, text.empty() ? 0 : 1);
    if (auto f = choice.find("finish_reason"); f != choice.end() && f->is_string()) finished = true;
  }
  return true;
}

class HttpBackend : public Backend {
 public:
  HttpBackend(const BenchOptions& options, std::string model)
      : options_(options), model_(std::move(model)), target_(parse_http_url(options.url)),
        client_(target_.host, target_.port) {
    client_.set_keep_alive(true);
    client_.set_tcp_nodelay(true);
    const time_t seconds = static_cast<time_t>(options.timeout_s);
    const time_t micros = static_cast<time_t>((options.timeout_s - seconds) * 1e6);
    client_.set_read_timeout(seconds, micros);
    client_.set_write_timeout(seconds, micros);
    client_.set_connection_timeout(std::min<time_t>(seconds, 10), seconds >= 10 ? 0 : micros);
    if (!options.api_key.empty()) client_.set_bearer_token_auth(options.api_key.c_str());
    path_ = target_.api_prefix + (options.endpoint == Endpoint::kChat ? "/chat/completions" : "/completions");
  }

  void send(const RequestSpec& spec, RequestRecord& record) override {
    record.expected_prompt_tokens = spec.expected_prompt_tokens;
    record.max_tokens = spec.max_tokens;
    record.streamed = options_.stream;
    const bool chat = options_.endpoint == Endpoint::kChat;
    const bool stream = options_.stream;
    StreamState state(record);
    bool done = false, finished = false, deadline_hit = false;
    std::string body;  // non-stream body or an error body
    SseParser parser([&](const std::string& data) { return on_event(data, chat, state, done, finished); });

    httplib::Request req;
    req.method = "POST";
    req.path = path_;
    req.body = openai_request_body(options_, model_, spec);  // NOTE: ~10 us; not the bottleneck
    req.set_header("Content-Type", "application/json");
    if (stream) req.set_header("Accept", "text/event-stream");
    int status = 0;
    req.response_handler = [&](const httplib::Response& res) {
      status = res.status;
      return true;
    };
    req.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
      if (cancelled_) return false;
      if (state.elapsed_ms() > options_.timeout_s * 1000) {
        deadline_hit = true;
        return false;
      }
      if (status != 200 || !stream) {
        body.append(data, size);
        return true;
      }
      return parser.feed(data, size);
    };
    httplib::Response res;
    httplib::Error error = httplib::Error::Success;
    const bool ok = client_.send(req, res, error);
    record.http_status = status;
    classify(ok, error, status, deadline_hit, state);
    if (!state.failed() && status == 200) {
      if (stream) {
        if (!parser.finish() || parser.num_malformed_lines() > 0) {
          state.fail("malformed_sse", "stream has " + std::to_string(parser.num_malformed_lines()) +
                                          " lines that are not server-sent events, or a cut-off event");
        } else if (!done && !finished) {
          state.fail("incomplete_stream", "the stream ended without a finish_reason or [DONE]");
        }
      } else {
        parse_full_response(body, chat, state);
      }
    } else if (!state.failed()) {
      state.fail(status >= 400 ? "http_" + std::to_string(status) : "http_unexpected_" + std::to_string(status),
                 error_text(body));
    }
    state.finish(options_.save_output);
  }

  void cancel() override {
    cancelled_ = true;
    client_.stop();
  }

 private:
  void classify(bool ok, httplib::Error error, int status, bool deadline_hit, StreamState& state) {
    if (state.failed()) return;  // the parser already knows (malformed data)
    if (cancelled_) return state.fail("cancelled", "interrupted");
    if (deadline_hit) return state.fail("timeout", "no complete response within the timeout");
    if (ok) return;
    const std::string what = httplib::to_string(error);
    switch (error) {
      case httplib::Error::ConnectionTimeout: return state.fail("timeout", "connect: " + what);
      case httplib::Error::Read:
        // A read that waited out the whole timeout is a timeout; otherwise the peer went away.
        if (state.elapsed_ms() >= options_.timeout_s * 1000 * 0.99) return state.fail("timeout", "no data within --timeout (" + what + ")");
        return state.fail("connection", status ? "connection dropped mid-response: " + what : what);
      default: return state.fail("connection", what);
    }
  }

  void parse_full_response(const std::string& body, bool chat, StreamState& state) {
    json doc;
    try {
      doc = json::parse(body);
    } catch (const json::exception&) {
      return state.fail("malformed_response", "response is not JSON: " + body.substr(0, 120));
    }
    auto choices = doc.find("choices");
    if (!doc.is_object() || choices == doc.end() || !choices->is_array() || choices->empty()) {
      return state.fail("malformed_response", "response without choices");
    }
    std::string text;
    for (const json& choice : *choices) {
      if (choice.is_object()) text += choice_text(choice, chat, false);
    }
    state.on_output(text, 1);  // TTFT = E2E without streaming (counted even when empty)
    read_usage(doc, state);
  }

  const BenchOptions& options_;
  std::string model_;
  HttpTarget target_;
  httplib::Client client_;
  std::string path_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace

HttpTarget parse_http_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) throw std::invalid_argument("URL must start with http:// (got '" + url + "')");
  std::string rest = url.substr(scheme.size());
  HttpTarget target;
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.pop_back();
  std::string port_text;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    const size_t close = authority.find(']');
    if (close == std::string::npos) throw std::invalid_argument("bad host in URL '" + url + "'");
    if (close + 1 < authority.size() && authority[close + 1] == ':') port_text = authority.substr(close + 2);
    authority = authority.substr(1, close - 1);
  } else if (const size_t colon = authority.rfind(':'); colon != std::string::npos) {
    port_text = authority.substr(colon + 1);
    authority = authority.substr(0, colon);
  }
  if (!port_text.empty()) {
    size_t used = 0;
    try {
      target.port = std::stoi(port_text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != port_text.size() || target.port <= 0 || target.port > 65535) {
      throw std::invalid_argument("bad port in URL '" + url + "'");
    }
  }
  if (authority.empty()) throw std::invalid_argument("no host in URL '" + url + "'");
  target.host = authority;
  const std::string v1 = "/v1";
  target.api_prefix = (path.size() >= v1.size() && path.compare(path.size() - v1.size(), v1.size(), v1) == 0)
                          ? path
                          : path + v1;
  return target;
}

std::string openai_request_body(const BenchOptions& o, const std::string& model, const RequestSpec& spec) {
  json body;
  if (!model.empty()) body["model"] = model;
  if (o.endpoint == Endpoint::kChat) {
    json messages = json::array();
    if (!spec.system_prompt.empty()) messages.push_back({{"role", "system"}, {"content", spec.system_prompt}});
    messages.push_back({{"role", "user"}, {"content", spec.prompt}});
    body["messages"] = std::move(messages);
  } else {
    body["prompt"] = completion_prompt(spec);
  }
  body["max_tokens"] = spec.max_tokens;
  body["temperature"] = o.temperature;
  body["stream"] = o.stream;
  if (o.stream) body["stream_options"] = {{"include_usage", true}};
  if (o.ignore_eos) body["ignore_eos"] = true;
  if (!o.extra_body.empty()) body.update(json::parse(o.extra_body));  // validated with the options
  return body.dump();
}

std::string first_model_id(const BenchOptions& options) {
  const HttpTarget target = parse_http_url(options.url);
  httplib::Client client(target.host, target.port);
  client.set_connection_timeout(10, 0);
  client.set_read_timeout(30, 0);
  if (!options.api_key.empty()) client.set_bearer_token_auth(options.api_key.c_str());
  auto res = client.Get((target.api_prefix + "/models").c_str());
  if (!res) throw std::runtime_error("GET " + target.api_prefix + "/models failed: " + httplib::to_string(res.error()));
  if (res->status != 200) {
    throw std::runtime_error("GET " + target.api_prefix + "/models: HTTP " + std::to_string(res->status) + " " +
                             error_text(res->body));
  }
  try {
    const json doc = json::parse(res->body);
    return doc.at("data").at(0).at("id").get<std::string>();
  } catch (const json::exception& e) {
    throw std::runtime_error("GET " + target.api_prefix + "/models: no model id in the answer (" + e.what() + ")");
  }
}

std::unique_ptr<Backend> make_http_backend(const BenchOptions& options, const std::string& model) {
  return std::make_unique<HttpBackend>(options, model);
}

}  // namespace kvs::client
