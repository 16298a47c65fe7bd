// The CUDA engine against the CPU engine (label gpu; every test skips
// without a CUDA device): teacher-forced top-1 agreement and greedy
// continuations on the default model, the Hugging Face fixture models,
// the attention kernels against each other at the model level, CUDA graphs
// against eager steps, and the engine loop (batch invariance, preemption,
// prefix caching, KV policies) on CUDA.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>

#include <nlohmann/json.hpp>

#include "engine/chat/chat_template.h"
#include "engine/errors.h"
#include "engine/loader/loaded_model.h"
#include "engine/model/cuda/cuda_model.h"
#include "engine/model/llama_model.h"
#include "engine/tokenizer/tokenizer.h"
#include "scheduler/engine_client.h"
#include "tests/common/test_paths.h"
#include "tests/gpu/engine/engine_test_util.h"

namespace kvs {
namespace {

using test::StepTop;

// A divergence between the engines counts as a near-tie when the CPU ranks
// the CUDA engine's choice within this many logits of its own best. Chosen
// before measuring: bf16 weights and activations against llama.cpp's Q8
// activations move logits by a few hundredths to tenths.
constexpr float kNearTieGap = 0.5f;

std::string default_model_path() {
  const std::string path = test::default_model();
  return !path.empty() && std::filesystem::exists(path) ? path : "";
}

#define KVS_SKIP_WITHOUT_DEFAULT_MODEL() \
  if (default_model_path().empty()) GTEST_SKIP() << "the default model is not on this machine"

std::shared_ptr<const LoadedModel> default_loaded() {
  static std::shared_ptr<const LoadedModel> model = load_model(default_model_path());
  return model;
}

cuda::CudaModel& default_cuda(const std::string& decode = "auto") {
  static std::map<std::string, std::unique_ptr<cuda::CudaModel>> models;
  auto& slot = models[decode];
  if (!slot) {
    cuda::CudaModelOptions options;
    options.max_num_seqs = 64;
    options.decode_attention = decode;
    slot = std::make_unique<cuda::CudaModel>(default_loaded(), options);
  }
  return *slot;
}

LlamaModel& default_cpu() {
  static std::unique_ptr<LlamaModel> model = std::make_unique<LlamaModel>(default_loaded(), ModelOptions{});
  return *model;
}

// The 12 plain prompts and the first 8 chat prompts of tests/data/greedy_prompts.json
// (the llama.cpp comparison's prompts), tokenized by the model's tokenizer.
std::vector<std::vector<int32_t>> twenty_prompts() {
  const nlohmann::json prompts = nlohmann::json::parse(test::read_file(test::source_dir() + "/tests/data/greedy_prompts.json"));
  const LoadedModel& model = *default_loaded();
  const auto tokenizer = Tokenizer::create(model.tokenizer);
  const TokenizerSpec& spec = tokenizer->spec();
  const ChatTemplate chat = ChatTemplate::from_jinja(model.chat_template, spec.tokens[static_cast<size_t>(spec.bos_id)],
                                                     spec.tokens[static_cast<size_t>(spec.eos_id)]);
  std::vector<std::vector<int32_t>> out;
  for (const auto& text : prompts["plain"]) out.push_back(tokenizer->encode(text.get<std::string>(), true, false));
  for (const auto& conversation : prompts["chat"]) {
    if (out.size() == 20) break;
    std::vector<ChatMessage> messages;
    for (const auto& m : conversation) messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
    out.push_back(tokenizer->encode(chat.render(messages, true), false, true));
  }
  return out;
}

// Acceptance: teacher-forced top-1 agreement >= 99.5% over 20 prompts x 64
// tokens, and greedy continuations identical up to a near-tie.
TEST(CudaModelTest, DefaultModelAgreesWithTheCpuEngine) {
  KVS_SKIP_WITHOUT_GPU();
  KVS_SKIP_WITHOUT_DEFAULT_MODEL();
  const std::vector<std::vector<int32_t>> prompts = twenty_prompts();
  ASSERT_EQ(prompts.size(), 20u);
  constexpr int64_t kSteps = 64;
  const auto cpu = test::run_batched(default_cpu(), kernels::KvDType::F16, prompts, kSteps);
  const auto cpu_tokens = test::greedy_tokens(cpu);
  const auto forced = test::run_batched(default_cuda(), kernels::KvDType::BF16, prompts, kSteps, &cpu_tokens);
  int64_t agree = 0, total = 0, near_ties = 0;
  for (size_t s = 0; s < prompts.size(); ++s) {
    for (int64_t t = 0; t < kSteps; ++t) {
      ++total;
      const int32_t mine = forced[s][t].argmax();
      if (mine == cpu_tokens[s][t]) {
        ++agree;
      } else {
        const float gap = cpu[s][t].top.front().second - cpu[s][t].logit_of(mine);
        near_ties += gap <= kNearTieGap;
        std::printf("prompt %zu step %lld: cpu %d, cuda %d, cpu gap %.4f\n", s, static_cast<long long>(t),
                    cpu_tokens[s][t], mine, gap);
      }
    }
  }
  const double agreement = static_cast<double>(agree) / static_cast<double>(total);
  std::printf("teacher-forced top-1 agreement: %lld / %lld = %.4f (%lld of the rest near-ties)\n",
              static_cast<long long>(agree), static_cast<long long>(total), agreement, static_cast<long long>(near_ties));
  EXPECT_GE(agreement, 0.995);

  const auto free_running = test::greedy_tokens(test::run_batched(default_cuda(), kernels::KvDType::BF16, prompts, kSteps));
  int identical = 0;
  for (size_t s = 0; s < prompts.size(); ++s) {
    const auto& a = free_running[s];
    const auto& b = cpu_tokens[s];
    const size_t first = std::mismatch(a.begin(), a.end(), b.begin()).first - a.begin();
    if (first == a.size()) {
      ++identical;
      continue;
    }
    const float gap = cpu[s][first].top.front().second - cpu[s][first].logit_of(a[first]);
    std::printf("prompt %zu: greedy diverges at token %zu (cpu %d, cuda %d), cpu gap %.4f\n", s, first, b[first], a[first], gap);
    EXPECT_TRUE(test::near_tie(cpu[s][first], a[first], kNearTieGap)) << "prompt " << s << " token " << first;
  }
  std::printf("greedy 64-token continuations identical: %d / %zu\n", identical, prompts.size());
}

// Logits of every position of the fixture inputs, CUDA (bf16) against the
// CPU engine in float32 (which tests/engine/model/hf_reference_test.cpp holds
// to transformers' float32 logits). Head dim 16: the simple attention kernel.
// What the CUDA engine does not implement is refused at construction, before
// any device work (so this runs without a GPU too): other architectures,
// sliding windows (Mistral folders) and yarn RoPE scaling.
TEST(CudaModelTest, RefusesArchitecturesWindowsAndYarn) {
  const auto refusal = [](const std::function<void(ModelConfig&)>& edit) {
    auto model = std::make_shared<LoadedModel>();
    ModelConfig& c = model->config;
    c.vocab_size = 64;
    c.hidden_size = 64;
    c.intermediate_size = 128;
    c.num_layers = 1;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.head_dim = 16;
    edit(c);
    try {
      cuda::CudaModel cuda_model(model, cuda::CudaModelOptions{});
    } catch (const InvalidArgument& error) {
      return std::string(error.what());
    }
    return std::string("<no error>");
  };
  EXPECT_NE(refusal([](ModelConfig& c) { c.architecture = "qwen3"; c.qk_norm = true; }).find("not qwen3"),
            std::string::npos);
  EXPECT_NE(refusal([](ModelConfig& c) { c.architecture = "phi3"; }).find("not phi3"), std::string::npos);
  EXPECT_NE(refusal([](ModelConfig& c) { c.sliding_window = 16; }).find("sliding-window attention"),
            std::string::npos);
  EXPECT_NE(refusal([](ModelConfig& c) {
              c.rope_scaling.type = "yarn";
              c.rope_scaling.factor = 4.0f;
              c.rope_scaling.original_max_position_embeddings = 64;
            }).find("yarn rope scaling"),
            std::string::npos);
}

TEST(CudaModelTest, FixtureModelsMatchTheFloat32Reference) {
  KVS_SKIP_WITHOUT_GPU();
  for (const std::string name : {"tiny-llama", "tiny-llama3-scaled", "tiny-qwen2"}) {
    const auto loaded = load_model(test::fixtures_dir() + "/models/" + name);
    ModelOptions cpu_options;
    cpu_options.dequantize_weights = true;
    LlamaModel cpu(loaded, cpu_options);
    cuda::CudaModel gpu(loaded, cuda::CudaModelOptions{});
    std::mt19937 rng(7);
    std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(loaded->config.vocab_size) - 1);
    for (int64_t length : {7, 33, 300}) {
      std::vector<int32_t> prompt(static_cast<size_t>(length));
      for (int32_t& t : prompt) t = token(rng);
      ForwardBatch batch;
      std::vector<int32_t> table(static_cast<size_t>((length + 15) / 16));
      std::iota(table.begin(), table.end(), 0);
      batch.add_sequence(prompt, 0, table, false);
      for (int32_t r = 0; r < length; ++r) batch.logits_rows.push_back(r);
      KvStorage cpu_kv(loaded->config, static_cast<int64_t>(table.size()), 16, kernels::KvDType::F32);
      KvStorage gpu_kv(loaded->config, static_cast<int64_t>(table.size()), 16, kernels::KvDType::BF16, 1, gpu.make_kv_memory());
      const std::vector<float> want = cpu.forward(batch, cpu_kv), got = gpu.forward(batch, gpu_kv);
      ASSERT_EQ(want.size(), got.size());
      const int64_t V = loaded->config.vocab_size;
      double worst = 0.0;
      int64_t same_top = 0;
      for (int64_t r = 0; r < length; ++r) {
        double diff = 0.0, norm = 0.0;
        for (int64_t v = 0; v < V; ++v) {
          diff += std::pow(got[r * V + v] - want[r * V + v], 2.0);
          norm += std::pow(want[r * V + v], 2.0);
        }
        worst = std::max(worst, std::sqrt(diff / norm));
        same_top += test::top_of(got.data() + r * V, V).argmax() == test::top_of(want.data() + r * V, V).argmax();
      }
      std::printf("%s length %lld: worst relative L2 error %.4f, top-1 same on %lld rows\n", name.c_str(),
                  static_cast<long long>(length), worst, static_cast<long long>(same_top));
      // bf16 weights and activations: about 2^-8 per rounding, a few layers deep.
      EXPECT_LT(worst, 0.05) << name << " length " << length;
    }
  }
}

std::vector<std::vector<int32_t>> random_prompts(int64_t vocab, const std::vector<int64_t>& lengths, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> token(3, static_cast<int32_t>(vocab) - 1);
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t length : lengths) {
    std::vector<int32_t> prompt(static_cast<size_t>(length));
    for (int32_t& t : prompt) t = token(rng);
    prompts.push_back(prompt);
  }
  return prompts;
}

