#include "server/grpc/grpc_server.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include "engine/errors.h"
#include "engine/tokenizer/utf8.h"
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

std::string new_request_id() {
  static std::atomic<uint64_t> counter{0};
  return "grpc-" + std::to_string(counter.fetch_add(1) + 1);
}

// Maps what a handler throws to a status. ApiError and InvalidArgument are
// the client's doing and say why; anything else is the server's: its text
// goes to the log, the client gets INTERNAL naming `request_id`.
template <typename Body>
grpc::Status guarded(const std::string& request_id, Body&& body) {
  try {
    return body();
  } catch (const ApiError& e) {
    return grpc::Status(code_for_status(e.status()), e.what());
  } catch (const InvalidArgument& e) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, e.what());
  } catch (const std::exception& e) {
    spdlog::error("{}: grpc: internal error: {}", request_id, e.what());
    return grpc::Status(grpc::StatusCode::INTERNAL, internal_error(request_id).what());
  }
}

}  // namespace

class GenerateReactor;

// Tokenize, Detokenize and GetModelInfo run on gRPC's sync threads; Generate
// uses the callback API (GenerateReactor) so that a client's cancel arrives as
// gRPC's OnCancel notification and cancels the engine request at once.
class KvServeService final : public kvserve::v1::KvServe::WithCallbackMethod_Generate<kvserve::v1::KvServe::Service> {
 public:
  explicit KvServeService(ServingContext& context) : context_(context) {}

  grpc::ServerWriteReactor<kvserve::v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* call, const kvserve::v1::GenerateRequest* request) override;

  grpc::Status Tokenize(grpc::ServerContext* call, const kvserve::v1::TokenizeRequest* request,
                        kvserve::v1::TokenizeResponse* response) override {
    return guarded(new_request_id(), [&] {
      authenticate(*call);
      for (int32_t id : context_.bundle.tokenizer->encode(request->text(), request->add_special(), request->parse_special())) {
        response->add_token_ids(id);
      }
      return grpc::Status::OK;
    });
  }

  // `text` is always valid UTF-8 (proto3 strings must be): an invalid byte
  // sequence (a token that is part of a character) becomes U+FFFD, as in
  // OpenAI's and vLLM's text; `text_bytes` holds the exact bytes.
  grpc::Status Detokenize(grpc::ServerContext* call, const kvserve::v1::DetokenizeRequest* request,
                          kvserve::v1::DetokenizeResponse* response) override {
    return guarded(new_request_id(), [&] {
      authenticate(*call);
      const std::vector<int32_t> ids(request->token_ids().begin(), request->token_ids().end());
      const int64_t vocab = context_.bundle.tokenizer->vocab_size();
      for (int32_t id : ids) {
        if (id < 0 || id >= vocab) throw ApiError(400, "token id " + std::to_string(id) + " is outside the vocabulary");
      }
      std::string bytes = context_.bundle.tokenizer->decode(ids, request->skip_special());
      response->set_text(utf8::repair(bytes));
      response->set_text_bytes(std::move(bytes));
      return grpc::Status::OK;
    });
  }

  grpc::Status GetModelInfo(grpc::ServerContext* call, const kvserve::v1::ModelInfoRequest*,
                            kvserve::v1::ModelInfo* info) override {
    return guarded(new_request_id(), [&] {
      authenticate(*call);
      info->set_name(context_.model_name);
      info->set_max_model_len(context_.max_tokens_capacity);
      info->set_vocab_size(context_.bundle.tokenizer->vocab_size());
      info->set_num_kv_blocks(context_.engine.num_kv_blocks());
      info->set_kv_block_size(context_.engine.config().cache.block_size);
      return grpc::Status::OK;
    });
  }

  // The call's API key (x-api-key, else authorization: Bearer) as an index,
  // or nullopt. The key itself is never logged nor echoed.
  std::optional<size_t> find_key(const grpc::ServerContextBase& call) const {
    const std::string key = metadata(call, "x-api-key");
    return !key.empty() ? context_.keys.find(key) : context_.keys.find_authorization(metadata(call, "authorization"));
  }

  void authenticate(const grpc::ServerContextBase& call) const {
    if (!context_.keys.enabled() || find_key(call)) return;
    throw ApiError(401, "invalid or missing API key (metadata 'authorization: Bearer KEY')");
  }

  ServingContext& context() { return context_; }

  // Generate threads: started by a reactor, counted until their last step, so
  // that stop() can wait for every one before the engine goes away.
  void thread_started() {
    std::lock_guard<std::mutex> lock(threads_mutex_);
    ++num_threads_;
  }
  void thread_ended() {
    std::lock_guard<std::mutex> lock(threads_mutex_);
    if (--num_threads_ == 0) threads_done_.notify_all();
  }
  void wait_for_threads() {
    std::unique_lock<std::mutex> lock(threads_mutex_);
    threads_done_.wait(lock, [&] { return num_threads_ == 0; });
  }

 private:
  static std::string metadata(const grpc::ServerContextBase& call, const char* key) {
    const auto& md = call.client_metadata();
    const auto it = md.find(key);
    return it == md.end() ? "" : std::string(it->second.data(), it->second.size());
  }

  ServingContext& context_;
  std::mutex threads_mutex_;
  std::condition_variable threads_done_;
  int64_t num_threads_ = 0;
};

