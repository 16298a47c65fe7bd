#!/usr/bin/env python3
"""End-to-end: the prefix cache's host and disk tiers through `kvserve serve` (issue 21).

With --kv-offload-dir a server writes every computed KV block through to
disk; a server started later on the same directory (a restart) loads a long
prompt's blocks instead of computing them: the usage's cached_tokens and
/metrics (kvserve:kv_offload_*{tier="disk"}) say so, and the greedy answer is
the one a server without tiers gives. With --kv-offload-memory, blocks a small
pool evicted come back from RAM. Two servers on one directory at once, and a
directory that cannot be used (a warning in the log), change no answer. Bad
flag values stop the server at start with a clear message.

Usage: kv_offload_server_test.py --binary build/kvserve [--model PATH] [unittest args]
"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvs_server  # noqa: E402
from kvs_server import free_port  # noqa: E402

ARGS = None
PARAGRAPH = ("The history of the printing press begins in the fifteenth century, when Johannes Gutenberg combined "
             "movable metal type, oil-based ink and a wooden screw press into one system. Within fifty years, "
             "presses were running in more than two hundred European cities, and the price of books fell so far "
             "that ordinary merchants could own them. ")


TOPICS = ["printing", "presses", "ink", "screws"]


def document(topic):
    """About 450 tokens of text, different per topic."""
    return f"Notes on {topic}.\n" + "".join(f"Section {i} about {topic}: {PARAGRAPH}" for i in range(6))


def serve_args(*extra):
    return ["--threads", "2", *extra] + (["--model", ARGS.model] if ARGS.model else [])


class Server(kvs_server.Server):
    def __init__(self, *extra):
        super().__init__(ARGS.binary, *serve_args(*extra))

    def ask(self, text):
        """Greedy answer and cached prompt tokens for one chat turn about `text`."""
        client = self.client(timeout=300)
        r = client.chat.completions.create(model=self.model_id(), max_tokens=12, temperature=0,
                                           messages=[{"role": "user", "content": text + "\nSummarise this."}])
        details = r.usage.prompt_tokens_details
        return r.choices[0].message.content, (details.cached_tokens if details else 0) or 0, r.usage.prompt_tokens

    def tier_metric(self, name, tier):
        return sum(v for n, labels, v in self.metric_samples() if n == name and labels.get("tier") == tier)

    def wait_for_metric(self, name, tier, minimum, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.tier_metric(name, tier)
            if value >= minimum:
                return value
            time.sleep(0.2)
        return self.tier_metric(name, tier)


REFERENCES = {}


def reference(text):
    """The answer of a server without tiers (one server answers every document, once)."""
    if not REFERENCES:
        with Server() as server:
            for topic in TOPICS:
                REFERENCES[document(topic)] = server.ask(document(topic))[0]
    return REFERENCES[text]


class DiskTierTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="kvs-offload-e2e-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def disk_flags(self):
        return ["--kv-offload-dir", self.dir, "--kv-offload-disk-bytes", "1GiB"]

    def test_a_restarted_server_loads_the_prompt_from_disk(self):
        text = document("printing")
        expected = reference(text)
        with Server(*self.disk_flags()) as first:
            answer, cached, prompt_tokens = first.ask(text)
            self.assertEqual(answer, expected)
            self.assertEqual(cached, 0)
            full_blocks = prompt_tokens // 16
            self.assertGreaterEqual(first.wait_for_metric("kvserve:kv_offload_stores_total", "disk", full_blocks),
                                    full_blocks)
        with Server(*self.disk_flags()) as restarted:
            answer, cached, _ = restarted.ask(text)
            self.assertEqual(answer, expected)
            self.assertGreaterEqual(cached, 16 * (full_blocks - 1))
            self.assertGreaterEqual(restarted.tier_metric("kvserve:kv_offload_hits_total", "disk"), full_blocks - 1)
            self.assertGreater(restarted.tier_metric("kvserve:kv_offload_load_seconds_total", "disk"), 0)
            loaded = sum(v for n, _, v in restarted.metric_samples() if n == "kvserve:kv_offload_loaded_tokens_total")
            self.assertGreaterEqual(loaded, 16 * (full_blocks - 1))
            self.assertIn("prefix-cache disk tier", restarted.output())

    def test_two_servers_on_one_directory(self):
        text = document("presses")
        expected = reference(text)
        with Server(*self.disk_flags()) as a, Server(*self.disk_flags()) as b:
            answers = {}
            threads = [threading.Thread(target=lambda s=s, k=k: answers.__setitem__(k, s.ask(text)[0]))
                       for k, s in (("a", a), ("b", b))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(answers, {"a": expected, "b": expected})
        with Server(*self.disk_flags()) as c:
            answer, cached, _ = c.ask(text)
            self.assertEqual(answer, expected)
            self.assertGreater(cached, 0)

    def test_an_unusable_directory_warns_and_serves(self):
        text = document("ink")
        expected = reference(text)
        blocker = os.path.join(self.dir, "a-file")
        with open(blocker, "w") as f:
            f.write("not a directory")
        with Server("--kv-offload-dir", os.path.join(blocker, "cache")) as server:
            self.assertEqual(server.ask(text)[0], expected)
            self.assertEqual(server.ask(text)[0], expected)
            self.assertIn("kv offload:", server.output())


class HostTierTest(unittest.TestCase):
    def test_blocks_a_small_pool_evicted_come_back_from_ram(self):
        text = document("screws")
        expected = reference(text)
        # 12 MiB: about 530 tokens of the default model's f16 KV, so the other documents evict the first.
        with Server("--kv-cache-memory", "12MiB", "--kv-offload-memory", "256MiB") as server:
            self.assertEqual(server.ask(text)[0], expected)
            server.ask(document("merchants"))
            server.ask(document("cities"))
            server.wait_idle()
            self.assertGreater(server.tier_metric("kvserve:kv_offload_stores_total", "host"), 0)
            answer, cached, _ = server.ask(text)
            self.assertEqual(answer, expected)
            self.assertGreater(cached, 0)
            self.assertGreater(server.tier_metric("kvserve:kv_offload_hits_total", "host"), 0)
            self.assertGreater(server.tier_metric("kvserve:kv_offload_bytes", "host"), 0)


class BadFlagsTest(unittest.TestCase):
    def test_bad_values_stop_the_server_at_start(self):
        for extra, needle in [(["--kv-offload-memory", "lots"], "--kv-offload-memory"),
                              (["--kv-offload-memory", "-1GiB"], "--kv-offload-memory"),
                              (["--kv-offload-dir", "/tmp/x", "--kv-offload-disk-bytes", "0"], "--kv-offload-disk-bytes")]:
            with self.subTest(extra=extra):
                run = subprocess.run([ARGS.binary, "serve", "--port", str(free_port()), "--grpc-port", str(free_port()),
                                      *serve_args(*extra)], capture_output=True, text=True, timeout=60)
                self.assertEqual(run.returncode, 1, run.stderr)
                self.assertIn("kvserve: error:", run.stderr)
                self.assertIn(needle, run.stderr)


if __name__ == "__main__":
    ARGS, rest = kvs_server.parse_test_args(model_required=False)
    kvs_server.run_tests(rest)