// The attention kernels at the model level: LeanAttention, split-K and the
// prefill kernel against the simple kernel, on the default model (head dim
// 64, 9 heads over 3 KV heads) and the bundle's random models (64, 128).
TEST(CudaModelTest, AttentionKernelsAgreeAtTheModelLevel) {
  KVS_SKIP_WITHOUT_GPU();
  std::vector<std::shared_ptr<const LoadedModel>> models;
  if (!default_model_path().empty()) models.push_back(default_loaded());
  const std::string random_dir = test::random_models_dir();
  if (!random_dir.empty() && std::filesystem::is_directory(random_dir)) {
    for (const auto& entry : std::filesystem::directory_iterator(random_dir)) models.push_back(load_model(entry.path().string()));
  }
  if (models.empty()) GTEST_SKIP() << "neither the default model nor KVS_TEST_RANDOM_MODELS_DIR is here";
  for (const auto& loaded : models) {
    const auto prompts = random_prompts(loaded->config.vocab_size, {5, 100, 700, 1500}, 11);
    std::map<std::string, std::vector<std::vector<StepTop>>> runs;
    const auto forced = test::random_prompts_tokens(loaded->config.vocab_size, prompts.size(), 8, 12);
    for (const auto& [prefill, decode] : std::vector<std::pair<std::string, std::string>>{
             {"naive", "naive"}, {"auto", "lean"}, {"auto", "splitk"}, {"auto", "naive"}}) {
      cuda::CudaModelOptions options;
      options.prefill_attention = prefill;
      options.decode_attention = decode;
      options.enforce_eager = true;
      cuda::CudaModel model(loaded, options);
      runs[prefill + "/" + decode] = test::run_batched(model, kernels::KvDType::BF16, prompts, 8, &forced);
    }
    const auto& oracle = runs["naive/naive"];
    for (const auto& [name, run] : runs) {
      for (size_t s = 0; s < prompts.size(); ++s) {
        for (size_t t = 0; t < run[s].size(); ++t) {
          const float want = oracle[s][t].top.front().second, got = run[s][t].logit_of(oracle[s][t].argmax());
          EXPECT_NEAR(got, want, 0.05f + 0.02f * std::fabs(want))
              << loaded->source_path << " " << name << " seq " << s << " step " << t;
        }
      }
    }
  }
}

