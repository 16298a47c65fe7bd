// Chat replies with tools (issue 23) at the HTTP edge: model text -> content
// and tool_calls (ToolCallOutputs for streams, parse_tool_call_results for
// whole replies), finish_reason "tool_calls", and the OpenAI JSON of both
// (openai_responses.h): message.tool_calls with content null, and
// delta.tool_calls pieces with id / type / name on a call's first piece only.
#include "server/http/tool_call_outputs.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/http/openai_responses.h"

namespace kvs {
namespace {

using nlohmann::json;

const std::string kReply =
    "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
    "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>";

ResponseMeta chat_meta() { return {ApiKind::kChat, "chatcmpl-1", 1, "m", false, 0}; }

TEST(ToolCallOutputsTest, WholeRepliesBecomeToolCallsWithContentNull) {
  std::vector<ChoiceResult> results(3);
  results[0].text = kReply;
  results[0].finish_reason = "stop";
  results[1].text = "No tools needed.";
  results[1].finish_reason = "stop";
  results[2].text = "<tool_call>\n{\"name\": \"now\", \"arguments\": {\"tz\": \"U";  // cut by max_tokens
  results[2].finish_reason = "length";
  parse_tool_call_results(ToolCallFormat::kHermes, results);
  ASSERT_EQ(results[0].tool_calls.size(), 2u);
  EXPECT_EQ(results[0].tool_calls[0].name, "get_weather");
  EXPECT_EQ(results[0].tool_calls[0].arguments_json, R"({"city": "Paris"})");
  EXPECT_EQ(results[0].finish_reason, "tool_calls");
  EXPECT_TRUE(results[1].tool_calls.empty());
  EXPECT_EQ(results[1].finish_reason, "stop");
  EXPECT_EQ(results[2].finish_reason, "length");  // a cut reply keeps its reason

  const json body = full_response(chat_meta(), results, {"", "", ""}, {}, 10);
  const json& message = body["choices"][0]["message"];
  EXPECT_TRUE(message["content"].is_null());
  ASSERT_EQ(message["tool_calls"].size(), 2u);
  const json& call = message["tool_calls"][0];
  EXPECT_EQ(call["type"], "function");
  EXPECT_EQ(call["id"].get<std::string>().rfind("call_", 0), 0u);
  EXPECT_EQ(call["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(call["function"]["arguments"].get<std::string>()), json({{"city", "Paris"}}));
  EXPECT_EQ(body["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_EQ(body["choices"][1]["message"]["content"], "No tools needed.");
  EXPECT_FALSE(body["choices"][1]["message"].contains("tool_calls"));
}

// Streams the reply in `piece`-byte deltas and reassembles the chunks the way
// a client does.
TEST(ToolCallOutputsTest, StreamedPiecesReassembleToTheSameCallsWhateverTheSplit) {
  for (size_t piece : {1u, 3u, 7u, 1000u}) {
    ToolCallOutputs outputs(ToolCallFormat::kHermes, 1);
    std::vector<json> chunks;
    for (size_t at = 0; at < kReply.size(); at += piece) {
      ChoiceDelta delta;
      delta.text = kReply.substr(at, piece);
      if (at + piece >= kReply.size()) delta.finish_reason = "stop";
      outputs.apply(delta);
      chunks.push_back(stream_chunk(chat_meta(), delta, false));
    }
    std::string content;
    std::vector<json> calls;
    std::string finish;
    for (const json& chunk : chunks) {
      const json& choice = chunk["choices"][0];
      if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"];
      const json& delta = choice["delta"];
      if (delta.contains("content")) content += delta["content"].get<std::string>();
      if (!delta.contains("tool_calls")) continue;
      for (const json& call : delta["tool_calls"]) {
        const size_t index = call["index"];
        if (index == calls.size()) {
          ASSERT_TRUE(call.contains("id") && call["type"] == "function" && call["function"].contains("name")) << call;
          calls.push_back(call);
        } else {
          ASSERT_LT(index, calls.size());
          EXPECT_FALSE(call.contains("id") || call["function"].contains("name")) << call;
          calls[index]["function"]["arguments"] =
              calls[index]["function"]["arguments"].get<std::string>() + call["function"]["arguments"].get<std::string>();
        }
      }
    }
    SCOPED_TRACE(piece);
    EXPECT_EQ(content, "");
    EXPECT_EQ(finish, "tool_calls");
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[0]["function"]["name"], "get_weather");
    EXPECT_EQ(json::parse(calls[0]["function"]["arguments"].get<std::string>()), json({{"city", "Paris"}}));
    EXPECT_EQ(calls[1]["function"]["name"], "now");
    EXPECT_EQ(json::parse(calls[1]["function"]["arguments"].get<std::string>()), json::object());
  }
}

TEST(ToolCallOutputsTest, PlainStreamedTextStaysContent) {
  ToolCallOutputs outputs(ToolCallFormat::kHermes, 2);
  std::string content;
  for (const char* piece : {"Hello", " <b>", "world</b>"}) {
    ChoiceDelta delta;
    delta.index = 1;
    delta.text = piece;
    outputs.apply(delta);
    EXPECT_TRUE(delta.tool_calls.empty());
    content += delta.text;
  }
  ChoiceDelta last;
  last.index = 1;
  last.finish_reason = "stop";
  outputs.apply(last);
  content += last.text;
  EXPECT_EQ(content, "Hello <b>world</b>");
  EXPECT_EQ(last.finish_reason, "stop");
}

}  // namespace
}  // namespace kvs
