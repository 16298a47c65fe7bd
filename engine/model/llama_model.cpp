#include "engine/model/llama_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include "engine/errors.h"
#include "engine/loader/gguf_rope_freqs.h"
#include "engine/loader/rope_permutation.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/cpu_threads.h"
#include "kernels/cpu/hadamard.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"

namespace kvs {
namespace {

std::string layer_name(int64_t index, const std::string& suffix) {
  return "model.layers." + std::to_string(index) + "." + suffix;
}

// Whether to follow llama.cpp's RoPE arithmetic (see ModelOptions::Numerics).
bool llamacpp_numerics(const LoadedModel& model, const ModelOptions& options) {
  switch (options.numerics) {
    case ModelOptions::Numerics::kLlamaCpp: return true;
    case ModelOptions::Numerics::kHuggingFace: return false;
    case ModelOptions::Numerics::kAuto: return model.from_gguf && !options.dequantize_weights;
  }
  return false;
}

bool use_llamacpp_rope(const LoadedModel& model, const ModelOptions& options) {
  return model.config.architecture == "llama" && llamacpp_numerics(model, options);
}

// NOTE: Qwen2 keeps HF angles in every mode (its references are HF's).
bool use_llamacpp_neox_rope(const LoadedModel& model, const ModelOptions& options) {
  const std::string& arch = model.config.architecture;
  return (arch == "gemma3" || arch == "qwen3" || arch == "phi3") && llamacpp_numerics(model, options);
}

// Puts the Q and K rows of a fused [q; k; v] weight into llama.cpp's
// interleaved RoPE order (rope_permutation.h). Llama has no QKV bias
// (ModelConfig::validate), so there is none to reorder. The row order is
// found by permuting row indices, then taken with select_rows (rows of any
// format, segments included).
void interleave_qk_rows(LinearWeight& qkv, const ModelConfig& c) {
  const int64_t q_rows = c.num_heads * c.head_dim, k_rows = c.num_kv_heads * c.head_dim;
  std::vector<int64_t> identity(static_cast<size_t>(qkv.num_out)), order(identity.size());
  for (size_t r = 0; r < identity.size(); ++r) identity[r] = static_cast<int64_t>(r);
  order = identity;
  const auto bytes = [](std::vector<int64_t>& v, int64_t row) { return reinterpret_cast<uint8_t*>(v.data() + row); };
  interleave_rope_rows(bytes(identity, 0), bytes(order, 0), q_rows, sizeof(int64_t), c.num_heads);
  interleave_rope_rows(bytes(identity, q_rows), bytes(order, q_rows), k_rows, sizeof(int64_t), c.num_kv_heads);
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (const int64_t row : order) ranges.emplace_back(row, row + 1);
  qkv = qkv.select_rows(ranges);
}

// This rank's rows of a fused [q; k; v] weight (or bias, with row = 1 per
// element): its query heads, then its KV heads of k and of v.
std::vector<std::pair<int64_t, int64_t>> qkv_rows(const ModelConfig& c, const ShardPlan& plan) {
  const int64_t d = c.head_dim, k_offset = c.num_heads * d, v_offset = k_offset + c.num_kv_heads * d;
  return {{plan.heads.begin * d, plan.heads.end * d},
          {k_offset + plan.kv_heads.begin * d, k_offset + plan.kv_heads.end * d},
          {v_offset + plan.kv_heads.begin * d, v_offset + plan.kv_heads.end * d}};
}

}  // namespace

LlamaModel::LlamaModel(std::shared_ptr<const LoadedModel> model, const ModelOptions& options,
                       Communicator* communicator)
    : model_(std::move(model)), communicator_(communicator) {
  num_threads_ = kernels::resolve_cpu_threads(options.num_threads);
  scratch_.num_threads = num_threads_;
  kernels::request_blas_threads(num_threads_);
  const ModelConfig& c = model_->config;
  c.validate();
  shard_ = communicator_ == nullptr ? plan_shard(c, 0, 1) : plan_shard(c, communicator_->rank(), communicator_->size());
  const bool dequantize = options.dequantize_weights;
  llamacpp_rope_ = use_llamacpp_rope(*model_, options);
  llamacpp_neox_rope_ = use_llamacpp_neox_rope(*model_, options);
  const bool sharded = shard_.num_ranks > 1;
  const std::vector<std::pair<int64_t, int64_t>> vocab_rows = {{shard_.vocab.begin, shard_.vocab.end}};
  const LinearWeight embedding = LinearWeight::from_tensors({&model_->tensor("model.embed_tokens.weight")}, dequantize);
  embedding_ = sharded ? embedding.select_rows(vocab_rows) : embedding;
  if (c.tie_word_embeddings) {
    lm_head_ = embedding_;
  } else {
    const LinearWeight head = LinearWeight::from_tensors({&model_->tensor("lm_head.weight")}, dequantize);
    lm_head_ = sharded ? head.select_rows(vocab_rows) : head;
  }
  final_norm_ = tensor_to_floats(model_->tensor("model.norm.weight"));
  load_layers(options);
  init_rope();
}

void LlamaModel::init_rope() {
  const ModelConfig& c = model_->config;
  const RopeScaling& scaling = c.rope_scaling;
  if (scaling.type == "yarn") {
    inv_freq_ = kernels::rope_yarn_inverse_frequencies(c.head_dim, c.rope_theta, scaling.factor,
                                                       scaling.original_max_position_embeddings, scaling.beta_fast,
                                                       scaling.beta_slow);
    // transformers: attention_factor, else get_mscale(factor) = 0.1 ln(factor) + 1 (in doubles)
    rope_attention_scale_ = scaling.attention_factor > 0.0f ? scaling.attention_factor
                            : scaling.factor <= 1.0f       ? 1.0f
                                : static_cast<float>(0.1 * std::log(static_cast<double>(scaling.factor)) + 1.0);
  } else {
    inv_freq_ = kernels::rope_inverse_frequencies(c.head_dim, c.rope_theta, scaling.type, scaling.factor,
                                                  scaling.low_freq_factor, scaling.high_freq_factor,
                                                  scaling.original_max_position_embeddings);
  }
  if (c.rope_local_theta > 0.0f) {
    local_inv_freq_ = kernels::rope_inverse_frequencies(c.head_dim, c.rope_local_theta, "none", 1.0f, 1.0f, 4.0f, 0);
  }
  // llama.cpp's form of the same scaling: a frequency scale for "linear" and
  // "yarn", the converter's per-dimension divisors (rope_freqs.weight) for
  // "llama3"; for "yarn" also ext_factor 1, its correction dims and
  // attention factor as llama_context computes them.
  kernels::RopeLlamaCppParams& rope = llamacpp_rope_params_;
  if (scaling.type == "linear" || scaling.type == "yarn") rope.freq_scale = 1.0f / scaling.factor;
  if (scaling.type == "llama3") {
    for (double d : llama3_rope_divisors(scaling, c.rope_theta, c.head_dim)) {
      rope_freq_factors_.push_back(static_cast<float>(d));
    }
  }
  if (scaling.type == "yarn") {
    const float factor = 1.0f / rope.freq_scale;
    const float mscale = scaling.attention_factor > 0.0f ? scaling.attention_factor
                         : factor <= 1.0f               ? 1.0f
                                                        : 0.1f * 1.0f * std::log(factor) + 1.0f;
    rope.ext_factor = 1.0f;
    rope.attn_factor = mscale * (1.0f / (1.0f + 0.1f * std::log(factor)));
    kernels::rope_yarn_corr_dims_llamacpp(c.head_dim, scaling.original_max_position_embeddings, c.rope_theta,
                                          scaling.beta_fast, scaling.beta_slow, rope.corr_dims);
  }
}

// Every layer's weights; with a communicator, this rank's slices of them:
// QKV and gate/up by rows (column-parallel), o_proj and down_proj by columns
// (row-parallel).
void LlamaModel::load_layers(const ModelOptions& options) {
  const ModelConfig& c = model_->config;
  const bool dequantize = options.dequantize_weights;
  const bool sharded = shard_.num_ranks > 1;
  const int64_t d = c.head_dim, F = c.intermediate_size;
  for (int64_t i = 0; i < c.num_layers; ++i) {
    Layer layer;
    layer.input_norm = tensor_to_floats(model_->tensor(layer_name(i, "input_layernorm.weight")));
    if (c.sandwich_norms) {
      layer.attn_out_norm = tensor_to_floats(model_->tensor(layer_name(i, "post_attention_layernorm.weight")));
      layer.mlp_norm = tensor_to_floats(model_->tensor(layer_name(i, "pre_feedforward_layernorm.weight")));
      layer.mlp_out_norm = tensor_to_floats(model_->tensor(layer_name(i, "post_feedforward_layernorm.weight")));
    } else {
      layer.mlp_norm = tensor_to_floats(model_->tensor(layer_name(i, "post_attention_layernorm.weight")));
    }
    if (c.qk_norm) {
      layer.q_norm = tensor_to_floats(model_->tensor(layer_name(i, "self_attn.q_norm.weight")));
      layer.k_norm = tensor_to_floats(model_->tensor(layer_name(i, "self_attn.k_norm.weight")));
    }
    layer.qkv = LinearWeight::from_tensors({&model_->tensor(layer_name(i, "self_attn.q_proj.weight")),
                                            &model_->tensor(layer_name(i, "self_attn.k_proj.weight")),
                                            &model_->tensor(layer_name(i, "self_attn.v_proj.weight"))},
                                           dequantize);
    if (llamacpp_rope_) interleave_qk_rows(layer.qkv, c);
    layer.o = LinearWeight::from_tensors({&model_->tensor(layer_name(i, "self_attn.o_proj.weight"))}, dequantize);
    layer.gate_up = LinearWeight::from_tensors({&model_->tensor(layer_name(i, "mlp.gate_proj.weight")),
                                                &model_->tensor(layer_name(i, "mlp.up_proj.weight"))},
                                               dequantize);
    layer.down = LinearWeight::from_tensors({&model_->tensor(layer_name(i, "mlp.down_proj.weight"))}, dequantize);
    if (c.attention_bias) {
      for (const char* name : {"self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias"}) {
        const std::vector<float> bias = tensor_to_floats(model_->tensor(layer_name(i, name)));
        layer.qkv_bias.insert(layer.qkv_bias.end(), bias.begin(), bias.end());
      }
    }
    if (sharded) {
      const auto rows = qkv_rows(c, shard_);
      layer.qkv = layer.qkv.select_rows(rows);
      if (!layer.qkv_bias.empty()) {
        std::vector<float> bias;
        for (const auto& [begin, end] : rows) bias.insert(bias.end(), layer.qkv_bias.begin() + begin, layer.qkv_bias.begin() + end);
        layer.qkv_bias = std::move(bias);
      }
      layer.o = layer.o.select_columns(shard_.heads.begin * d, shard_.heads.end * d);
      layer.gate_up = layer.gate_up.select_rows({{shard_.intermediate.begin, shard_.intermediate.end},
                                                 {F + shard_.intermediate.begin, F + shard_.intermediate.end}});
      layer.down = layer.down.select_columns(shard_.intermediate.begin, shard_.intermediate.end);
    }
    layers_.push_back(std::move(layer));
  }
}

void LlamaModel::check_batch(const ForwardBatch& batch, const KvStorage& kv) const {
  check_forward_batch(batch, config(), kv.num_blocks());
  if (batch.num_kv_groups() != kv.layout().num_groups()) {
    throw InvalidArgument("the batch names " + std::to_string(batch.num_kv_groups()) + " KV-cache groups; the cache has " +
                          std::to_string(kv.layout().num_groups()));
  }
  if (kv.layout().num_groups() > 1 && !batch.checkpoint_ids.empty()) {
    throw InvalidArgument("residual checkpoints need a one-group KV cache");
  }
  if (kv.num_shards() != shard_.num_ranks) {
    throw InvalidArgument("the KV cache has " + std::to_string(kv.num_shards()) + " shards; the model runs on " +
                          std::to_string(shard_.num_ranks) + " tensor-parallel ranks");
  }
}

std::vector<float> LlamaModel::forward(const ForwardBatch& batch, KvStorage& kv, ForwardSideOutputs* side) {
  std::vector<float> logits;
  forward_into(batch, kv, logits, side);
  return logits;
}

void LlamaModel::forward_into(const ForwardBatch& batch, KvStorage& kv, std::vector<float>& logits,
                              ForwardSideOutputs* side) {
  check_batch(batch, kv);
  const ModelConfig& c = config();
  const int64_t T = batch.num_tokens();
  const int64_t H = c.hidden_size;
  std::vector<std::vector<int32_t>> slots;  // [group][token]
  for (int64_t g = 0; g < batch.num_kv_groups(); ++g) slots.push_back(slot_mapping(batch, kv.block_size(), g));
  if (side != nullptr) {
    *side = ForwardSideOutputs{};
    if (!batch.score_row_begin.empty()) {
      side->score_offsets.resize(static_cast<size_t>(batch.num_seqs()));
      int64_t total = 0;
      for (int64_t s = 0; s < batch.num_seqs(); ++s) {
        side->score_offsets[s] = total;
        total += batch.context_lens[s];
      }
      side->token_scores.assign(static_cast<size_t>(total), 0);
    }
  }
  hidden_.resize(static_cast<size_t>(T * H));
  normed_.resize(static_cast<size_t>(T * H));
  embed(batch);

  for_each_token(T, [&](int64_t t) {
    kernels::rmsnorm(hidden_.data() + t * H, layers_[0].input_norm.data(), normed_.data() + t * H, 1, H,
                     c.rms_norm_eps);
  });
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const Layer& layer = layers_[static_cast<size_t>(i)];
    if (!batch.checkpoint_ids.empty() && shard_.rank == 0) save_checkpoints(i, batch);
    attention_block(layer, i, batch, kv, slots, side);
    add_residual(layer.attn_out_norm, layer.mlp_norm.data(), T);
    mlp_block(layer, T);
    const bool last = i + 1 == c.num_layers;
    add_residual(layer.mlp_out_norm, last ? nullptr : layers_[static_cast<size_t>(i + 1)].input_norm.data(), T);
  }

