#!/usr/bin/env python3
"""Renders reference chat prompts with the REAL Jinja templates (jinja2).

Writes, under tests/engine/chat/data/:
  smollm2.jinja  the template stored in models/SmolLM2-135M-Instruct.Q4_1.gguf
  qwen3.jinja    the template of shared/fixtures/tokenizers/qwen3/tokenizer_config.json
  chat_template_renderings.json
                 for every template file in TEMPLATES: the conversations below
                 rendered with and without the generation prompt, or the error
                 the template raised; then for every file in TOOL_TEMPLATES the
                 TOOL_CONVERSATIONS rendered with `tools` (entries marked
                 "tool_cases"; "style_by_name": the style is chosen by name,
                 not detected).
The other *.jinja files in that folder are the published templates, written there
by hand (see the comment beside each entry of TEMPLATES; gemma3.jinja is
google/gemma-3-*-it's), except gemma3-tools.jinja: kvserve's own tool-calling
convention for Gemma, written as an extension of Gemma 3's template, since Gemma's
templates have no tools (checked here: without tools it renders as gemma3.jinja).

The Jinja environment mirrors transformers' apply_chat_template: trim_blocks,
lstrip_blocks, the loopcontrols extension, raise_exception(), and a tojson that
keeps non-ASCII text. kvserve's C++ renderer must reproduce these strings exactly.

Run once from anywhere (needs jinja2 and gguf):
  .venv/bin/python scripts/reference/render_chat_templates.py
"""
import json
import pathlib

import gguf
import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "engine" / "chat" / "data"
GGUF_MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
QWEN3_CONFIG = ROOT.parent / "shared" / "fixtures" / "tokenizers" / "qwen3" / "tokenizer_config.json"

CONVERSATIONS = {
    "user_only": [("user", "Hello!")],
    "system_user": [("system", "You are terse."), ("user", "What is 2+2?")],
    "multi_turn": [("user", "Hi"), ("assistant", "Hello! How can I help?"),
                   ("user", "Tell me a joke.")],
    "whitespace": [("system", "  Be brief.\n"), ("user", "  spaced question  \n"),
                   ("assistant", "\n padded answer \t"), ("user", "next")],
    # Python's str.strip() (Jinja's trim) also removes Unicode spaces, but not U+200B.
    "unicode_whitespace": [("user", "\u3000wide\u00a0space\u2003"), ("assistant", "\u00a0ok\u2028"),
                           ("user", "\u00e9 \U0001F600 \u200b")],
    "ends_with_assistant": [("user", "Continue this:"), ("assistant", "Once upon a time")],
    "system_only": [("system", "You are terse.")],
    "empty_system": [("system", ""), ("user", "Hi")],
    "assistant_first": [("assistant", "I start."), ("user", "ok")],
    "consecutive_users": [("user", "a"), ("user", "b")],
    "system_later": [("user", "Hi"), ("system", "Switch to French."), ("user", "Bonjour")],
    "thinking_history": [("user", "What is 1+1?"), ("assistant", "<think>\nAdd them.\n</think>\n\n2"),
                         ("user", "And 2+2?")],
    "thinking_last": [("user", "What is 1+1?"), ("assistant", "<think>\nAdd them.\n</think>\n\n2")],
    "tool_results": [("user", "Weather in Paris?"), ("assistant", "Let me check."),
                     ("tool", "18C, cloudy"), ("tool", "Humidity 60%"), ("user", "Thanks")],
    "multiline": [("user", "line one\nline two\n\nline four")],
    "empty_content": [("user", "")],
}

# OpenAI tools: two functions, one with non-ASCII text and nested schema keywords.
TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather in a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name, e.g. \"Paris\" or S\u00e3o Paulo"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "get_time", "description": "Local time in a time zone \u2014 IANA name.",
        "parameters": {"type": "object", "properties": {
            "timezone": {"type": "string"}, "precision": {"type": "integer", "minimum": 0}},
            "required": ["timezone"], "additionalProperties": False}}},
]


def call(call_id, name, arguments):
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def assistant_calls(content, *calls):
    return {"role": "assistant", "content": content, "tool_calls": list(calls)}


def tool_result(call_id, name, content):
    return {"role": "tool", "tool_call_id": call_id, "name": name, "content": content}


PARIS = call("call_1", "get_weather", {"city": "Paris", "unit": "celsius"})
PARIS_TIME = call("call_2", "get_time", {"timezone": "Europe/Paris"})
# Arguments as transformers callers pass them (a dict), with every JSON type and
# text that json.dumps escapes; and as text that is not JSON (printed as a string).
TRICKY = call("call_3", "get_weather", {"city": "S\u00e3o Paulo \"SP\"\n\ttab\\", "unit": None,
                                         "days": [1, 2.5, -3], "flags": {"hourly": True, "x": False},
                                         "empty": {}, "none": [], "ctl": "\u0001\u001f\u007f"})
