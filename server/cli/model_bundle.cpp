#include "server/cli/model_bundle.h"


#include <algorithm>
#include <filesystem>
#include <cstdlib>

#include <spdlog/spdlog.h>

#include "engine/errors.h"
#include "engine/model/tensor_parallel_model.h"
#include "kernels/cpu/cpu_isa.h"
#if KVS_HAVE_CUDA
#include "engine/model/cuda/cuda_model.h"
#include "engine/model/cuda/cuda_probe.h"
#endif

namespace kvs {

std::string default_model_path() {
  if (const char* env = std::getenv("KVSERVE_MODEL"); env != nullptr && *env != '\0') return env;
  return KVS_DEFAULT_MODEL_PATH;
}

namespace {

CudaProbe probe() {
#if KVS_HAVE_CUDA
  return cuda::probe_cuda();
#else
  return CudaProbe{};
#endif
}

}  // namespace

ModelBundle load_bundle(const std::string& path, const ModelOptions& options, bool with_model,
                        int tensor_parallel_size, const DeviceOptions& device) {
  ModelBundle bundle;
  // Decide the device first, so `--device cuda` on a machine without one
  // fails before the model is read.
  if (with_model) bundle.device = choose_device(device.device, probe());
  bundle.loaded = load_model(path);
  bundle.tokenizer = Tokenizer::create(bundle.loaded->tokenizer);
  if (!with_model) return bundle;
  spdlog::info("kvserve: device {} ({})", device_name(bundle.device.device), bundle.device.reason);
  spdlog::info("kvserve: CPU kernels {}", kernels::cpu_isa_description());
  if (bundle.device.device == Device::kCuda) {
#if KVS_HAVE_CUDA
    if (tensor_parallel_size != 1) {
      throw InvalidArgument("--tensor-parallel-size " + std::to_string(tensor_parallel_size) +
                            " runs on the CPU engine only for now (--device cpu); the CUDA engine uses one GPU");
    }
    if (options.dequantize_weights) throw InvalidArgument("--f32-weights is a CPU engine option (--device cpu)");
    cuda::CudaModelOptions cuda_options;
    cuda_options.enforce_eager = device.enforce_eager;
    cuda_options.max_num_seqs = device.max_num_seqs;
    cuda_options.max_num_batched_tokens = device.max_num_batched_tokens;
    cuda_options.max_model_len = device.max_model_len;
    cuda_options.block_size = device.block_size;
    bundle.model = std::make_unique<cuda::CudaModel>(bundle.loaded, cuda_options);
#endif
    return bundle;
  }
  bundle.model = create_model(bundle.loaded, options, tensor_parallel_size);
  return bundle;
}

GpuMemoryPlan ModelBundle::plan_gpu_kv_cache(double gpu_memory_utilization, int64_t requested_kv_bytes,
                                             kernels::KvDType kv_dtype) const {
#if KVS_HAVE_CUDA
  if (const auto* cuda_model = dynamic_cast<const cuda::CudaModel*>(model.get())) {
    return cuda_model->plan_kv_cache(gpu_memory_utilization, requested_kv_bytes, kv_dtype);
  }
#endif
  (void)gpu_memory_utilization;
  (void)requested_kv_bytes;
  (void)kv_dtype;
  throw InvalidArgument("the KV cache is sized from GPU memory only on the CUDA engine");
}

kernels::KvDType kv_cache_dtype_from_flag(const std::string& name, const ForwardModel& model) {
  const std::optional<kernels::KvDType> named = kernels::kv_dtype_from_name(name);
  if (name != "auto" && !named.has_value()) {
    throw InvalidArgument("--kv-cache-dtype must be auto, f16, f32, bf16, q8_0, q4_0 or fp8_e4m3 (got \"" + name + "\")");
  }
  const kernels::KvDType dtype = named.has_value() ? *named : model.default_kv_dtype();
  const std::string error = model.kv_dtype_error(dtype);
  if (!error.empty()) throw InvalidArgument("--kv-cache-dtype " + name + ": " + error);
  return dtype;
}

std::string ModelBundle::token_text(int32_t id) const {
  const TokenizerSpec& spec = tokenizer->spec();
  if (id < 0 || id >= static_cast<int32_t>(spec.tokens.size())) return "";
  return spec.tokens[static_cast<size_t>(id)];
}

ChatTemplate ModelBundle::chat_template(const std::string& override_name) const {
  const TokenizerSpec& spec = tokenizer->spec();
  const std::string bos = token_text(spec.bos_id), eos = token_text(spec.eos_id);
  if (!override_name.empty()) return ChatTemplate::from_name(override_name, bos, eos);
  if (loaded->chat_template.empty()) {
    throw InvalidArgument("the model ships no chat template; pass --chat-template NAME");
  }
  return ChatTemplate::from_jinja(loaded->chat_template, bos, eos);
}

std::string model_name_from_path(const std::string& path) {
  std::string trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  const std::filesystem::path p(trimmed);
  // A folder keeps its whole name (a dot in "SmolLM2-1.7B" is no extension).
  std::error_code error;
  if (std::filesystem::is_directory(p, error)) return p.filename().string();
  return p.stem().string();
}

std::vector<int32_t> ModelBundle::encode_prompt(const std::string& text) const {
  return tokenizer->encode(text, /*add_special=*/true, /*parse_special=*/false);
}

std::vector<int32_t> ModelBundle::encode_chat(const ChatTemplate& chat, const std::vector<ChatMessage>& messages,
                                              bool add_generation_prompt,
                                              const std::vector<ToolDefinition>& tools) const {
  const std::string rendered = chat.render(messages, add_generation_prompt, tools);
  const std::string bos = token_text(tokenizer->spec().bos_id);
  const bool has_bos = !bos.empty() && rendered.compare(0, bos.size(), bos) == 0;
  return tokenizer->encode(rendered, /*add_special=*/!has_bos, /*parse_special=*/true);
}

std::vector<int32_t> ModelBundle::stop_token_ids() const {
  std::vector<int32_t> ids = tokenizer->spec().eog_ids;
  for (int64_t id : loaded->config.eos_token_ids) ids.push_back(static_cast<int32_t>(id));
  if (tokenizer->spec().eos_id >= 0) ids.push_back(tokenizer->spec().eos_id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace kvs