  const int64_t num_rows = static_cast<int64_t>(batch.logits_rows.size());
  std::vector<float> rows(static_cast<size_t>(num_rows * H));
  for (int64_t r = 0; r < num_rows; ++r) {
    kernels::rmsnorm(hidden_.data() + batch.logits_rows[r] * H, final_norm_.data(), rows.data() + r * H, 1, H,
                     c.rms_norm_eps);
  }
  compute_logits(rows, num_rows, logits);
}

template <class Body>
void LlamaModel::for_each_token(int64_t num_tokens, Body body) const {
  // NOTE: below this many tokens (decode of a few streams) a parallel region
  // costs more than the per-token work it would split.
  constexpr int64_t kMinParallelTokens = 8;
  if (num_threads_ <= 1 || num_tokens < kMinParallelTokens) {
    for (int64_t t = 0; t < num_tokens; ++t) body(t);
    return;
  }
#pragma omp parallel for num_threads(num_threads_) schedule(static)
  for (int64_t t = 0; t < num_tokens; ++t) body(t);
}

void LlamaModel::add_residual(const std::vector<float>& out_norm, const float* next_norm, int64_t num_tokens) {
  const ModelConfig& c = config();
  const int64_t H = c.hidden_size;
  for_each_token(num_tokens, [&](int64_t t) {
    float* delta = projected_.data() + t * H;
    float* stream = hidden_.data() + t * H;
    if (!out_norm.empty()) kernels::rmsnorm(delta, out_norm.data(), delta, 1, H, c.rms_norm_eps);
    kernels::add_inplace(stream, delta, H);
    if (next_norm != nullptr) kernels::rmsnorm(stream, next_norm, normed_.data() + t * H, 1, H, c.rms_norm_eps);
  });
}