// The fp8_e4m3 KV cache (issue 21) on the default model against the bf16
// cache: teacher-forced on the bf16 engine's greedy tokens, fp8's top-1 must
// agree on >= 95% of 20 prompts x 64 steps, and every disagreement must be
// one the bf16 run ranks within kFp8TieGap logits of its best. Bounds chosen
// before any measurement: E4M3 keeps 3 mantissa bits (relative rounding up
// to 2^-4 per K/V element), well beyond bf16's, so a few near-ties flip; a
// systematic error (wrong scale, a misread layout) collapses agreement far
// below 95%. The measured numbers are printed.
constexpr float kFp8TieGap = 1.5f;

TEST(CudaModelTest, Fp8KvCacheTracksBf16OnTheDefaultModel) {
  KVS_SKIP_WITHOUT_GPU();
  KVS_SKIP_WITHOUT_DEFAULT_MODEL();
  cuda::CudaModel& model = default_cuda();
  EXPECT_EQ(model.kv_dtype_error(kernels::KvDType::FP8_E4M3), "");
  EXPECT_NE(model.kv_dtype_error(kernels::KvDType::Q8_0), "");
  const std::vector<std::vector<int32_t>> prompts = twenty_prompts();
  constexpr int64_t kSteps = 64;
  const auto bf16 = test::run_batched(model, kernels::KvDType::BF16, prompts, kSteps);
  const auto bf16_tokens = test::greedy_tokens(bf16);
  const auto fp8 = test::run_batched(model, kernels::KvDType::FP8_E4M3, prompts, kSteps, &bf16_tokens);
  int64_t agree = 0, total = 0;
  float worst_gap = 0.0f;
  for (size_t s = 0; s < prompts.size(); ++s) {
    for (int64_t t = 0; t < kSteps; ++t) {
      ++total;
      const int32_t mine = fp8[s][t].argmax();
      if (mine == bf16_tokens[s][t]) {
        ++agree;
        continue;
      }
      const float gap = bf16[s][t].top.front().second - bf16[s][t].logit_of(mine);
      worst_gap = std::max(worst_gap, gap);
      std::printf("fp8 prompt %zu step %lld: bf16 %d, fp8 %d, bf16 gap %.4f\n", s, static_cast<long long>(t),
                  bf16_tokens[s][t], mine, gap);
      EXPECT_LE(gap, kFp8TieGap) << "prompt " << s << " step " << t;
    }
  }
  const double agreement = static_cast<double>(agree) / static_cast<double>(total);
  std::printf("fp8 vs bf16 KV cache, teacher-forced top-1 agreement: %lld / %lld = %.4f (worst gap %.4f)\n",
              static_cast<long long>(agree), static_cast<long long>(total), agreement, worst_gap);
  EXPECT_GE(agreement, 0.95);
  const auto fp8_free = test::greedy_tokens(test::run_batched(model, kernels::KvDType::FP8_E4M3, prompts, kSteps));
  int identical = 0;
  for (size_t s = 0; s < prompts.size(); ++s) identical += fp8_free[s] == bf16_tokens[s];
  std::printf("fp8 vs bf16 KV cache, greedy 64-token continuations identical: %d / %zu\n", identical, prompts.size());
  // A block of the fp8 cache is half a bf16 block: twice the blocks in the same bytes.
  const int64_t bf16_blocks = model.plan_kv_cache(0.9, int64_t{1} << 30, kernels::KvDType::BF16).num_blocks;
  const int64_t fp8_blocks = model.plan_kv_cache(0.9, int64_t{1} << 30, kernels::KvDType::FP8_E4M3).num_blocks;
  EXPECT_GT(bf16_blocks, 0);
  EXPECT_GE(fp8_blocks, 2 * bf16_blocks);
  EXPECT_LE(fp8_blocks, 2 * bf16_blocks + 1);
}

