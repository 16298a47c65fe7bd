// `kvserve serve` over gRPC with a real gRPC client: streaming Generate,
// Tokenize/Detokenize (valid UTF-8 text, exact bytes), model info, API key in
// metadata, a cancel mid-stream stopping the engine within a step and freeing
// the KV blocks (read from the HTTP /metrics), an engine failure ending
// INTERNAL, the drain deadline aborting generations, and the standard
// health service turning NOT_SERVING while the server drains, and the request
// limits (metadata and message size, max_tokens, stop strings, streams per
// key shared with HTTP's SSE streams).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <regex>
#include <string>
#include <thread>
#include <utility>

#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include "proto/grpc/health/v1/health.grpc.pb.h"
#include "proto/kvserve.grpc.pb.h"
#include "tests/common/test_paths.h"

extern char** environ;

namespace kvs {
namespace {

constexpr const char* kKey = "grpc-test-key";

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// The real binary with an API key (and `extra` flags), on free ports; SIGTERM
// + wait on Stop().
class ServerProcess {
 public:
  // `env`: extra environment entries ("NAME=value") for the server.
  explicit ServerProcess(const std::vector<std::string>& extra = {}, std::vector<std::string> env = {})
      : http_port_(free_port()), grpc_port_(free_port()) {
    const std::string binary = test::binary_dir() + "/kvserve";
    std::vector<std::string> args = {binary, "serve", "--model", test::default_model(), "--port",
                                     std::to_string(http_port_), "--grpc-port", std::to_string(grpc_port_),
                                     "--kv-cache-memory", "64MiB", "--api-key", kKey, "--threads", "1"};
    if (std::find(extra.begin(), extra.end(), "--drain-timeout") == extra.end()) {
      args.insert(args.end(), {"--drain-timeout", "120"});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    if (posix_spawn(&pid_, binary.c_str(), nullptr, nullptr, argv.data(), envp.data()) != 0) pid_ = -1;
    httplib::Client http("127.0.0.1", http_port_);
    for (int i = 0; i < 600 && pid_ > 0; ++i) {
      if (auto res = http.Get("/health"); res && res->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~ServerProcess() { Stop(); }
  int Stop() {
    if (pid_ <= 0) return exit_code_;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return exit_code_;
  }
  void Terminate() { kill(pid_, SIGTERM); }
  // Waits for the process to exit (after Terminate) and returns its exit code.
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return exit_code_;
  }
  std::shared_ptr<grpc::Channel> channel() const {
    return grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_), grpc::InsecureChannelCredentials());
  }
  // A channel with a connection of its own (channels otherwise share one).
  std::shared_ptr<grpc::Channel> own_channel() const {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(grpc_port_), grpc::InsecureChannelCredentials(),
                                     args);
  }
  // A sample from /metrics whose labels match the regex `labels` (-1 if missing).
  double Metric(const std::string& name, const std::string& labels = "[^}]*") const {
    httplib::Client http("127.0.0.1", http_port_);
    auto res = http.Get("/metrics");
    if (!res) return -1;
    std::smatch m;
    const std::regex line("\n" + std::regex_replace(name, std::regex(":"), ":") + "\\{" + labels + "\\} ([0-9.e+-]+)");
    return std::regex_search(res->body, m, line) ? std::stod(m[1]) : -1;
  }
  bool running() const { return pid_ > 0; }
  int http_port() const { return http_port_; }

 private:
  int http_port_, grpc_port_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

void authorize(grpc::ClientContext& context) { context.AddMetadata("authorization", std::string("Bearer ") + kKey); }

// One server process shared by a test suite, started with Flags::extra()
// (flags after the common ones); it must drain and exit 0 at the end.
template <typename Flags>
class SharedServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess(Flags::extra()); }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(), 0);
    delete server_;
    server_ = nullptr;
  }
  static inline ServerProcess* server_ = nullptr;
};