// One Generate call. The checks that need no waiting (key, admission, limits,
// the key's stream slot) run in the constructor, on gRPC's thread; the
// generation runs on a thread of its own, which writes each message and waits
// for its OnWriteDone, and calls Finish last. OnCancel (the client cancelled,
// its deadline passed, or the server shuts down) cancels the engine requests
// at once: they end at the engine's next step, which wakes the thread.
//
// Lifetime: gRPC deletes nothing; OnDone deletes the reactor. The thread
// touches the reactor only before its Finish(), and OnDone runs after it.
class GenerateReactor final : public grpc::ServerWriteReactor<kvserve::v1::GenerateResponse> {
 public:
  GenerateReactor(KvServeService& service, grpc::CallbackServerContext& call, const kvserve::v1::GenerateRequest& request)
      : service_(service), context_(service.context()), request_(request), id_(new_request_id()) {
    call.AddInitialMetadata("x-request-id", id_);
    grpc::Status status = guarded(id_, [&] {
      service_.authenticate(call);
      admission_ = std::make_unique<AdmissionSlot>(context_);
      options_ = grpc_generation_options(request_);
      check_request_limits(context_.limits, options_);
      // Held until the call ends: finished, failed or cancelled.
      stream_ = std::make_unique<StreamSlot>(context_.streams, service_.find_key(call).value_or(0),
                                             context_.limits.max_streams_per_key);
      return grpc::Status::OK;
    });
    if (!status.ok()) {
      stream_.reset();
      admission_.reset();
      finish(std::move(status));
      return;
    }
    service_.thread_started();
    std::thread([this] { run(); }).detach();
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      write_pending_ = false;
      write_ok_ = ok;
    }
    written_.notify_all();
  }

  void OnCancel() override {
    std::vector<uint64_t> ids;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cancelled_ = true;
      ids = request_ids_;
    }
    for (uint64_t id : ids) context_.engine.cancel(id);  // ends them at the next step
    written_.notify_all();
  }

  void OnDone() override { delete this; }

 private:
  void run() {
    KvServeService& service = service_;
    grpc::Status status = guarded(id_, [&] { return generate(); });
    // Slots go back before the client sees the end.
    stream_.reset();
    admission_.reset();
    finish(std::move(status));  // the last use of `this`
    service.thread_ended();
  }

  void finish(grpc::Status status) {
    if (!status.ok()) spdlog::debug("{}: grpc Generate ends: {} {}", id_, status.error_code(), status.error_message());
    Finish(std::move(status));
  }

  bool cancelled() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cancelled_;
  }

  // Writes one message; false when the client is gone.
  bool write(const kvserve::v1::GenerateResponse& response) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (cancelled_) return false;
    response_ = response;
    write_pending_ = true;
    lock.unlock();
    StartWrite(&response_);
    lock.lock();
    written_.wait(lock, [&] { return !write_pending_; });  // OnWriteDone comes even when cancelled
    return write_ok_ && !cancelled_;
  }

  grpc::Status generate() {
    std::vector<int32_t> prompt =
        request_.has_token_ids() ? grpc_prompt_token_ids(request_) : context_.bundle.encode_prompt(request_.text());
    if (prompt.empty()) throw ApiError(400, "the prompt is empty");
    std::vector<ChoiceSpec> choices;
    add_choices(context_, options_, prompt, choices, request_grammar(context_, options_));
    for (ChoiceSpec& choice : choices) {
      choice.want_logprobs = true;  // token ids are always sent
      choice.request.num_logprobs = options_.logprobs ? 0 : -1;
    }
    GenerationRun run(context_.engine, *context_.bundle.tokenizer, context_.metrics, std::move(choices));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      request_ids_ = run.request_ids();
      if (cancelled_) run.cancel();  // OnCancel came before the ids were known
    }
    std::vector<ChoiceDelta> deltas;
    // NOTE: the timeout is no cancellation poll (OnCancel ends the requests,
    // and their final events wake this); it only bounds one wait.
    while (run.poll(deltas, 1.0)) {
      if (cancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
      for (const ChoiceDelta& delta : deltas) {
        if (delta.finish_reason == "error") {
          for (const ChoiceResult& r : run.results()) {
            if (r.finish_reason == "error") spdlog::error("{}: generation failed: {}", id_, r.error);
          }
          return grpc::Status(grpc::StatusCode::INTERNAL, internal_error(id_).what());
        }
        kvserve::v1::GenerateResponse response;
        response.set_text(utf8::repair(delta.text));  // proto3 strings must be valid UTF-8
        for (const TokenLogprob& token : delta.tokens) {
          response.add_token_ids(token.token_id);
          if (options_.logprobs) response.add_logprobs(token.logprob);
        }
        if (!delta.finish_reason.empty()) {
          response.set_finish_reason(delta.finish_reason);
          response.mutable_usage()->set_prompt_tokens(static_cast<uint32_t>(prompt.size()));
          response.mutable_usage()->set_completion_tokens(static_cast<uint32_t>(run.results()[0].num_output_tokens));
        }
        if (!write(response)) {
          run.cancel();
          return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
        }
      }
      deltas.clear();
    }
    if (cancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
    return grpc::Status::OK;
  }

  KvServeService& service_;
  ServingContext& context_;
  const kvserve::v1::GenerateRequest request_;  // a copy: gRPC's may go once Generate() returns
  const std::string id_;
  GenerationOptions options_;
  std::unique_ptr<AdmissionSlot> admission_;
  std::unique_ptr<StreamSlot> stream_;

  std::mutex mutex_;
  std::condition_variable written_;
  std::vector<uint64_t> request_ids_;  // the engine requests, once submitted
  bool cancelled_ = false;
  bool write_pending_ = false;
  bool write_ok_ = true;
  kvserve::v1::GenerateResponse response_;  // the message being written
};

grpc::ServerWriteReactor<kvserve::v1::GenerateResponse>* KvServeService::Generate(
    grpc::CallbackServerContext* call, const kvserve::v1::GenerateRequest* request) {
  return new GenerateReactor(*this, *call, *request);
}

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
  // Calls still open after the deadline are cancelled (their OnCancel ends
  // the engine requests); the drain has normally ended them already.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  server_->Wait();
  service_->wait_for_threads();  // the last Generate threads return from Finish()
  server_.reset();
}

}  // namespace kvs
