// Constrained decoding in the engine loop (issue 23) on the default model
// (CPU): the output always matches the request's grammar, greedy and sampled,
// batched with unconstrained requests, with speculative drafts; stop tokens
// come only when the output is complete, and a complete output ends by itself.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>

#include "engine/errors.h"
#include "engine/grammar/grammar.h"
#include "engine/grammar/grammar_matcher.h"
#include "engine/grammar/tokenizer_vocabulary.h"
#include "engine/loader/loaded_model.h"
#include "engine/model/kv_storage.h"
#include "engine/model/llama_model.h"
#include "engine/tokenizer/tokenizer.h"
#include "scheduler/engine_core.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

struct Fixture {
  std::shared_ptr<const LoadedModel> loaded = load_model(test::default_model());
  std::unique_ptr<Tokenizer> tokenizer = Tokenizer::create(loaded->tokenizer);
  std::unique_ptr<LlamaModel> model = std::make_unique<LlamaModel>(loaded, ModelOptions{});
  std::shared_ptr<const grammar::TokenVocabulary> vocabulary = grammar::token_vocabulary_of(*tokenizer);
  int32_t eos = loaded->tokenizer.eog_ids.at(0);

  std::shared_ptr<const grammar::CompiledGrammar> compile(const std::string& gbnf) const {
    return std::make_shared<grammar::CompiledGrammar>(grammar::parse_gbnf(gbnf), vocabulary);
  }
};

Fixture& fx() {
  static Fixture f;
  return f;
}

EngineConfig engine_config(int64_t speculative = 0) {
  EngineConfig config;
  config.cache.memory_bytes = 256 * KvStorage::bytes_per_block(fx().model->config(), 16, config.cache.dtype);
  config.scheduler.max_num_batched_tokens = 64;
  config.scheduler.speculative_ngram = speculative;
  return config;
}

struct Outcome {
  std::vector<int32_t> tokens;
  FinishReason reason = FinishReason::kNone;
  std::string error;
};

std::map<uint64_t, Outcome> run(const EngineConfig& config, const std::vector<Request>& requests,
                                EngineMetrics* metrics = nullptr) {
  std::map<uint64_t, Outcome> out;
  EngineCore core(*fx().model, config, [&](uint64_t id, const TokenEvent& event) {
    if (event.token_id >= 0) out[id].tokens.push_back(event.token_id);
    if (event.finish_reason != FinishReason::kNone) {
      out[id].reason = event.finish_reason;
      out[id].error = event.error;
    }
  });
  for (size_t i = 0; i < requests.size(); ++i) core.add(i + 1, requests[i]);
  while (core.step()) {
  }
  if (metrics != nullptr) *metrics = core.metrics();
  return out;
}

Request chat_request(const std::string& question, int64_t max_tokens, std::shared_ptr<const grammar::CompiledGrammar> g) {
  Request r;
  r.prompt_token_ids = fx().tokenizer->encode(
      "<|im_start|>user\n" + question + "<|im_end|>\n<|im_start|>assistant\n", false, true);
  r.max_tokens = max_tokens;
  r.stop_token_ids = {fx().eos};
  r.grammar = std::move(g);
  return r;
}

// The output text without a final stop token.
std::string text_of(const Outcome& outcome) {
  std::vector<int32_t> ids = outcome.tokens;
  if (!ids.empty() && ids.back() == fx().eos) ids.pop_back();
  return fx().tokenizer->decode(ids, false);
}

const char* kPhone = R"(root ::= "(" [0-9]{3} ") " [0-9]{3} "-" [0-9]{4})";
const char* kChoice = R"(root ::= "Paris" | "London" | "Berlin")";
const char* kObject = R"(root ::= "{\"city\": \"" [A-Za-z ]{1,20} "\", \"population\": " [1-9] [0-9]{0,8} "}")";

