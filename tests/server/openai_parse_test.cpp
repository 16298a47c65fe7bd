// JSON -> typed OpenAI requests: field mapping, defaults, and 400s that name
// the bad field.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "server/api/api_error.h"
#include "server/api/openai_parse.h"

namespace kvs {
namespace {

int status_of(const std::string& body, bool chat = false) {
  try {
    if (chat) parse_chat_request(body);
    else parse_completion_request(body);
  } catch (const ApiError& e) {
    return e.status();
  }
  return 200;
}

TEST(OpenAiParseTest, CompletionFieldsMapOntoTheTypedRequest) {
  const CompletionRequest r = parse_completion_request(
      R"({"model":"m","prompt":"hi","max_tokens":5,"temperature":0.5,"top_p":0.9,"top_k":7,"min_p":0.1,
          "n":2,"stop":["a","b"],"seed":42,"presence_penalty":0.5,"frequency_penalty":0.25,
          "repetition_penalty":1.1,"stream":true,"stream_options":{"include_usage":true},"logprobs":2,
          "echo":true,"user":"u","unknown":{"x":1}})");
  EXPECT_EQ(r.options.model, "m");
  ASSERT_EQ(r.prompts.size(), 1u);
  EXPECT_EQ(r.prompts[0].text, "hi");
  EXPECT_EQ(*r.options.max_tokens, 5);
  EXPECT_FLOAT_EQ(r.options.sampling.temperature, 0.5f);
  EXPECT_EQ(r.options.sampling.top_k, 7);
  EXPECT_EQ(r.options.n, 2);
  EXPECT_EQ(r.options.stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(r.options.sampling.has_seed);
  EXPECT_EQ(r.options.sampling.seed, 42u);
  EXPECT_TRUE(r.options.stream);
  EXPECT_TRUE(r.options.include_usage);
  EXPECT_TRUE(r.options.logprobs);
  EXPECT_EQ(r.options.top_logprobs, 2);
  EXPECT_TRUE(r.echo);
}

TEST(OpenAiParseTest, PromptForms) {
  EXPECT_EQ(parse_completion_request(R"({"prompt":[1,2,3]})").prompts[0].token_ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(parse_completion_request(R"({"prompt":["a","b"]})").prompts.size(), 2u);
  const auto r = parse_completion_request(R"({"prompt":[[1],[2,3]]})");
  ASSERT_EQ(r.prompts.size(), 2u);
  EXPECT_TRUE(r.prompts[1].is_tokens);
  EXPECT_FALSE(r.options.max_tokens.has_value());
  EXPECT_FLOAT_EQ(r.options.sampling.temperature, 1.0f);
}

TEST(OpenAiParseTest, ChatMessagesAndMaxCompletionTokens) {
  const ChatRequest r = parse_chat_request(
      R"({"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
          "max_completion_tokens":3,"max_tokens":9,"logprobs":true,"top_logprobs":2})");
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].content, "ab");
  EXPECT_EQ(*r.options.max_tokens, 3);
  EXPECT_TRUE(r.options.logprobs);
}

TEST(OpenAiParseTest, BadInputIs400) {
  EXPECT_EQ(status_of("{"), 400);
  EXPECT_EQ(status_of("[]"), 400);
  EXPECT_EQ(status_of(R"({})"), 400);
  EXPECT_EQ(status_of(R"({"prompt":""})"), 400);
  EXPECT_EQ(status_of(R"({"prompt":"x","max_tokens":0})"), 400);
  EXPECT_EQ(status_of(R"({"prompt":"x","n":0})"), 400);
  EXPECT_EQ(status_of(R"({"prompt":"x","temperature":-1})"), 400);
  EXPECT_EQ(status_of(R"({"prompt":"x","stop":5})"), 400);
  EXPECT_EQ(status_of(R"({"prompt":[1,-1]})"), 400);
  EXPECT_EQ(status_of("{\"prompt\":\"\xff\"}"), 400);
  EXPECT_EQ(status_of(R"({"messages":[]})", true), 400);
  EXPECT_EQ(status_of(R"({"messages":[{"content":"x"}]})", true), 400);
  EXPECT_EQ(status_of(R"({"messages":[{"role":"user","content":"x"}]})", true), 200);
}

