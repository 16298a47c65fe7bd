// The real `kvserve` binary on the real default model: generate, chat,
// tokenize, export, --kv-policy / --kv-budget, and clear errors with a
// non-zero exit on bad input.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/loader/loaded_model.h"
#include "engine/model/device_choice.h"
#include "engine/tokenizer/tokenizer.h"
#if KVS_HAVE_CUDA
#include "engine/model/cuda/cuda_probe.h"
#endif
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

struct CliRun {
  int exit_code = -1;
  std::string out, err;
};

// Runs `kvserve ARGS` (ARGS already shell-quoted), stdin from /dev/null.
CliRun kvserve(const std::string& args) {
  const std::string dir = test::make_temp_dir("cli");
  const std::string command = test::binary_dir() + "/kvserve " + args + " </dev/null >" + dir + "/out 2>" + dir + "/err";
  const int status = std::system(command.c_str());
  CliRun run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = test::read_file(dir + "/out");
  run.err = test::read_file(dir + "/err");
  std::filesystem::remove_all(dir);
  return run;
}

TEST(CliTest, GenerateContinuesWithParis) {
  const CliRun run = kvserve("generate --prompt 'The capital of France is' --max-tokens 8");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("Paris"), std::string::npos) << run.out;
}

TEST(CliTest, ChatAnswersThroughTheTemplate) {
  const CliRun run = kvserve("generate --chat --prompt 'What is the capital of Germany?' --max-tokens 24");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("Berlin"), std::string::npos) << run.out;
  EXPECT_EQ(run.out.find("<|im_end|>"), std::string::npos) << "special tokens are not printed";
}

TEST(CliTest, JsonOutputCarriesIdsTextAndTimings) {
  const CliRun run = kvserve("generate --prompt 'Once upon a time' --max-tokens 6 --json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const nlohmann::json out = nlohmann::json::parse(run.out);
  EXPECT_EQ(out["token_ids"].size(), 6u);
  EXPECT_EQ(out["finish_reason"], "length");
  EXPECT_EQ(out["usage"]["completion_tokens"], 6);
  EXPECT_GT(out["timings"]["decode_tokens_per_second"].get<double>(), 0.0);
  EXPECT_FALSE(out["text"].get<std::string>().empty());
}

TEST(CliTest, IgnoreEosGeneratesExactlyMaxTokens) {
  // A short chat answer ends at <|im_end|> well before 160 tokens; with
  // --ignore-eos the same greedy run goes on to exactly 160, through the end
  // token, and the tokens before it are the same.
  const std::string args = "generate --chat --prompt 'What is the capital of Germany?' --max-tokens 160 --json";
  const CliRun stopped = kvserve(args);
  const CliRun full = kvserve(args + " --ignore-eos");
  ASSERT_EQ(stopped.exit_code, 0) << stopped.err;
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const nlohmann::json a = nlohmann::json::parse(stopped.out), b = nlohmann::json::parse(full.out);
  EXPECT_EQ(a["finish_reason"], "stop");
  const std::vector<int32_t> short_ids = a["token_ids"].get<std::vector<int32_t>>();
  const std::vector<int32_t> long_ids = b["token_ids"].get<std::vector<int32_t>>();
  ASSERT_LT(short_ids.size(), 159u);
  EXPECT_EQ(b["finish_reason"], "length");
  ASSERT_EQ(long_ids.size(), 160u);
  EXPECT_EQ(std::vector<int32_t>(long_ids.begin(), long_ids.begin() + static_cast<int64_t>(short_ids.size())), short_ids);
  EXPECT_EQ(b["usage"]["completion_tokens"], 160);
}

TEST(CliTest, NewerArchitecturesGenerateFromTheirGguf) {
  // The tiny random Qwen 3, Phi-3 and YaRN models (tests/data/tiny_arch) emit
  // stray byte-fallback tokens: --json must still print valid JSON (invalid
  // UTF-8 replaced by U+FFFD), with the ids as generated.
  for (const std::string name : {"tiny-qwen3", "tiny-phi3", "tiny-qwen3-yarn", "tiny-mistral"}) {
    const CliRun run = kvserve("generate --device cpu --model " + test::source_dir() + "/tests/data/tiny_arch/" + name +
                               ".gguf --prompt 'The quick brown fox' --max-tokens 6 --json");
    ASSERT_EQ(run.exit_code, 0) << name << ": " << run.err;
    const nlohmann::json out = nlohmann::json::parse(run.out);
    EXPECT_EQ(out["token_ids"].size(), 6u) << name;
    EXPECT_EQ(out["finish_reason"], "length") << name;
  }
}

TEST(CliTest, SameSeedSameSamplesDifferentSeedDifferentSamples) {
  const std::string base = "generate --prompt 'My favourite animal is' --max-tokens 24 --temperature 1.0 --json --seed ";
  const nlohmann::json a = nlohmann::json::parse(kvserve(base + "7").out);
  const nlohmann::json b = nlohmann::json::parse(kvserve(base + "7").out);
  const nlohmann::json c = nlohmann::json::parse(kvserve(base + "8").out);
  EXPECT_EQ(a["token_ids"], b["token_ids"]);
  EXPECT_NE(a["token_ids"], c["token_ids"]);
}

TEST(CliTest, TokenizePrintsTheTokenizersIds) {
  const CliRun run = kvserve("tokenize --text 'Hello, world! Ünïcode 🙂'");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto loaded = load_model(test::default_model());
  const auto tokenizer = Tokenizer::create(loaded->tokenizer);
  EXPECT_EQ(nlohmann::json::parse(run.out).get<std::vector<int32_t>>(),
            tokenizer->encode("Hello, world! Ünïcode 🙂", false, false));
}

TEST(CliTest, MissingModelIsAClearError) {
  const CliRun run = kvserve("generate --model /nonexistent/model.gguf --prompt hi");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("kvserve: error:"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("/nonexistent/model.gguf"), std::string::npos) << run.err;
}

TEST(CliTest, TruncatedRealModelIsAClearError) {
  const std::string dir = test::make_temp_dir("truncated");
  const std::string path = dir + "/truncated.gguf";
  {
    std::ifstream in(test::default_model(), std::ios::binary);
    std::string head(50 * 1024 * 1024, '\0');  // half of the file: cut inside the tensor data
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    std::ofstream(path, std::ios::binary).write(head.data(), in.gcount());
  }
  const CliRun run = kvserve("generate --model " + path + " --prompt hi");
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("kvserve: error:"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("truncated"), std::string::npos) << run.err;
  std::filesystem::remove_all(dir);
}

TEST(CliTest, BadSamplingParametersAreRejected) {
  CliRun run = kvserve("generate --prompt hi --temperature -1");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("temperature"), std::string::npos) << run.err;
  run = kvserve("generate --prompt hi --top-p 0");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("top_p"), std::string::npos) << run.err;
  run = kvserve("generate --prompt hi --max-tokens -3");
  EXPECT_NE(run.exit_code, 0);
  run = kvserve("generate --prompt hi --chat-template no-such-style --chat");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("no-such-style"), std::string::npos) << run.err;
}