void LlamaModel::all_reduce(std::vector<float>& data, int64_t count) {
  if (communicator_ != nullptr) communicator_->all_reduce_sum(data.data(), count);
}

// Vocab-parallel lookup: a rank writes the rows it holds and zeros elsewhere;
// the all-reduce adds exact zeros, so every rank gets the unsharded rows.
void LlamaModel::embed(const ForwardBatch& batch) {
  const int64_t H = config().hidden_size;
  for (int64_t t = 0; t < batch.num_tokens(); ++t) {
    const int32_t id = batch.token_ids[t];
    float* row = hidden_.data() + t * H;
    if (id >= shard_.vocab.begin && id < shard_.vocab.end) {
      embedding_.row_to_float(id - shard_.vocab.begin, row);
    } else {
      std::fill(row, row + H, 0.0f);
    }
  }
  all_reduce(hidden_, batch.num_tokens() * H);
  if (config().scale_embeddings) {  // Gemma: as llama.cpp's ggml_scale by sqrtf(n_embd)
    const float scale = std::sqrt(static_cast<float>(H));
    for (int64_t i = 0; i < batch.num_tokens() * H; ++i) hidden_[i] *= scale;
  }
}

// Vocab-parallel LM head: each rank's logits for its vocabulary chunk
// (padded to vocab_chunk columns), all-gathered and put back in vocabulary
// order. Without a communicator: the plain product.
void LlamaModel::compute_logits(const std::vector<float>& rows, int64_t num_rows, std::vector<float>& logits) {
  const int64_t V = config().vocab_size;
  logits.resize(static_cast<size_t>(num_rows * V));
  if (communicator_ == nullptr) {
    if (num_rows > 0) lm_head_.apply(rows.data(), num_rows, logits.data(), scratch_);
    return;
  }
  const int64_t chunk = shard_.vocab_chunk, local = shard_.vocab.size();
  std::vector<float> mine(static_cast<size_t>(num_rows * chunk), 0.0f), local_logits(static_cast<size_t>(num_rows * local));
  if (num_rows > 0 && local > 0) lm_head_.apply(rows.data(), num_rows, local_logits.data(), scratch_);
  for (int64_t r = 0; r < num_rows; ++r) {
    std::copy(local_logits.begin() + r * local, local_logits.begin() + (r + 1) * local, mine.begin() + r * chunk);
  }
  const int n = shard_.num_ranks;
  std::vector<float> gathered(static_cast<size_t>(n * num_rows * chunk));
  communicator_->all_gather(mine.data(), num_rows * chunk, gathered.data());
  for (int rank = 0; rank < n; ++rank) {
    const int64_t begin = std::min<int64_t>(rank * chunk, V), count = std::min<int64_t>(chunk, V - begin);
    for (int64_t r = 0; r < num_rows && count > 0; ++r) {
      const float* src = gathered.data() + (static_cast<int64_t>(rank) * num_rows + r) * chunk;
      std::copy(src, src + count, logits.begin() + r * V + begin);
    }
  }
}

