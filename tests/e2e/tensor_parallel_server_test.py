#!/usr/bin/env python3
"""End-to-end: `kvserve serve --tensor-parallel-size N` with the official `openai` client.

The HTTP/gRPC front ends, scheduler and KV manager do not know about tensor
parallelism; this drives the real binary with TP=3 on the default model
(9 query / 3 KV heads) and checks that it answers exactly as a TP=1 server:
completions (plain and streamed), chat, concurrent requests, and that every KV
block is free again afterwards. Both servers run with --f32-weights and an F32
KV cache, where sharding changes only the order of fp32 additions, so greedy
text is identical (with llama.cpp's quantized numerics it can differ at a
near-tie; see docs/tensor-parallel.md). Also: a size that does not divide the
heads is refused at start with a clear message, and the JSON config key works.

Usage: tensor_parallel_server_test.py --binary build/kvserve --model PATH [unittest args]
"""
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvs_server  # noqa: E402
from kvs_server import free_port  # noqa: E402

ARGS = None
PROMPTS = ["The capital of France is", "Once upon a time, in a small village,", "The three primary colors are",
           "def add(a, b):\n", "Water boils at a temperature of", "La tour Eiffel se trouve à"]


def serve_args(*extra):
    return ["--model", ARGS.model, "--kv-cache-memory", "64MiB", "--threads", "1", "--f32-weights",
            "--kv-cache-dtype", "f32", *extra]


class Server(kvs_server.Server):
    def __init__(self, *extra):
        super().__init__(ARGS.binary, *serve_args(*extra))

    def metrics(self):
        return {name: value for name, _, value in self.metric_samples()}

    def client(self):
        return super().client("-")

    def stop(self):
        """SIGTERM; returns the exit status (0 = drained and joined its rank threads cleanly)."""
        return super().stop(timeout=60)


WHOLE = None
SHARDED = None


def setUpModule():
    global WHOLE, SHARDED
    WHOLE = Server()
    # The sharded server takes its size from a JSON config file (the key of --tensor-parallel-size).
    config = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump({"tensor_parallel_size": 3}, config)
    config.close()
    try:
        SHARDED = Server("--config", config.name)
    finally:
        os.unlink(config.name)


def tearDownModule():
    statuses = {name: server.stop() for name, server in (("TP=1", WHOLE), ("TP=3", SHARDED)) if server is not None}
    for name, status in statuses.items():
        if status != 0:
            raise AssertionError(f"{name} server exited with {status} on SIGTERM")


def complete(server, prompt, **kwargs):
    client = server.client()
    model = client.models.list().data[0].id
    return client.completions.create(model=model, prompt=prompt, max_tokens=12, temperature=0, **kwargs)


class TensorParallelServerTest(unittest.TestCase):
    def test_started_sharded(self):
        self.assertIn("tensor parallel over 3 CPU ranks", SHARDED.output())

    def test_completions_match_the_unsharded_server(self):
        for prompt in PROMPTS:
            expected = complete(WHOLE, prompt).choices[0].text
            got = complete(SHARDED, prompt)
            self.assertEqual(got.choices[0].text, expected, prompt)
            self.assertEqual(got.usage.completion_tokens, 12)

    def test_streamed_completion_and_chat_match(self):
        expected = complete(WHOLE, PROMPTS[1]).choices[0].text
        streamed = "".join(chunk.choices[0].text for chunk in complete(SHARDED, PROMPTS[1], stream=True)
                           if chunk.choices)
        self.assertEqual(streamed, expected)
        messages = [{"role": "user", "content": "Name three planets."}]
        chats = []
        for server in (WHOLE, SHARDED):
            client = server.client()
            model = client.models.list().data[0].id
            chats.append(client.chat.completions.create(model=model, messages=messages, max_tokens=16,
                                                        temperature=0).choices[0].message.content)
        self.assertEqual(chats[1], chats[0])
        self.assertTrue(chats[0])

    def test_concurrent_requests_match_and_free_every_block(self):
        expected = [complete(WHOLE, p).choices[0].text for p in PROMPTS]
        with concurrent.futures.ThreadPoolExecutor(len(PROMPTS)) as pool:
            got = list(pool.map(lambda p: complete(SHARDED, p).choices[0].text, PROMPTS))
        self.assertEqual(got, expected)
        deadline = time.time() + 30
        while time.time() < deadline:
            m = SHARDED.metrics()
            if m["kvserve:kv_blocks_used"] == 0 and m["vllm:num_requests_running"] == 0:
                break
            time.sleep(0.1)
        self.assertEqual(m["kvserve:kv_blocks_used"], 0)


    def test_the_bench_client_drives_the_sharded_server_over_http_and_grpc(self):
        bench = os.path.join(os.path.dirname(ARGS.binary), "kvserve-bench")
        for target in (["--url", f"http://127.0.0.1:{SHARDED.port}"], ["--grpc", f"127.0.0.1:{SHARDED.grpc_port}"]):
            with tempfile.TemporaryDirectory() as tmp:
                result = os.path.join(tmp, "result.json")
                run = subprocess.run([bench, *target, "--concurrency", "2", "--num-requests", "6",
                                      "--warmup-requests", "1", "--input-len", "16", "--output-len", "6",
                                      "--ignore-eos", "--quiet", "--result-json", result],
                                     capture_output=True, text=True, timeout=300)
                self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
                with open(result) as f:
                    summary = json.load(f)["summary"]
            self.assertEqual(summary["completed"], 6, target)
            self.assertEqual(summary["failed"], 0, target)


class RefusedSizeTest(unittest.TestCase):
    def test_a_size_that_does_not_divide_the_heads_is_refused_at_start(self):
        proc = subprocess.run([ARGS.binary, "serve", "--port", str(free_port()), "--grpc-port", str(free_port()),
                               *serve_args("--tensor-parallel-size", "2")], capture_output=True, text=True,
                              timeout=120)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("tensor parallel size 2 does not divide the model's 9 attention heads",
                      proc.stdout + proc.stderr)


def main():
    global ARGS
    ARGS, rest = kvs_server.parse_test_args()
    kvs_server.run_tests(rest)


if __name__ == "__main__":
    main()
