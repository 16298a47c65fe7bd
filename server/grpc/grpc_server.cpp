#include "server/grpc/grpc_server.h"

#include <chrono>
#include <optional>

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include "engine/errors.h"
#include "proto/kvserve.grpc.pb.h"
#include "server/api/api_error.h"
#include "server/grpc/grpc_validation.h"
#include "server/serving/choice_builder.h"

namespace kvs {
namespace {

grpc::StatusCode code_for_status(int status) {
  switch (status) {
    case 400: return grpc::StatusCode::INVALID_ARGUMENT;
    case 401: return grpc::StatusCode::UNAUTHENTICATED;
    case 404: return grpc::StatusCode::NOT_FOUND;
    case 429: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case 503: return grpc::StatusCode::UNAVAILABLE;
    default: return grpc::StatusCode::INTERNAL;
  }
}

std::string metadata(const grpc::ServerContext& call, const char* key) {
  const auto& md = call.client_metadata();
  const auto it = md.find(key);
  return it == md.end() ? "" : std::string(it->second.data(), it->second.size());
}

}  // namespace

// NOTE: every handler maps ApiError / InvalidArgument to a gRPC status, so a
// bad request never escapes as an exception into gRPC's threads.
class KvServeService final : public kvserve::v1::KvServe::Service {
 public:
  explicit KvServeService(ServingContext& context) : context_(context) {}

  grpc::Status Generate(grpc::ServerContext* call, const kvserve::v1::GenerateRequest* request,
                        grpc::ServerWriter<kvserve::v1::GenerateResponse>* writer) override {
    return guarded(*call, [&] { return generate(*call, *request, *writer, key_bucket(*call)); });
  }

  grpc::Status Tokenize(grpc::ServerContext* call, const kvserve::v1::TokenizeRequest* request,
                        kvserve::v1::TokenizeResponse* response) override {
    return guarded(*call, [&] {
      for (int32_t id : context_.bundle.tokenizer->encode(request->text(), request->add_special(), request->parse_special())) {
        response->add_token_ids(id);
      }
      return grpc::Status::OK;
    });
  }

  grpc::Status Detokenize(grpc::ServerContext* call, const kvserve::v1::DetokenizeRequest* request,
                          kvserve::v1::DetokenizeResponse* response) override {
    return guarded(*call, [&] {
      const std::vector<int32_t> ids(request->token_ids().begin(), request->token_ids().end());
      response->set_text(context_.bundle.tokenizer->decode(ids, request->skip_special()));
      return grpc::Status::OK;
    });
  }

  grpc::Status GetModelInfo(grpc::ServerContext* call, const kvserve::v1::ModelInfoRequest*,
                            kvserve::v1::ModelInfo* info) override {
    return guarded(*call, [&] {
      info->set_name(context_.model_name);
      info->set_max_model_len(context_.max_tokens_capacity);
      info->set_vocab_size(context_.bundle.tokenizer->vocab_size());
      info->set_num_kv_blocks(context_.engine.num_kv_blocks());
      info->set_kv_block_size(context_.engine.config().cache.block_size);
      return grpc::Status::OK;
    });
  }

 private:
  template <typename Body>
  grpc::Status guarded(const grpc::ServerContext& call, Body&& body) {
    try {
      authenticate(call);
      return body();
    } catch (const ApiError& e) {
      return grpc::Status(code_for_status(e.status()), e.what());
    } catch (const InvalidArgument& e) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, e.what());
    } catch (const std::exception& e) {
      spdlog::error("grpc: internal error: {}", e.what());
      return grpc::Status(grpc::StatusCode::INTERNAL, e.what());
    }
  }

  // The index of the call's API key (x-api-key, else authorization: Bearer),
  // or nullopt. The key itself is never logged nor echoed.
  std::optional<size_t> find_key(const grpc::ServerContext& call) const {
    const std::string key = metadata(call, "x-api-key");
    return !key.empty() ? context_.keys.find(key) : context_.keys.find_authorization(metadata(call, "authorization"));
  }

  void authenticate(const grpc::ServerContext& call) const {
    if (!context_.keys.enabled() || find_key(call)) return;
    throw ApiError(401, "invalid or missing API key (metadata 'authorization: Bearer KEY')");
  }

  // The stream-count bucket of an authenticated call (0 without keys).
  size_t key_bucket(const grpc::ServerContext& call) const { return find_key(call).value_or(0); }

  grpc::Status generate(grpc::ServerContext& call, const kvserve::v1::GenerateRequest& request,
                        grpc::ServerWriter<kvserve::v1::GenerateResponse>& writer, size_t bucket) {
    AdmissionSlot slot(context_);
    const GenerationOptions options = grpc_generation_options(request);
    check_request_limits(context_.limits, options);
    // Held until the call returns: finished, failed or cancelled.
    StreamSlot stream(context_.streams, bucket, context_.limits.max_streams_per_key);
    std::vector<int32_t> prompt;
    if (request.has_token_ids()) {
      prompt = grpc_prompt_token_ids(request);
    } else {
      prompt = context_.bundle.encode_prompt(request.text());
    }
    if (prompt.empty()) throw ApiError(400, "the prompt is empty");
    std::vector<ChoiceSpec> choices;
    add_choices(context_, options, prompt, choices);
    for (ChoiceSpec& choice : choices) {
      choice.want_logprobs = true;  // token ids are always sent
      choice.request.num_logprobs = options.logprobs ? 0 : -1;
    }
    GenerationRun run(context_.engine, *context_.bundle.tokenizer, context_.metrics, std::move(choices));
    std::vector<ChoiceDelta> deltas;
    while (run.poll(deltas, 0.05)) {
      if (call.IsCancelled()) {
        run.cancel();  // frees the blocks at the engine's next step
        return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
      }
      for (const ChoiceDelta& delta : deltas) {
        kvserve::v1::GenerateResponse response;
        response.set_text(delta.text);
        for (const TokenLogprob& token : delta.tokens) {
          response.add_token_ids(token.token_id);
          if (options.logprobs) response.add_logprobs(token.logprob);
        }
        if (!delta.finish_reason.empty()) {
          response.set_finish_reason(delta.finish_reason);
          response.mutable_usage()->set_prompt_tokens(static_cast<uint32_t>(prompt.size()));
          response.mutable_usage()->set_completion_tokens(static_cast<uint32_t>(run.results()[0].num_output_tokens));
        }
        if (!writer.Write(response)) {
          run.cancel();
          return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
        }
      }
      deltas.clear();
    }
    return grpc::Status::OK;
  }

  ServingContext& context_;
};

GrpcServer::GrpcServer(ServingContext& context, const std::string& host, int port)
    : service_(std::make_unique<KvServeService>(context)) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  // The same bounds as HTTP's: metadata ~ headers, the message ~ the body (validated to fit an int).
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, static_cast<int>(context.limits.max_header_bytes));
  builder.SetMaxReceiveMessageSize(static_cast<int>(context.limits.max_body_bytes));
  builder.AddListeningPort(host + ":" + std::to_string(port), grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) throw Error("cannot listen for gRPC on " + host + ":" + std::to_string(port));
  server_->GetHealthCheckService()->SetServingStatus(true);
}

GrpcServer::~GrpcServer() { stop(); }

void GrpcServer::set_draining() {
  if (server_) server_->GetHealthCheckService()->SetServingStatus(false);
}

void GrpcServer::stop() {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
  server_.reset();
}

}  // namespace kvs