struct DefaultFlags {
  static std::vector<std::string> extra() { return {}; }
};
using GrpcServerTest = SharedServerTest<DefaultFlags>;

TEST_F(GrpcServerTest, GenerateStreamsTextWithFinishAndUsage) {
  ASSERT_TRUE(server_->running());
  auto stub = kvserve::v1::KvServe::NewStub(server_->channel());
  grpc::ClientContext context;
  authorize(context);
  kvserve::v1::GenerateRequest request;
  request.set_text("The capital of France is");
  request.set_max_tokens(6);
  request.set_logprobs(true);
  auto reader = stub->Generate(&context, request);
  kvserve::v1::GenerateResponse response;
  std::string text, finish;
  int num_tokens = 0, num_messages = 0, num_logprobs = 0;
  uint32_t completion_tokens = 0;
  while (reader->Read(&response)) {
    ++num_messages;
    text += response.text();
    num_tokens += response.token_ids_size();
    num_logprobs += response.logprobs_size();
    if (!response.finish_reason().empty()) {
      finish = response.finish_reason();
      completion_tokens = response.usage().completion_tokens();
    }
  }
  const grpc::Status status = reader->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_NE(text.find("Paris"), std::string::npos) << text;
  EXPECT_EQ(finish, "length");
  EXPECT_EQ(num_tokens, 6);
  EXPECT_EQ(num_logprobs, 6);
  EXPECT_EQ(completion_tokens, 6u);
  EXPECT_GT(num_messages, 1) << "streamed, not one message";
}

// Runs `request` to its end: the status and the number of tokens streamed.
std::pair<grpc::Status, int> generate(kvserve::v1::KvServe::Stub& stub, const kvserve::v1::GenerateRequest& request) {
  grpc::ClientContext context;
  authorize(context);
  auto reader = stub.Generate(&context, request);
  kvserve::v1::GenerateResponse response;
  int num_tokens = 0;
  while (reader->Read(&response)) num_tokens += response.token_ids_size();
  return {reader->Finish(), num_tokens};
}

TEST_F(GrpcServerTest, KvPolicyFieldsPickThePolicyAndBadOnesAreInvalid) {
  ASSERT_TRUE(server_->running());
  auto stub = kvserve::v1::KvServe::NewStub(server_->channel());
  kvserve::v1::GenerateRequest request;
  request.set_text("The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
                   "combined movable metal type, oil-based ink and a wooden screw press into one system. Within "
                   "fifty years, presses were running in more than two hundred European cities.");
  request.set_max_tokens(12);
  request.set_ignore_eos(true);
  request.set_kv_policy("streaming");
  request.set_kv_budget(16);
  auto [status, num_tokens] = generate(*stub, request);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(num_tokens, 12);
  EXPECT_GT(server_->Metric("kvserve:kv_evicted_tokens_total", "[^}]*policy=\"streaming\""), 0)
      << "(needs the engine's compression policies, issue 8)";

  const auto expect_invalid = [&](const std::string& policy, double budget, const std::string& field) {
    kvserve::v1::GenerateRequest bad = request;
    bad.set_kv_policy(policy);
    bad.set_kv_budget(budget);
    const grpc::Status s = generate(*stub, bad).first;
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << policy << " " << budget;
    EXPECT_NE(s.error_message().find(field), std::string::npos) << s.error_message();
  };
  expect_invalid("lru", 16, "kv_policy");
  expect_invalid("streaming", 1.5, "kv_budget");
  expect_invalid("h2o", 0, "kv_budget");  // no budget here nor on the server
  expect_invalid("", 16, "kv_budget");    // the server's default policy is none
  EXPECT_EQ(server_->Metric("kvserve:active_requests"), 0);
}