RAW = call("call_4", "get_time", "not json {")

# Conversations rendered with tools=TOOLS; those with tool calls also without tools.
TOOL_CONVERSATIONS = {
    "tools_first_turn": [{"role": "user", "content": "What's the weather in Paris?"}],
    "tools_system": [{"role": "system", "content": "You are terse."},
                     {"role": "user", "content": " Weather in Paris? "}],
    "tools_empty_system": [{"role": "system", "content": ""}, {"role": "user", "content": "Hi"}],
    "tool_call_round": [{"role": "system", "content": "You are terse."},
                        {"role": "user", "content": "Weather in Paris?"},
                        assistant_calls("", PARIS),
                        tool_result("call_1", "get_weather", "18C, cloudy"),
                        {"role": "assistant", "content": "It is 18C and cloudy."},
                        {"role": "user", "content": "Thanks!"}],
    "tool_call_pending": [{"role": "user", "content": "Weather in Paris?"},
                          assistant_calls("", PARIS)],
    "parallel_calls": [{"role": "user", "content": "Weather and time in Paris?"},
                       assistant_calls("", PARIS, PARIS_TIME),
                       tool_result("call_1", "get_weather", "18C, cloudy"),
                       tool_result("call_2", "get_time", "14:05")],
    "call_with_content": [{"role": "user", "content": "Weather in Paris?"},
                          assistant_calls("Let me check.", PARIS),
                          tool_result("call_1", "get_weather", " {\"temp\": 18} ")],
    "thinking_then_call": [{"role": "user", "content": "Weather in Paris?"},
                           assistant_calls("<think>\nI should call the tool.\n</think>\n\n", PARIS),
                           tool_result("call_1", "get_weather", "18C")],
    "tools_assistant_first": [{"role": "assistant", "content": "Hello."},
                              {"role": "user", "content": "Weather?"}],
    "tricky_arguments": [{"role": "user", "content": "Weather?"}, assistant_calls("", TRICKY),
                         tool_result("call_3", "get_weather", "ok")],
    "raw_arguments": [{"role": "user", "content": "Time?"}, assistant_calls("", RAW),
                      tool_result("call_4", "get_time", "error: bad arguments")],
}

# Templates rendered with TOOL_CONVERSATIONS: file, bos, eos, style, excluded.
# The real templates are detected as the others; gemma3-tools.jinja ("style_by_name")
# is kvserve's Gemma convention, used through the "gemma" style by name.
TOOL_TEMPLATES = [
    ("qwen2.5.jinja", "", "<|im_end|>", "chatml", {}),
    ("qwen3.jinja", "", "<|im_end|>", "qwen3", {}),
    ("llama3.1.jinja", "<|begin_of_text|>", "<|eot_id|>", "llama3.1", {
        "call_with_content": "the template drops the content of a tool-call turn; kvserve rejects it",
        "thinking_then_call": "the template drops the content of a tool-call turn; kvserve rejects it",
        "tools_assistant_first": "the template puts tools into an assistant message; kvserve rejects it"}),
    # kvserve's Gemma convention (Gemma 3's template extended); style chosen by name.
    ("gemma3-tools.jinja", "<bos>", "<eos>", "gemma", {}),
]

# file, bos, eos, the style kvserve must detect, and conversations left out
# because kvserve deliberately rejects what the template silently mangles
# (each such case has its own C++ test).
TEMPLATES = [
    ("smollm2.jinja", "<|im_start|>", "<|im_end|>", "chatml", {}),  # from the GGUF
    ("chatml.jinja", "<s>", "<|im_end|>", "chatml", {}),  # teknium/OpenHermes-2.5-Mistral-7B
    ("qwen2.jinja", "", "<|im_end|>", "chatml", {}),  # Qwen/Qwen2-7B-Instruct
    ("qwen2.5.jinja", "", "<|im_end|>", "chatml", {}),  # Qwen/Qwen2.5-7B-Instruct
    ("qwen3.jinja", "", "<|im_end|>", "qwen3", {}),  # from the fixture
    ("llama3.jinja", "<|begin_of_text|>", "<|eot_id|>", "llama3", {}),  # Meta-Llama-3-8B-Instruct
    ("llama3.1.jinja", "<|begin_of_text|>", "<|eot_id|>", "llama3.1", {}),  # Llama-3.1-8B-Instruct
    ("llama2.jinja", "<s>", "</s>", "llama2", {  # meta-llama/Llama-2-7b-chat-hf
        "system_only": "the template renders an empty prompt; kvserve rejects it",
        "system_later": "the template drops the system message; kvserve rejects it"}),
    ("mistral-v0.1.jinja", "<s>", "</s>", "mistral-v0.1", {}),  # Mistral-7B-Instruct-v0.1
    ("mixtral.jinja", "<s>", "</s>", "mistral", {}),  # Mixtral-8x7B-Instruct-v0.1
    ("gemma.jinja", "<bos>", "<eos>", "gemma", {}),  # google/gemma-7b-it
    ("zephyr.jinja", "<s>", "</s>", "zephyr", {  # HuggingFaceH4/zephyr-7b-beta
        "tool_results": "the template drops tool messages; kvserve rejects them"}),
]


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def make_environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def write_local_templates():
    reader = gguf.GGUFReader(str(GGUF_MODEL))
    smollm2 = reader.fields["tokenizer.chat_template"].contents()
    (DATA / "smollm2.jinja").write_text(smollm2, encoding="utf-8")
    qwen3 = json.loads(QWEN3_CONFIG.read_text(encoding="utf-8"))["chat_template"]
    (DATA / "qwen3.jinja").write_text(qwen3, encoding="utf-8")


