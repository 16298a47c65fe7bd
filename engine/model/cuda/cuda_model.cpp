#include "engine/model/cuda/cuda_model.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string>

#include "engine/errors.h"
#include "engine/model/bf16_weights.h"
#include "engine/model/cuda/cuda_kv_memory.h"
#include "engine/model/cuda_graph_buckets.h"
#include "engine/model/forward_batch.h"
#include "engine/model/kv_storage.h"
#include "engine/model/step_meta.h"
#include "engine/parallel/shard_plan.h"
#include "kernels/cpu/rope.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/embedding.h"
#include "kernels/cuda/fused_add_rmsnorm.h"
#include "kernels/cuda/lean_attention.h"
#include "kernels/cuda/naive_attention.h"
#include "kernels/cuda/prefill_attention.h"
#include "kernels/cuda/rope_kv_write.h"
#include "kernels/cuda/silu_mul.h"
#include "kernels/cuda/splitk_decode_attention.h"

namespace kvs::cuda {

// Device pointers of the KV-policy score side output of one step
// (kernels/naive_attention.h): per layer, the seeds differ (as on the CPU).
struct CudaModel::ScoreArgs {
  const int32_t* row_begin = nullptr;  // [num_seqs]
  const int64_t* offsets = nullptr;    // [num_seqs]
  const float* tau = nullptr;          // [num_seqs]
  const uint64_t* seeds = nullptr;     // [num_layers, num_seqs]
  int64_t* out = nullptr;              // [sum of context_lens]
  int64_t num_seqs = 0;
};

namespace {

template <typename T>
DeviceArray<T> upload(const std::vector<T>& host, cudaStream_t stream) {
  DeviceArray<T> device(host.size());
  if (!host.empty()) {
    check_cuda(cudaMemcpyAsync(device.get(), host.data(), device.bytes(), cudaMemcpyHostToDevice, stream), "upload");
    // NOTE: the host vector may be freed as soon as we return.
    check_cuda(cudaStreamSynchronize(stream), "upload");
  }
  return device;
}

std::string describe_device(int device, int* num_sms) {
  cudaDeviceProp prop{};
  check_cuda(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  *num_sms = prop.multiProcessorCount;
  char text[512];
  std::snprintf(text, sizeof text, "%.256s (sm_%d%d, %d SMs, %.1f GiB)", prop.name, prop.major, prop.minor,
                prop.multiProcessorCount, static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
  return text;
}

int64_t queue_width(const ModelConfig& c) { return (c.num_heads + 2 * c.num_kv_heads) * c.head_dim; }

}  // namespace

CudaModel::CudaModel(std::shared_ptr<const LoadedModel> model, const CudaModelOptions& options)
    : config_(model->config), options_(options) {
  config_.validate();
  if (config_.architecture != "llama" && config_.architecture != "qwen2") {
    throw InvalidArgument("the CUDA engine runs llama and qwen2 models, not " + config_.architecture);
  }
  // NOTE: Mistral folders load as llama with a window; the CUDA kernels attend globally.
  if (config_.sliding_window > 0) {
    throw InvalidArgument("the CUDA engine does not implement sliding-window attention (sliding_window " +
                          std::to_string(config_.sliding_window) + "); use --device cpu");
  }
  if (config_.rope_scaling.type == "yarn") {
    throw InvalidArgument("the CUDA engine does not implement yarn rope scaling; use --device cpu");
  }
  if (options_.max_num_seqs < 1 || options_.max_num_batched_tokens < 1 || options_.block_size < 1) {
    throw InvalidArgument("CUDA model: max_num_seqs, max_num_batched_tokens and block_size must be >= 1");
  }
  if (options_.max_model_len <= 0) options_.max_model_len = config_.max_position_embeddings;
  check_cuda(cudaSetDevice(options_.device), "cudaSetDevice");
  device_description_ = describe_device(options_.device, &num_sms_);
  check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  gemm_ = std::make_unique<CublasGemm>(stream_);
  load_weights(*model);

  // Which attention kernels this shape can use (the launchers say Unsupported otherwise).
  const int64_t d = config_.head_dim, group = config_.num_heads / config_.num_kv_heads;
  kernels::DecodeAttentionArgs shape;
  shape.kv_type = kernels::DecodeKvType::BF16;
  shape.head_dim = d;
  shape.num_heads = config_.num_heads;
  shape.num_kv_heads = config_.num_kv_heads;
  kernels::cuda::LeanLaunchInfo info;
  lean_ok_ = kernels::cuda::lean_attention_launch_info(shape, &info).ok() && options_.decode_attention != "naive" &&
             options_.decode_attention != "splitk";
  prefill_ok_ = (d == 64 || d == 128) && queue_width(config_) % 8 == 0 && options_.prefill_attention != "naive";
  if (options_.decode_attention == "lean" && !lean_ok_) {
    throw InvalidArgument("LeanAttention does not support head_dim " + std::to_string(d) + " with GQA group " +
                          std::to_string(group));
  }
  graph_table_width_ = (options_.max_model_len + options_.block_size - 1) / options_.block_size;
  if (!options_.enforce_eager) graph_sizes_ = cuda_graph_batch_sizes(options_.max_num_seqs);
  ensure_capacity(options_.max_num_batched_tokens, options_.max_num_seqs,
                  options_.max_num_seqs * graph_table_width_, options_.max_num_seqs);
  spdlog::info("cuda: {} on {}: {} of bf16 weights; attention: prefill {}, decode {}; CUDA graphs {}",
               config_.architecture, device_description_, format_bytes(weight_bytes_),
               prefill_ok_ ? "varlen tensor-core kernel" : "simple kernel",
               lean_ok_ ? "LeanAttention" : (options_.decode_attention == "splitk" ? "split-K" : "simple kernel"),
               options_.enforce_eager ? "off (--enforce-eager)"
                                      : "for " + std::to_string(graph_sizes_.size()) + " batch sizes up to " +
                                            std::to_string(graph_sizes_.empty() ? 0 : graph_sizes_.back()));
}

CudaModel::~CudaModel() {
  cudaSetDevice(options_.device);
  if (stream_ != nullptr) cudaStreamSynchronize(stream_);
  drop_graphs();
  gemm_.reset();
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

void CudaModel::load_weights(const LoadedModel& model) {
  const auto start = std::chrono::steady_clock::now();
  const ShardPlan plan = plan_shard(config_, 0, 1);
  const auto put = [&](const std::vector<uint16_t>& host) {
    weight_bytes_ += static_cast<int64_t>(host.size() * sizeof(uint16_t));
    return upload(host, stream_);
  };
  if (model.from_gguf) spdlog::info("cuda: dequantizing {} layers of {} to bf16", config_.num_layers, model.source_path);
  embedding_ = put(pack_bf16_embedding(model, plan));
  tied_ = config_.tie_word_embeddings;
  if (!tied_) lm_head_ = put(pack_bf16_lm_head(model, plan));
  final_norm_ = put(pack_bf16_vector(model.tensor("model.norm.weight")));
  int64_t next_report = config_.num_layers / 4;
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    const Bf16LayerWeights host = pack_bf16_layer(model, plan, i);
    Layer layer;
    layer.input_norm = put(host.input_norm);
    layer.post_attention_norm = put(host.post_attention_norm);
    layer.qkv = put(host.qkv);
    if (!host.qkv_bias.empty()) layer.qkv_bias = put(host.qkv_bias);
    layer.o = put(host.o);
    layer.gate_up = put(host.gate_up);
    layer.down = put(host.down);
    layers_.push_back(std::move(layer));
    if (i + 1 >= next_report && i + 1 < config_.num_layers && config_.num_layers >= 8) {
      spdlog::info("cuda: {} of {} layers on the device", i + 1, config_.num_layers);
      next_report += config_.num_layers / 4;
    }
  }
  const std::vector<float> inv_freq = kernels::rope_inverse_frequencies(
      config_.head_dim, config_.rope_theta, config_.rope_scaling.type, config_.rope_scaling.factor,
      config_.rope_scaling.low_freq_factor, config_.rope_scaling.high_freq_factor,
      config_.rope_scaling.original_max_position_embeddings);
  inv_freq_ = upload(inv_freq, stream_);
  spdlog::info("cuda: weights loaded in {:.1f} s", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

std::unique_ptr<KvMemory> CudaModel::make_kv_memory() const { return make_device_kv_memory(options_.device, stream_); }

std::string CudaModel::kv_dtype_error(kernels::KvDType dtype) const {
  if (dtype == kernels::KvDType::Q8_0 || dtype == kernels::KvDType::Q4_0) {
    return std::string("a ") + kernels::kv_dtype_name(dtype) + " KV cache runs on the CPU engine only (--device cpu)";
  }
  return dtype == kernels::KvDType::BF16 || dtype == kernels::KvDType::FP8_E4M3
             ? ""
             : "the CUDA engine keeps its KV cache in bf16 or fp8_e4m3 (--kv-cache-dtype bf16, fp8_e4m3 or auto)";
}

GpuMemoryPlan CudaModel::plan_kv_cache(double gpu_memory_utilization, int64_t requested_kv_bytes,
                                       kernels::KvDType kv_dtype) const {
  check_cuda(cudaSetDevice(options_.device), "cudaSetDevice");
  size_t free_bytes = 0, total_bytes = 0;
  check_cuda(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  GpuMemoryPlanInput input;
  input.total_bytes = static_cast<int64_t>(total_bytes);
  input.free_bytes = static_cast<int64_t>(free_bytes);
  input.weight_bytes = weight_bytes_;
  // The step buffers are allocated already (they are part of what is not
  // free); count what a step may still grow by: logits for every token of a
  // full batch in the worst case are not reserved (rare, grown on demand).
  input.activation_bytes = 0;
  input.reserve_bytes = int64_t{512} << 20;  // CUDA graphs, cuBLAS, the allocator
  input.utilization = gpu_memory_utilization;
  input.requested_kv_bytes = requested_kv_bytes;
  input.kv_bytes_per_block = KvStorage::bytes_per_block(config_, options_.block_size, kv_dtype);
  // Weights and step buffers are already out of free_bytes; the utilization
  // budget counts the weights, so add the step buffers to them.
  input.weight_bytes += static_cast<int64_t>(residual_.bytes() + normed_.bytes() + qkv_.bytes() + attn_.bytes() +
                                             proj_.bytes() + gate_up_.bytes() + act_.bytes() + logits_.bytes() +
                                             q32_.bytes() + out32_.bytes() + lean_workspace_.bytes());
  return plan_gpu_memory(input);
}

void CudaModel::ensure_capacity(int64_t num_tokens, int64_t num_seqs, int64_t table_entries, int64_t num_logits_rows) {
  const ModelConfig& c = config_;
  const int64_t H = c.hidden_size, F = c.intermediate_size, q_width = c.num_heads * c.head_dim;
  bool grew = false;
  if (num_tokens > capacity_tokens_) {
    capacity_tokens_ = std::max(num_tokens, capacity_tokens_ * 2);
    const auto T = static_cast<size_t>(capacity_tokens_);
    residual_ = DeviceArray<uint16_t>(T * H);
    normed_ = DeviceArray<uint16_t>(T * H);
    qkv_ = DeviceArray<uint16_t>(T * queue_width(c));
    attn_ = DeviceArray<uint16_t>(T * q_width);
    proj_ = DeviceArray<uint16_t>(T * H);
    gate_up_ = DeviceArray<uint16_t>(T * 2 * F);
    act_ = DeviceArray<uint16_t>(T * F);
    grew = true;
  }
  if (num_seqs > capacity_seqs_) {
    capacity_seqs_ = std::max(num_seqs, capacity_seqs_ * 2);
    const auto S = static_cast<size_t>(capacity_seqs_);
    q32_ = DeviceArray<float>(S * queue_width(c));
    out32_ = DeviceArray<float>(S * q_width);
    if (lean_ok_) {
      kernels::DecodeAttentionArgs shape;
      shape.head_dim = c.head_dim;
      shape.num_heads = c.num_heads;
      shape.num_kv_heads = c.num_kv_heads;
      // NOTE: the partial slots scale with the grid, which the kernel
      // instance's occupancy sets (an fp8 cache's instance uses half the
      // shared memory, so it may fit more CTAs): size for the larger of the
      // two cache dtypes, since the KvStorage comes later.
      size_t bytes = 0;
      for (const auto type : {kernels::DecodeKvType::BF16, kernels::DecodeKvType::FP8_E4M3}) {
        shape.kv_type = type;
        size_t type_bytes = 0;
        check_status(kernels::cuda::lean_attention_workspace_bytes(shape, capacity_seqs_, &type_bytes),
                     "LeanAttention workspace");
        bytes = std::max(bytes, type_bytes);
      }
      lean_workspace_ = DeviceArray<uint8_t>(bytes);
      check_cuda(cudaMemsetAsync(lean_workspace_.get(), 0, bytes, stream_), "LeanAttention workspace");
      lean_capacity_seqs_ = capacity_seqs_;
    }
    grew = true;
  }
  if (num_logits_rows > capacity_logits_) {
    capacity_logits_ = std::max(num_logits_rows, capacity_logits_ * 2);
    const auto R = static_cast<size_t>(capacity_logits_);
    final_residual_ = DeviceArray<uint16_t>(R * H);
    final_x_ = DeviceArray<uint16_t>(R * H);
    final_normed_ = DeviceArray<uint16_t>(R * H);
    logits_ = DeviceArray<float>(R * c.vocab_size);
    logits_host_ = PinnedArray<float>(R * c.vocab_size);
    grew = true;
  }
  const int64_t meta = StepMetaLayout(capacity_tokens_, capacity_seqs_, std::max(table_entries, capacity_table_),
                                  capacity_logits_).total;
  if (table_entries > capacity_table_ || static_cast<int64_t>(meta_.size()) < meta) {
    capacity_table_ = std::max(table_entries, capacity_table_);
    meta_ = DeviceArray<int32_t>(static_cast<size_t>(meta));
    meta_host_ = PinnedArray<int32_t>(static_cast<size_t>(meta));
    grew = true;
  }
  if (grew) drop_graphs();
}

void CudaModel::drop_graphs() {
  for (auto& [size, graph] : graphs_) {
    if (graph.exec != nullptr) cudaGraphExecDestroy(graph.exec);
  }
  graphs_.clear();
}

CudaModel::Attention CudaModel::choose_attention(const ForwardBatch& batch, bool want_scores) const {
  if (want_scores) return Attention::kNaive;
  const bool decode_only = std::all_of(batch.cu_query_lens.begin() + 1, batch.cu_query_lens.end(),
                                       [&, previous = 0](int32_t end) mutable { return end - std::exchange(previous, end) == 1; });
  if (decode_only) {
    if (lean_ok_) return Attention::kLean;
    if (options_.decode_attention == "splitk") return Attention::kSplitK;
  }
  return prefill_ok_ ? Attention::kPrefill : Attention::kNaive;
}

CudaModel::StepMeta CudaModel::meta_pointers(const StepShape& shape) const {
  const StepMetaLayout layout(shape.num_tokens, shape.num_seqs, shape.num_seqs * shape.max_blocks_per_seq,
                          shape.num_logits_rows);
  const int32_t* base = meta_.get();
  return {base + layout.token_ids,    base + layout.positions,    base + layout.slots,      base + layout.cu_query_lens,
          base + layout.context_lens, base + layout.block_tables, base + layout.logits_rows};
}


std::vector<float> CudaModel::forward(const ForwardBatch& batch, KvStorage& kv, ForwardSideOutputs* side) {
  check_forward_batch(batch, config_, kv.num_blocks());
  if (batch.num_kv_groups() != 1 || kv.layout().num_groups() != 1) {
    throw InvalidArgument("the CUDA engine runs one KV-cache group for all layers (no sliding-window block freeing)");
  }
  if (!kv.on_device() || !kv_dtype_error(kv.dtype()).empty() || kv.num_shards() != 1) {
    throw InvalidArgument(
        "the CUDA model needs a one-shard bf16 or fp8_e4m3 KV cache in device memory (CudaModel::make_kv_memory)");
  }
  if (std::any_of(batch.checkpoint_ids.begin(), batch.checkpoint_ids.end(), [](int64_t id) { return id >= 0; })) {
    throw InvalidArgument("residual checkpoints (kv_policy residual) are not available on the CUDA engine");
  }
  check_cuda(cudaSetDevice(options_.device), "cudaSetDevice");
  if (side != nullptr) *side = ForwardSideOutputs{};
  // As the CPU model: a batch with score_row_begin fills the side output.
  const bool want_scores = side != nullptr && !batch.score_row_begin.empty();
  if (batch.num_tokens() == 0) return {};
  const Attention attention = choose_attention(batch, want_scores);

  // Decode-only steps replay a CUDA graph when their batch fits a bucket.
  if (attention == Attention::kLean && !graph_sizes_.empty() && batch.max_blocks_per_seq <= graph_table_width_ &&
      kv.block_size() == options_.block_size && is_graph_decode_step(batch)) {
    const int64_t bucket = cuda_graph_bucket(graph_sizes_, batch.num_seqs());
    if (bucket > 0) return forward_graph(batch, kv, bucket);
  }

  const std::vector<int32_t> slots = slot_mapping(batch, kv.block_size());
  StepShape shape{batch.num_tokens(), batch.num_seqs(), batch.max_blocks_per_seq,
                  static_cast<int64_t>(batch.logits_rows.size()), 0};
  for (int64_t s = 0; s < shape.num_seqs; ++s) {
    shape.max_query_len = std::max<int64_t>(shape.max_query_len, batch.cu_query_lens[s + 1] - batch.cu_query_lens[s]);
  }
  ensure_capacity(shape.num_tokens, shape.num_seqs, shape.num_seqs * shape.max_blocks_per_seq, shape.num_logits_rows);
  const std::vector<int32_t> packed = pack_step_meta(batch, slots);
  std::memcpy(meta_host_.get(), packed.data(), packed.size() * sizeof(int32_t));
  const StepMeta meta = meta_pointers(shape);
  check_cuda(cudaMemcpyAsync(meta_.get(), meta_host_.get(), packed.size() * sizeof(int32_t), cudaMemcpyHostToDevice, stream_),
             "upload step metadata");

  ScoreArgs scores;
  if (want_scores) {
    // Layout of the score metadata: row_begin (int32), offsets (int64), tau
    // (float), seeds (uint64, per layer), each 8-byte aligned.
    const int64_t S = shape.num_seqs, L = config_.num_layers;
    side->score_offsets.resize(static_cast<size_t>(S));
    int64_t total = 0;
    for (int64_t s = 0; s < S; ++s) {
      side->score_offsets[s] = total;
      total += batch.context_lens[s];
    }
    std::vector<uint64_t> seeds(static_cast<size_t>(L * S));
    for (int64_t layer = 0; layer < L; ++layer) {
      for (int64_t s = 0; s < S; ++s) {
        // The CPU model's per-layer seeds (llama_model.cpp), so each layer draws its own noise.
        seeds[layer * S + s] = batch.score_seeds[s] + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(layer + 1);
      }
    }
    const size_t row_begin_bytes = static_cast<size_t>((S * 4 + 7) / 8 * 8), offsets_bytes = S * 8,
                 tau_bytes = static_cast<size_t>((S * 4 + 7) / 8 * 8), seeds_bytes = seeds.size() * 8;
    const size_t bytes = row_begin_bytes + offsets_bytes + tau_bytes + seeds_bytes;
    if (score_meta_.size() < bytes) {
      score_meta_ = DeviceArray<uint8_t>(bytes);
      score_meta_host_ = PinnedArray<uint8_t>(bytes);
    }
    uint8_t* host = score_meta_host_.get();
    std::memcpy(host, batch.score_row_begin.data(), S * 4);
    std::memcpy(host + row_begin_bytes, side->score_offsets.data(), offsets_bytes);
    std::memcpy(host + row_begin_bytes + offsets_bytes, batch.score_tau.data(), S * 4);
    std::memcpy(host + row_begin_bytes + offsets_bytes + tau_bytes, seeds.data(), seeds_bytes);
    check_cuda(cudaMemcpyAsync(score_meta_.get(), host, bytes, cudaMemcpyHostToDevice, stream_), "upload score metadata");
    if (static_cast<int64_t>(scores_.size()) < total) scores_ = DeviceArray<int64_t>(static_cast<size_t>(total));
    check_cuda(cudaMemsetAsync(scores_.get(), 0, static_cast<size_t>(total) * 8, stream_), "zero scores");
    const uint8_t* device = score_meta_.get();
    scores.row_begin = reinterpret_cast<const int32_t*>(device);
    scores.offsets = reinterpret_cast<const int64_t*>(device + row_begin_bytes);
    scores.tau = reinterpret_cast<const float*>(device + row_begin_bytes + offsets_bytes);
    scores.seeds = reinterpret_cast<const uint64_t*>(device + row_begin_bytes + offsets_bytes + tau_bytes);
    scores.out = scores_.get();
    scores.num_seqs = S;
    side->token_scores.resize(static_cast<size_t>(total));
  }

  run_step(shape, meta, kv, attention, want_scores ? &scores : nullptr);
  ++stats_.eager_steps;
  if (want_scores) {
    check_cuda(cudaMemcpyAsync(side->token_scores.data(), scores_.get(), side->token_scores.size() * 8,
                               cudaMemcpyDeviceToHost, stream_),
               "download scores");
  }
  return download_logits(shape.num_logits_rows);
}

std::vector<float> CudaModel::download_logits(int64_t num_rows) {
  const size_t count = static_cast<size_t>(num_rows * config_.vocab_size);
  check_cuda(cudaMemcpyAsync(logits_host_.get(), logits_.get(), count * sizeof(float), cudaMemcpyDeviceToHost, stream_),
             "download logits");
  check_cuda(cudaStreamSynchronize(stream_), "forward");
  return std::vector<float>(logits_host_.get(), logits_host_.get() + count);
}

// A decode-only step of n sequences padded to `bucket` rows (token 0 at
// position 0, slot -1 so nothing is written, context 1 over block 0, logits
// ignored), replayed from the bucket's graph. The first step of a bucket runs
// eagerly with the same padded layout and captures the graph for the next.
std::vector<float> CudaModel::forward_graph(const ForwardBatch& batch, KvStorage& kv, int64_t bucket) {
  const int64_t n = batch.num_seqs(), W = graph_table_width_;
  ensure_capacity(bucket, bucket, bucket * W, bucket);
  // Graphs captured the cache's pointers, size and element type: a different
  // KvStorage (or one at a reused address with another size or dtype) needs
  // new ones.
  const std::tuple<const void*, int64_t, kernels::KvDType> kv_identity{kv.layer(0).k, kv.num_blocks(), kv.dtype()};
  if (kv_identity != graph_kv_) {
    drop_graphs();
    graph_kv_ = kv_identity;
  }
  const std::vector<int32_t> slots = slot_mapping(batch, kv.block_size());
  const std::vector<int32_t> packed = pack_padded_decode_meta(batch, slots, bucket, W);
  std::copy(packed.begin(), packed.end(), meta_host_.get());
  check_cuda(cudaMemcpyAsync(meta_.get(), meta_host_.get(), packed.size() * sizeof(int32_t), cudaMemcpyHostToDevice,
                             stream_),
             "upload step metadata");
  const StepShape shape{bucket, bucket, W, bucket, 1};
  const StepMeta meta = meta_pointers(shape);
  auto found = graphs_.find(bucket);
  if (found != graphs_.end() && found->second.exec != nullptr) {
    check_cuda(cudaGraphLaunch(found->second.exec, stream_), "cudaGraphLaunch");
    ++stats_.graph_replays;
    ++stats_.lean_steps;
  } else {
    run_step(shape, meta, kv, Attention::kLean, nullptr);
    ++stats_.eager_steps;
    if (found == graphs_.end()) {
      // Capture for the next step of this bucket; a failure leaves the bucket eager.
      Graph graph;
      cudaGraph_t captured = nullptr;
      check_cuda(cudaStreamSynchronize(stream_), "forward");
      cudaError_t error = cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal);
      if (error == cudaSuccess) {
        try {
          const CudaModelStats saved = stats_;
          run_step(shape, meta, kv, Attention::kLean, nullptr);
          stats_ = saved;
        } catch (const std::exception& e) {
          spdlog::warn("cuda: capturing the batch-{} decode graph failed ({}); that bucket runs eagerly", bucket, e.what());
        }
        error = cudaStreamEndCapture(stream_, &captured);
      }
      if (error == cudaSuccess && captured != nullptr) error = cudaGraphInstantiate(&graph.exec, captured, 0);
      if (captured != nullptr) cudaGraphDestroy(captured);
      if (error != cudaSuccess) {
        cudaGetLastError();
        graph.exec = nullptr;
        spdlog::warn("cuda: no CUDA graph for decode batch {} ({}); it runs eagerly", bucket, cudaGetErrorString(error));
      } else {
        ++stats_.graphs_captured;
      }
      graphs_[bucket] = graph;
    }
  }
  std::vector<float> logits = download_logits(n);
  return logits;
}

void CudaModel::run_step(const StepShape& shape, const StepMeta& meta, KvStorage& kv, Attention attention,
                         const ScoreArgs* scores) {
  const ModelConfig& c = config_;
  const int64_t T = shape.num_tokens, H = c.hidden_size, F = c.intermediate_size;
  const int64_t q_width = c.num_heads * c.head_dim, kv_width = c.num_kv_heads * c.head_dim, qkv_width = queue_width(c);
  const float eps = c.rms_norm_eps;
  check_status(kernels::cuda::embedding_lookup(embedding_.get(), c.vocab_size, H, meta.token_ids, T, residual_.get(),
                                               kernels::cuda::EmbeddingOutType::BF16, stream_),
               "embedding");
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const Layer& layer = layers_[static_cast<size_t>(i)];
    check_status(kernels::cuda::fused_add_rmsnorm(residual_.get(), i == 0 ? nullptr : proj_.get(), layer.input_norm.get(),
                                                  normed_.get(), T, H, eps, stream_),
                 "input norm");
    gemm_->linear(normed_.get(), H, T, H, layer.qkv.get(), qkv_width, qkv_.get());
    if (layer.qkv_bias.size() > 0) {
      check_status(kernels::cuda::add_bias_bf16(qkv_.get(), qkv_width, layer.qkv_bias.get(), T, qkv_width, stream_),
                   "QKV bias");
    }
    const kernels::PagedKvLayer cache = kv.layer(i);
    kernels::RopeKvWriteArgs rope;
    rope.num_tokens = T;
    rope.q = qkv_.get();
    rope.q_row_stride = qkv_width;
    rope.num_heads = c.num_heads;
    rope.k = qkv_.get() + q_width;
    rope.k_row_stride = qkv_width;
    rope.v = qkv_.get() + q_width + kv_width;
    rope.v_row_stride = qkv_width;
    rope.k_cache = cache.k;
    rope.v_cache = cache.v;
    rope.kv_dtype = cache.dtype;
    rope.num_blocks = cache.num_blocks;
    rope.block_size = cache.block_size;
    rope.num_kv_heads = c.num_kv_heads;
    rope.head_dim = c.head_dim;
    rope.positions = meta.positions;
    rope.slot_mapping = meta.slots;
    rope.inv_freq = inv_freq_.get();
    check_status(kernels::cuda::rope_kv_write(rope, stream_), "RoPE + KV write");
    this->attention(i, shape, meta, kv, attention, scores);
    gemm_->linear(attn_.get(), q_width, T, q_width, layer.o.get(), H, proj_.get());
    check_status(kernels::cuda::fused_add_rmsnorm(residual_.get(), proj_.get(), layer.post_attention_norm.get(),
                                                  normed_.get(), T, H, eps, stream_),
                 "post-attention norm");
    gemm_->linear(normed_.get(), H, T, H, layer.gate_up.get(), 2 * F, gate_up_.get());
    check_status(kernels::cuda::silu_mul(gate_up_.get(), 2 * F, gate_up_.get() + F, 2 * F, act_.get(), F, T, F, stream_),
                 "SiLU");
    gemm_->linear(act_.get(), F, T, F, layer.down.get(), H, proj_.get());
  }
  // Final norm and LM head on the logits rows only.
  const int64_t R = shape.num_logits_rows;
  check_status(kernels::cuda::gather_rows_bf16(residual_.get(), H, meta.logits_rows, R, H, final_residual_.get(), H, stream_),
               "gather rows");
  check_status(kernels::cuda::gather_rows_bf16(proj_.get(), H, meta.logits_rows, R, H, final_x_.get(), H, stream_),
               "gather rows");
  check_status(kernels::cuda::fused_add_rmsnorm(final_residual_.get(), final_x_.get(), final_norm_.get(),
                                                final_normed_.get(), R, H, eps, stream_),
               "final norm");
  gemm_->linear(final_normed_.get(), H, R, H, tied_ ? embedding_.get() : lm_head_.get(), c.vocab_size, logits_.get(),
                /*y_f32=*/true);
  switch (attention) {
    case Attention::kLean: ++stats_.lean_steps; break;
    case Attention::kSplitK: ++stats_.splitk_steps; break;
    case Attention::kPrefill: ++stats_.prefill_kernel_steps; break;
    case Attention::kNaive: ++stats_.naive_steps; break;
  }
}

void CudaModel::attention(int64_t layer, const StepShape& shape, const StepMeta& meta, KvStorage& kv,
                          Attention attention, const ScoreArgs* scores) {
  const ModelConfig& c = config_;
  const int64_t T = shape.num_tokens, q_width = c.num_heads * c.head_dim, qkv_width = queue_width(c);
  const kernels::PagedKvLayer cache = kv.layer(layer);
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  if (attention == Attention::kLean || attention == Attention::kSplitK) {
    // Decode kernels take fp32 q and out: widen the q rows, narrow the output.
    check_status(kernels::cuda::bf16_to_f32(qkv_.get(), T * qkv_width, q32_.get(), stream_), "q to fp32");
    kernels::DecodeAttentionArgs args;
    args.q = q32_.get();
    args.q_row_stride = qkv_width;
    args.out = out32_.get();
    args.k_cache = cache.k;
    args.v_cache = cache.v;
    args.kv_type = cache.dtype == kernels::KvDType::FP8_E4M3 ? kernels::DecodeKvType::FP8_E4M3
                                                             : kernels::DecodeKvType::BF16;
    args.num_blocks = cache.num_blocks;
    args.block_size = cache.block_size;
    args.num_kv_heads = c.num_kv_heads;
    args.head_dim = c.head_dim;
    args.num_heads = c.num_heads;
    args.num_seqs = shape.num_seqs;
    args.context_lens = meta.context_lens;
    args.block_tables = meta.block_tables;
    args.max_blocks_per_seq = shape.max_blocks_per_seq;
    args.scale = scale;
    if (attention == Attention::kLean) {
      kernels::cuda::LeanWorkspace workspace;
      workspace.data = lean_workspace_.get();
      workspace.bytes = lean_workspace_.bytes();
      workspace.max_num_seqs = lean_capacity_seqs_;
      check_status(kernels::cuda::lean_attention_decode(args, workspace, stream_), "LeanAttention");
    } else {
      // Split-K: splits sized for the step's longest context (eager only).
      const int64_t max_context = shape.max_blocks_per_seq * cache.block_size;
      const int splits = kernels::cuda::splitk_default_num_splits(args, max_context, num_sms_, 2);
      size_t bytes = 0;
      check_status(kernels::cuda::splitk_decode_attention_workspace_bytes(args, shape.num_seqs, splits, &bytes),
                   "split-K workspace");
      if (splitk_workspace_.bytes() < bytes) splitk_workspace_ = DeviceArray<uint8_t>(bytes);
      check_status(kernels::cuda::splitk_decode_attention(args, splits, splitk_workspace_.get(), splitk_workspace_.bytes(),
                                                          stream_),
                   "split-K decode attention");
    }
    check_status(kernels::cuda::f32_to_bf16(out32_.get(), shape.num_seqs * q_width, attn_.get(), stream_),
                 "attention to bf16");
    return;
  }
  kernels::PrefillAttentionArgs args;
  args.q = qkv_.get();
  args.q_row_stride = qkv_width;
  args.out = attn_.get();
  args.out_row_stride = q_width;
  args.k_cache = cache.k;
  args.v_cache = cache.v;
  args.kv_dtype = cache.dtype;
  args.num_blocks = cache.num_blocks;
  args.block_size = cache.block_size;
  args.num_kv_heads = c.num_kv_heads;
  args.head_dim = c.head_dim;
  args.num_heads = c.num_heads;
  args.num_seqs = shape.num_seqs;
  args.cu_query_lens = meta.cu_query_lens;
  args.context_lens = meta.context_lens;
  args.block_tables = meta.block_tables;
  args.max_blocks_per_seq = shape.max_blocks_per_seq;
  args.max_query_len = shape.max_query_len;
  args.scale = scale;
  if (attention == Attention::kPrefill) {
    check_status(kernels::cuda::prefill_attention(args, stream_), "prefill attention");
    return;
  }
  kernels::NaiveAttentionArgs naive;
  naive.attention = args;
  naive.num_query_tokens = T;
  if (scores != nullptr) {
    naive.score_row_begin = scores->row_begin;
    naive.score_offsets = scores->offsets;
    naive.score_tau = scores->tau;
    naive.score_seeds = scores->seeds + layer * scores->num_seqs;
    naive.scores = scores->out;
  }
  check_status(kernels::cuda::naive_attention(naive, stream_), "attention");
}

}  // namespace kvs::cuda