// Runs `request` to its end: the status, the text and the finish reason.
struct Generated {
  grpc::Status status;
  std::string text, finish;
};
Generated generate_text(kvserve::v1::KvServe::Stub& stub, const kvserve::v1::GenerateRequest& request) {
  grpc::ClientContext context;
  authorize(context);
  auto reader = stub.Generate(&context, request);
  kvserve::v1::GenerateResponse response;
  Generated out;
  while (reader->Read(&response)) {
    out.text += response.text();
    if (!response.finish_reason().empty()) out.finish = response.finish_reason();
  }
  out.status = reader->Finish();
  return out;
}

// Structured output (issue 23): the constraint oneof holds on every answer
// (sampled, several seeds), and one that cannot be compiled is
// INVALID_ARGUMENT with the compiler's message naming the field.
TEST_F(GrpcServerTest, ConstraintsHoldAndBadOnesAreInvalid) {
  ASSERT_TRUE(server_->running());
  auto stub = kvserve::v1::KvServe::NewStub(server_->channel());
  kvserve::v1::GenerateRequest base;
  base.set_text("Q: Give me a phone number.\nA:");
  base.set_max_tokens(40);
  base.mutable_sampling()->set_temperature(1.0f);
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    base.mutable_sampling()->set_seed(seed);
    kvserve::v1::GenerateRequest regex = base;
    regex.set_regex("\\(\\d{3}\\) \\d{3}-\\d{4}");
    const Generated phone = generate_text(*stub, regex);
    ASSERT_TRUE(phone.status.ok()) << phone.status.error_message();
    EXPECT_TRUE(std::regex_match(phone.text, std::regex("\\(\\d{3}\\) \\d{3}-\\d{4}"))) << phone.text;
    EXPECT_EQ(phone.finish, "stop") << phone.text;

    kvserve::v1::GenerateRequest choice = base;
    for (const char* c : {"red", "green", "blue"}) choice.mutable_choice()->add_choices(c);
    const Generated colour = generate_text(*stub, choice);
    ASSERT_TRUE(colour.status.ok()) << colour.status.error_message();
    EXPECT_TRUE(colour.text == "red" || colour.text == "green" || colour.text == "blue") << colour.text;

    kvserve::v1::GenerateRequest grammar = base;
    grammar.set_grammar("root ::= \"answer: \" (\"yes\" | \"no\")");
    const Generated yes_no = generate_text(*stub, grammar);
    ASSERT_TRUE(yes_no.status.ok()) << yes_no.status.error_message();
    EXPECT_TRUE(yes_no.text == "answer: yes" || yes_no.text == "answer: no") << yes_no.text;

    kvserve::v1::GenerateRequest schema = base;
    schema.set_max_tokens(120);
    schema.set_json_schema(R"({"type":"object","properties":{"n":{"type":"integer"},"ok":{"type":"boolean"}},)"
                           R"("required":["n","ok"],"additionalProperties":false})");
    const Generated object = generate_text(*stub, schema);
    ASSERT_TRUE(object.status.ok()) << object.status.error_message();
    EXPECT_TRUE(std::regex_match(object.text, std::regex(R"(\{\s*"n"\s*:\s*-?\d+\s*,\s*"ok"\s*:\s*(true|false)\s*\})")))
        << object.text;
  }
  const auto expect_invalid = [&](const std::function<void(kvserve::v1::GenerateRequest&)>& set,
                                  const std::string& field) {
    kvserve::v1::GenerateRequest bad = base;
    set(bad);
    const Generated g = generate_text(*stub, bad);
    EXPECT_EQ(g.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field << ": " << g.status.error_message();
    EXPECT_NE(g.status.error_message().find(field), std::string::npos) << g.status.error_message();
  };
  expect_invalid([](auto& r) { r.set_regex("(unclosed"); }, "constraint.regex");
  expect_invalid([](auto& r) { r.set_grammar("root ::= undefined-rule"); }, "constraint.grammar");
  expect_invalid([](auto& r) { r.set_json_schema("{\"type\": "); }, "constraint.json_schema");
  expect_invalid([](auto& r) { r.mutable_choice(); }, "constraint.choice");
  // Still serving.
  kvserve::v1::GenerateRequest plain = base;
  const Generated after = generate_text(*stub, plain);
  EXPECT_TRUE(after.status.ok()) << after.status.error_message();
}

