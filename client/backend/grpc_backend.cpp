// kvserve gRPC backend: KvServe.Generate (server streaming) on a channel shared
// by all workers (a grpc::Channel is thread-safe); one stub per worker.
#include <atomic>
#include <chrono>
#include <mutex>

#include <grpcpp/grpcpp.h>

#include "client/backend/backend.h"
#include "client/backend/stream_state.h"
#include "proto/kvserve.grpc.pb.h"

namespace kvs::client {
namespace {

std::string status_kind(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED: return "grpc_cancelled";
    case grpc::StatusCode::UNKNOWN: return "grpc_unknown";
    case grpc::StatusCode::INVALID_ARGUMENT: return "grpc_invalid_argument";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "timeout";
    case grpc::StatusCode::NOT_FOUND: return "grpc_not_found";
    case grpc::StatusCode::PERMISSION_DENIED: return "grpc_permission_denied";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "grpc_resource_exhausted";
    case grpc::StatusCode::FAILED_PRECONDITION: return "grpc_failed_precondition";
    case grpc::StatusCode::ABORTED: return "grpc_aborted";
    case grpc::StatusCode::OUT_OF_RANGE: return "grpc_out_of_range";
    case grpc::StatusCode::UNIMPLEMENTED: return "grpc_unimplemented";
    case grpc::StatusCode::INTERNAL: return "grpc_internal";
    case grpc::StatusCode::UNAVAILABLE: return "grpc_unavailable";
    case grpc::StatusCode::DATA_LOSS: return "grpc_data_loss";
    case grpc::StatusCode::UNAUTHENTICATED: return "grpc_unauthenticated";
    default: return "grpc_" + std::to_string(static_cast<int>(code));
  }
}

class GrpcBackend : public Backend {
 public:
  GrpcBackend(const BenchOptions& options, std::shared_ptr<grpc::Channel> channel)
      : options_(options), stub_(kvserve::v1::KvServe::NewStub(channel)) {}

  void send(const RequestSpec& spec, RequestRecord& record) override {
    record.expected_prompt_tokens = spec.expected_prompt_tokens;
    record.max_tokens = spec.max_tokens;
    kvserve::v1::GenerateRequest request;
    request.set_text(completion_prompt(spec));
    request.set_max_tokens(static_cast<uint32_t>(spec.max_tokens));
    request.set_ignore_eos(options_.ignore_eos);
    request.mutable_sampling()->set_temperature(static_cast<float>(options_.temperature));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::microseconds(static_cast<int64_t>(options_.timeout_s * 1e6)));
    if (!options_.api_key.empty()) context.AddMetadata("authorization", "Bearer " + options_.api_key);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cancelled_) return finish_cancelled(record);
      context_ = &context;
    }
    StreamState state(record);
    auto reader = stub_->Generate(&context, request);
    kvserve::v1::GenerateResponse response;
    bool finished = false;
    while (reader->Read(&response)) {
      state.on_output(response.text(), response.token_ids_size());
      if (!response.finish_reason().empty()) finished = true;
      if (response.has_usage()) state.on_usage(response.usage().prompt_tokens(), response.usage().completion_tokens());
    }
    const grpc::Status status = reader->Finish();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      context_ = nullptr;
    }
    if (cancelled_) state.fail("cancelled", "interrupted");
    else if (!status.ok()) state.fail(status_kind(status.error_code()), status.error_message());
    else if (!finished) state.fail("incomplete_stream", "the stream ended without a finish_reason");
    state.finish(options_.save_output);
  }

  void cancel() override {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }

 private:
  static void finish_cancelled(RequestRecord& record) {
    record.error_kind = "cancelled";
    record.success = false;
  }

  const BenchOptions& options_;
  std::unique_ptr<kvserve::v1::KvServe::Stub> stub_;
  std::mutex mutex_;
  grpc::ClientContext* context_ = nullptr;  // the call in flight, guarded by mutex_
  std::atomic<bool> cancelled_{false};     // set under mutex_ so a call never starts after cancel()
};

}  // namespace

std::unique_ptr<Backend> make_http_backend(const BenchOptions& options, const std::string& model);

BackendFactory make_backend_factory(const BenchOptions& options, const std::string& model) {
  if (!options.url.empty()) {
    return [&options, model] { return make_http_backend(options, model); };
  }
  grpc::ChannelArguments args;
  // NOTE: one channel multiplexes all streams over one HTTP/2 connection; allow
  // as many concurrent streams as the load asks for.
  args.SetInt(GRPC_ARG_MAX_CONCURRENT_STREAMS, 1 << 20);
  auto channel = grpc::CreateCustomChannel(options.grpc_target, grpc::InsecureChannelCredentials(), args);
  return [&options, channel] { return std::unique_ptr<Backend>(new GrpcBackend(options, channel)); };
}

}  // namespace kvs::client
