#!/usr/bin/env python3
"""End-to-end tests of `kvserve serve` with the official `openai` client.

Starts the real binary on free loopback ports with the real default model and
checks: completions and chat (streamed and not), stop strings, n=2, seed
reproducibility, logprobs, usage, echo, token-id prompts, OpenAI-shaped errors
with the right statuses, API keys, /metrics (parsed by prometheus_client, KV
blocks back to 0), client disconnects freeing their blocks, 429 backpressure,
SIGTERM draining, and the request limits (header bytes, n, max_tokens, stop
strings, streams per key), keys kept out of the log and request fields kept
off the filesystem.

Usage: openai_server_test.py --binary build/kvserve [--model PATH] [unittest args]
"""
import http.client
import json
import math
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

import openai

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvs_server  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families

ARGS = None
API_KEY = "test-key-123"


class Server(kvs_server.Server):
    """One `kvserve serve` process with this file's flags; stopped with SIGTERM."""

    def __init__(self, *extra):
        model = ["--model", ARGS.model] if ARGS.model else []
        super().__init__(ARGS.binary, "--kv-cache-memory", "64MiB", "--max-body-bytes", "65536", "--threads", "1",
                         "--drain-timeout", "120", *extra, *model, startup_timeout=60)

    def client(self, key=API_KEY):
        return super().client(key)


SERVER = None


def setUpModule():
    global SERVER
    SERVER = Server("--api-key", API_KEY)


def tearDownModule():
    if SERVER:
        code = SERVER.stop()
        assert code == 0, f"exit code {code}:\n{SERVER.output()}"


