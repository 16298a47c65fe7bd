#pragma once
// Recognises which chat style a model's Jinja template implements (the way
// llama.cpp's llm_chat_detect_template does): by distinctive markers in the source.
#include <string>

namespace kvs::chat {

struct DetectedStyle {
  std::string name;                   // a chat_styles() name
  std::string default_system_prompt;  // chatml only; "" when the template has none
  bool wrap_tool_responses = false;   // chatml only
  bool date_from_clock = false;       // llama3.1 only: the template calls strftime_now()
};

// Rules, first match wins:
//   "<|im_start|>" with "</think>"             -> qwen3 when it has "last_query_index",
//        else not recognised (QwQ, DeepSeek-R1 distills: other reasoning rules)
//   "<|im_start|>"                             -> chatml; default system prompt = the text
//        between "<|im_start|>system\n" and "<|im_end|>" in one string literal (SmolLM2,
//        Qwen2, Qwen2.5); wrap_tool_responses when the source has "<tool_response>"
//   "<|start_header_id|>" + "<|end_header_id|>" -> llama3.1 when it has "Cutting Knowledge
//        Date" (date_from_clock when it calls strftime_now, as Llama-3.2 does), else llama3
//   "[INST]" with "<<SYS>>"                     -> llama2
//   "[INST]"                                    -> mistral-v0.1 when assistant turns end in
//        "eos_token + ' '", else mistral; but Mistral's later templates (system_message,
//        [SYSTEM_PROMPT], [AVAILABLE_TOOLS]) are not recognised
//   "<start_of_turn>" without "first_user_prefix" (Gemma 3)            -> gemma
//   "<|user|>" + "<|assistant|>" without "<|end|>" (Phi-3)             -> zephyr
// Anything else throws InvalidArgument telling the user to pass --chat-template NAME.
DetectedStyle detect_chat_style(const std::string& source);

}  // namespace kvs::chat
