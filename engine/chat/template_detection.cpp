#include "engine/chat/template_detection.h"

#include "engine/chat/chat_styles.h"
#include "engine/chat/jinja_literals.h"
#include "engine/chat/python_strings.h"
#include "engine/errors.h"

namespace kvs::chat {
namespace {

[[noreturn]] void throw_unrecognised(const std::string& why) {
  throw InvalidArgument("chat template not recognised (" + why +
                        "); pass --chat-template NAME with one of: " + chat_style_names_joined());
}

std::string chatml_default_system_prompt(const std::string& source) {
  static constexpr std::string_view kOpen = "<|im_start|>system\n";
  for (const std::string& literal : jinja_string_literals(source)) {
    if (!starts_with(literal, kOpen)) continue;
    const size_t close = literal.find("<|im_end|>", kOpen.size());
    if (close != std::string::npos) return literal.substr(kOpen.size(), close - kOpen.size());
  }
  return "";
}

DetectedStyle detect_inst_style(const std::string& source) {
  if (contains(source, "<<SYS>>")) return {"llama2", "", false, false};
  if (contains(source, "[SYSTEM_PROMPT]") || contains(source, "[AVAILABLE_TOOLS]") ||
      contains(source, "system_message")) {
    throw_unrecognised(
        "a Mistral [INST] template with system-prompt or tool support, which "
        "kvserve does not render");
  }
  if (contains(source, "eos_token + ' '")) return {"mistral-v0.1", "", false, false};
  return {"mistral", "", false, false};
}

}  // namespace

DetectedStyle detect_chat_style(const std::string& source) {
  if (source.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw_unrecognised("the template is empty");
  }
  if (contains(source, "<|im_start|>")) {
    if (contains(source, "</think>")) {
      if (contains(source, "last_query_index")) return {"qwen3", "", false, false};
      throw_unrecognised(
          "a ChatML template with reasoning (<think>) handling other than "
          "Qwen3's");
    }
    return {"chatml", chatml_default_system_prompt(source), contains(source, "<tool_response>"),
            false};
  }
  if (contains(source, "<|start_header_id|>") && contains(source, "<|end_header_id|>")) {
    if (contains(source, "Cutting Knowledge Date")) {
      return {"llama3.1", "", false, contains(source, "strftime_now")};
    }
    return {"llama3", "", false, false};
  }
  if (contains(source, "[INST]")) return detect_inst_style(source);
  if (contains(source, "<start_of_turn>")) {
    if (contains(source, "first_user_prefix")) {
      throw_unrecognised("a Gemma 3 template, which kvserve does not render");
    }
    return {"gemma", "", false, false};
  }
  if (contains(source, "<|user|>") && contains(source, "<|assistant|>") &&
      !contains(source, "<|end|>")) {
    return {"zephyr", "", false, false};
  }
  throw_unrecognised("none of the known styles' markers found");
}

}  // namespace kvs::chat
