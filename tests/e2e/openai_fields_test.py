#!/usr/bin/env python3
"""End-to-end tests of the OpenAI / vLLM request fields (issue 20, points 6-8).

One real `kvserve serve` (the default model, --max-num-seqs 1, --max-model-len,
--log-format json, a served model name with a quote and a backslash) driven by
the official `openai` client (vLLM extensions through `extra_body`). Each test
checks an effect (tokens, text, counts, log lines), with expectations that
follow from the field's definition rather than from a reference engine:
  - unimplemented fields (functions, function_call, suffix, best_of) are a 400 naming the param;
  - logit_bias +100 forces a token, -100 bans the greedy one;
  - min_tokens keeps a stop token from ending the output early;
  - include_stop_str_in_output keeps the stop string;
  - top-level priority: the lower value runs first;
  - echo + logprobs: the prompt's logprobs match the logprob the engine reports
    when it generates the same token after the same prefix;
  - usage.prompt_tokens_details.cached_tokens: 0, then > 0 for a repeat;
  - /tokenize counts equal usage.prompt_tokens, /detokenize round-trips;
  - --max-model-len bounds prompts and is what /v1/models reports;
  - X-Request-Id is echoed and logged; logs are JSON lines;
  - logprob tokens concatenate to the text, stream text_offset is cumulative;
  - Prometheus label values are escaped; top_k, max_completion_tokens and
    message roles are validated.

Usage: openai_fields_test.py --binary build/kvserve [--model PATH] [unittest args]
"""
import json
import os
import sys
import threading
import time
import unittest

import openai

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvs_server  # noqa: E402
from kvs_server import Server  # noqa: E402

ARGS = None
MODEL_NAME = 'kv"serve\\small'  # a quote and a backslash: both need escaping in /metrics
MAX_MODEL_LEN = 512
SERVER = None


def setUpModule():
    global SERVER
    model = ["--model", ARGS.model] if ARGS.model else []
    SERVER = Server(ARGS.binary, *model, "--threads", "1", "--kv-cache-memory", "32MiB", "--max-num-seqs", "1",
                    "--max-model-len", str(MAX_MODEL_LEN), "--served-model-name", MODEL_NAME,
                    "--log-format", "json", startup_timeout=60)


def tearDownModule():
    if SERVER:
        code = SERVER.stop()
        assert code == 0, f"exit code {code}:\n{SERVER.output()}"


def post(path, body, headers=None):
    status, response_headers, data = SERVER.raw("POST", path, json.dumps(body),
                                                {"Content-Type": "application/json", **(headers or {})})
    return status, response_headers, json.loads(data)


def tokenize(**body):
    status, _, data = post("/tokenize", body)
    assert status == 200, data
    return data["tokens"]


def detokenize(tokens):
    status, _, data = post("/detokenize", {"tokens": tokens})
    assert status == 200, data
    return data["prompt"]


