#include "server/http/http_server.h"

#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "engine/errors.h"
#include "server/api/api_error.h"
#include "server/http/openai_handlers.h"
#include "server/http/tiered_task_queue.h"
#include "server/http/tokenize_handlers.h"
#include "server/logging/log_setup.h"

namespace kvs {
namespace {

constexpr int kListenBacklog = 4096;  // capped by the kernel's somaxconn
// Threads of the overflow tier (see TieredTaskQueue): each answers a probe or
// a 429 and closes, so a few drain a burst of a thousand connections fast.
constexpr size_t kOverflowThreads = 8;
// At most this many main-tier threads for admitted requests, however large
// --max-queue is (a deeper queue is for gRPC, which needs no thread per call).
constexpr int64_t kMaxAdmittedConnections = 2048;
using nlohmann::json;
using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

void send_error(httplib::Response& res, int status, const std::string& message, const std::string& param = "",
                const std::string& code = "") {
  res.status = status;
  if (status == 429) res.set_header("Retry-After", "1");
  res.set_content(error_body(status, message, param, code).dump(-1, ' ', false, json::error_handler_t::replace),
                  "application/json");
}

// What the overflow tier still serves: probes, metrics and the model list,
// all answered without the engine. Everything else gets 429 there.
bool served_when_busy(const std::string& method, const std::string& path) {
  if (method != "GET" && method != "HEAD") return false;
  return path == "/health" || path == "/ready" || path == "/health/ready" || path == "/metrics" || path == "/v1/models" ||
         path.rfind("/v1/models/", 0) == 0;
}

// True on the overflow tier for a request it does not serve (see above).
bool refused_when_busy(const httplib::Request& req) {
  return TieredTaskQueue::on_overflow_thread() && !served_when_busy(req.method, req.path);
}

constexpr const char* kBusyMessage = "the server is at capacity (every connection slot is busy); retry later";

// Turns what a handler throws into an OpenAI-shaped error response. On the
// overflow tier the request (its body read by now) is refused with 429.
Handler guarded(Handler handler) {
  return [handler](const httplib::Request& req, httplib::Response& res) {
    try {
      if (refused_when_busy(req)) throw ApiError(429, kBusyMessage, "", "queue_full");
      handler(req, res);
    } catch (const ApiError& e) {
      send_error(res, e.status(), e.what(), e.param(), e.code());
    } catch (const InvalidArgument& e) {
      send_error(res, 400, e.what());
    } catch (const std::exception& e) {
      // The exception's text goes to the log only; the client gets the request id.
      const std::string id = res.get_header_value("X-Request-Id");
      spdlog::error("{} {} {}: internal error: {}", id, req.method, req.path, e.what());
      const ApiError error = internal_error(id);
      send_error(res, error.status(), error.what(), error.param(), error.code());
    }
  };
}

// What --max-header-bytes counts: every header's name and value. (cpp-httplib
// also adds REMOTE_ADDR / REMOTE_PORT, a few dozen bytes.)
int64_t header_bytes(const httplib::Headers& headers) {
  int64_t total = 0;
  for (const auto& [name, value] : headers) total += static_cast<int64_t>(name.size() + value.size());
  return total;
}

// Answers from the pre-routing handler, before the body is read: the
// connection must close, or the unread body would be parsed as the next request.
httplib::Server::HandlerResponse refuse(httplib::Response& res, int status, const std::string& message,
                                        const std::string& code) {
  send_error(res, status, message, "", code);
  res.set_header("Connection", "close");
  return httplib::Server::HandlerResponse::Handled;
}

// Raises the soft limit on open descriptors to the hard one: every
// connection is one, and a burst of a thousand must not fail accept().
void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    spdlog::debug("open file limit raised from {} to {}", static_cast<uint64_t>(before), static_cast<uint64_t>(limit.rlim_cur));
  }
}

const char* default_message(int status) {
  switch (status) {
    case 404: return "Not found";
    case 405: return "Method not allowed";
    case 413: return "The request body is too large";
    case 414: return "The request URI is too long";
    case 431: return "The request headers are too large";
    default: return "Bad request";
  }
}

}  // namespace