TEST(CliTest, KvPolicyFlags) {
  CliRun run = kvserve("generate --prompt 'The capital of France is' --max-tokens 8 --kv-policy streaming --kv-budget 16");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_FALSE(run.out.empty());
  run = kvserve("generate --prompt hi --kv-policy lru --kv-budget 16");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("--kv-policy"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("lru"), std::string::npos) << run.err;
  run = kvserve("generate --prompt hi --kv-policy h2o");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("--kv-budget"), std::string::npos) << "a policy needs a budget: " << run.err;
  run = kvserve("serve --kv-policy snapkv --kv-budget 2.5");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("--kv-budget"), std::string::npos) << run.err;
  run = kvserve("serve --kv-policy residual");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("--kv-budget"), std::string::npos) << run.err;
}

// --device (issue 18): auto runs here on the CPU and says so; cuda on a
// machine without one exits 1 naming the cause; a bf16 cache needs CUDA.
TEST(CliTest, DeviceFlag) {
  CudaProbe probe;
#if KVS_HAVE_CUDA
  probe = cuda::probe_cuda();
#endif
  CliRun run = kvserve("generate --device auto --prompt 'The capital of France is' --max-tokens 4 --json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(nlohmann::json::parse(run.out)["token_ids"].size(), 4u) << "logs stay off stdout";
  EXPECT_NE(run.err.find(probe.device_count > 0 ? "device cuda" : "device cpu"), std::string::npos) << run.err;
  run = kvserve("generate --device cpu --kv-cache-dtype bf16 --prompt hi --max-tokens 1");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("bf16"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("CUDA"), std::string::npos) << run.err;
  run = kvserve("serve --device gpu");
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.err.find("--device"), std::string::npos) << run.err;
  if (probe.device_count > 0) GTEST_SKIP() << "a CUDA device is here: --device cuda runs (tests/gpu/engine)";
  const std::string cause = !probe.built_with_cuda ? "built without CUDA" : probe.unavailable_reason;
  for (const std::string command : {"generate --device cuda --prompt hi --max-tokens 1", "serve --device cuda"}) {
    run = kvserve(command);
    EXPECT_EQ(run.exit_code, 1) << command;
    EXPECT_NE(run.err.find("--device cuda: "), std::string::npos) << command << ": " << run.err;
    EXPECT_NE(run.err.find(cause), std::string::npos) << command << ": " << run.err;
  }
}

// --kv-cache-dtype (issue 21): q8_0 and q4_0 generate on the CPU; dtypes the
// CPU engine cannot run and unknown names exit 1 with a clear message.
TEST(CliTest, KvCacheDtypeFlag) {
  for (const std::string dtype : {"q8_0", "q4_0"}) {
    const CliRun run = kvserve("generate --device cpu --kv-cache-dtype " + dtype +
                               " --prompt 'The capital of France is' --max-tokens 4 --json");
    ASSERT_EQ(run.exit_code, 0) << dtype << ": " << run.err;
    EXPECT_EQ(nlohmann::json::parse(run.out)["token_ids"].size(), 4u) << dtype;
  }
  CliRun run = kvserve("generate --device cpu --kv-cache-dtype fp8_e4m3 --prompt hi --max-tokens 1");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("fp8_e4m3 KV cache needs the CUDA engine"), std::string::npos) << run.err;
  run = kvserve("generate --kv-cache-dtype q5_0 --prompt hi --max-tokens 1");
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.err.find("--kv-cache-dtype"), std::string::npos) << run.err;
}

TEST(CliTest, ExportWritesAFolderThatLoads) {
  const std::string dir = test::make_temp_dir("cli-export");
  const CliRun run = kvserve("export --out " + dir + "/hf");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  for (const char* file : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}) {
    EXPECT_TRUE(std::filesystem::exists(dir + "/hf/" + file)) << file;
  }
  const CliRun generated = kvserve("generate --model " + dir + "/hf --prompt 'The capital of France is' --max-tokens 8");
  EXPECT_EQ(generated.exit_code, 0) << generated.err;
  EXPECT_NE(generated.out.find("Paris"), std::string::npos) << generated.out;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kvs