class FieldsTest(unittest.TestCase):
    PROMPT = "The capital of France is"

    def setUp(self):
        self.client = SERVER.client()

    def complete(self, **kw):
        kw.setdefault("model", MODEL_NAME)
        kw.setdefault("temperature", 0)
        return self.client.completions.create(**kw)

    def chat(self, content, **kw):
        kw.setdefault("model", MODEL_NAME)
        kw.setdefault("temperature", 0)
        return self.client.chat.completions.create(messages=[{"role": "user", "content": content}], **kw)

    def assert_bad_request(self, param, call):
        with self.assertRaises(openai.BadRequestError) as caught:
            call()
        self.assertEqual(caught.exception.param, param, caught.exception.body)
        return caught.exception

    # --- point 6: unimplemented fields -------------------------------------------------
    def test_unimplemented_fields_are_a_400_naming_them(self):
        # response_format, tools and tool_choice are implemented (issue 23:
        # structured_output_test.py); the deprecated function calling is not.
        chat_fields = {
            "functions": [{"name": "f", "parameters": {"type": "object"}}],
            "function_call": "auto",
        }
        for name, value in chat_fields.items():
            with self.subTest(field=name):
                self.assert_bad_request(name, lambda: self.chat("Hi", max_tokens=2, **{name: value}))
        self.assert_bad_request("suffix", lambda: self.complete(prompt="Hi", max_tokens=2, suffix=" end."))
        self.assert_bad_request("best_of", lambda: self.complete(prompt="Hi", max_tokens=2, best_of=2))
        # What is implemented stays accepted: text output, best_of 1.
        r = self.chat("Hi", max_tokens=2, response_format={"type": "text"})
        self.assertEqual(r.usage.completion_tokens, 2)
        self.assertEqual(self.complete(prompt="Hi", max_tokens=2, best_of=1).usage.completion_tokens, 2)

    # --- point 7 -------------------------------------------------------------------------
    def test_logit_bias_forces_and_bans_tokens(self):
        forced = tokenize(prompt=" banana", add_special_tokens=False)
        self.assertEqual(len(forced), 1)
        r = self.complete(prompt=self.PROMPT, max_tokens=4, logprobs=0, logit_bias={str(forced[0]): 100})
        self.assertEqual(r.choices[0].logprobs.tokens, [detokenize(forced)] * 4)
        self.assertEqual(r.choices[0].text, " banana" * 4)

        greedy = self.complete(prompt=self.PROMPT, max_tokens=1, logprobs=0).choices[0].logprobs.tokens[0]
        greedy_id = tokenize(prompt=greedy, add_special_tokens=False)
        self.assertEqual(len(greedy_id), 1)
        banned = self.complete(prompt=self.PROMPT, max_tokens=1, logprobs=0, logit_bias={str(greedy_id[0]): -100})
        self.assertNotEqual(banned.choices[0].logprobs.tokens[0], greedy)

        self.assert_bad_request("logit_bias", lambda: self.complete(prompt="Hi", max_tokens=1,
                                                                    logit_bias={"10000000": 5}))
        self.assert_bad_request("logit_bias", lambda: self.complete(prompt="Hi", max_tokens=1, logit_bias={"5": 101}))
        self.assert_bad_request("logit_bias", lambda: self.complete(prompt="Hi", max_tokens=1,
                                                                    logit_bias={"token": 1}))

    def test_min_tokens_suppresses_stop_tokens_until_reached(self):
        first = self.complete(prompt=self.PROMPT, max_tokens=1, logprobs=0).choices[0].logprobs.tokens[0]
        stop_id = tokenize(prompt=first, add_special_tokens=False)
        # The greedy first token as a stop token ends the output at once...
        r = self.complete(prompt=self.PROMPT, max_tokens=12, extra_body={"stop_token_ids": stop_id})
        self.assertEqual((r.usage.completion_tokens, r.choices[0].finish_reason), (1, "stop"))
        # ...unless min_tokens holds it (and EOS) back until 6 tokens are out.
        r = self.complete(prompt=self.PROMPT, max_tokens=12, logprobs=0,
                          extra_body={"stop_token_ids": stop_id, "min_tokens": 6})
        self.assertGreaterEqual(r.usage.completion_tokens, 6)
        self.assertNotIn(first, r.choices[0].logprobs.tokens[:5])
        # Stop strings are not looked for before min_tokens either (vLLM).
        whole = self.complete(prompt="1, 2, 3, 4, 5,", max_tokens=10).choices[0].text
        self.assertIn(",", whole[:4])
        r = self.complete(prompt="1, 2, 3, 4, 5,", max_tokens=10, stop=[","], extra_body={"min_tokens": 6})
        self.assertGreaterEqual(r.usage.completion_tokens, 6)
        self.assertIn(",", r.choices[0].text)
        self.assert_bad_request("min_tokens", lambda: self.complete(prompt="Hi", max_tokens=2,
                                                                    extra_body={"min_tokens": 3}))

    def test_include_stop_str_in_output(self):
        whole = self.complete(prompt="1, 2, 3, 4, 5,", max_tokens=12).choices[0].text
        stop = whole[4:7]
        cut = whole.index(stop)
        r = self.complete(prompt="1, 2, 3, 4, 5,", max_tokens=12, stop=[stop])
        self.assertEqual((r.choices[0].text, r.choices[0].finish_reason), (whole[:cut], "stop"))
        r = self.complete(prompt="1, 2, 3, 4, 5,", max_tokens=12, stop=[stop],
                          extra_body={"include_stop_str_in_output": True})
        self.assertEqual((r.choices[0].text, r.choices[0].finish_reason), (whole[:cut + len(stop)], "stop"))
        streamed = "".join(c.choices[0].text for c in self.complete(
            prompt="1, 2, 3, 4, 5,", max_tokens=12, stop=[stop], stream=True,
            extra_body={"include_stop_str_in_output": True}))
        self.assertEqual(streamed, whole[:cut + len(stop)])

    def test_top_level_priority_runs_lower_first(self):
        # --max-num-seqs 1: one request runs, the others wait in priority order.
        finished = []

        def run(name, max_tokens, priority):
            self.complete(prompt=f"Request {name}:", max_tokens=max_tokens,
                          extra_body={"ignore_eos": True, "priority": priority})
            finished.append(name)

        def wait_for(key, value):
            deadline = time.time() + 30
            while time.time() < deadline:
                if SERVER.metrics().get(key) == value:
                    return
                time.sleep(0.01)
            self.fail(f"{key} never reached {value}")

        threads = [threading.Thread(target=run, args=("busy", 48, 0))]
        threads[0].start()
        wait_for("vllm:num_requests_running", 1)
        threads.append(threading.Thread(target=run, args=("late", 2, 10)))
        threads[-1].start()
        wait_for("vllm:num_requests_waiting", 1)
        threads.append(threading.Thread(target=run, args=("urgent", 2, -10)))
        threads[-1].start()
        wait_for("vllm:num_requests_waiting", 2)
        for t in threads:
            t.join()
        self.assertLess(finished.index("urgent"), finished.index("late"), finished)
        self.assert_bad_request("priority", lambda: self.complete(
            prompt="Hi", max_tokens=1, extra_body={"priority": 1, "kvserve": {"priority": 2}}))

    def test_echo_with_logprobs_returns_prompt_logprobs(self):
        ids = tokenize(prompt=self.PROMPT)
        r = self.complete(prompt=self.PROMPT, max_tokens=2, echo=True, logprobs=1)
        choice = r.choices[0]
        choice_lp = choice.logprobs
        self.assertEqual(len(choice_lp.tokens), len(ids) + 2)
        self.assertEqual("".join(choice_lp.tokens), choice.text)
        self.assertTrue(choice.text.startswith(self.PROMPT))
        self.assertIsNone(choice_lp.token_logprobs[0])
        self.assertIsNone(choice_lp.top_logprobs[0])
        offsets = [sum(len(t.encode()) for t in choice_lp.tokens[:i]) for i in range(len(choice_lp.tokens))]
        self.assertEqual(choice_lp.text_offset, offsets)
        # Each prompt logprob is the model's logprob of that token after the
        # tokens before it: the logprob the engine reports when it generates
        # that token there (forced by logit_bias +100; logprobs are computed
        # before the bias).
        for k in (1, len(ids) - 1):
            forced = self.complete(prompt=ids[:k], max_tokens=1, logprobs=0, logit_bias={str(ids[k]): 100})
            self.assertAlmostEqual(forced.choices[0].logprobs.token_logprobs[0], choice_lp.token_logprobs[k], delta=0.05)
            self.assertEqual(forced.choices[0].logprobs.tokens[0], choice_lp.tokens[k])
        # n = 2: both choices echo the same prompt logprobs.
        both = self.complete(prompt=self.PROMPT, max_tokens=1, echo=True, logprobs=1, n=2).choices
        for c in both:
            self.assertEqual(c.logprobs.tokens[:len(ids)], choice_lp.tokens[:len(ids)])
            self.assertIsNone(c.logprobs.token_logprobs[0])
            for got, want in zip(c.logprobs.token_logprobs[1:len(ids)], choice_lp.token_logprobs[1:len(ids)]):
                self.assertAlmostEqual(got, want, delta=1e-3)
        # Streamed: the first chunk carries the prompt's tokens.
        chunks = list(self.complete(prompt=self.PROMPT, max_tokens=2, echo=True, logprobs=1, stream=True))
        self.assertEqual(chunks[0].choices[0].logprobs.tokens, choice_lp.tokens[:len(ids)])
        self.assertEqual("".join(c.choices[0].text for c in chunks), choice.text)

    def test_cached_tokens_count_prefix_cache_hits(self):
        prompt = f"{time.time_ns()} " + "The quick brown fox jumps over the lazy dog. " * 12
        first = self.complete(prompt=prompt, max_tokens=1)
        self.assertGreater(first.usage.prompt_tokens, 64)
        self.assertEqual(first.usage.prompt_tokens_details.cached_tokens, 0)
        again = list(self.complete(prompt=prompt, max_tokens=1, stream=True, stream_options={"include_usage": True}))
        cached = again[-1].usage.prompt_tokens_details.cached_tokens
        self.assertGreater(cached, 0)
        self.assertLess(cached, first.usage.prompt_tokens)  # the last token is always computed
        # Chat: the template's opening may be cached from earlier requests; the
        # repeat also finds the user's text.
        chat = self.chat(prompt, max_tokens=1).usage
        repeat = self.chat(prompt, max_tokens=1).usage
        self.assertGreater(repeat.prompt_tokens_details.cached_tokens, chat.prompt_tokens_details.cached_tokens + 64)

    def test_tokenize_and_detokenize(self):
        status, _, body = post("/tokenize", {"model": MODEL_NAME, "prompt": self.PROMPT})
        self.assertEqual(status, 200)
        self.assertEqual(body["count"], len(body["tokens"]))
        self.assertEqual(body["max_model_len"], MAX_MODEL_LEN)
        self.assertEqual(body["count"], self.complete(prompt=self.PROMPT, max_tokens=1).usage.prompt_tokens)
        self.assertEqual(detokenize(body["tokens"]), self.PROMPT)
        messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]
        status, _, chat_body = post("/tokenize", {"messages": messages})
        self.assertEqual(status, 200)
        usage = self.client.chat.completions.create(model=MODEL_NAME, messages=messages, max_tokens=1).usage
        self.assertEqual(chat_body["count"], usage.prompt_tokens)
        without_prompt = tokenize(messages=messages, add_generation_prompt=False)
        self.assertEqual(chat_body["tokens"][:len(without_prompt)], without_prompt)
        self.assertLess(len(without_prompt), chat_body["count"])
        for bad, param in [({"tokens": [10 ** 8]}, "tokens"), ({"tokens": [-1]}, "tokens"), ({"tokens": "x"}, "tokens")]:
            status, _, error = post("/detokenize", bad)
            self.assertEqual((status, error["error"]["param"]), (400, param))
        status, _, error = post("/tokenize", {"prompt": "x", "model": "other"})
        self.assertEqual(status, 404)

    def test_max_model_len_bounds_requests(self):
        self.assertEqual(self.client.models.list().data[0].model_extra["max_model_len"], MAX_MODEL_LEN)
        words = "word " * 600
        self.assertGreater(len(tokenize(prompt=words)), MAX_MODEL_LEN)
        error = self.assert_bad_request("prompt", lambda: self.complete(prompt=words, max_tokens=1))
        self.assertEqual(error.code, "context_length_exceeded")
        half = "word " * 400
        error = self.assert_bad_request("max_tokens", lambda: self.complete(prompt=half, max_tokens=200))
        self.assertEqual(error.code, "context_length_exceeded")

    def test_request_id_is_echoed_and_logged(self):
        client = self.client.with_options(default_headers={"X-Request-Id": "fields-test-42"})
        raw = client.completions.with_raw_response.create(model=MODEL_NAME, prompt="Hi", max_tokens=1)
        self.assertEqual(raw.headers["x-request-id"], "fields-test-42")
        for bad in ("x" * 200, "has space"):
            status, headers, _ = post("/v1/completions", {"prompt": "Hi", "max_tokens": 1}, {"X-Request-Id": bad})
            self.assertEqual(status, 200)
            self.assertNotEqual(headers["X-Request-Id"], bad)
            self.assertTrue(headers["X-Request-Id"])
        lines = [json.loads(line) for line in SERVER.output().splitlines() if line.strip()]
        for line in lines:
            self.assertLessEqual({"time", "level", "message"}, set(line), line)
        logged = [line for line in lines if line.get("request_id") == "fields-test-42"]
        self.assertTrue(logged, lines[-5:])
        self.assertIn("POST /v1/completions", logged[-1]["message"])

    # --- point 8 -------------------------------------------------------------------------
    def test_logprob_tokens_concatenate_to_text(self):
        r = self.chat("Write one sentence about the sea.", max_tokens=12, logprobs=True, top_logprobs=1)
        content = r.choices[0].logprobs.content
        self.assertEqual("".join(t.token for t in content), r.choices[0].message.content)
        self.assertEqual(b"".join(bytes(t.bytes) for t in content).decode(), r.choices[0].message.content)
        r = self.complete(prompt=self.PROMPT, max_tokens=8, logprobs=1)
        self.assertEqual("".join(r.choices[0].logprobs.tokens), r.choices[0].text)

    def test_stream_text_offset_is_cumulative(self):
        whole = self.complete(prompt="Once upon a time", max_tokens=8, logprobs=1).choices[0].logprobs
        offsets, text = [], ""
        for chunk in self.complete(prompt="Once upon a time", max_tokens=8, logprobs=1, stream=True):
            if chunk.choices[0].logprobs:
                offsets += chunk.choices[0].logprobs.text_offset
            text += chunk.choices[0].text
        self.assertEqual(offsets, whole.text_offset)
        self.assertEqual(offsets[0], 0)
        self.assertEqual(offsets[-1] + len(whole.tokens[-1].encode()), len(text.encode()))

    def test_prometheus_label_values_are_escaped(self):
        self.complete(prompt="Hi", max_tokens=1)
        status, _, body = SERVER.raw("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertIn('model_name="kv\\"serve\\\\small"', body.decode())
        names = {labels.get("model_name") for _, labels, _ in SERVER.metric_samples() if "model_name" in labels}
        self.assertEqual(names, {MODEL_NAME})

    def test_top_k_rules(self):
        for top_k in (-1, 0, 3):
            r = self.complete(prompt="Hi", max_tokens=2, temperature=1.0, seed=1, extra_body={"top_k": top_k})
            self.assertEqual(r.usage.completion_tokens, 2)
        error = self.assert_bad_request("top_k", lambda: self.complete(prompt="Hi", max_tokens=2,
                                                                       extra_body={"top_k": -2}))
        self.assertIn("top_k", str(error))

    def test_bad_max_completion_tokens_is_named(self):
        self.assert_bad_request("max_completion_tokens", lambda: self.chat("Hi", max_completion_tokens=0))
        self.assert_bad_request("max_tokens", lambda: self.chat("Hi", max_tokens=0))
        self.assertEqual(self.chat("Hi", max_completion_tokens=2).usage.completion_tokens, 2)

    def test_unknown_message_role_is_a_400(self):
        messages = [{"role": "user", "content": "Hi"}, {"role": "wizard", "content": "abracadabra"}]
        self.assert_bad_request("messages[1].role", lambda: self.client.chat.completions.create(
            model=MODEL_NAME, messages=messages, max_tokens=2))
        r = self.client.chat.completions.create(model=MODEL_NAME, max_tokens=2, messages=[
            {"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
        self.assertEqual(r.usage.completion_tokens, 2)


class LogLevelTest(unittest.TestCase):
    def test_log_level_warn_drops_info_lines(self):
        model = ["--model", ARGS.model] if ARGS.model else []
        with Server(ARGS.binary, *model, "--threads", "1", "--kv-cache-memory", "16MiB", "--log-level", "warn",
                    startup_timeout=60) as quiet:
            status, headers, _ = quiet.raw("POST", "/v1/completions", json.dumps({"prompt": "Hi", "max_tokens": 1}),
                                           {"Content-Type": "application/json", "X-Request-Id": "quiet-1"})
            self.assertEqual((status, headers["X-Request-Id"]), (200, "quiet-1"))
            self.assertEqual(quiet.stop(), 0)
            # At info the access line and the start-up lines would be there.
            self.assertNotIn("quiet-1", quiet.output())
            self.assertNotIn("serving", quiet.output())


def main():
    global ARGS
    ARGS, rest = kvs_server.parse_test_args(model_required=False)
    kvs_server.run_tests(rest)


if __name__ == "__main__":
    main()