class OpenAIClientTest(unittest.TestCase):
    def setUp(self):
        self.client = SERVER.client()
        self.model = self.client.models.list().data[0].id

    def complete(self, **kw):
        kw.setdefault("model", self.model)
        kw.setdefault("temperature", 0)
        return self.client.completions.create(**kw)

    def test_completion(self):
        r = self.complete(prompt="The capital of France is", max_tokens=6)
        self.assertIn("Paris", r.choices[0].text)
        self.assertEqual(r.choices[0].finish_reason, "length")
        self.assertEqual(r.usage.completion_tokens, 6)
        self.assertEqual(r.usage.total_tokens, r.usage.prompt_tokens + 6)
        self.assertEqual(r.object, "text_completion")

    def test_chat(self):
        r = self.client.chat.completions.create(
            model=self.model, temperature=0, max_tokens=24,
            messages=[{"role": "user", "content": "What is the capital of Germany?"}])
        self.assertIn("Berlin", r.choices[0].message.content)
        self.assertEqual(r.choices[0].message.role, "assistant")
        self.assertNotIn("<|im_end|>", r.choices[0].message.content)
        self.assertGreater(r.usage.prompt_tokens, 0)

    def test_completion_stream_matches_non_stream_and_has_usage(self):
        whole = self.complete(prompt="Once upon a time", max_tokens=8).choices[0].text
        chunks = list(self.complete(prompt="Once upon a time", max_tokens=8, stream=True,
                                    stream_options={"include_usage": True}))
        text = "".join(c.choices[0].text for c in chunks if c.choices)
        self.assertEqual(text, whole)
        self.assertEqual(chunks[-1].choices, [])
        self.assertEqual(chunks[-1].usage.completion_tokens, 8)
        self.assertEqual([c.choices[0].finish_reason for c in chunks if c.choices][-1], "length")

    def test_chat_stream(self):
        stream = self.client.chat.completions.create(
            model=self.model, temperature=0, max_tokens=24, stream=True, stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "What is the capital of Germany?"}])
        chunks = list(stream)
        self.assertEqual(chunks[0].choices[0].delta.role, "assistant")
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        self.assertIn("Berlin", text)
        self.assertIsNotNone(chunks[-1].usage)

    def test_stop_string_non_stream_and_stream(self):
        whole = self.complete(prompt="1, 2, 3, 4, 5,", max_tokens=12).choices[0].text
        stop = whole[4:7]
        self.assertTrue(stop.strip(), whole)
        expected = whole[:whole.index(stop)]
        r = self.complete(prompt="1, 2, 3, 4, 5,", max_tokens=12, stop=[stop, "never-seen"])
        self.assertEqual(r.choices[0].text, expected)
        self.assertEqual(r.choices[0].finish_reason, "stop")
        chunks = list(self.complete(prompt="1, 2, 3, 4, 5,", max_tokens=12, stop=stop, stream=True))
        self.assertEqual("".join(c.choices[0].text for c in chunks), expected)
        self.assertEqual(chunks[-1].choices[0].finish_reason, "stop")

    def test_n2_and_seed_reproducible(self):
        kw = dict(prompt="My favourite colour is", max_tokens=8, temperature=1.0, n=2, seed=1234)
        a = self.complete(**kw)
        b = self.complete(**kw)
        self.assertEqual(len(a.choices), 2)
        self.assertEqual(sorted(c.index for c in a.choices), [0, 1])
        self.assertEqual([c.text for c in a.choices], [c.text for c in b.choices])
        self.assertEqual(a.usage.completion_tokens, 16)
        chat = self.client.chat.completions.create(
            model=self.model, max_tokens=6, n=2, seed=7, temperature=1.0,
            messages=[{"role": "user", "content": "Say something."}])
        self.assertEqual(len(chat.choices), 2)

    def test_logprobs(self):
        r = self.complete(prompt="The capital of France is", max_tokens=4, logprobs=1)
        lp = r.choices[0].logprobs
        self.assertEqual(len(lp.tokens), 4)
        self.assertEqual("".join(lp.tokens), r.choices[0].text)
        self.assertTrue(all(x <= 0 for x in lp.token_logprobs))
        chat = self.client.chat.completions.create(
            model=self.model, temperature=0, max_tokens=4, logprobs=True, top_logprobs=1,
            messages=[{"role": "user", "content": "Hi"}])
        self.assertEqual(len(chat.choices[0].logprobs.content), 4)

    def test_top_logprobs_are_the_most_likely_alternatives(self):
        # Greedy: the sampled token is the most likely one, so it heads the top list
        # with the same logprob, and the list is sorted and as long as asked.
        chat = self.client.chat.completions.create(
            model=self.model, temperature=0, max_tokens=5, logprobs=True, top_logprobs=3,
            messages=[{"role": "user", "content": "What is the capital of Germany?"}])
        for entry in chat.choices[0].logprobs.content:
            top = entry.top_logprobs
            self.assertEqual(len(top), 3)
            self.assertEqual(top[0].token, entry.token)
            self.assertAlmostEqual(top[0].logprob, entry.logprob, places=5)
            self.assertTrue(top[0].logprob >= top[1].logprob >= top[2].logprob)
            self.assertLess(sum(math.exp(t.logprob) for t in top), 1.0 + 1e-4)
        r = self.complete(prompt="The capital of France is", max_tokens=3, logprobs=2)
        lp = r.choices[0].logprobs
        for token, logprob, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
            self.assertEqual(len(top), 2)
            self.assertIn(token, top)
            self.assertAlmostEqual(top[token], logprob, places=5)
            self.assertEqual(max(top.values()), logprob)

    def test_prompt_forms_and_echo(self):
        ids = [504, 3575, 282, 4649, 314]  # arbitrary in-vocabulary ids
        r = self.complete(prompt=ids, max_tokens=3)
        self.assertEqual(r.usage.prompt_tokens, 5)
        r = self.complete(prompt=["Hello", "The sky is"], max_tokens=3)
        self.assertEqual(len(r.choices), 2)
        r = self.complete(prompt="The capital of France is", max_tokens=3, echo=True)
        self.assertTrue(r.choices[0].text.startswith("The capital of France is"))

    def test_unknown_fields_ignored_and_user(self):
        r = self.complete(prompt="Hi", max_tokens=2, user="someone",
                          extra_body={"some_future_field": {"x": 1}, "top_k": 5, "min_p": 0.05,
                                      "repetition_penalty": 1.1})
        self.assertEqual(r.usage.completion_tokens, 2)

    def test_responses_carry_a_request_id_that_the_access_log_names(self):
        ids = []
        for _ in range(2):
            status, headers, _ = SERVER.raw("GET", "/health")
            self.assertEqual(status, 200)
            ids.append(headers.get("X-Request-Id", ""))
        self.assertTrue(all(i.startswith("req-") for i in ids), ids)
        self.assertNotEqual(ids[0], ids[1])
        deadline = time.time() + 5
        while ids[1] not in SERVER.output() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn(ids[1] + " ", SERVER.output())

    def test_client_errors(self):
        with self.assertRaises(openai.NotFoundError):
            self.client.completions.create(model="no-such-model", prompt="hi", max_tokens=2)
        with self.assertRaises(openai.AuthenticationError):
            SERVER.client(key="wrong").completions.create(model=self.model, prompt="hi", max_tokens=2)
        with self.assertRaises(openai.BadRequestError) as ctx:
            self.complete(prompt="word " * 9000, max_tokens=2)
        self.assertEqual(ctx.exception.code, "context_length_exceeded")


