#!/usr/bin/env python3
"""Gemma 3 270M served over HTTP, checked with the official openai client.

Serves the second real model (scripts/fetch-model.sh gemma3-270m) with the real
binary and asks it, one request at a time, for greedy completions of the plain
prompts of llama.cpp's reference (tests/data/gemma3_prompts.json, computed by
scripts/reference/llamacpp_generate.py): each completion's text must be
llama.cpp's continuation, detokenized by llama.cpp (llama-cpp-python, vocabulary
only). Streaming gives the same text. Chat is a clear 400 (the file has no chat
template), and so is a KV policy other than none (sliding-window layers); the
server keeps serving after both. /metrics shows the sliding-window layers'
own KV-cache groups (3 layers per block) and no block in use when idle. With
--chat-template gemma, forced tool calls (issue 23) come back as tool_calls
whose arguments validate, streamed and not, and a JSON Schema answer validates.

Usage: gemma3_server_test.py --binary build/kvserve --model GEMMA.gguf --reference REF.json
"""
import argparse
import json
import os
import sys
import unittest

import openai

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvs_server  # noqa: E402

ARGS = None
NUM_PROMPTS = 6
NUM_TOKENS = 24


class Server(kvs_server.Server):
    def __init__(self):
        super().__init__(ARGS.binary, "--model", ARGS.model, "--threads", "1", "--kv-cache-memory", "64MiB",
                         grpc=False)
        self.client = kvs_server.Server.client(self)
        self.model = self.model_id()


class Gemma3Server(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import llama_cpp  # llama.cpp's own detokenizer for its reference tokens

        with open(ARGS.reference, encoding="utf-8") as f:
            cases = [c for c in json.load(f)["cases"] if c["kind"] == "plain"][:NUM_PROMPTS]
        vocab = llama_cpp.Llama(model_path=ARGS.model, vocab_only=True, verbose=False)
        cls.expected = [(c["prompt"], vocab.detokenize(c["tokens"][:NUM_TOKENS]).decode("utf-8")) for c in cases]
        cls.server = Server()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_greedy_completions_are_llamacpps(self):
        server = self.server
        for prompt, expected in self.expected:
            completion = server.client.completions.create(model=server.model, prompt=prompt, max_tokens=NUM_TOKENS,
                                                          temperature=0)
            self.assertEqual(completion.choices[0].text, expected, prompt)
            self.assertEqual(completion.usage.completion_tokens, NUM_TOKENS)
            self.assertEqual(completion.choices[0].finish_reason, "length")

    def test_streaming_gives_the_same_text(self):
        server = self.server
        prompt, expected = self.expected[0]
        stream = server.client.completions.create(model=server.model, prompt=prompt, max_tokens=NUM_TOKENS,
                                                  temperature=0, stream=True)
        self.assertEqual("".join(chunk.choices[0].text for chunk in stream if chunk.choices), expected)

    def test_chat_and_kv_policies_are_clear_400s(self):
        server = self.server
        with self.assertRaises(openai.BadRequestError) as caught:
            server.client.chat.completions.create(model=server.model, max_tokens=4,
                                                  messages=[{"role": "user", "content": "Hi"}])
        self.assertEqual(caught.exception.body["param"], "messages")
        with self.assertRaises(openai.BadRequestError) as caught:
            server.client.completions.create(model=server.model, prompt="Hi", max_tokens=4, temperature=0,
                                             extra_body={"kvserve": {"kv_policy": "streaming", "kv_budget": 64}})
        self.assertIn("sliding-window", caught.exception.body["message"])
        # Still serving.
        prompt, expected = self.expected[1]
        completion = server.client.completions.create(model=server.model, prompt=prompt, max_tokens=NUM_TOKENS,
                                                      temperature=0)
        self.assertEqual(completion.choices[0].text, expected)


    def test_metrics_show_window_groups(self):
        server = self.server
        prompt, _ = self.expected[0]
        server.client.completions.create(model=server.model, prompt=prompt, max_tokens=2, temperature=0)
        server.wait_idle(timeout=30)  # the engine publishes its metrics after the step that finished the request
        values = {(name, labels.get("group")): value for name, labels, value in server.metric_samples()}
        self.assertEqual(values[("kvserve:kv_layers_per_block", None)], 3)
        self.assertEqual(values[("kvserve:kv_blocks_in_use", "full")], 0)
        self.assertEqual(values[("kvserve:kv_blocks_in_use", "sliding_window")], 0)
        self.assertIn(("kvserve:kv_window_blocks_freed_total", None), values)


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                   "required": ["city", "unit"], "additionalProperties": False}}}


class Gemma3ToolsServer(unittest.TestCase):
    """Issue 23 on the Gemma family: with --chat-template gemma, forced tool calls are written in the Gemma
    convention (```tool_call fences) and come back as OpenAI tool_calls; a JSON Schema answer validates."""

    @classmethod
    def setUpClass(cls):
        cls.server = kvs_server.Server(ARGS.binary, "--model", ARGS.model, "--threads", "1", "--kv-cache-memory",
                                       "64MiB", "--chat-template", "gemma", grpc=False)
        cls.client = cls.server.client()
        cls.model = cls.server.model_id()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_forced_tool_calls_and_schema(self):
        import jsonschema
        schema = WEATHER["function"]["parameters"]
        question = [{"role": "user", "content": "What is the weather like in Paris?"}]
        for tool_choice in ("required", {"type": "function", "function": {"name": "get_weather"}}):
            for stream in (False, True):
                with self.subTest(tool_choice=tool_choice, stream=stream):
                    kw = dict(model=self.model, messages=question, tools=[WEATHER], tool_choice=tool_choice,
                              parallel_tool_calls=False, max_tokens=100, temperature=0)
                    if stream:
                        calls, finish = {}, None
                        for chunk in self.client.chat.completions.create(stream=True, **kw):
                            for choice in chunk.choices:
                                finish = choice.finish_reason or finish
                                for d in choice.delta.tool_calls or []:
                                    call = calls.setdefault(d.index, {"name": d.function.name, "arguments": ""})
                                    call["arguments"] += d.function.arguments or ""
                        got = [(c["name"], c["arguments"]) for _, c in sorted(calls.items())]
                    else:
                        choice = self.client.chat.completions.create(**kw).choices[0]
                        finish = choice.finish_reason
                        got = [(c.function.name, c.function.arguments) for c in choice.message.tool_calls or []]
                    self.assertEqual(finish, "tool_calls")
                    self.assertEqual(len(got), 1, got)
                    self.assertEqual(got[0][0], "get_weather")
                    jsonschema.validate(json.loads(got[0][1]), schema)
        answer = self.client.chat.completions.create(
            model=self.model, messages=question, max_tokens=100, temperature=0,
            response_format={"type": "json_schema", "json_schema": {"name": "weather", "schema": schema}})
        self.assertEqual(answer.choices[0].finish_reason, "stop")
        jsonschema.validate(json.loads(answer.choices[0].message.content), schema)


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--reference", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