// Every attention kernel reads the fp8 cache alike: at the model level their
// logits agree with the simple kernels' (fp8 cache for all), with the
// tolerance of AttentionKernelsAgreeAtTheModelLevel. On the small random
// models (head dims 64 and 128) when they are here, else the default model.
// NOTE: one model per kernel pair is built: kept to 3 pairs and small
// models so the GPU check's time budget holds.
TEST(CudaModelTest, Fp8KvCacheAttentionKernelsAgreeAtTheModelLevel) {
  KVS_SKIP_WITHOUT_GPU();
  std::vector<std::shared_ptr<const LoadedModel>> models;
  const std::string random_dir = test::random_models_dir();
  if (!random_dir.empty() && std::filesystem::is_directory(random_dir)) {
    for (const auto& entry : std::filesystem::directory_iterator(random_dir)) models.push_back(load_model(entry.path().string()));
  }
  if (models.empty() && !default_model_path().empty()) models.push_back(default_loaded());
  if (models.empty()) GTEST_SKIP() << "neither the default model nor KVS_TEST_RANDOM_MODELS_DIR is here";
  for (const auto& loaded : models) {
    const auto prompts = random_prompts(loaded->config.vocab_size, {5, 100, 700}, 13);
    std::map<std::string, std::vector<std::vector<StepTop>>> runs;
    const auto forced = test::random_prompts_tokens(loaded->config.vocab_size, prompts.size(), 8, 14);
    for (const auto& [prefill, decode] : std::vector<std::pair<std::string, std::string>>{
             {"naive", "naive"}, {"auto", "lean"}, {"auto", "splitk"}}) {
      cuda::CudaModelOptions options;
      options.prefill_attention = prefill;
      options.decode_attention = decode;
      options.enforce_eager = true;
      cuda::CudaModel model(loaded, options);
      runs[prefill + "/" + decode] = test::run_batched(model, kernels::KvDType::FP8_E4M3, prompts, 8, &forced);
    }
    const auto& oracle = runs["naive/naive"];
    for (const auto& [name, run] : runs) {
      for (size_t s = 0; s < prompts.size(); ++s) {
        for (size_t t = 0; t < run[s].size(); ++t) {
          const float want = oracle[s][t].top.front().second, got = run[s][t].logit_of(oracle[s][t].argmax());
          EXPECT_NEAR(got, want, 0.05f + 0.02f * std::fabs(want))
              << loaded->source_path << " fp8 " << name << " seq " << s << " step " << t;
        }
      }
    }
  }
}