def post(path, body, headers=None, key=API_KEY):
    h = {"Content-Type": "application/json"}
    if key:
        h["Authorization"] = "Bearer " + key
    h.update(headers or {})
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    return SERVER.raw("POST", path, body=body, headers=h)


GOOD = {"model": None, "prompt": "Hello", "max_tokens": 2}
BAD_CASES = [
    # (name, path, body, headers, key, status)
    ("malformed json", "/v1/completions", b"{not json", None, API_KEY, 400),
    ("truncated json", "/v1/completions", b'{"prompt": "x"', None, API_KEY, 400),
    ("body is a list", "/v1/completions", b"[1,2]", None, API_KEY, 400),
    ("body is a string", "/v1/completions", b'"hi"', None, API_KEY, 400),
    ("empty body", "/v1/completions", b"", None, API_KEY, 400),
    ("missing prompt", "/v1/completions", {"max_tokens": 2}, None, API_KEY, 400),
    ("empty prompt", "/v1/completions", {"prompt": ""}, None, API_KEY, 400),
    ("empty prompt list", "/v1/completions", {"prompt": []}, None, API_KEY, 400),
    ("prompt is a number", "/v1/completions", {"prompt": 5}, None, API_KEY, 400),
    ("prompt list of objects", "/v1/completions", {"prompt": [{"a": 1}]}, None, API_KEY, 400),
    ("negative token id", "/v1/completions", {"prompt": [1, -5]}, None, API_KEY, 400),
    ("token id past vocab", "/v1/completions", {"prompt": [1, 10**9]}, None, API_KEY, 400),
    ("max_tokens string", "/v1/completions", {"prompt": "hi", "max_tokens": "5"}, None, API_KEY, 400),
    ("max_tokens negative", "/v1/completions", {"prompt": "hi", "max_tokens": -1}, None, API_KEY, 400),
    ("max_tokens zero", "/v1/completions", {"prompt": "hi", "max_tokens": 0}, None, API_KEY, 400),
    ("max_tokens huge", "/v1/completions", {"prompt": "hi", "max_tokens": 10**9}, None, API_KEY, 400),
    ("max_tokens float", "/v1/completions", {"prompt": "hi", "max_tokens": 2.5}, None, API_KEY, 400),
    ("n zero", "/v1/completions", {"prompt": "hi", "n": 0}, None, API_KEY, 400),
    ("n huge", "/v1/completions", {"prompt": "hi", "n": 100000}, None, API_KEY, 400),
    ("temperature string", "/v1/completions", {"prompt": "hi", "temperature": "hot"}, None, API_KEY, 400),
    ("temperature negative", "/v1/completions", {"prompt": "hi", "temperature": -1}, None, API_KEY, 400),
    ("top_p zero", "/v1/completions", {"prompt": "hi", "top_p": 0}, None, API_KEY, 400),
    ("top_p above one", "/v1/completions", {"prompt": "hi", "top_p": 1.5}, None, API_KEY, 400),
    ("presence penalty out of range", "/v1/completions", {"prompt": "hi", "presence_penalty": 5}, None, API_KEY, 400),
    ("stop is a number", "/v1/completions", {"prompt": "hi", "stop": 3}, None, API_KEY, 400),
    ("stop empty string", "/v1/completions", {"prompt": "hi", "stop": [""]}, None, API_KEY, 400),
    ("stream not bool", "/v1/completions", {"prompt": "hi", "stream": "yes"}, None, API_KEY, 400),
    ("seed string", "/v1/completions", {"prompt": "hi", "seed": "x"}, None, API_KEY, 400),
    ("logprobs too many", "/v1/completions", {"prompt": "hi", "logprobs": 50}, None, API_KEY, 400),
    ("prompt too long", "/v1/completions", {"prompt": "word " * 9000, "max_tokens": 2}, None, API_KEY, 400),
    ("invalid utf-8", "/v1/completions", b'{"prompt": "\xff\xfe bad"}', None, API_KEY, 400),
    ("unknown model", "/v1/completions", {"prompt": "hi", "model": "gpt-9"}, None, API_KEY, 404),
    ("wrong content type", "/v1/completions", {"prompt": "hi"}, {"Content-Type": "text/plain"}, API_KEY, 400),
    ("missing key", "/v1/completions", {"prompt": "hi"}, None, None, 401),
    ("wrong key", "/v1/completions", {"prompt": "hi"}, None, "nope", 401),
    ("key without bearer", "/v1/completions", {"prompt": "hi"}, {"Authorization": API_KEY}, None, 401),
    ("body over size limit", "/v1/completions", b'{"prompt": "' + b"a" * 80000 + b'"}', None, API_KEY, 413),
    ("chat missing messages", "/v1/chat/completions", {"max_tokens": 2}, None, API_KEY, 400),
    ("chat empty messages", "/v1/chat/completions", {"messages": []}, None, API_KEY, 400),
    ("chat messages not list", "/v1/chat/completions", {"messages": "hi"}, None, API_KEY, 400),
    ("chat message not object", "/v1/chat/completions", {"messages": ["hi"]}, None, API_KEY, 400),
    ("chat message without role", "/v1/chat/completions", {"messages": [{"content": "hi"}]}, None, API_KEY, 400),
    ("chat content number", "/v1/chat/completions", {"messages": [{"role": "user", "content": 5}]}, None, API_KEY, 400),
    ("chat image part", "/v1/chat/completions",
     {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, None, API_KEY, 400),
    ("chat top_logprobs too many", "/v1/chat/completions",
     {"messages": [{"role": "user", "content": "hi"}], "top_logprobs": 99}, None, API_KEY, 400),
    ("chat unknown model", "/v1/chat/completions",
     {"model": "x", "messages": [{"role": "user", "content": "hi"}]}, None, API_KEY, 404),
    ("unknown route", "/v1/nothing", {"prompt": "hi"}, None, API_KEY, 404),
]


class BadInputTest(unittest.TestCase):
    def test_bad_inputs_get_openai_errors(self):
        self.assertGreaterEqual(len(BAD_CASES), 40)
        for name, path, body, headers, key, status in BAD_CASES:
            with self.subTest(name):
                got, hdrs, raw = post(path, body, headers, key)
                self.assertEqual(got, status, raw[:300])
                err = json.loads(raw)["error"]
                self.assertIsInstance(err["message"], str)
                self.assertTrue(err["message"])
                self.assertIn("type", err)
                self.assertIn("param", err)
                self.assertIn("code", err)
        self.assertEqual(SERVER.raw("GET", "/health")[0], 200)
        SERVER.wait_idle()

    def test_health_models_metrics_open_but_api_protected(self):
        self.assertEqual(SERVER.raw("GET", "/health")[0], 200)
        self.assertEqual(SERVER.raw("GET", "/ready")[0], 200)
        self.assertEqual(SERVER.raw("GET", "/metrics")[0], 200)
        self.assertEqual(SERVER.raw("GET", "/v1/models")[0], 401)


class MetricsAndDisconnectTest(unittest.TestCase):
    def test_metrics_parse_and_blocks_free_after_requests(self):
        client = SERVER.client()
        model = client.models.list().data[0].id
        client.completions.create(model=model, prompt="Count: one, two,", max_tokens=4)
        m = SERVER.wait_idle()
        status, _, body = SERVER.raw("GET", "/metrics")
        names = {f.name for f in text_string_to_metric_families(body.decode())}
        for name in ["vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
                     "vllm:prompt_tokens", "vllm:generation_tokens", "vllm:time_to_first_token_seconds",
                     "vllm:time_per_output_token_seconds", "vllm:e2e_request_latency_seconds",
                     "vllm:prefix_cache_queries", "vllm:prefix_cache_hits", "vllm:num_preemptions"]:
            self.assertIn(name, names)
        self.assertGreater(m["vllm:generation_tokens_total"], 0)
        self.assertEqual(m["vllm:kv_cache_usage_perc"], 0)

    def _hang_up_mid_stream(self, results, i):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", SERVER.port, timeout=60)
            conn.request("POST", "/v1/completions", body=json.dumps(
                {"prompt": f"Story number {i}: once upon a time", "max_tokens": 400, "stream": True,
                 "temperature": 0.8, "ignore_eos": True}),
                headers={"Content-Type": "application/json", "Authorization": "Bearer " + API_KEY})
            res = conn.getresponse()
            assert res.status == 200, res.status
            res.fp.readline()  # the first SSE line: the request is running
            conn.sock.shutdown(socket.SHUT_RDWR)
            conn.close()
            results[i] = True
        except Exception as e:  # noqa: BLE001
            results[i] = repr(e)

    def test_clients_hanging_up_mid_stream_free_their_blocks(self):
        num_clients = int(os.environ.get("KVS_E2E_DISCONNECT_CLIENTS", "50"))
        results = [None] * num_clients
        threads = [threading.Thread(target=self._hang_up_mid_stream, args=(results, i)) for i in range(num_clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [True] * num_clients)
        m = SERVER.wait_idle(timeout=60)
        self.assertEqual(m["kvserve:kv_blocks_used"], 0)
        self.assertLess(m["vllm:generation_tokens_total"], num_clients * 400)


class BackpressureTest(unittest.TestCase):
    def test_queue_full_gets_429_with_retry_after(self):
        server = Server("--max-num-seqs", "1", "--max-queue", "0")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            conn.request("POST", "/v1/completions", body=json.dumps(
                {"prompt": "Hello", "max_tokens": 64, "stream": True, "ignore_eos": True}),
                headers={"Content-Type": "application/json"})
            res = conn.getresponse()
            res.fp.readline()
            status, headers, body = server.raw("POST", "/v1/completions", json.dumps({"prompt": "Hi", "max_tokens": 2}),
                                               {"Content-Type": "application/json"})
            self.assertEqual(status, 429, body)
            self.assertIn("Retry-After", headers)
            self.assertEqual(json.loads(body)["error"]["type"], "rate_limit_error")
            conn.sock.shutdown(socket.SHUT_RDWR)
            conn.close()
            server.wait_idle()
        finally:
            self.assertEqual(server.stop(), 0)


KEY_A, KEY_B = "limits-key-a-5f1c", "limits-key-b-9e2d"


class LimitsServerMixin:
    """A server of the test class's own with FLAGS (two API keys), and helpers."""
    FLAGS = ()

    @classmethod
    def setUpClass(cls):
        cls.server = Server("--api-key", KEY_A, "--api-key", KEY_B, *cls.FLAGS)
        cls.model = cls.server.client(KEY_A).models.list().data[0].id

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        assert code == 0, f"exit code {code}:\n{cls.server.output()}"

    def post(self, body, key=KEY_A, headers=None, path="/v1/completions"):
        h = {"Content-Type": "application/json", "Authorization": "Bearer " + key, **(headers or {})}
        return self.server.raw("POST", path, body=json.dumps(body), headers=h)

    def assert_error(self, response, status, param=None, code=None):
        got, headers, raw = response
        self.assertEqual(got, status, raw[:300])
        err = json.loads(raw)["error"]
        self.assertTrue(err["message"])
        self.assertEqual(set(err), {"message", "type", "param", "code"})
        self.assertEqual(err["param"], param)
        if code:
            self.assertEqual(err["code"], code)
        return headers, err

    def assert_still_serving(self):
        self.assertEqual(self.server.raw("GET", "/health")[0], 200)
        r = self.server.client(KEY_A).completions.create(model=self.model, prompt="The capital of France is",
                                                         max_tokens=3, temperature=0)
        self.assertEqual(r.usage.completion_tokens, 3)

class RequestLimitsTest(LimitsServerMixin, unittest.TestCase):
    """Small limits: each bound answers with the right status and an
    OpenAI-shaped error, and the server keeps serving."""
    FLAGS = ("--max-header-bytes", "2048", "--max-n", "3", "--max-tokens-limit", "24", "--max-stop", "2",
             "--max-stop-bytes", "8")

    def test_headers_over_the_limit_get_431_before_the_body_is_read(self):
        one_big = self.post({"prompt": "hi", "max_tokens": 2}, headers={"X-Pad": "p" * 3000})
        headers, err = self.assert_error(one_big, 431, code="headers_too_large")
        self.assertEqual(err["type"], "invalid_request_error")
        self.assertEqual(headers.get("Connection"), "close")
        many_small = {f"X-Pad-{i}": "q" * 100 for i in range(30)}  # each line small, the sum too big
        self.assert_error(self.server.raw("GET", "/health", headers=many_small), 431, code="headers_too_large")
        self.assertEqual(self.server.raw("GET", "/health", headers={"X-Pad": "r" * 1500})[0], 200)
        self.assert_still_serving()

    def test_n_and_max_tokens_over_the_limit_get_400_naming_the_field(self):
        client = self.server.client(KEY_A)
        with self.assertRaises(openai.BadRequestError) as ctx:
            client.completions.create(model=self.model, prompt="hi", max_tokens=2, n=4)
        self.assertEqual(ctx.exception.param, "n")
        self.assertEqual(len(client.completions.create(model=self.model, prompt="hi", max_tokens=2, n=3).choices), 3)
        with self.assertRaises(openai.BadRequestError) as ctx:
            client.completions.create(model=self.model, prompt="hi", max_tokens=25)
        self.assertEqual(ctx.exception.param, "max_tokens")
        # A prompt list multiplies n: prompts x n is bounded by --max-n as well.
        with self.assertRaises(openai.BadRequestError) as ctx:
            client.completions.create(model=self.model, prompt=["a", "b"], max_tokens=2, n=2)
        self.assertEqual(ctx.exception.param, "prompt")
        self.assertEqual(len(client.completions.create(model=self.model, prompt=["a", "b", "c"], max_tokens=2).choices), 3)
        self.assert_error(self.post({"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 25},
                                    path="/v1/chat/completions"), 400, param="max_tokens")
        # Without max_tokens a request gets the cap, not the whole context.
        r = client.completions.create(model=self.model, prompt="Count:", temperature=0, extra_body={"ignore_eos": True})
        self.assertEqual(r.usage.completion_tokens, 24)
        self.assertEqual(r.choices[0].finish_reason, "length")
        self.assert_still_serving()

    def test_stop_strings_over_the_limit_get_400(self):
        client = self.server.client(KEY_A)
        with self.assertRaises(openai.BadRequestError) as ctx:
            client.completions.create(model=self.model, prompt="hi", max_tokens=2, stop=["a", "b", "c"])
        self.assertEqual(ctx.exception.param, "stop")
        with self.assertRaises(openai.BadRequestError) as ctx:
            client.chat.completions.create(model=self.model, max_tokens=2, stop="123456789",
                                           messages=[{"role": "user", "content": "hi"}])
        self.assertEqual(ctx.exception.param, "stop")
        r = client.completions.create(model=self.model, prompt="hi", max_tokens=2, stop=["12345678", "x"])
        self.assertEqual(len(r.choices), 1)
        self.assert_still_serving()

    def test_request_fields_never_reach_the_filesystem(self):
        # A FIFO blocks whoever opens it for reading until a writer comes: had
        # the server opened the path, the request would hang instead of a 404.
        with tempfile.TemporaryDirectory() as tmp:
            fifo = os.path.join(tmp, "model.gguf")
            os.mkfifo(fifo)
            names = ["../../etc/passwd", "/etc/passwd", fifo, tmp, ARGS.model or "models/x.gguf",
                     "file://" + fifo, "..", "~/.ssh/id_rsa", "con:", "a/../../" + fifo]
            for name in names:
                with self.subTest(name):
                    got = self.server.raw("POST", "/v1/completions", body=json.dumps(
                        {"model": name, "prompt": "hi", "max_tokens": 2}),
                        headers={"Content-Type": "application/json", "Authorization": "Bearer " + KEY_A}, timeout=10)
                    self.assert_error(got, 404, param="model", code="model_not_found")
                    chat = self.post({"model": name, "messages": [{"role": "user", "content": "hi"}]},
                                     path="/v1/chat/completions")
                    self.assert_error(chat, 404, param="model", code="model_not_found")
            got = self.server.raw("GET", "/v1/models/" + fifo.lstrip("/"), headers={"Authorization": "Bearer " + KEY_A},
                                  timeout=10)
            self.assert_error(got, 404, param="model", code="model_not_found")
            with self.assertRaises(openai.NotFoundError):
                self.server.client(KEY_A).completions.create(model=fifo, prompt="hi", max_tokens=2)
        self.assert_still_serving()

    def test_api_keys_never_reach_the_log(self):
        wrong = "wrong-key-7a3e-not-accepted"
        self.assertEqual(self.post({"prompt": "hi", "max_tokens": 2}, key=KEY_B)[0], 200)
        self.assertEqual(self.post({"prompt": "hi", "max_tokens": 2}, key=wrong)[0], 401)
        self.assertEqual(self.post({"prompt": "hi", "max_tokens": 2}, key=KEY_A, headers={"X-Pad": "p" * 3000})[0], 431)
        self.assertEqual(self.server.raw("GET", "/v1/models", headers={"Authorization": "Bearer " + wrong})[0], 401)
        status, headers, _ = self.server.raw("GET", "/health")
        request_id = headers["X-Request-Id"]
        deadline = time.time() + 10
        while request_id + " " not in self.server.output() and time.time() < deadline:
            time.sleep(0.05)  # the access line is written after the response
        log = self.server.output()
        self.assertIn(request_id + " ", log)
        self.assertIn(" 401 ", log)
        for secret in (KEY_A, KEY_B, wrong, "Bearer"):
            self.assertNotIn(secret, log)


class StreamsPerKeyTest(LimitsServerMixin, unittest.TestCase):
    """--max-streams-per-key 1 with two keys (a server of its own: the held
    stream must outlast the checks, so no --max-tokens-limit here)."""
    FLAGS = ("--max-streams-per-key", "1")

    def open_stream(self, key):
        """A long streaming completion: (connection, response)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        conn.request("POST", "/v1/completions", body=json.dumps(
            {"prompt": "Tell a long story:", "max_tokens": 2000, "stream": True, "ignore_eos": True}),
            headers={"Content-Type": "application/json", "Authorization": "Bearer " + key})
        res = conn.getresponse()
        return conn, res

    def test_streams_per_key_are_bounded_and_given_back(self):
        conn, res = self.open_stream(KEY_A)
        try:
            self.assertEqual(res.status, 200)
            self.assertTrue(res.readline().startswith(b"data: "))  # the stream is running
            second = self.post({"prompt": "hi", "max_tokens": 2, "stream": True})
            headers, err = self.assert_error(second, 429, code="too_many_streams")
            self.assertEqual(headers.get("Retry-After"), "1")
            self.assertEqual(err["type"], "rate_limit_error")
            with self.assertRaises(openai.RateLimitError):
                list(self.server.client(KEY_A).completions.create(model=self.model, prompt="hi", max_tokens=2,
                                                                  stream=True))
            # Only streams count, and only the key's own.
            self.assertEqual(self.post({"prompt": "hi", "max_tokens": 2})[0], 200)
            other = list(self.server.client(KEY_B).completions.create(model=self.model, prompt="hi", max_tokens=2,
                                                                      stream=True))
            self.assertEqual(other[-1].choices[0].finish_reason, "length")
        finally:
            conn.sock.shutdown(socket.SHUT_RDWR)  # the client goes away mid-stream
            conn.close()
        # The server notices at its next write and gives the slot back.
        deadline = time.time() + 30
        status = None
        while time.time() < deadline:
            status = self.post({"prompt": "hi", "max_tokens": 2, "stream": True})[0]
            if status == 200:
                break
            self.assertEqual(status, 429)
            time.sleep(0.05)
        self.assertEqual(status, 200, "the stream slot came back after the client hung up")
        # A stream read to its end gives its slot back too.
        for _ in range(3):
            deadline = time.time() + 10
            while True:
                try:
                    chunks = list(self.server.client(KEY_A).completions.create(
                        model=self.model, prompt="hi", max_tokens=2, stream=True))
                    break
                except openai.RateLimitError:
                    self.assertLess(time.time(), deadline, "a finished stream kept its slot")
                    time.sleep(0.02)
            self.assertEqual(chunks[-1].choices[0].finish_reason, "length")
        self.server.wait_idle()
        self.assert_still_serving()


class DrainTest(unittest.TestCase):
    def test_sigterm_finishes_in_flight_requests_and_refuses_new_ones(self):
        server = Server()
        client = server.client(key="unused")
        num_requests = 20
        results = [None] * num_requests
        model = client.models.list().data[0].id

        def one(i):
            try:
                r = client.completions.create(model=model, prompt=f"Item {i}:",
                                              max_tokens=32, temperature=0, extra_body={"ignore_eos": True})
                results[i] = r.usage.completion_tokens
            except Exception as e:  # noqa: BLE001
                results[i] = repr(e)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(num_requests)]
        for t in threads:
            t.start()
        deadline = time.time() + 20
        while server.metrics()["kvserve:active_requests"] < num_requests and time.time() < deadline:
            time.sleep(0.01)
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.05)
        refused = None
        try:
            refused = server.raw("GET", "/ready")[0]
            status = server.raw("POST", "/v1/completions", json.dumps({"prompt": "late", "max_tokens": 2}),
                                {"Content-Type": "application/json"})[0]
            self.assertEqual(status, 503)
        except OSError:
            refused = "closed"  # already stopped listening: also a refusal
        for t in threads:
            t.join()
        self.assertEqual(results, [32] * num_requests)
        self.assertIn(refused, (503, "closed"))
        self.assertEqual(server.proc.wait(timeout=60), 0, server.output())


def main():
    global ARGS
    ARGS, rest = kvs_server.parse_test_args(model_required=False)
    kvs_server.run_tests(rest)


if __name__ == "__main__":
    main()
