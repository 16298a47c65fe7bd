// A way to send one request to a server and measure it. One Backend per
// worker thread (send() is not reentrant); cancel() may be called from any
// other thread while send() runs and makes it return soon (the record then
// says "cancelled").
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "client/options.h"
#include "client/record.h"
#include "client/workload/request_spec.h"

namespace kvs::client {

class Backend {
 public:
  virtual ~Backend() = default;
  // Sends `spec`, blocks until the response ends, fills `record` (success or
  // error kind, timings, token counts). Never throws for server or network
  // misbehaviour: that is an error kind in the record.
  virtual void send(const RequestSpec& spec, RequestRecord& record) = 0;
  virtual void cancel() = 0;
};

// Makes a fresh backend; thread-safe (called from each worker thread).
using BackendFactory = std::function<std::unique_ptr<Backend>()>;

// The factory for options.url (HTTP, OpenAI API) or options.grpc_target.
// `model` is the name sent in HTTP requests.
BackendFactory make_backend_factory(const BenchOptions& options, const std::string& model);

// GET {url}/v1/models -> the first model id; throws std::runtime_error with
// the reason when the server cannot be asked.
std::string first_model_id(const BenchOptions& options);

// Builds the OpenAI request body (exposed for tests).
std::string openai_request_body(const BenchOptions& options, const std::string& model, const RequestSpec& spec);

// Host, port and API path prefix ("/v1") of an http:// URL; throws
// std::invalid_argument when it cannot be parsed.
struct HttpTarget {
  std::string host;
  int port = 80;
  std::string api_prefix;  // e.g. "/v1"
};
HttpTarget parse_http_url(const std::string& url);

}  // namespace kvs::client