// A replayed CUDA graph computes exactly what its eager capture step did, and
// graphs agree with --enforce-eager to rounding.
TEST(CudaModelTest, GraphReplayEqualsTheEagerStepOfItsBucket) {
  KVS_SKIP_WITHOUT_GPU();
  KVS_SKIP_WITHOUT_DEFAULT_MODEL();
  const auto prompts = random_prompts(49152, {3, 17, 64, 200, 9}, 5);
  const auto forced = test::random_prompts_tokens(49152, prompts.size(), 6, 6);
  cuda::CudaModel& graphs = default_cuda();
  const int64_t replays_before = graphs.stats().graph_replays;
  const auto first = test::run_batched(graphs, kernels::KvDType::BF16, prompts, 6, &forced);
  const auto second = test::run_batched(graphs, kernels::KvDType::BF16, prompts, 6, &forced);
  EXPECT_GT(graphs.stats().graphs_captured, 0);
  EXPECT_GT(graphs.stats().graph_replays, replays_before);
  for (size_t s = 0; s < prompts.size(); ++s) {
    for (size_t t = 0; t < first[s].size(); ++t) {
      EXPECT_EQ(first[s][t].top, second[s][t].top) << "seq " << s << " step " << t;
    }
  }
  cuda::CudaModelOptions eager_options;
  eager_options.enforce_eager = true;
  cuda::CudaModel eager(default_loaded(), eager_options);
  const auto reference = test::run_batched(eager, kernels::KvDType::BF16, prompts, 6, &forced);
  EXPECT_EQ(eager.stats().graph_replays, 0);
  for (size_t s = 0; s < prompts.size(); ++s) {
    for (size_t t = 0; t < first[s].size(); ++t) {
      const float want = reference[s][t].top.front().second;
      EXPECT_NEAR(first[s][t].logit_of(reference[s][t].argmax()), want, 0.05f + 0.02f * std::fabs(want));
    }
  }
}