TEST_F(GrpcServerTest, TokenizeDetokenizeAndModelInfo) {
  ASSERT_TRUE(server_->running());
  auto stub = kvserve::v1::KvServe::NewStub(server_->channel());
  kvserve::v1::TokenizeResponse tokens;
  {
    grpc::ClientContext context;
    authorize(context);
    kvserve::v1::TokenizeRequest request;
    request.set_text("Hello world");
    ASSERT_TRUE(stub->Tokenize(&context, request, &tokens).ok());
    EXPECT_GT(tokens.token_ids_size(), 0);
  }
  {
    grpc::ClientContext context;
    authorize(context);
    kvserve::v1::DetokenizeRequest request;
    *request.mutable_token_ids() = tokens.token_ids();
    kvserve::v1::DetokenizeResponse text;
    ASSERT_TRUE(stub->Detokenize(&context, request, &text).ok());
    EXPECT_EQ(text.text(), "Hello world");
  }
  {
    grpc::ClientContext context;
    authorize(context);
    kvserve::v1::ModelInfo info;
    ASSERT_TRUE(stub->GetModelInfo(&context, kvserve::v1::ModelInfoRequest(), &info).ok());
    EXPECT_FALSE(info.name().empty());
    EXPECT_GT(info.max_model_len(), 0);
    EXPECT_GT(info.num_kv_blocks(), 0);
  }
}