TEST(OpenAiParseTest, ErrorsNameTheField) {
  try {
    parse_completion_request(R"({"prompt":"x","max_tokens":"5"})");
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.param(), "max_tokens");
    EXPECT_EQ(e.to_json()["error"]["type"], "invalid_request_error");
  }
}

TEST(OpenAiParseTest, KvserveExtensionObjectCarriesPriorityAndIsStrict) {
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","kvserve":{"priority":-3}})").options.priority, -3);
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x"})").options.priority, 0);
  EXPECT_EQ(status_of(R"({"prompt":"x","kvserve":{"priority":"high"}})"), 400);
  EXPECT_EQ(status_of(R"({"prompt":"x","kvserve":{"kv_policy":"no-such-policy"}})"), 400);
  EXPECT_EQ(status_of(R"({"prompt":"x","kvserve":[1]})"), 400);
  EXPECT_EQ(status_of(R"({"prompt":"x","kvserve":{"priority":99999999}})"), 400);
  try {
    parse_completion_request(R"({"prompt":"x","kvserve":{"unknown":1}})");
    FAIL() << "no error";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.param(), "kvserve.unknown");
  }
}

// Found by fuzz/http_body_fuzzer (issue 11): a number too large for a double
// made nlohmann::json throw out_of_range, not parse_error, and it escaped the
// parser as a non-ApiError. It is a 400 invalid_json now.
TEST(OpenAiParseTest, FuzzRegressionNumberOverflowIs400) {
  EXPECT_EQ(status_of(R"({"prompt":"x","temperature":1e400})"), 400);
  EXPECT_EQ(status_of(R"({"messages":[{"role":"user","content":"x"}],"top_p":-1E7204})", true), 400);
  EXPECT_EQ(status_of("66666666660000000000000000000000000000000000000000000000000000000122978293812365E7204"), 400);
  try {
    parse_completion_request(R"({"prompt":"x","max_tokens":1e999})");
    FAIL() << "no error";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), "invalid_json");
  }
}

}  // namespace
}  // namespace kvs

namespace kvs {
namespace {

std::string param_of(const std::string& body, bool chat = false) {
  try {
    if (chat) parse_chat_request(body);
    else parse_completion_request(body);
  } catch (const ApiError& e) {
    return e.status() == 400 ? e.param() : "status " + std::to_string(e.status());
  }
  return "accepted";
}

TEST(OpenAiFieldsTest, UnimplementedFieldsAreA400NamingThem) {
  // response_format, tools and tool_choice are implemented (issue 23: structured_output_parse_test.cpp).
  EXPECT_EQ(param_of(R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"text"}})", true),
            "accepted");
  EXPECT_EQ(param_of(R"({"messages":[{"role":"user","content":"x"}],"functions":[]})", true), "functions");
  EXPECT_EQ(param_of(R"({"messages":[{"role":"user","content":"x"}],"function_call":"auto"})", true), "function_call");
  EXPECT_EQ(param_of(R"({"prompt":"x","suffix":"y"})"), "suffix");
  EXPECT_EQ(param_of(R"({"prompt":"x","suffix":""})"), "accepted");
  EXPECT_EQ(param_of(R"({"prompt":"x","best_of":2})"), "best_of");
  EXPECT_EQ(param_of(R"({"prompt":"x","best_of":1})"), "accepted");
}