// ---- the engine loop on CUDA ------------------------------------------------

EngineConfig cuda_engine_config(const ForwardModel& model, int64_t num_blocks, int64_t budget) {
  EngineConfig config;
  config.cache.dtype = kernels::KvDType::BF16;
  config.cache.memory_bytes = num_blocks * KvStorage::bytes_per_block(model.config(), 16, kernels::KvDType::BF16);
  config.scheduler.max_num_batched_tokens = budget;
  config.scheduler.max_num_seqs = 64;
  return config;
}

std::vector<int32_t> collect(RequestHandle& handle, RequestStats* stats = nullptr) {
  std::vector<int32_t> tokens;
  TokenEvent event;
  while (handle.next(event)) {
    if (event.token_id >= 0) tokens.push_back(event.token_id);
    if (event.finish_reason != FinishReason::kNone && stats != nullptr) *stats = event.stats;
  }
  return tokens;
}

// Each request's greedy tokens alone (one sequence, no scheduler), with the
// logits of each step for judging a divergence.
std::vector<std::vector<StepTop>> alone(ForwardModel& model, const std::vector<Request>& requests) {
  std::vector<std::vector<StepTop>> out;
  for (const Request& r : requests) out.push_back(test::run_batched(model, kernels::KvDType::BF16, {r.prompt_token_ids}, r.max_tokens)[0]);
  return out;
}

void expect_same_up_to_near_tie(const std::vector<int32_t>& got, const std::vector<StepTop>& alone, const std::string& what) {
  std::vector<int32_t> want;
  for (size_t t = 0; t + 1 < alone.size(); ++t) want.push_back(alone[t].argmax());
  ASSERT_EQ(got.size(), want.size()) << what;
  const size_t first = std::mismatch(got.begin(), got.end(), want.begin()).first - got.begin();
  if (first == got.size()) return;
  std::printf("%s: diverges at %zu, gap %.4f\n", what.c_str(), first,
              alone[first].top.front().second - alone[first].logit_of(got[first]));
  EXPECT_TRUE(test::near_tie(alone[first], got[first], kNearTieGap)) << what << " at token " << first;
}

std::vector<Request> random_requests(int count, uint32_t seed, int64_t max_prompt, int64_t max_tokens) {
  std::mt19937 rng(seed);
  std::vector<Request> requests(static_cast<size_t>(count));
  for (Request& r : requests) {
    r.prompt_token_ids = random_prompts(49152, {std::uniform_int_distribution<int64_t>(2, max_prompt)(rng)}, rng())[0];
    r.max_tokens = std::uniform_int_distribution<int64_t>(1, max_tokens)(rng);
  }
  return requests;
}