bool LlamaModel::rotates_kv(kernels::KvDType dtype) const {
  // NOTE: q4_0 only: on the default model the rotation took q4_0's perplexity
  // cost from +15.6% to +12.1% and q8_0's from +0.36% to +0.50%
  // (bench/RESULTS.md), so q8_0 stores K/V as they are.
  return dtype == kernels::KvDType::Q4_0 && kernels::hadamard_rotates(config().head_dim);
}

void LlamaModel::attention_block(const Layer& layer, int64_t index, const ForwardBatch& batch, KvStorage& kv,
                                 const std::vector<std::vector<int32_t>>& slots, ForwardSideOutputs* side) {
  const ModelConfig& c = config();
  const int64_t T = batch.num_tokens();
  const int64_t num_heads = shard_.heads.size(), num_kv_heads = shard_.kv_heads.size();
  const int64_t q_width = num_heads * c.head_dim;
  const int64_t kv_width = num_kv_heads * c.head_dim;
  const int64_t row = layer.qkv.num_out;
  qkv_.resize(static_cast<size_t>(T * row));
  layer.qkv.apply(normed_.data(), T, qkv_.data(), scratch_);
  float* q = qkv_.data();
  float* k = qkv_.data() + q_width;
  float* v = qkv_.data() + q_width + kv_width;
  float attention_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  // llama.cpp scales Gemma's queries after RoPE and attends with scale 1
  // (query_pre_attn_scalar = head_dim for the sizes kvserve loads).
  const bool scale_queries = c.architecture == "gemma3";
  // Per token: bias, per-head RMSNorm before RoPE (Gemma 3), RoPE, scale.
  for_each_token(T, [&](int64_t t) {
    float* qkv_t = qkv_.data() + t * row;
    if (!layer.qkv_bias.empty()) kernels::add_inplace(qkv_t, layer.qkv_bias.data(), row);
    if (!layer.q_norm.empty()) {
      kernels::rmsnorm(q + t * row, layer.q_norm.data(), q + t * row, num_heads, c.head_dim, c.rms_norm_eps);
      kernels::rmsnorm(k + t * row, layer.k_norm.data(), k + t * row, num_kv_heads, c.head_dim, c.rms_norm_eps);
    }
    apply_rope(index, q + t * row, row, batch.positions.data() + t, 1, num_heads);
    apply_rope(index, k + t * row, row, batch.positions.data() + t, 1, num_kv_heads);
    if (scale_queries) {
      for (int64_t i = 0; i < q_width; ++i) q[t * row + i] *= attention_scale;
    }
  });
  if (scale_queries) attention_scale = 1.0f;
  kernels::PagedKvLayer cache = kv.layer(index, shard_.rank);
  // A quantized cache holds K and V rotated per head (kernels/cpu/hadamard.h):
  // queries turn with them, and the output turns back below.
  const bool rotate = rotates_kv(cache.dtype);
  if (rotate) {
    kernels::hadamard_rotate_heads(q, row, T, num_heads, c.head_dim);
    kernels::hadamard_rotate_heads(k, row, T, num_kv_heads, c.head_dim);
    kernels::hadamard_rotate_heads(v, row, T, num_kv_heads, c.head_dim);
  }
  const int64_t group = kv.layer_group(index);
  kernels::Status status = kernels::write_kv(cache, k, row, v, row, slots[static_cast<size_t>(group)].data(), T);
  if (!status.ok()) throw Error(status.message);
  if (!batch.checkpoint_ids.empty()) recompute_overlay(index, batch, kv, cache, side);
  kernels::AttentionScores scores;
  const bool want_scores = side != nullptr && !batch.score_row_begin.empty();
  if (want_scores) {
    scores.row_begin = batch.score_row_begin.data();
    scores.offsets = side->score_offsets.data();
    scores.out = side->token_scores.data();
    // Seeds differ per layer so each layer draws its own noise.
    layer_seeds_.resize(batch.score_seeds.size());
    for (size_t s = 0; s < layer_seeds_.size(); ++s) layer_seeds_[s] = batch.score_seeds[s] + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(index + 1);
    scores.seeds = layer_seeds_.data();
    scores.tau = batch.score_tau.data();
  }

  kernels::VarlenBatch varlen;
  varlen.num_seqs = batch.num_seqs();
  varlen.cu_query_lens = batch.cu_query_lens.data();
  varlen.context_lens = batch.context_lens.data();
  varlen.block_tables = batch.tables_of_group(group).data();
  varlen.max_blocks_per_seq = batch.max_blocks_per_seq;
  varlen.sliding_window = c.is_window_layer(index) ? c.sliding_window : 0;
  varlen.single_order = batch.single_token_order.empty() ? nullptr : batch.single_token_order.data();
  attention_.resize(static_cast<size_t>(T * q_width));
  status = kernels::attention_varlen_paged(q, row, attention_.data(), cache, varlen, num_heads, attention_scale,
                                           want_scores ? &scores : nullptr, num_threads_);
  if (!status.ok()) throw Error(status.message);
  if (rotate) kernels::hadamard_rotate_heads(attention_.data(), q_width, T, num_heads, c.head_dim);
  projected_.resize(static_cast<size_t>(T * c.hidden_size));
  layer.o.apply(attention_.data(), T, projected_.data(), scratch_);
  all_reduce(projected_, T * c.hidden_size);
}

