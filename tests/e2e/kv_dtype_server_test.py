#!/usr/bin/env python3
"""End-to-end: the KV cache dtype through `kvserve serve` (issue 21).

With --kv-cache-dtype q8_0 / q4_0 (and the default f16) the server logs the
cache's dtype, bytes per token and block count at start, /metrics gives the
same numbers (kvserve:kv_cache_bytes_per_token{dtype=...},
kvserve:kv_blocks_total), the same budget holds about 64/34 (q8_0) and 64/18
(q4_0) times the blocks of f16, and completions run (with a KV policy too).
Dtypes the CPU engine cannot run (bf16, fp8_e4m3) and unknown names stop the
server at start with a clear message.

Usage: kv_dtype_server_test.py --binary build/kvserve [--model PATH] [unittest args]
"""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvs_server  # noqa: E402
from kvs_server import free_port  # noqa: E402

ARGS = None
PROMPT = ("The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
          "combined movable metal type, oil-based ink and a wooden screw press into one system.")


def serve_args(*extra):
    return ["--kv-cache-memory", "32MiB", "--threads", "1", *extra] + (["--model", ARGS.model] if ARGS.model else [])


def start_numbers(server):
    """(dtype, bytes per token, blocks) from the start-up log line."""
    m = re.search(r"KV cache (\w+): (\d+) bytes per token, (\d+) blocks of (\d+) tokens", server.output())
    assert m, server.output()
    return m.group(1), int(m.group(2)), int(m.group(3))


def metric_numbers(server):
    """(dtype label, bytes per token, blocks) from /metrics."""
    per_token = [(labels["dtype"], value) for name, labels, value in server.metric_samples()
                 if name == "kvserve:kv_cache_bytes_per_token"]
    assert len(per_token) == 1, per_token
    return per_token[0][0], int(per_token[0][1]), int(server.metrics()["kvserve:kv_blocks_total"])


class KvDtypeServerTest(unittest.TestCase):
    def test_dtypes_log_and_export_bytes_per_token_and_blocks(self):
        seen = {}
        for dtype in ("f16", "q8_0", "q4_0"):
            with self.subTest(dtype=dtype):
                server = kvs_server.Server(ARGS.binary, *serve_args("--kv-cache-dtype", dtype))
                try:
                    logged = start_numbers(server)
                    self.assertEqual(logged[0], dtype)
                    self.assertEqual(metric_numbers(server), logged)
                    client = server.client()
                    model = client.models.list().data[0].id
                    for kvserve in ({}, {"kv_policy": "h2o", "kv_budget": 16}, {"kv_policy": "residual", "kv_budget": 16}):
                        r = client.completions.create(model=model, prompt=PROMPT, max_tokens=8, temperature=0,
                                                      extra_body={"kvserve": kvserve, "ignore_eos": True})
                        self.assertEqual(r.usage.completion_tokens, 8, kvserve)
                        self.assertTrue(r.choices[0].text, kvserve)
                    server.wait_idle()
                    seen[dtype] = logged
                finally:
                    self.assertEqual(server.stop(), 0, server.output())
        # SmolLM2-135M: 30 layers x 3 KV heads x 64 = 5760 values per token for K and V each.
        f16, q8, q4 = seen["f16"], seen["q8_0"], seen["q4_0"]
        self.assertEqual(q8[1] * 64, f16[1] * 34)
        self.assertEqual(q4[1] * 64, f16[1] * 18)
        self.assertGreaterEqual(q8[2] / f16[2], 1.85)  # 64 / 34 = 1.88, less whole-block rounding
        self.assertGreaterEqual(q4[2] / f16[2], 3.5)   # 64 / 18 = 3.56

    def test_dtypes_the_cpu_cannot_run_stop_the_server_at_start(self):
        for dtype, needle in (("bf16", "needs the CUDA engine"), ("fp8_e4m3", "needs the CUDA engine"),
                              ("q5_0", "--kv-cache-dtype")):
            with self.subTest(dtype=dtype):
                run = subprocess.run([ARGS.binary, "serve", "--device", "cpu", "--port", str(free_port()),
                                      "--grpc-port", str(free_port()), *serve_args("--kv-cache-dtype", dtype)],
                                     capture_output=True, text=True, timeout=60)
                self.assertNotEqual(run.returncode, 0, run.stderr)
                self.assertIn(needle, run.stderr)


def main():
    global ARGS
    ARGS, rest = kvs_server.parse_test_args(model_required=False)
    kvs_server.run_tests(rest)


if __name__ == "__main__":
    main()