TEST(CudaEngineTest, ConcurrentRequestsMatchEachAloneWithPreemption) {
  KVS_SKIP_WITHOUT_GPU();
  KVS_SKIP_WITHOUT_DEFAULT_MODEL();
  cuda::CudaModel& model = default_cuda();
  const std::vector<Request> requests = random_requests(32, 32, 90, 12);
  const auto expected = alone(model, requests);
  // 512 blocks: no pressure; 24 blocks of 16 tokens: preemption.
  for (const int64_t blocks : {512, 24}) {
    EngineClient engine(model, cuda_engine_config(model, blocks, 128));
    std::vector<RequestHandle> handles;
    for (const Request& r : requests) handles.push_back(engine.submit(r));
    for (size_t i = 0; i < requests.size(); ++i) {
      expect_same_up_to_near_tie(collect(handles[i]), expected[i], "blocks " + std::to_string(blocks) + " request " + std::to_string(i));
    }
    engine.wait_until_idle();
    const EngineMetrics m = engine.metrics();
    EXPECT_EQ(m.kv_blocks_used, 0);
    EXPECT_LT(m.num_steps, m.total_sampled_tokens);
    if (blocks == 24) {
      EXPECT_GT(m.num_preemptions, 0);
    }
  }
}

TEST(CudaEngineTest, SharedPrefixIsComputedOnce) {
  KVS_SKIP_WITHOUT_GPU();
  KVS_SKIP_WITHOUT_DEFAULT_MODEL();
  cuda::CudaModel& model = default_cuda();
  const std::vector<int32_t> prefix = random_prompts(49152, {512}, 3)[0];
  Request first, second;
  first.prompt_token_ids = prefix;
  first.prompt_token_ids.insert(first.prompt_token_ids.end(), {1000, 1001});
  second.prompt_token_ids = prefix;
  second.prompt_token_ids.insert(second.prompt_token_ids.end(), {2000, 2001, 2002});
  first.max_tokens = second.max_tokens = 6;
  const auto expected = alone(model, {first, second});
  EngineClient engine(model, cuda_engine_config(model, 128, 512));
  RequestHandle a = engine.submit(first);
  RequestStats stats_a, stats_b;
  const auto got_a = collect(a, &stats_a);
  RequestHandle b = engine.submit(second);
  const auto got_b = collect(b, &stats_b);
  EXPECT_EQ(stats_b.num_cached_prompt_tokens, 512);
  expect_same_up_to_near_tie(got_a, expected[0], "first");
  expect_same_up_to_near_tie(got_b, expected[1], "second (prefix hit)");
  engine.wait_until_idle();
  EXPECT_EQ(engine.metrics().kv_blocks_used, 0);
}

// Eviction policies run on the device cache (compaction through the device
// copy_slots, scores from the simple kernel's side output); residual is
// refused clearly.
TEST(CudaEngineTest, EvictionPoliciesRunAndResidualIsRefused) {
  KVS_SKIP_WITHOUT_GPU();
  KVS_SKIP_WITHOUT_DEFAULT_MODEL();
  cuda::CudaModel& model = default_cuda();
  const std::vector<Request> base = random_requests(4, 9, 300, 24);
  for (const KvPolicyKind kind : {KvPolicyKind::kStreaming, KvPolicyKind::kH2O, KvPolicyKind::kSnapKV, KvPolicyKind::kKeyformer}) {
    EngineClient engine(model, cuda_engine_config(model, 256, 128));
    std::vector<RequestHandle> handles;
    for (Request r : base) {
      r.kv_policy = KvPolicySpec{kind, 64};
      r.max_tokens = 24;
      handles.push_back(engine.submit(r));
    }
    int64_t evicted = 0;
    for (RequestHandle& h : handles) {
      RequestStats stats;
      EXPECT_EQ(collect(h, &stats).size(), 24u) << kv_policy_name(kind);
      evicted += stats.num_evicted_tokens;
    }
    EXPECT_GT(evicted, 0) << kv_policy_name(kind);
    engine.wait_until_idle();
    EXPECT_EQ(engine.metrics().kv_blocks_used, 0) << kv_policy_name(kind);
  }
  EngineClient engine(model, cuda_engine_config(model, 64, 128));
  Request residual = base[0];
  residual.kv_policy = KvPolicySpec{KvPolicyKind::kResidual, 64};
  EXPECT_THROW(engine.submit(residual), InvalidArgument);
}

}  // namespace
}  // namespace kvs