HttpServer::HttpServer(ServingContext& context, const ServeConfig& config) : context_(context), config_(config) {
  // One main-tier thread per sequence admission can hold (an admitted request
  // holds at least one), plus --http-threads for everything else on the main
  // tier (probes, keep-alive connections between requests, refused requests).
  const size_t main_threads = static_cast<size_t>(
      std::min(config_.max_num_seqs + config_.max_queue, kMaxAdmittedConnections) + config_.http_threads);
  server_.new_task_queue = [main_threads] { return new TieredTaskQueue(main_threads, kOverflowThreads); };
  server_.set_payload_max_length(static_cast<size_t>(context_.limits.max_body_bytes));
  server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // Every response carries its request id; the access line names it too.
    // A client's own X-Request-Id is kept when it is usable (is_valid_request_id).
    const std::string incoming = req.get_header_value("X-Request-Id");
    res.set_header("X-Request-Id", is_valid_request_id(incoming) ? incoming
                                                                 : "req-" + std::to_string(next_request_id_.fetch_add(1)));
    const int64_t max_header_bytes = context_.limits.max_header_bytes;
    if (header_bytes(req.headers) > max_header_bytes) {
      return refuse(res, 431, "The request headers are too large (at most " + std::to_string(max_header_bytes) +
                                  " bytes of names and values)", "headers_too_large");
    }
    const bool is_api = req.path.rfind("/v1/", 0) == 0;
    const bool is_metrics = req.path == "/metrics";
    const bool needs_key = context_.keys.enabled() && (is_api || (is_metrics && config_.protect_metrics));
    if (needs_key && !context_.keys.accepts_authorization(req.get_header_value("Authorization"))) {
      return refuse(res, 401, "Invalid or missing API key (send 'Authorization: Bearer KEY').", "invalid_api_key");
    }
    // Every main-tier thread is busy: what needs the engine is refused now
    // (here when there is no body to read; with one, guarded() refuses after
    // httplib has read it, so the close cannot reset the answer). The
    // overflow tier closes each connection after its one response.
    const bool has_body = req.get_header_value_count("Transfer-Encoding") > 0 ||
                          req.get_header_value("Content-Length", 0).find_first_not_of("0") != std::string::npos;
    if (refused_when_busy(req) && !has_body) return refuse(res, 429, kBusyMessage, "queue_full");
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // The overflow tier's usual answer, sent from the request line alone (the
  // pre-routing handler and guarded() refuse what gets past it).
  server_.set_busy_refusal([this](const std::string& method, const std::string& path,
                                  const std::string& remote_addr) -> std::optional<std::string> {
    if (served_when_busy(method, path)) return std::nullopt;
    const std::string id = "req-" + std::to_string(next_request_id_.fetch_add(1));
    const std::string body = error_body(429, kBusyMessage, "", "queue_full").dump();
    context_.metrics.record_http(429);
    spdlog::info("{} {} \"{} {}\" 429 (at capacity, body not read)", id, remote_addr, method, path);
    return "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nRetry-After: 1\r\nX-Request-Id: " + id +
           "\r\nConnection: close\r\n\r\n" + body;
  });
  server_.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) send_error(res, res.status, default_message(res.status));
  });
  // NOTE: the access line names no header and no body: API keys (Authorization)
  // never reach the log.
  server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    context_.metrics.record_http(res.status);
    const RequestLogScope scope(res.get_header_value("X-Request-Id"));
    spdlog::info("{} {} \"{} {}\" {} {}B", res.get_header_value("X-Request-Id"), req.remote_addr, req.method, req.path,
                 res.status, req.body.size());
  });
  add_routes();
}

void HttpServer::add_routes() {
  ServingContext& context = context_;
  server_.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.set_content("{}", "application/json"); });
  const Handler ready = [&context](const httplib::Request&, httplib::Response& res) {
    if (context.draining.load()) return send_error(res, 503, "the server is draining", "", "server_draining");
    res.set_content(R"({"status":"ready"})", "application/json");
  };
  server_.Get("/ready", ready);
  server_.Get("/health/ready", ready);
  server_.Get("/v1/models", [&context](const httplib::Request&, httplib::Response& res) {
    const json model = {{"id", context.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "kvserve"},
                        {"max_model_len", context.max_tokens_capacity}};
    res.set_content(json{{"object", "list"}, {"data", json::array({model})}}.dump(), "application/json");
  });
  server_.Get("/v1/models/(.+)", guarded([&context](const httplib::Request& req, httplib::Response& res) {
    if (req.matches[1] != context.model_name) throw ApiError(404, "The model does not exist.", "model", "model_not_found");
    res.set_content(json{{"id", context.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "kvserve"}}.dump(),
                    "application/json");
  }));
  server_.Get("/metrics", [&context](const httplib::Request&, httplib::Response& res) {
    res.set_content(context.metrics.render(context.engine.metrics(), context.num_active.load(), context.draining.load()),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  server_.Post("/v1/completions", guarded([&context](const httplib::Request& req, httplib::Response& res) {
    handle_completions(context, req, res);
  }));
  server_.Post("/v1/chat/completions", guarded([&context](const httplib::Request& req, httplib::Response& res) {
    handle_chat_completions(context, req, res);
  }));
  server_.Post("/tokenize", guarded([&context](const httplib::Request& req, httplib::Response& res) {
    handle_tokenize(context, req, res);
  }));
  server_.Post("/detokenize", guarded([&context](const httplib::Request& req, httplib::Response& res) {
    handle_detokenize(context, req, res);
  }));
}

void HttpServer::bind(const std::string& host, int port) {
  raise_fd_limit();
  // NOTE: Debian's cpp-httplib is a compiled library that listens with a
  // backlog of 5, so bursts of new connections (many clients, a load
  // balancer opening connections) were refused. Listening again on the bound
  // socket raises the backlog; the socket comes from the options callback.
  server_.set_socket_options([this](int fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd_ = fd;
  });
  if (!server_.bind_to_port(host.c_str(), port) || listen_fd_ < 0 || ::listen(listen_fd_, kListenBacklog) != 0) {
    throw Error("cannot listen on " + host + ":" + std::to_string(port));
  }
}

void HttpServer::run() { server_.listen_after_bind(); }

void HttpServer::stop() { server_.stop(); }

}  // namespace kvs