TEST_F(GrpcServerTest, MissingOrWrongKeyIsUnauthenticatedAndBadInputInvalid) {
  ASSERT_TRUE(server_->running());
  auto stub = kvserve::v1::KvServe::NewStub(server_->channel());
  kvserve::v1::ModelInfo info;
  {
    grpc::ClientContext context;
    EXPECT_EQ(stub->GetModelInfo(&context, kvserve::v1::ModelInfoRequest(), &info).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer wrong");
    EXPECT_EQ(stub->GetModelInfo(&context, kvserve::v1::ModelInfoRequest(), &info).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext context;
    authorize(context);
    kvserve::v1::GenerateRequest request;  // no prompt
    auto reader = stub->Generate(&context, request);
    kvserve::v1::GenerateResponse response;
    while (reader->Read(&response)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
}

// gRPC's own cancel notification (OnCancel) cancels the engine request at
// once: the engine stops within a step or two of the cancel (a 50 ms poll
// would let several more steps run), and the blocks are free.
TEST_F(GrpcServerTest, CancelMidStreamStopsTheEngineAndFreesTheBlocks) {
  ASSERT_TRUE(server_->running());
  auto stub = kvserve::v1::KvServe::NewStub(server_->channel());
  grpc::ClientContext context;
  authorize(context);
  kvserve::v1::GenerateRequest request;
  request.set_text("Write a very long story about a dragon.");
  request.set_max_tokens(1000);
  request.set_ignore_eos(true);
  auto reader = stub->Generate(&context, request);
  kvserve::v1::GenerateResponse response;
  ASSERT_TRUE(reader->Read(&response));
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(server_->Metric("vllm:num_requests_running"), 1);
  const double steps_at_cancel = server_->Metric("kvserve:engine_steps_total");
  context.TryCancel();
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  double used = -1, running = -1;
  for (int i = 0; i < 400; ++i) {
    used = server_->Metric("kvserve:kv_blocks_used");
    running = server_->Metric("vllm:num_requests_running");
    if (used == 0 && running == 0 && server_->Metric("kvserve:active_requests") == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(used, 0);
  EXPECT_EQ(running, 0);
  // The step running when the cancel arrived ends, and the cancel takes
  // effect at that boundary: 1 step (measured); one more allowed for the
  // time the cancel spends on the wire and one for a loaded CI machine.
  EXPECT_LE(server_->Metric("kvserve:engine_steps_total") - steps_at_cancel, 3);
  EXPECT_LT(server_->Metric("vllm:generation_tokens_total"), 1000);
}

TEST_F(GrpcServerTest, DetokenizeTextIsValidUtf8AndBytesAreExact) {
  ASSERT_TRUE(server_->running());
  auto stub = kvserve::v1::KvServe::NewStub(server_->channel());
  // "é" is two bytes; byte-level BPE may split it over tokens, so find a
  // token whose bytes are not whole UTF-8 characters by tokenizing emoji.
  kvserve::v1::TokenizeResponse tokens;
  {
    grpc::ClientContext context;
    authorize(context);
    kvserve::v1::TokenizeRequest request;
    request.set_text("\xF0\x9F\x90\x89\xF0\x9F\xA6\x84");  // two emoji, no word pieces to merge
    ASSERT_TRUE(stub->Tokenize(&context, request, &tokens).ok());
  }
  ASSERT_GT(tokens.token_ids_size(), 1);
  kvserve::v1::DetokenizeRequest request;
  request.add_token_ids(tokens.token_ids(0));  // part of the first emoji only
  grpc::ClientContext context;
  authorize(context);
  kvserve::v1::DetokenizeResponse text;
  const grpc::Status status = stub->Detokenize(&context, request, &text);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(text.text_bytes().empty());
  EXPECT_NE(text.text_bytes().substr(0, 4), "\xF0\x9F\x90\x89") << "the token is a partial character";
  EXPECT_NE(text.text().find("\xEF\xBF\xBD"), std::string::npos) << "invalid bytes become U+FFFD";
  EXPECT_EQ(text.text().size(), 3 * text.text_bytes().size()) << "one U+FFFD per bad byte";
  // The whole sequence is valid: text and bytes agree.
  kvserve::v1::DetokenizeRequest whole;
  *whole.mutable_token_ids() = tokens.token_ids();
  grpc::ClientContext whole_context;
  authorize(whole_context);
  ASSERT_TRUE(stub->Detokenize(&whole_context, whole, &text).ok());
  EXPECT_EQ(text.text(), "\xF0\x9F\x90\x89\xF0\x9F\xA6\x84");
  EXPECT_EQ(text.text_bytes(), text.text());
  // An id outside the vocabulary is the client's error.
  kvserve::v1::DetokenizeRequest bad;
  bad.add_token_ids(1 << 30);
  grpc::ClientContext bad_context;
  authorize(bad_context);
  EXPECT_EQ(stub->Detokenize(&bad_context, bad, &text).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// Still serving: model info, a whole Generate and HTTP /health.
void expect_still_serving(const ServerProcess& server) {
  auto stub = kvserve::v1::KvServe::NewStub(server.channel());
  grpc::ClientContext context;
  authorize(context);
  kvserve::v1::ModelInfo info;
  EXPECT_TRUE(stub->GetModelInfo(&context, kvserve::v1::ModelInfoRequest(), &info).ok());
  kvserve::v1::GenerateRequest request;
  request.set_text("The capital of France is");
  request.set_max_tokens(3);
  auto [status, num_tokens] = generate(*stub, request);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(num_tokens, 3);
  httplib::Client http("127.0.0.1", server.http_port());
  auto health = http.Get("/health");
  EXPECT_TRUE(health && health->status == 200);
}

// Small limits on a server of their own.
struct SmallLimitFlags {
  static std::vector<std::string> extra() {
    return {"--max-header-bytes", "2048", "--max-body-bytes", "4096", "--max-tokens-limit", "24",
            "--max-stop", "2", "--max-stop-bytes", "8"};
  }
};
using GrpcLimitsTest = SharedServerTest<SmallLimitFlags>;

// NOTE: gRPC 1.51 fails the whole HTTP/2 connection whose client sent
// metadata over the limit (every call on it gets RESOURCE_EXHAUSTED); other
// connections carry on. So the oversized calls get connections of their own.
TEST_F(GrpcLimitsTest, OversizedMetadataAndMessagesAreRefused) {
  ASSERT_TRUE(server_->running());
  // Another client's stream, running meanwhile, loses nothing.
  auto other = kvserve::v1::KvServe::NewStub(server_->own_channel());
  grpc::ClientContext other_context;
  authorize(other_context);
  kvserve::v1::GenerateRequest long_request;
  long_request.set_text("Write a story about a dragon.");
  long_request.set_max_tokens(24);
  long_request.set_ignore_eos(true);
  auto other_reader = other->Generate(&other_context, long_request);
  kvserve::v1::GenerateResponse response;
  ASSERT_TRUE(other_reader->Read(&response));
  int other_tokens = response.token_ids_size();

  kvserve::v1::ModelInfo info;
  for (int i = 0; i < 2; ++i) {
    auto stub = kvserve::v1::KvServe::NewStub(server_->own_channel());
    grpc::ClientContext context;
    authorize(context);
    context.AddMetadata("x-pad", std::string(4000, 'p'));
    const grpc::Status status = stub->GetModelInfo(&context, kvserve::v1::ModelInfoRequest(), &info);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  }
  auto stub = kvserve::v1::KvServe::NewStub(server_->own_channel());
  {
    grpc::ClientContext context;
    authorize(context);
    context.AddMetadata("x-pad", std::string(1000, 'p'));  // within the limit
    const grpc::Status status = stub->GetModelInfo(&context, kvserve::v1::ModelInfoRequest(), &info);
    EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  }
  {
    kvserve::v1::GenerateRequest request;
    request.set_text(std::string(5000, 'a'));  // over --max-body-bytes: this call only
    request.set_max_tokens(2);
    EXPECT_EQ(generate(*stub, request).first.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    request.set_text("Hello");
    EXPECT_TRUE(generate(*stub, request).first.ok()) << "the connection survives an oversized message";
  }
  while (other_reader->Read(&response)) other_tokens += response.token_ids_size();
  const grpc::Status other_status = other_reader->Finish();
  EXPECT_TRUE(other_status.ok()) << other_status.error_message();
  EXPECT_EQ(other_tokens, 24);
  expect_still_serving(*server_);
}

TEST_F(GrpcLimitsTest, MaxTokensAndStopStringsOverTheLimitAreInvalid) {
  ASSERT_TRUE(server_->running());
  auto stub = kvserve::v1::KvServe::NewStub(server_->channel());
  kvserve::v1::GenerateRequest request;
  request.set_text("Count:");
  request.set_ignore_eos(true);
  const auto expect_invalid = [&](const kvserve::v1::GenerateRequest& bad, const std::string& field) {
    const grpc::Status s = generate(*stub, bad).first;
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_NE(s.error_message().find(field), std::string::npos) << s.error_message();
  };
  kvserve::v1::GenerateRequest too_long = request;
  too_long.set_max_tokens(25);
  expect_invalid(too_long, "max_tokens");
  kvserve::v1::GenerateRequest stops = request;
  stops.set_max_tokens(2);
  for (const char* stop : {"a", "b", "c"}) stops.add_stop(stop);
  expect_invalid(stops, "stop strings");
  kvserve::v1::GenerateRequest long_stop = request;
  long_stop.set_max_tokens(2);
  long_stop.add_stop("123456789");
  expect_invalid(long_stop, "stop string");
  // No max_tokens: the cap, not the whole context.
  auto [status, num_tokens] = generate(*stub, request);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(num_tokens, 24);
  expect_still_serving(*server_);
}

// Own server: the held stream must outlast the checks (no --max-tokens-limit).
TEST(GrpcStreamsPerKeyTest, SharedWithHttpAndGivenBack) {
  ServerProcess server({"--max-streams-per-key", "1"});
  ASSERT_TRUE(server.running());
  auto stub = kvserve::v1::KvServe::NewStub(server.channel());
  kvserve::v1::GenerateRequest request;
  request.set_text("Write a very long story about a dragon.");
  request.set_ignore_eos(true);
  request.set_max_tokens(1000);
  grpc::ClientContext holder;
  authorize(holder);
  auto reader = stub->Generate(&holder, request);
  kvserve::v1::GenerateResponse response;
  ASSERT_TRUE(reader->Read(&response));  // the stream is open

  kvserve::v1::GenerateRequest small = request;
  small.set_max_tokens(2);
  EXPECT_EQ(generate(*stub, small).first.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  httplib::Client http("127.0.0.1", server.http_port());
  const httplib::Headers auth = {{"Authorization", std::string("Bearer ") + kKey}};
  auto sse = http.Post("/v1/completions", auth, R"({"prompt":"hi","max_tokens":2,"stream":true})", "application/json");
  ASSERT_TRUE(sse);
  EXPECT_EQ(sse->status, 429);
  EXPECT_EQ(sse->get_header_value("Retry-After"), "1");
  EXPECT_NE(sse->body.find("\"too_many_streams\""), std::string::npos) << sse->body;
  auto plain = http.Post("/v1/completions", auth, R"({"prompt":"hi","max_tokens":2})", "application/json");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 200) << "only streams count";

  holder.TryCancel();
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // The handler sees the cancel at its next poll and returns, freeing the slot.
  grpc::Status status;
  for (int i = 0; i < 400; ++i) {
    status = generate(*stub, small).first;
    if (status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_TRUE(status.ok()) << status.error_message();
  // A finished Generate gives its slot back before the client sees the end.
  for (int i = 0; i < 3; ++i) {
    const grpc::Status again = generate(*stub, small).first;
    EXPECT_TRUE(again.ok()) << again.error_message();
  }
  expect_still_serving(server);
  EXPECT_EQ(server.Stop(), 0);
}

// Runs last (own server): health SERVING, then NOT_SERVING while draining.
TEST(GrpcDrainTest, HealthReportsNotServingWhileDraining) {
  ServerProcess server;
  ASSERT_TRUE(server.running());
  auto health = grpc::health::v1::Health::NewStub(server.channel());
  grpc::health::v1::HealthCheckResponse status;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(health->Check(&context, grpc::health::v1::HealthCheckRequest(), &status).ok());
    EXPECT_EQ(status.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  // A long request keeps the server draining while we look.
  auto stub = kvserve::v1::KvServe::NewStub(server.channel());
  grpc::ClientContext generate_context;
  authorize(generate_context);
  kvserve::v1::GenerateRequest request;
  request.set_text("Count to one hundred:");
  request.set_max_tokens(16);
  request.set_ignore_eos(true);
  auto reader = stub->Generate(&generate_context, request);
  kvserve::v1::GenerateResponse response;
  ASSERT_TRUE(reader->Read(&response));
  server.Terminate();
  bool not_serving = false;
  for (int i = 0; i < 100 && !not_serving; ++i) {
    grpc::ClientContext context;
    if (health->Check(&context, grpc::health::v1::HealthCheckRequest(), &status).ok()) {
      not_serving = status.status() == grpc::health::v1::HealthCheckResponse::NOT_SERVING;
    }
    if (!not_serving) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(not_serving);
  int num_tokens = response.token_ids_size();
  std::string finish;
  while (reader->Read(&response)) {
    num_tokens += response.token_ids_size();
    if (!response.finish_reason().empty()) finish = response.finish_reason();
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(finish, "length") << "the in-flight request finishes";
  EXPECT_EQ(num_tokens, 16);
  EXPECT_EQ(server.Stop(), 0);
}

// KVS_FAULT_INJECT (scheduler/fault_injection.h): a prompt ending with the
// marker token gets NaN logits at its prefill. Its Generate ends INTERNAL (not
// OK), naming the request id and not the engine's text; the server keeps
// serving and frees the blocks.
constexpr int32_t kNanMarker = 49000;

TEST(GrpcEngineFailureTest, FailedGenerationEndsInternalAndTheServerKeepsServing) {
  ServerProcess server({}, {"KVS_FAULT_INJECT=nan_logits:" + std::to_string(kNanMarker)});
  ASSERT_TRUE(server.running());
  auto stub = kvserve::v1::KvServe::NewStub(server.channel());
  kvserve::v1::GenerateRequest request;
  for (int32_t id : {1, 504, 3458, kNanMarker}) request.mutable_token_ids()->add_ids(id);
  request.set_max_tokens(8);
  grpc::ClientContext context;
  authorize(context);
  auto reader = stub->Generate(&context, request);
  kvserve::v1::GenerateResponse response;
  std::string finish;
  while (reader->Read(&response)) finish += response.finish_reason();
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL) << status.error_message();
  const auto id = context.GetServerInitialMetadata().find("x-request-id");
  ASSERT_NE(id, context.GetServerInitialMetadata().end());
  const std::string request_id(id->second.data(), id->second.size());
  EXPECT_NE(status.error_message().find(request_id), std::string::npos) << status.error_message();
  EXPECT_EQ(status.error_message().find("NaN"), std::string::npos) << "no internal text: " << status.error_message();
  EXPECT_EQ(finish, "");
  expect_still_serving(server);
  double used = -1;
  for (int i = 0; i < 200 && used != 0; ++i) {
    used = server.Metric("kvserve:kv_blocks_used");
    if (used != 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(used, 0);
  EXPECT_EQ(server.Stop(), 0);
}

// --drain-timeout is a hard bound: generations still running at the deadline
// end with finish_reason "abort" in their last message (status OK), and the
// process exits 0 within the timeout + 2 s.
TEST(GrpcDrainTest, DeadlineAbortsRunningGenerationsAndExitsInTime) {
  ServerProcess server({"--drain-timeout", "2"});
  ASSERT_TRUE(server.running());
  auto stub = kvserve::v1::KvServe::NewStub(server.channel());
  kvserve::v1::GenerateRequest request;
  request.set_text("Write a very long story about a dragon.");
  request.set_max_tokens(2000);
  request.set_ignore_eos(true);
  struct Call {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<kvserve::v1::GenerateResponse>> reader;
  };
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < 2; ++i) {
    calls.push_back(std::make_unique<Call>());
    authorize(calls.back()->context);
    calls.back()->reader = stub->Generate(&calls.back()->context, request);
    kvserve::v1::GenerateResponse first;
    ASSERT_TRUE(calls.back()->reader->Read(&first));
  }
  const auto sigterm = std::chrono::steady_clock::now();
  server.Terminate();
  for (auto& call : calls) {
    kvserve::v1::GenerateResponse response;
    std::string finish;
    uint32_t completion_tokens = 0;
    while (call->reader->Read(&response)) {
      if (!response.finish_reason().empty()) {
        finish = response.finish_reason();
        completion_tokens = response.usage().completion_tokens();
      }
    }
    const grpc::Status status = call->reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
    EXPECT_EQ(finish, "abort");
    EXPECT_GT(completion_tokens, 0u);
    EXPECT_LT(completion_tokens, 2000u);
  }
  EXPECT_EQ(server.Wait(), 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - sigterm).count();
  EXPECT_GE(seconds, 1.9) << "the running generations had the drain timeout";
  EXPECT_LE(seconds, 4.0) << "exits within --drain-timeout + 2 s";
}

}  // namespace
}  // namespace kvs
