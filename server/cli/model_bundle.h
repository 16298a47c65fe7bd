#pragma once
// Everything the front ends need of one model: weights + forward pass,
// tokenizer, chat template.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/chat/chat_template.h"
#include "engine/loader/loaded_model.h"
#include "engine/model/device_choice.h"
#include "engine/model/forward_model.h"
#include "engine/model/gpu_memory_plan.h"
#include "engine/model/llama_model.h"
#include "engine/tokenizer/tokenizer.h"

namespace kvs {

// Which backend to run on and how (serve / generate flags).
struct DeviceOptions {
  std::string device = "auto";       // --device: auto | cpu | cuda
  bool enforce_eager = false;        // CUDA: no CUDA graphs
  int64_t max_num_seqs = 256;        // CUDA: largest decode batch (graph buckets)
  int64_t max_num_batched_tokens = 2048;  // CUDA: step buffers' initial size
  int64_t max_model_len = 0;         // CUDA: longest sequence graphs cover (0 = the model's)
  int64_t block_size = 16;           // CUDA: KV block size graphs are captured for
};

struct ModelBundle {
  std::shared_ptr<const LoadedModel> loaded;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ForwardModel> model;  // LlamaModel, TensorParallelModel when sharded, or the CUDA model
  DeviceChoice device;                  // where `model` runs and why

  // The KV cache budget on CUDA (--gpu-memory-utilization / --kv-cache-memory);
  // throws InvalidArgument on the CPU backend.
  GpuMemoryPlan plan_gpu_kv_cache(double gpu_memory_utilization, int64_t requested_kv_bytes,
                                  kernels::KvDType kv_dtype = kernels::KvDType::BF16) const;

  // The model's own chat template, or the style named by `override_name`
  // ("" = use the model's). Throws InvalidArgument if neither is usable.
  ChatTemplate chat_template(const std::string& override_name) const;
  // Prompt ids for plain text (BOS added when the model wants one).
  std::vector<int32_t> encode_prompt(const std::string& text) const;
  // Prompt ids for a conversation rendered by `chat` (special tokens parsed;
  // BOS added unless the template already wrote it).
  // `tools`: the functions the model may call, described in the prompt the
  // way its family expects (ChatTemplate::render; empty = none).
  std::vector<int32_t> encode_chat(const ChatTemplate& chat, const std::vector<ChatMessage>& messages,
                                   bool add_generation_prompt = true,
                                   const std::vector<ToolDefinition>& tools = {}) const;
  // Token ids that end generation (the tokenizer's end-of-generation set plus
  // the config's eos ids).
  std::vector<int32_t> stop_token_ids() const;
  std::string token_text(int32_t id) const;
};

// The default model: $KVSERVE_MODEL if set, else the file the set-up script
// fetched into the repository's models/ folder.
std::string default_model_path();
// The API model name for a model path: a file's stem ("x/SmolLM2.gguf" ->
// "SmolLM2") or a folder's name, trailing slashes ignored ("hf/SmolLM2/" ->
// "SmolLM2"). "" only for a path with no name at all ("/").
std::string model_name_from_path(const std::string& path);

// Loads a .gguf file or HF folder. with_model = false loads the tokenizer only
// (no forward-pass weights prepared). tensor_parallel_size > 1 shards the
// model over that many CPU ranks (InvalidArgument when it does not divide
// the model's heads). `device` picks the backend (choose_device; kvs::Error
// naming the cause when CUDA was asked for and cannot run; CUDA runs
// tensor_parallel_size 1 only, InvalidArgument otherwise).
ModelBundle load_bundle(const std::string& path, const ModelOptions& options, bool with_model = true,
                        int tensor_parallel_size = 1, const DeviceOptions& device = DeviceOptions{});

// --kv-cache-dtype: "auto" is the model's default (f16 on the CPU, bf16 on
// CUDA). InvalidArgument for another name or one the model cannot run with.
kernels::KvDType kv_cache_dtype_from_flag(const std::string& name, const ForwardModel& model);

}  // namespace kvs
