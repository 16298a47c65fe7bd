#!/usr/bin/env python3
"""End-to-end: KV compression policies through `kvserve serve` (issue 8).

The official `openai` client picks a policy per request through `extra_body`
({"kvserve": {"kv_policy": ..., "kv_budget": ...}}) and gets a completion;
/metrics (parsed by prometheus_client) then shows the policy's evictions in
kvserve:kv_evicted_tokens_total{policy=...}. Bad policy names and budgets are
OpenAI-shaped 400s naming the param, and the server stays up. The server
default comes from --kv-policy / --kv-budget or the config file's keys, and
bad values stop the server at start with a clear message.

Usage: kv_policy_server_test.py --binary build/kvserve [--model PATH] [unittest args]
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import openai

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvs_server  # noqa: E402
from kvs_server import free_port  # noqa: E402

ARGS = None
# Well over 40 tokens, so a budget of 16 must evict during prefill and decode.
LONG_PROMPT = ("The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
               "combined movable metal type, oil-based ink and a wooden screw press into one system. Within "
               "fifty years, presses were running in more than two hundred European cities, and the price of "
               "books fell so far that ordinary merchants could own them. The consequences were")
POLICIES = ["none", "streaming", "h2o", "snapkv", "keyformer", "residual"]
SERIES = ["kvserve:kv_evicted_tokens_total", "kvserve:kv_recomputed_tokens_total", "kvserve:kv_bytes_saved",
          "kvserve:kv_recompute_seconds_total"]


def serve_args(*extra):
    return ["--kv-cache-memory", "64MiB", "--threads", "1", *extra] + (["--model", ARGS.model] if ARGS.model else [])


class Server(kvs_server.Server):
    """One `kvserve serve` process; stopped with SIGTERM."""

    def __init__(self, *extra):
        super().__init__(ARGS.binary, *serve_args(*extra))

    def raw(self, method, path, body=None):
        """Returns (status, body bytes); `body` is sent as JSON."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        status, _, data = super().raw(method, path, None if body is None else json.dumps(body), headers, timeout=120)
        return status, data

    def policy_samples(self):
        """{(series, policy): value} for the per-policy KV series in /metrics."""
        return {(name, labels["policy"]): value for name, labels, value in self.metric_samples() if "policy" in labels}

    def wait_idle(self, timeout=30):
        super().wait_idle(timeout)


SERVER = None


def setUpModule():
    global SERVER
    SERVER = Server()  # default policy none, no default budget


def tearDownModule():
    if SERVER:
        code = SERVER.stop()
        assert code == 0, f"exit code {code}:\n{SERVER.output()}"


