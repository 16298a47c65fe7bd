#pragma once
// The gRPC front end (proto/kvserve.proto) plus gRPC's standard health
// service, which reports NOT_SERVING once set_draining() is called.
// context.limits bound the metadata (max_header_bytes), the received message
// (max_body_bytes), the request's fields (INVALID_ARGUMENT) and the key's open
// Generate streams, shared with HTTP's SSE streams (RESOURCE_EXHAUSTED).
//
// Generate runs on gRPC's callback API: the client's cancel arrives as
// OnCancel and cancels the engine requests at once (no polling); a generation
// the engine fails ends INTERNAL naming the request id (never the engine's
// text, which is logged). Tokenize, Detokenize and GetModelInfo are sync.
//
// Ownership: uses `context`, which must outlive it (and its engine must
// outlive stop()). Thread-safety: gRPC runs handlers on its own threads, each
// Generate on a thread of its own; every method may be called from any thread.
#include <memory>
#include <string>

#include "server/serving/serving_context.h"

namespace grpc {
class Server;
}

namespace kvs {

class KvServeService;

class GrpcServer {
 public:
  GrpcServer(ServingContext& context, const std::string& host, int port);  // starts serving; throws kvs::Error
  ~GrpcServer();
  void set_draining();  // health NOT_SERVING (new calls also get UNAVAILABLE via the context)
  void stop();          // stops accepting, cancels what is left (after 0.5 s), waits for every handler
  int port() const { return port_; }

 private:
  std::unique_ptr<KvServeService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace kvs