TEST(OpenAiFieldsTest, LogitBiasMinTokensStopStringAndPriority) {
  const CompletionRequest r = parse_completion_request(
      R"({"prompt":"x","max_tokens":9,"logit_bias":{"12":-100,"7":2.5},"min_tokens":4,
          "include_stop_str_in_output":true,"priority":-5})");
  std::vector<std::pair<int32_t, float>> bias = r.options.sampling.logit_bias;
  std::sort(bias.begin(), bias.end());
  EXPECT_EQ(bias, (std::vector<std::pair<int32_t, float>>{{7, 2.5f}, {12, -100.0f}}));
  EXPECT_EQ(r.options.sampling.min_tokens, 4);
  EXPECT_TRUE(r.options.include_stop_str_in_output);
  EXPECT_EQ(r.options.priority, -5);
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","kvserve":{"priority":3}})").options.priority, 3);
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","priority":3,"kvserve":{"priority":3}})").options.priority, 3);
  EXPECT_EQ(param_of(R"({"prompt":"x","priority":1,"kvserve":{"priority":3}})"), "priority");
  EXPECT_EQ(param_of(R"({"prompt":"x","logit_bias":{"a":1}})"), "logit_bias");
  EXPECT_EQ(param_of(R"({"prompt":"x","logit_bias":{"-1":1}})"), "logit_bias");
  EXPECT_EQ(param_of(R"({"prompt":"x","logit_bias":{"1":100.5}})"), "logit_bias");
  EXPECT_EQ(param_of(R"({"prompt":"x","logit_bias":[1]})"), "logit_bias");
  EXPECT_EQ(param_of(R"({"prompt":"x","max_tokens":2,"min_tokens":3})"), "min_tokens");
  EXPECT_EQ(param_of(R"({"prompt":"x","min_tokens":-1})"), "min_tokens");
}

TEST(OpenAiFieldsTest, TopKMaxCompletionTokensAndRoles) {
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","top_k":-1})").options.sampling.top_k, -1);
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","top_k":0})").options.sampling.top_k, 0);
  EXPECT_EQ(param_of(R"({"prompt":"x","top_k":-2})"), "top_k");
  EXPECT_EQ(param_of(R"({"messages":[{"role":"user","content":"x"}],"max_completion_tokens":0})", true),
            "max_completion_tokens");
  EXPECT_EQ(param_of(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":0})", true), "max_tokens");
  EXPECT_EQ(param_of(R"({"messages":[{"role":"user","content":"x"},{"role":"wizard","content":"y"}]})", true),
            "messages[1].role");
  EXPECT_EQ(param_of(R"({"messages":[{"content":"x"}]})", true), "messages[0].role");
  const ChatRequest chat = parse_chat_request(R"({"messages":[{"role":"developer","content":"d"},{"role":"user","content":"u"}]})");
  EXPECT_EQ(chat.messages[0].role, "system");
}

TEST(OpenAiFieldsTest, TokenizeAndDetokenizeBodies) {
  const TokenizeRequest prompt = parse_tokenize_request(R"({"prompt":"hi","add_special_tokens":false})");
  EXPECT_FALSE(prompt.is_chat);
  EXPECT_FALSE(prompt.add_special_tokens);
  const TokenizeRequest chat =
      parse_tokenize_request(R"({"messages":[{"role":"user","content":"x"}],"add_generation_prompt":false})");
  EXPECT_TRUE(chat.is_chat);
  EXPECT_FALSE(chat.add_generation_prompt);
  EXPECT_THROW(parse_tokenize_request(R"({})"), ApiError);
  EXPECT_THROW(parse_tokenize_request(R"({"prompt":"x","messages":[]})"), ApiError);
  EXPECT_EQ(parse_detokenize_request(R"({"tokens":[1,2]})").tokens, (std::vector<int32_t>{1, 2}));
  EXPECT_THROW(parse_detokenize_request(R"({"tokens":[-1]})"), ApiError);
  EXPECT_THROW(parse_detokenize_request(R"({"tokens":"1"})"), ApiError);
}

}  // namespace
}  // namespace kvs
