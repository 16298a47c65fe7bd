#include "engine/tokenizer/pre_tokenizer_presets.h"

#include "engine/errors.h"

namespace kvs {
namespace {

// Regex strings as llama.cpp's llama-vocab.cpp spells them (its "adapted"
// forms: explicit [sS] instead of (?i:...)), so PCRE2 gives the same pieces.
const char* const kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
const char* const kContractions = R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]))";

std::string llama3_like(const std::string& numbers) {
  return std::string(kContractions) + R"(|[^\r\n\p{L}\p{N}]?\p{L}+|)" + numbers +
         R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
}

struct Entry {
  std::vector<std::string> names;
  PreTokenizerPreset preset;
};

const std::vector<Entry>& table() {
  static const std::vector<Entry> entries = [] {
    const std::string llama3 = llama3_like(R"(\p{N}{1,3})");
    const std::string qwen2 = llama3_like(R"(\p{N})");
    const std::string deepseek3_main =
        R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
    const std::string poro = R"( ?[^(\s|.,!?…。，、।۔،)]+)";
    const std::string case_split =
        R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+)";
    const std::string case_split2 =
        R"(|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*)";
    std::vector<Entry> e;
    e.push_back({{"default"},
                 {{R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"}}});
    e.push_back({{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0",
                  "lfm2", "jina-v5-nano"},
                 {{llama3}, true, true}});
    e.push_back({{"dbrx", "smaug-bpe"}, {{llama3}}});
    e.push_back({{"chatglm-bpe"}, {{llama3}}});
    e.push_back({{"glm4", "glm5"}, {{llama3}, true}});
    e.push_back({{"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan",
                  "solar-open", "grok-2"},
                 {{qwen2}}});
    e.push_back({{"qwen35"},
                 {{std::string(kContractions) +
                   R"(|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}});
    e.push_back({{"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de",
                  "a.x-4.0", "mellum", "modern-bert", "mpt", "olmo", "jais", "trillion",
                  "granite-docling", "exaone4"},
                 {{kGpt2}}});
    e.push_back({{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b",
                  "mellum2"},
                 {{R"(\p{N})", kGpt2}}});
    e.push_back({{"falcon"}, {{R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"}}});
    e.push_back({{"deepseek-coder"},
                 {{"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", "[一-龥ࠀ-一가-퟿]+", R"(\p{N})"}}});
    e.push_back({{"deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4"},
                 {{R"(\p{N}{1,3})", "[一-龥぀-ゟ゠-ヿ]+", deepseek3_main}}});
    e.push_back({{"poro-chat", "bloom", "gpt3-finnish"}, {{poro}}});
    e.push_back({{"viking"}, {{poro, R"(\p{N})"}}});
    e.push_back({{"tekken"},
                 {{case_split + case_split2 +
                   R"(|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
                  true, true}});
    e.push_back({{"gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"},
                 {{case_split + kContractions + "?" + case_split2 + kContractions +
                   R"(?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}});
    e.push_back({{"seed-coder"},
                 {{std::string(kContractions) +
                   R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)"}}});
    e.push_back({{"bailingmoe", "bailingmoe2", "llada-moe"},
                 {{R"('(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)"}}});
    e.push_back({{"ufakzeka"},
                 {{R"([^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}});
    e.push_back({{"laguna"}, {{R"([^\n]+|[\n]+)", qwen2}}});
    e.push_back({{"minicpm5"}, {{R"(\p{N}{1,3})", llama3_like(R"(\p{N}+)")}, true}});
    return e;
  }();
  return entries;
}

}  // namespace

PreTokenizerPreset pre_tokenizer_preset(const std::string& pre_name) {
  const std::string name = pre_name.empty() ? "default" : pre_name;
  for (const Entry& entry : table()) {
    for (const std::string& candidate : entry.names) {
      if (candidate == name) return entry.preset;
    }
  }
  throw ModelLoadError("unsupported pre-tokenizer '" + name +
                       "' (tokenizer.ggml.pre); known: default, llama3, qwen2, smollm, gpt-2, ... "
                       "(see known_pre_tokenizer_names())");
}

std::vector<std::string> known_pre_tokenizer_names() {
  std::vector<std::string> names;
  for (const Entry& entry : table()) names.insert(names.end(), entry.names.begin(), entry.names.end());
  return names;
}

}  // namespace kvs