class PerRequestPolicyTest(unittest.TestCase):
    def setUp(self):
        self.client = SERVER.client()
        self.model = self.client.models.list().data[0].id

    def complete(self, kvserve, **kw):
        return self.client.completions.create(model=self.model, prompt=LONG_PROMPT, max_tokens=24, temperature=0,
                                              extra_body={"kvserve": kvserve, "ignore_eos": True}, **kw)

    def test_metrics_have_every_policy(self):
        samples = SERVER.policy_samples()
        for series in SERIES:
            for policy in POLICIES:
                self.assertIn((series, policy), samples)

    def test_streaming_policy_through_extra_body_evicts(self):
        before = SERVER.policy_samples()
        r = self.complete({"kv_policy": "streaming", "kv_budget": 16})
        self.assertGreater(r.usage.prompt_tokens, 40)
        self.assertEqual(r.usage.completion_tokens, 24)
        self.assertTrue(r.choices[0].text)
        SERVER.wait_idle()
        after = SERVER.policy_samples()
        evicted = ("kvserve:kv_evicted_tokens_total", "streaming")
        self.assertGreater(after[evicted], 0, "no evictions counted (needs the engine's policies, issue 8)")
        self.assertGreater(after[evicted], before[evicted])
        self.assertEqual(after[("kvserve:kv_evicted_tokens_total", "none")], 0)

    def test_streamed_completion_with_a_fractional_budget(self):
        chunks = list(self.complete({"kv_policy": "h2o", "kv_budget": 0.5}, stream=True))
        self.assertEqual(chunks[-1].choices[0].finish_reason, "length")
        self.assertTrue("".join(c.choices[0].text for c in chunks))

    def test_bad_policy_is_a_400_naming_the_param_and_the_server_stays_up(self):
        with self.assertRaises(openai.BadRequestError) as ctx:
            self.complete({"kv_policy": "lru", "kv_budget": 16})
        self.assertEqual(ctx.exception.param, "kvserve.kv_policy")
        self.assertIn("lru", ctx.exception.message)
        cases = [
            ({"kv_policy": 7}, "kvserve.kv_policy"),
            ({"kv_budget": "16"}, "kvserve.kv_budget"),
            ({"kv_policy": "streaming", "kv_budget": 1.5}, "kvserve.kv_budget"),
            ({"kv_policy": "streaming", "kv_budget": -4}, "kvserve.kv_budget"),
            ({"kv_policy": "h2o"}, "kvserve.kv_budget"),  # no budget here nor on the server
            ({"kv_budget": 16}, "kvserve.kv_budget"),     # the server's default policy is none
            ({"kv_polcy": "h2o"}, "kvserve.kv_polcy"),
        ]
        for kvserve, param in cases:
            with self.subTest(kvserve=kvserve):
                status, body = SERVER.raw("POST", "/v1/completions",
                                          {"model": self.model, "prompt": "Hi", "max_tokens": 2, "kvserve": kvserve})
                self.assertEqual(status, 400, body)
                err = json.loads(body)["error"]
                self.assertEqual(err["param"], param, err)
                self.assertEqual(err["type"], "invalid_request_error")
                self.assertTrue(err["message"])
        self.assertEqual(SERVER.raw("GET", "/health")[0], 200)
        r = self.client.completions.create(model=self.model, prompt="Hello", max_tokens=2)
        self.assertEqual(r.usage.completion_tokens, 2)
        SERVER.wait_idle()


class ServerDefaultTest(unittest.TestCase):
    def test_bad_flags_stop_the_server_at_start(self):
        for extra, needle in [(["--kv-policy", "h2o"], "--kv-budget"),
                              (["--kv-policy", "lru", "--kv-budget", "16"], "lru"),
                              (["--kv-policy", "streaming", "--kv-budget", "2.5"], "--kv-budget")]:
            with self.subTest(extra=extra):
                run = subprocess.run([ARGS.binary, "serve", "--port", str(free_port()), "--grpc-port", str(free_port()),
                                      *serve_args(*extra)], capture_output=True, text=True, timeout=60)
                self.assertEqual(run.returncode, 1, run.stderr)
                self.assertIn("kvserve: error:", run.stderr)
                self.assertIn(needle, run.stderr)

    def test_config_file_default_applies_to_requests_without_their_own(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"kv_policy": "streaming", "kv_budget": 16}, f)
        server = Server("--config", f.name)
        try:
            client = server.client()
            model = client.models.list().data[0].id
            r = client.completions.create(model=model, prompt=LONG_PROMPT, max_tokens=24, temperature=0,
                                          extra_body={"ignore_eos": True})
            self.assertEqual(r.usage.completion_tokens, 24)
            # A budget alone applies to the server's policy; a policy alone takes the server's budget.
            for kvserve in ({"kv_budget": 32}, {"kv_policy": "h2o"}, {"kv_policy": "none"}):
                r = client.completions.create(model=model, prompt=LONG_PROMPT, max_tokens=4, temperature=0,
                                              extra_body={"kvserve": kvserve})
                self.assertGreater(r.usage.completion_tokens, 0)
            server.wait_idle()
            self.assertGreater(server.policy_samples()[("kvserve:kv_evicted_tokens_total", "streaming")], 0)
        finally:
            os.unlink(f.name)
            self.assertEqual(server.stop(), 0, server.output())


def main():
    global ARGS
    ARGS, rest = kvs_server.parse_test_args(model_required=False)
    kvs_server.run_tests(rest)


if __name__ == "__main__":
    main()
