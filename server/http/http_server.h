#pragma once
#include <atomic>
#include <cstdint>
// The HTTP front end: OpenAI-compatible routes, health/readiness, /metrics,
// API-key checks, OpenAI-shaped errors, one access-log line per request
// (no headers, no body: keys are never logged). Bounds from context.limits:
// headers (431, checked before the body is read) and body (413).
// Connections run on a TieredTaskQueue: a main tier of max_num_seqs +
// max_queue + http_threads threads, and a small overflow tier that serves
// probes and metrics and refuses everything else with 429 (server/README.md,
// "Concurrency, admission and hang-ups").
//
// Ownership: uses `context`, which must outlive it. Thread-safety: run()
// blocks serving on its own thread pool; stop() may be called from any thread.
#include <memory>
#include <string>

#include <httplib.h>

#include "server/http/connection_loop_server.h"
#include "server/serving/serving_context.h"
#include "server/serve/serve_config.h"

namespace kvs {

class HttpServer {
 public:
  HttpServer(ServingContext& context, const ServeConfig& config);
  // Binds host:port; throws kvs::Error when it cannot.
  void bind(const std::string& host, int port);
  // Serves until stop(). Call after bind().
  void run();
  void stop();

 private:
  void add_routes();
  ServingContext& context_;
  ServeConfig config_;
  ConnectionLoopServer server_;
  std::atomic<uint64_t> next_request_id_{1};  // for the X-Request-Id header and the access log
  int listen_fd_ = -1;  // the bound socket (set while binding)
};

}  // namespace kvs
