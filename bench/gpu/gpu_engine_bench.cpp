// Decode throughput and step latency of the CUDA engine (issue 18): a model
// folder or GGUF, `--batch` sequences of `--context` random prompt tokens
// prefilled, then `--steps` decode steps of the whole batch (CUDA graphs
// unless --enforce-eager), timed after a warm-up. Writes one JSON object:
// {"decode_step_ms", "tokens_per_s", "prefill_tokens_per_s", ...}. The peer,
// Hugging Face transformers on the same folder and GPU: hf_decode_peer.py.
//   kvs_bench_gpu_engine --model DIR --batch 1 --context 512 --steps 64 --out r.json
#include <CLI/CLI.hpp>
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <numeric>
#include <random>

#include <nlohmann/json.hpp>

#include "engine/loader/loaded_model.h"
#include "engine/model/cuda/cuda_model.h"
#include "engine/model/kv_storage.h"

int main(int argc, char** argv) {
  CLI::App app{"CUDA engine decode benchmark"};
  std::string model_path, out_path;
  int64_t batch = 1, context = 512, steps = 64, warmup = 8, block_size = 16;
  bool enforce_eager = false;
  app.add_option("--model", model_path, "HF folder or .gguf")->required();
  app.add_option("--batch", batch, "sequences decoding together");
  app.add_option("--context", context, "prompt tokens per sequence before decoding");
  app.add_option("--steps", steps, "timed decode steps");
  app.add_option("--warmup", warmup, "untimed decode steps first (graph capture happens here)");
  app.add_flag("--enforce-eager", enforce_eager, "no CUDA graphs");
  app.add_option("--out", out_path, "JSON result file");
  CLI11_PARSE(app, argc, argv);
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::cerr << "kvs_bench_gpu_engine: no CUDA device\n";
    return 3;
  }
  try {
    const auto loaded = kvs::load_model(model_path);
    kvs::cuda::CudaModelOptions options;
    options.max_num_seqs = batch;
    options.max_num_batched_tokens = 8192;
    options.enforce_eager = enforce_eager;
    options.block_size = block_size;
    kvs::cuda::CudaModel model(loaded, options);
    const kvs::ModelConfig& c = model.config();
    const int64_t total = context + warmup + steps + 1;
    const int64_t blocks_per_seq = (total + block_size - 1) / block_size;
    kvs::KvStorage kv(c, batch * blocks_per_seq, block_size, kvs::kernels::KvDType::BF16, 1, model.make_kv_memory());
    std::mt19937 rng(1);
    std::uniform_int_distribution<int32_t> token(3, static_cast<int32_t>(c.vocab_size) - 1);
    std::vector<std::vector<int32_t>> tables(static_cast<size_t>(batch));
    for (int64_t s = 0; s < batch; ++s) {
      tables[s].resize(static_cast<size_t>(blocks_per_seq));
      std::iota(tables[s].begin(), tables[s].end(), static_cast<int32_t>(s * blocks_per_seq));
    }
    // Prefill, several sequences per step up to 8192 tokens.
    const auto prefill_start = std::chrono::steady_clock::now();
    for (int64_t s = 0; s < batch;) {
      kvs::ForwardBatch prefill;
      for (; s < batch && (prefill.num_tokens() + context <= 8192 || prefill.num_seqs() == 0); ++s) {
        std::vector<int32_t> prompt(static_cast<size_t>(context));
        for (int32_t& t : prompt) t = token(rng);
        prefill.add_sequence(prompt, 0, tables[s], true);
      }
      model.forward(prefill, kv);
    }
    const double prefill_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - prefill_start).count();
    int64_t length = context;
    const auto decode = [&](int64_t count) {
      for (int64_t i = 0; i < count; ++i, ++length) {
        kvs::ForwardBatch step;
        for (int64_t s = 0; s < batch; ++s) step.add_sequence({token(rng)}, static_cast<int32_t>(length), tables[s], true);
        model.forward(step, kv);
      }
    };
    decode(warmup);
    const auto start = std::chrono::steady_clock::now();
    decode(steps);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json result = {{"engine", "kvserve-cuda"},
                             {"model", model_path},
                             {"device", model.device_description()},
                             {"batch", batch},
                             {"context", context},
                             {"steps", steps},
                             {"cuda_graphs", !enforce_eager},
                             {"graph_replays", model.stats().graph_replays},
                             {"decode_step_ms", 1000.0 * seconds / static_cast<double>(steps)},
                             {"tokens_per_s", static_cast<double>(batch * steps) / seconds},
                             {"prefill_tokens_per_s", static_cast<double>(batch * context) / prefill_seconds},
                             {"note", "decode steps include copying the logits rows to the host"}};
    std::cout << result.dump() << "\n";
    if (!out_path.empty()) std::ofstream(out_path) << result.dump(2) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "kvs_bench_gpu_engine: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