void LlamaModel::mlp_block(const Layer& layer, int64_t num_tokens) {
  const int64_t F = shard_.intermediate.size();
  gate_up_.resize(static_cast<size_t>(num_tokens * 2 * F));
  layer.gate_up.apply(normed_.data(), num_tokens, gate_up_.data(), scratch_);
  // Rows are [gate (F), up (F)]; the activation goes to its own rows of F,
  // as down_proj reads them.
  activated_.resize(static_cast<size_t>(num_tokens * F));
  const bool gelu = config().hidden_act == "gelu_tanh";
  for_each_token(num_tokens, [&](int64_t t) {
    const float* gate = gate_up_.data() + t * 2 * F;
    float* out = activated_.data() + t * F;
    if (gelu) {
      kernels::gelu_tanh_mul(gate, gate + F, out, F);
    } else {
      kernels::silu_mul(gate, gate + F, out, F);
    }
  });
  projected_.resize(static_cast<size_t>(num_tokens * config().hidden_size));
  layer.down.apply(activated_.data(), num_tokens, projected_.data(), scratch_);
  all_reduce(projected_, num_tokens * config().hidden_size);
}

void LlamaModel::apply_rope(int64_t layer, float* x, int64_t row_stride, const int32_t* positions,
                            int64_t num_tokens, int64_t num_heads) const {
  const ModelConfig& c = config();
  if (llamacpp_neox_rope_ || llamacpp_rope_) {
    kernels::RopeLlamaCppParams rope = llamacpp_rope_params_;
    rope.base = c.layer_rope_theta(layer);
    rope.freq_factors = rope_freq_factors_.empty() ? nullptr : rope_freq_factors_.data();
    if (llamacpp_neox_rope_) {
      kernels::rope_neox_llamacpp(x, row_stride, positions, num_tokens, num_heads, c.head_dim, rope);
    } else {
      kernels::rope_interleaved_llamacpp(x, row_stride, positions, num_tokens, num_heads, c.head_dim, rope);
    }
  } else {
    const bool local = !local_inv_freq_.empty() && c.is_window_layer(layer);
    kernels::rope_rotate_half(x, row_stride, positions, num_tokens, num_heads, c.head_dim,
                              local ? local_inv_freq_.data() : inv_freq_.data(), rope_attention_scale_);
  }
}