TEST(ConstrainedDecoding, GreedyOutputMatchesTheGrammarAndEndsByItself) {
  const std::vector<Request> requests = {
      chat_request("What is the phone number of the city hall?", 40, fx().compile(kPhone)),
      chat_request("What is the capital of France?", 40, fx().compile(kChoice)),
      chat_request("Describe a city as JSON.", 60, fx().compile(kObject)),
      chat_request("Say hello.", 12, nullptr),  // unconstrained, in the same batches
  };
  EngineMetrics metrics;
  const auto out = run(engine_config(), requests, &metrics);
  ASSERT_EQ(out.size(), 4u);
  for (uint64_t id = 1; id <= 3; ++id) {
    const Outcome& o = out.at(id);
    EXPECT_EQ(o.reason, FinishReason::kStop) << id << " " << o.error;
    ASSERT_FALSE(o.tokens.empty());
    EXPECT_EQ(o.tokens.back(), fx().eos) << "a complete output ends with the stop token";
  }
  EXPECT_TRUE(std::regex_match(text_of(out.at(1)), std::regex(R"(\(\d{3}\) \d{3}-\d{4})"))) << text_of(out.at(1));
  const std::string city = text_of(out.at(2));
  EXPECT_TRUE(city == "Paris" || city == "London" || city == "Berlin") << city;
  EXPECT_TRUE(std::regex_match(text_of(out.at(3)),
                               std::regex(R"(\{"city": "[A-Za-z ]{1,20}", "population": [1-9][0-9]{0,8}\})")))
      << text_of(out.at(3));
  EXPECT_EQ(out.at(4).reason != FinishReason::kError, true);
  // Every constrained row was masked (the unconstrained one never was).
  int64_t constrained_tokens = 0;
  for (uint64_t id = 1; id <= 3; ++id) constrained_tokens += static_cast<int64_t>(out.at(id).tokens.size());
  EXPECT_EQ(metrics.grammar_num_masks, constrained_tokens);
  EXPECT_GT(metrics.grammar_mask_seconds, 0.0);
}

TEST(ConstrainedDecoding, SampledOutputsMatchAtTemperatureOneWithEveryFilter) {
  std::vector<Request> requests;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    Request r = chat_request("Give me a phone number.", 40, fx().compile(kPhone));
    r.sampling.temperature = 1.0f;
    r.sampling.has_seed = true;
    r.sampling.seed = seed;
    if (seed % 3 == 1) r.sampling.top_p = 0.9f;
    if (seed % 3 == 2) r.sampling.top_k = 5;
    if (seed % 4 == 0) r.sampling.repetition_penalty = 1.3f;
    requests.push_back(std::move(r));
  }
  const auto out = run(engine_config(), requests);
  std::set<std::string> distinct;
  for (const auto& [id, o] : out) {
    EXPECT_EQ(o.reason, FinishReason::kStop) << id << " " << o.error;
    const std::string text = text_of(o);
    EXPECT_TRUE(std::regex_match(text, std::regex(R"(\(\d{3}\) \d{3}-\d{4})"))) << text;
    distinct.insert(text);
  }
  EXPECT_GT(distinct.size(), 6u) << "sampling still samples within the grammar";
}

TEST(ConstrainedDecoding, SpeculativeDraftsGiveTheSameGreedyOutput) {
  // A prompt that repeats the constrained answer, so lookup drafts are proposed.
  const std::string question = "Repeat: {\"city\": \"Lyon\", \"population\": 522000} {\"city\": \"Lyon\", "
                               "\"population\": 522000} {\"city\": \"Lyon\", \"population\": 522000}";
  const std::vector<Request> requests = {chat_request(question, 60, fx().compile(kObject))};
  EngineMetrics spec_metrics;
  const auto plain = run(engine_config(0), requests);
  const auto spec = run(engine_config(5), requests, &spec_metrics);
  EXPECT_EQ(spec.at(1).tokens, plain.at(1).tokens);
  EXPECT_EQ(spec.at(1).reason, FinishReason::kStop);
  EXPECT_GT(spec_metrics.spec_num_drafts, 0);
  EXPECT_TRUE(std::regex_match(text_of(spec.at(1)),
                               std::regex(R"(\{"city": "[A-Za-z ]{1,20}", "population": [1-9][0-9]{0,8}\})")));
}

TEST(ConstrainedDecoding, WithoutStopTokensACompleteOutputStillEnds) {
  Request r = chat_request("What is the capital of France?", 30, fx().compile(kChoice));
  r.stop_token_ids.clear();  // ignore_eos
  const auto out = run(engine_config(), {r});
  EXPECT_EQ(out.at(1).reason, FinishReason::kStop) << out.at(1).error;
  const std::string city = text_of(out.at(1));
  EXPECT_TRUE(city == "Paris" || city == "London" || city == "Berlin") << city;
}

