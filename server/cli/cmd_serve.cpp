// `kvserve serve`: loads the model, starts the engine and the HTTP front end,
// and drains gracefully on SIGTERM / SIGINT.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <thread>

#include <semaphore.h>
#include <spdlog/spdlog.h>

#include "engine/errors.h"
#include "engine/grammar/tokenizer_vocabulary.h"
#include "engine/loader/model_fingerprint.h"
#include "scheduler/engine_client.h"
#include "scheduler/fault_injection.h"
#include "server/cli/commands.h"
#include "server/cli/model_bundle.h"
#include "server/grpc/grpc_server.h"
#include "server/http/http_server.h"
#include "server/logging/log_setup.h"
#include "server/metrics/server_metrics.h"

namespace kvs {
namespace {

// --kv-offload-*: the prefix cache's host and disk tiers. The disk tier's
// entries are keyed by a SHA-256 of the model's files (read once, here).
PrefixTierConfig serve_tier_config(const ServeConfig& config, const std::string& model_path) {
  PrefixTierConfig tiers;
  if (!config.kv_offload_memory.empty() && config.kv_offload_memory != "0") {
    tiers.host_bytes = parse_byte_size(config.kv_offload_memory);
  }
  if (!config.kv_offload_dir.empty()) {
    tiers.disk_dir = config.kv_offload_dir;
    tiers.disk_bytes = parse_byte_size(config.kv_offload_disk_bytes);
    const auto start = std::chrono::steady_clock::now();
    tiers.model_fingerprint = model_fingerprint(model_path);
    spdlog::info("kvserve: model fingerprint {} ({:.2f} s)", tiers.model_fingerprint.substr(0, 16),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  tiers.warn = [](const std::string& message) { spdlog::warn("kv offload: {}", message); };
  return tiers;
}

EngineConfig serve_engine_config(const ServeConfig& config, const ModelBundle& bundle, const std::string& model_path) {
  EngineConfig engine;
  engine.tiers = serve_tier_config(config, model_path);
  const int64_t requested = config.kv_cache_memory.empty() ? 0 : parse_byte_size(config.kv_cache_memory);
  engine.cache.dtype = kv_cache_dtype_from_flag(config.kv_cache_dtype, *bundle.model);
  if (bundle.device.device == Device::kCuda) {
    const GpuMemoryPlan plan = bundle.plan_gpu_kv_cache(config.gpu_memory_utilization, requested, engine.cache.dtype);
    spdlog::info("cuda: {}", plan.explanation);
    engine.cache.memory_bytes = plan.kv_bytes;
  } else {
    engine.cache.memory_bytes = requested > 0 ? requested : int64_t{512} << 20;
  }
  engine.scheduler.max_num_seqs = config.max_num_seqs;
  engine.scheduler.max_num_batched_tokens = config.max_num_batched_tokens;
  engine.kv_policy = kv_policy_from_flags(config.kv_policy, config.kv_budget);
  engine.residual_checkpoint_dtype =
      config.residual_checkpoint_dtype == "f16" ? ResidualCheckpoints::DType::F16 : ResidualCheckpoints::DType::F32;
  engine.scheduler.max_model_len = config.max_model_len;  // 0 = the model's; above it the engine refuses
  engine.scheduler.speculative_ngram = config.speculative_ngram;
  return engine;
}

// NOTE: a handler rather than sigwait: libraries (OpenBLAS) start threads
// before main, so the signals cannot be blocked in every thread.
sem_t g_shutdown;
volatile std::sig_atomic_t g_signal_number = 0;

extern "C" void on_shutdown_signal(int signal_number) {
  g_signal_number = signal_number;
  sem_post(&g_shutdown);  // async-signal-safe
}

void install_shutdown_handlers() {
  sem_init(&g_shutdown, 0, 0);
  struct sigaction action {};
  action.sa_handler = on_shutdown_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

// Waits while requests are in flight, up to `deadline`; true when none is left.
bool wait_for_no_requests(const ServingContext& context, std::chrono::steady_clock::time_point deadline,
                          const std::function<void()>& each_round = {}) {
  while (context.num_active.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    if (each_round) each_round();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return context.num_active.load() == 0;
}

// Waits for SIGTERM/SIGINT, then drains: readiness false, new requests 503,
// in-flight ones finish up to drain_timeout. At that deadline the engine
// aborts what is left: every remaining generation ends with finish_reason
// "abort" (HTTP: a final chunk, or a 200; gRPC: the final message), which the
// handlers get to send within kAbortGrace; then the HTTP server stops. The
// process exits within drain_timeout + 2 s.
void drain_on_signal(ServingContext& context, HttpServer& http, GrpcServer* grpc, double drain_timeout) {
  constexpr auto kAbortGrace = std::chrono::milliseconds(1000);
  while (sem_wait(&g_shutdown) != 0) {
  }
  spdlog::info("received signal {}: draining ({} requests in flight)", static_cast<int>(g_signal_number),
               context.num_active.load());
  context.draining.store(true);
  if (grpc != nullptr) grpc->set_draining();
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(drain_timeout));
  if (!wait_for_no_requests(context, deadline)) {
    spdlog::warn("drain timeout: aborting {} requests still in flight", context.num_active.load());
    // NOTE: again each round: a request admitted just before the drain began
    // may reach the engine after the first abort.
    wait_for_no_requests(context, std::chrono::steady_clock::now() + kAbortGrace,
                         [&context] { context.engine.abort_all(); });
    if (context.num_active.load() > 0) {
      spdlog::warn("drain: {} requests did not end after the abort", context.num_active.load());
    }
  }
  http.stop();
}

}  // namespace

int run_serve(const ServeCommand& command) {
  ServeConfig config = command.config;
  config.validate();
  configure_logging(config.log_format, config.log_level);
  const std::vector<std::string> keys = resolve_api_keys(config);
  install_shutdown_handlers();
  std::signal(SIGPIPE, SIG_IGN);

  const std::string model_path = config.model.empty() ? default_model_path() : config.model;
  ModelOptions options;
  options.num_threads = config.threads;
  options.dequantize_weights = config.f32_weights;
  DeviceOptions device;
  device.device = config.device;
  device.enforce_eager = config.enforce_eager;
  device.max_num_seqs = config.max_num_seqs;
  device.max_num_batched_tokens = config.max_num_batched_tokens;
  device.max_model_len = config.max_model_len;
  ModelBundle bundle = load_bundle(model_path, options, /*with_model=*/true, config.tensor_parallel_size, device);
  if (config.tensor_parallel_size > 1) {
    spdlog::info("kvserve: tensor parallel over {} CPU ranks (each rank: its heads, MLP columns, vocabulary rows "
                 "and KV shard)", config.tensor_parallel_size);
  }
  // Test-only (scheduler/fault_injection.h): read once, here; off when unset.
  const char* fault_spec = std::getenv("KVS_FAULT_INJECT");
  const FaultPlan fault_plan = parse_fault_plan(fault_spec != nullptr ? fault_spec : "");
  std::unique_ptr<FaultInjectingModel> faulty;
  if (fault_plan.enabled()) {
    spdlog::warn("KVS_FAULT_INJECT={}: fault injection is on (tests only)", fault_spec);
    faulty = std::make_unique<FaultInjectingModel>(*bundle.model, fault_plan);
  }
  EngineClient engine(faulty ? static_cast<ForwardModel&>(*faulty) : *bundle.model, serve_engine_config(config, bundle, model_path));
  const std::string model_name =
      config.served_model_name.empty() ? model_name_from_path(model_path) : config.served_model_name;
  ServerMetrics metrics(model_name);
  ServingContext context{bundle, engine, metrics, ApiKeys(keys), model_name, std::nullopt, ""};
  try {
    context.chat = bundle.chat_template(config.chat_template);
  } catch (const InvalidArgument& e) {
    if (!config.chat_template.empty()) throw;  // an explicit --chat-template must be valid
    context.chat_error = e.what();
    spdlog::warn("chat completions are off: {}", e.what());
  }
  {
    const auto start = std::chrono::steady_clock::now();
    context.grammars = std::make_shared<GrammarCompiler>(grammar::token_vocabulary_of(*bundle.tokenizer));
    spdlog::debug("grammar vocabulary: {} tokens in {:.3f} s", bundle.tokenizer->vocab_size(),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  context.max_active_sequences = config.max_num_seqs + config.max_queue;
  context.limits = config.limits;
  context.max_tokens_capacity =
      std::min(engine.config().scheduler.max_model_len, engine.max_cached_tokens());

  HttpServer http(context, config);
  http.bind(config.host, config.port);
  std::unique_ptr<GrpcServer> grpc;
  if (config.grpc_port > 0) grpc = std::make_unique<GrpcServer>(context, config.host, config.grpc_port);
  std::thread drainer(drain_on_signal, std::ref(context), std::ref(http), grpc.get(), config.drain_timeout);
  spdlog::info("kvserve: serving {} on http://{}:{}, gRPC port {} ({} KV blocks of {} tokens, context {}{})", model_name,
               config.host, config.port, grpc ? grpc->port() : 0, engine.num_kv_blocks(), engine.config().cache.block_size, context.max_tokens_capacity,
               keys.empty() ? "" : ", API keys required");
  const EngineMetrics start_metrics = engine.metrics();
  spdlog::info("kvserve: KV cache {}: {} bytes per token, {} blocks of {} tokens ({:.1f} MiB)",
               start_metrics.kv_cache_dtype, start_metrics.kv_cache_bytes_per_token, start_metrics.kv_blocks_total,
               start_metrics.kv_block_size,
               static_cast<double>(start_metrics.kv_cache_bytes_per_token) * static_cast<double>(start_metrics.kv_blocks_total) *
                   static_cast<double>(start_metrics.kv_block_size) * static_cast<double>(start_metrics.kv_layers_per_block) /
                   static_cast<double>(bundle.model->config().num_layers) / (1024.0 * 1024.0));
  const int64_t layers_per_block = start_metrics.kv_layers_per_block;
  if (layers_per_block < bundle.model->config().num_layers) {
    spdlog::info("kvserve: sliding-window layers keep only their window: a KV block holds {} of {} layers",
                 layers_per_block, bundle.model->config().num_layers);
  }
  const PrefixTierConfig& tiers = engine.config().tiers;
  if (tiers.host_bytes > 0) spdlog::info("kvserve: prefix-cache host tier of {} bytes", tiers.host_bytes);
  if (!tiers.disk_dir.empty()) {
    spdlog::info("kvserve: prefix-cache disk tier in {} (at most {} bytes)", tiers.disk_dir, tiers.disk_bytes);
  }
  const KvPolicySpec& kv_policy = engine.config().kv_policy;
  if (kv_policy.compresses() || kv_policy.budget > 0) {
    spdlog::info("kvserve: default KV policy {}, budget {}", kv_policy_name(kv_policy.kind), kv_policy.budget);
  }
  std::promise<void> http_done;
  std::future<void> http_stopped = http_done.get_future();
  std::thread http_thread([&] {
    http.run();
    if (!context.draining.load()) sem_post(&g_shutdown);  // stopped without a signal: let the drainer end
    http_done.set_value();
  });
  drainer.join();
  if (grpc) grpc->stop();
  // NOTE: cpp-httplib's stop() returns at once, but its run() then joins the
  // connection threads, and an idle keep-alive connection holds one for up
  // to its keep-alive timeout (5 s) with no way to close it early. Every
  // request has ended by now, so past a short wait the process exits without
  // waiting for them: the drain's bound holds.
  if (http_stopped.wait_for(std::chrono::milliseconds(300)) != std::future_status::ready) {
    spdlog::info("kvserve: stopped (closing idle HTTP connections)");
    spdlog::shutdown();  // flushes the log
    std::_Exit(0);
  }
  http_thread.join();
  spdlog::info("kvserve: stopped");
  return 0;
}

}  // namespace kvs