void LlamaModel::save_checkpoints(int64_t index, const ForwardBatch& batch) {
  const int64_t H = config().hidden_size;
  for (int64_t s = 0; s < batch.num_seqs(); ++s) {
    const int64_t id = batch.checkpoint_ids[s];
    if (id < 0) continue;
    for (int64_t t = batch.cu_query_lens[s]; t < batch.cu_query_lens[s + 1]; ++t) {
      batch.checkpoints->write_row(static_cast<uint64_t>(id), index, batch.positions[t], normed_.data() + t * H);
    }
  }
}

const LinearWeight& LlamaModel::kv_weight(int64_t index) {
  if (kv_weights_.empty()) kv_weights_.resize(layers_.size());
  LinearWeight& weight = kv_weights_[static_cast<size_t>(index)];
  if (weight.num_out == 0) {
    const LinearWeight& qkv = layers_[static_cast<size_t>(index)].qkv;
    const int64_t q_width = shard_.heads.size() * config().head_dim;
    weight = qkv.select_rows({{q_width, qkv.num_out}});
  }
  return weight;
}

// NOTE: recomputed K/V equal the originals bit for bit: the same normalised
// row goes through the same per-(row, token) dot products (quantized
// weights; F32 weights rely on BLAS giving each element independently of the
// matrix shape), the same bias, RoPE at the same position, the same rounding
// to the cache dtype.
void LlamaModel::recompute_overlay(int64_t index, const ForwardBatch& batch, const KvStorage& kv,
                                   kernels::PagedKvLayer& cache, ForwardSideOutputs* side) {
  const auto start = std::chrono::steady_clock::now();
  const ModelConfig& c = config();
  const int64_t H = c.hidden_size, bs = kv.block_size();
  const int64_t kv_width = shard_.kv_heads.size() * c.head_dim;
  recompute_positions_.clear();
  recompute_slots_.clear();
  int64_t num_overlay = 0;
  recompute_in_.clear();
  for (int64_t s = 0; s < batch.num_seqs(); ++s) {
    if (batch.checkpoint_ids[s] < 0) continue;
    const auto id = static_cast<uint64_t>(batch.checkpoint_ids[s]);
    for (int64_t b = 0; b < batch.max_blocks_per_seq; ++b) {
      const int64_t overlay_block = batch.block_tables[s * batch.max_blocks_per_seq + b] - kv.num_blocks();
      if (overlay_block < 0) continue;
      num_overlay = std::max(num_overlay, overlay_block + 1);
      for (int64_t o = 0; o < bs; ++o) {
        const int64_t position = b * bs + o;
        recompute_positions_.push_back(static_cast<int32_t>(position));
        recompute_slots_.push_back(static_cast<int32_t>(overlay_block * bs + o));
        recompute_in_.resize(recompute_in_.size() + static_cast<size_t>(H));
        batch.checkpoints->read_row(id, index, position, recompute_in_.data() + recompute_in_.size() - H);
      }
    }
  }
  const int64_t R = static_cast<int64_t>(recompute_positions_.size());
  if (R == 0) return;
  const LinearWeight& weight = kv_weight(index);
  recompute_out_.resize(static_cast<size_t>(R * weight.num_out));
  weight.apply(recompute_in_.data(), R, recompute_out_.data(), scratch_);
  const Layer& layer = layers_[static_cast<size_t>(index)];
  if (!layer.qkv_bias.empty()) {
    const float* bias = layer.qkv_bias.data() + (layer.qkv_bias.size() - static_cast<size_t>(weight.num_out));
    for (int64_t t = 0; t < R; ++t) kernels::add_inplace(recompute_out_.data() + t * weight.num_out, bias, weight.num_out);
  }
  float* k = recompute_out_.data();
  apply_rope(index, k, weight.num_out, recompute_positions_.data(), R, shard_.kv_heads.size());
  if (rotates_kv(cache.dtype)) {  // K and V, as attention_block stores them
    kernels::hadamard_rotate_heads(k, weight.num_out, R, 2 * static_cast<int64_t>(shard_.kv_heads.size()), c.head_dim);
  }
  // NOTE: whole cache rows of the cache's dtype (quantized: blocks), so the
  // overlay holds the same bytes write_kv stored for these slots.
  const size_t bytes = static_cast<size_t>(num_overlay * bs * kernels::kv_row_bytes(cache.dtype, kv_width));
  if (overlay_k_.size() < bytes) {
    overlay_k_.resize(bytes);
    overlay_v_.resize(bytes);
  }
  kernels::PagedKvLayer overlay{overlay_k_.data(), overlay_v_.data(), cache.dtype, num_overlay, bs,
                                cache.num_kv_heads, cache.head_dim};
  const kernels::Status status =
      kernels::write_kv(overlay, k, weight.num_out, k + kv_width, weight.num_out, recompute_slots_.data(), R);
  if (!status.ok()) throw Error(status.message);
  cache.overlay_k = overlay_k_.data();
  cache.overlay_v = overlay_v_.data();
  cache.num_overlay_blocks = num_overlay;
  if (side != nullptr) {
    if (index == 0) side->num_recomputed_rows += R;
    side->recompute_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
}

}  // namespace kvs
