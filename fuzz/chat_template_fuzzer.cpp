// Harness: chat-template detection and rendering (engine/chat/chat_template.h).
//
// Input: byte 0 picks the template: n < known_names().size() is
// from_name(known_names()[n]); anything else is from_jinja with the first
// field as the Jinja source. Byte 1 bit 0 is add_generation_prompt; bit 1
// renders with one tool (bit 3: whose tool_json is the eos field's bytes); bit 2
// gives every assistant message a tool call whose arguments are its content. The rest
// is fields separated by 0x1f: [source,] bos, eos, then role / content pairs;
// a one-byte role b is a known role ("system", "user", "assistant", "tool",
// "ipython", "model")[b % 6], a longer one is taken as is.
// Contract: from_jinja / from_name return a template or throw kvs::Error
// (InvalidArgument); render returns the prompt or throws kvs::Error
// (InvalidArgument) for a conversation the style cannot express. Never a
// crash, leak, UB, any other exception or a hang.
// Seeds: fuzz/corpus/chat_template_fuzzer (fuzz/make_seeds.py).
#include <cstdint>
#include <string>
#include <vector>

#include "engine/chat/chat_template.h"
#include "engine/errors.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::vector<std::string>& names = kvs::ChatTemplate::known_names();
  const size_t style = data[0];
  const bool add_generation_prompt = data[1] & 1;
  const bool with_tools = data[1] & 2;
  const bool with_calls = data[1] & 4;
  const bool raw_tool_json = data[1] & 8;
  std::vector<std::string> fields(1);
  for (size_t i = 2; i < size; ++i) {
    if (data[i] == 0x1f) {
      fields.emplace_back();
    } else {
      fields.back().push_back(static_cast<char>(data[i]));
    }
  }
  const bool jinja = style >= names.size();
  size_t next = 0;
  auto take = [&]() -> std::string { return next < fields.size() ? fields[next++] : std::string(); };
  const std::string source = jinja ? take() : std::string();
  const std::string bos = take(), eos = take();
  std::vector<kvs::ChatMessage> messages;
  static const char* const kRoles[] = {"system", "user", "assistant", "tool", "ipython", "model"};
  while (next < fields.size()) {
    std::string role = take();
    if (role.size() == 1) role = kRoles[static_cast<uint8_t>(role[0]) % 6];
    messages.push_back({role, take()});
    if (with_calls && messages.back().role == "assistant") {
      messages.back().tool_calls.push_back({"call_0", "get_weather", messages.back().content});
    }
  }
  std::vector<kvs::ToolDefinition> tools;
  if (with_tools) {
    tools.push_back({"get_weather", "Weather.", R"({"type":"object","properties":{"city":{}}})",
                     raw_tool_json ? eos : std::string()});
  }
  try {
    const kvs::ChatTemplate chat = jinja ? kvs::ChatTemplate::from_jinja(source, bos, eos)
                                         : kvs::ChatTemplate::from_name(names[style], bos, eos);
    KVS_FUZZ_CHECK(!chat.style().empty());
    (void)chat.render(messages, add_generation_prompt, tools);
  } catch (const kvs::Error&) {
  }
  return 0;
}