def render_cases(template, bos, eos, excluded):
    cases = []
    for name, turns in CONVERSATIONS.items():
        if name in excluded:
            continue
        messages = [{"role": role, "content": content} for role, content in turns]
        for add_generation_prompt in (True, False):
            case = {"conversation": name, "messages": messages,
                    "add_generation_prompt": add_generation_prompt}
            try:
                case["text"] = template.render(messages=messages,
                                               add_generation_prompt=add_generation_prompt,
                                               bos_token=bos, eos_token=eos)
            except jinja2.exceptions.TemplateError as error:
                case["error"] = str(error)
            cases.append(case)
    return cases


def render_tool_cases(template, bos, eos, excluded):
    cases = []
    for name, messages in TOOL_CONVERSATIONS.items():
        if name in excluded:
            continue
        with_calls = any(m.get("tool_calls") for m in messages)
        for tools in ([TOOLS, None] if with_calls else [TOOLS]):
            for add_generation_prompt in (True, False):
                case = {"conversation": name, "messages": messages,
                        "add_generation_prompt": add_generation_prompt}
                if tools is not None:
                    case["tools"] = tools
                try:
                    case["text"] = template.render(messages=messages, tools=tools,
                                                   add_generation_prompt=add_generation_prompt,
                                                   bos_token=bos, eos_token=eos)
                except jinja2.exceptions.TemplateError as error:
                    case["error"] = str(error)
                cases.append(case)
    return cases


def check_gemma3_tools_extends_gemma3(env):
    """Without tools and tool turns, kvserve's Gemma tool template renders as Gemma 3's."""
    base = env.from_string((DATA / "gemma3.jinja").read_text(encoding="utf-8"))
    tools = env.from_string((DATA / "gemma3-tools.jinja").read_text(encoding="utf-8"))
    for name, turns in CONVERSATIONS.items():
        if any(role == "tool" for role, _ in turns):
            continue
        messages = [{"role": role, "content": content} for role, content in turns]
        for add_generation_prompt in (True, False):
            texts = []
            for template in (base, tools):
                try:
                    texts.append(template.render(messages=messages, add_generation_prompt=add_generation_prompt,
                                                 bos_token="<bos>", eos_token="<eos>"))
                except jinja2.exceptions.TemplateError as error:
                    texts.append(("error", str(error)))
            assert texts[0] == texts[1], (name, texts)


def main():
    write_local_templates()
    env = make_environment()
    check_gemma3_tools_extends_gemma3(env)
    out = []
    for file_name, bos, eos, style, excluded in TEMPLATES:
        source = (DATA / file_name).read_text(encoding="utf-8")
        template = env.from_string(source)
        out.append({"template_file": file_name, "bos_token": bos, "eos_token": eos,
                    "style": style, "excluded": excluded,
                    "cases": render_cases(template, bos, eos, excluded)})
    for file_name, bos, eos, style, excluded in TOOL_TEMPLATES:
        source = (DATA / file_name).read_text(encoding="utf-8")
        template = env.from_string(source)
        out.append({"template_file": file_name, "bos_token": bos, "eos_token": eos,
                    "style": style, "excluded": excluded, "tool_cases": True,
                    "style_by_name": file_name == "gemma3-tools.jinja",
                    "cases": render_tool_cases(template, bos, eos, excluded)})
    path = DATA / "chat_template_renderings.json"
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path} ({sum(len(t['cases']) for t in out)} cases)")


if __name__ == "__main__":
    main()