TEST(ConstrainedDecoding, ACharacterOnlyByteTokensSpellIsWrittenWithThem) {
  // U+E000 (private use, EE 80 80) is in no merged token: the byte-level
  // vocabulary spells it with byte tokens, across token boundaries.
  const auto out = run(engine_config(), {chat_request("Anything.", 10, fx().compile("root ::= [\\uE000] [\\uE000]"))});
  EXPECT_EQ(out.at(1).reason, FinishReason::kStop) << out.at(1).error;
  EXPECT_EQ(text_of(out.at(1)), "\xEE\x80\x80\xEE\x80\x80");
}

TEST(ConstrainedDecoding, AGrammarNoTokenCanFollowFailsOnlyThatRequest) {
  // A vocabulary whose every token holding the byte 0xEE is never allowed:
  // nothing can spell U+E000, so the grammar is at a dead end at once.
  std::vector<std::string> bytes;
  for (int64_t id = 0; id < fx().tokenizer->vocab_size(); ++id) {
    std::string token = fx().tokenizer->token_bytes(static_cast<int32_t>(id));
    bytes.push_back(token.find('\xEE') == std::string::npos ? token : std::string());
  }
  const auto vocabulary = grammar::build_token_vocabulary(std::move(bytes), {});
  const auto dead_end =
      std::make_shared<grammar::CompiledGrammar>(grammar::parse_gbnf("root ::= [\\uE000]"), vocabulary);
  const auto out = run(engine_config(), {chat_request("Anything.", 10, dead_end), chat_request("Say hello.", 8, nullptr)});
  EXPECT_EQ(out.at(1).reason, FinishReason::kError);
  EXPECT_NE(out.at(1).error.find("no token can continue"), std::string::npos) << out.at(1).error;
  EXPECT_TRUE(out.at(1).tokens.empty());
  EXPECT_NE(out.at(2).reason, FinishReason::kError) << "the other request in the batch goes on";
  EXPECT_FALSE(out.at(2).tokens.empty());
}

// A string the model would go on writing, and nesting it would go on
// opening: with few tokens left the engine steers to a shortest completion, so
// the answer still ends complete (finish reason stop) within max_tokens,
// greedy and sampled, and with no stop token at all.
TEST(ConstrainedDecoding, AnswersEndCompleteWithinMaxTokens) {
  const std::string story = R"g(root ::= "{\"story\": \"" [a-zA-Z ,.]* "\"}")g";
  const std::string nest = R"g(root ::= "[" root "]" | "[" root "," root "]" | "0")g";
  std::vector<Request> requests;
  for (int64_t max_tokens : {6, 12, 25}) {
    requests.push_back(chat_request("Tell me a long story about a dragon.", max_tokens, fx().compile(story)));
    requests.push_back(chat_request("Write a deeply nested JSON array of arrays.", max_tokens, fx().compile(nest)));
    Request sampled = chat_request("Tell me a long story about a dragon.", max_tokens, fx().compile(story));
    sampled.sampling.temperature = 1.0f;
    sampled.sampling.has_seed = true;
    sampled.sampling.seed = static_cast<uint64_t>(max_tokens);
    requests.push_back(std::move(sampled));
  }
  Request no_stop = chat_request("Tell me a long story about a dragon.", 10, fx().compile(story));
  no_stop.stop_token_ids.clear();
  requests.push_back(std::move(no_stop));
  EngineMetrics metrics;
  const auto out = run(engine_config(), requests, &metrics);
  for (const auto& [id, o] : out) {
    const Request& r = requests[id - 1];
    EXPECT_EQ(o.reason, FinishReason::kStop) << id << " (max_tokens " << r.max_tokens << "): " << o.error << " "
                                             << text_of(o);
    EXPECT_LE(static_cast<int64_t>(o.tokens.size()), r.max_tokens);
    grammar::GrammarMatcher check(r.grammar);
    EXPECT_TRUE(check.accept_bytes(text_of(o)) && check.can_terminate()) << id << ": " << text_of(o);
  }
  EXPECT_GT(metrics.grammar_num_steered, 0);
}

TEST(ConstrainedDecoding, ForcedOutputsCannotBeConstrained) {
  Request r = chat_request("Hi", 4, fx().compile(kChoice));
  r.forced_output_ids = {1, 2};
  EngineCore core(*fx().model, engine_config(), [](uint64_t, const TokenEvent&) {});
  EXPECT_THROW(core.add(1, r), InvalidArgument);
}

}  // namespace
}  // namespace kvs
