#!/usr/bin/env python3
"""Hang-ups and admission in sequences, through the real `kvserve serve`.

One server with the real default model and room for 4 sequences
(--max-num-seqs 1 --max-queue 3). Checks, read from /metrics:
- a streaming client, a non-streaming client and queued clients (one
  streaming, one not) hang up, and the engine stops working on them within
  one engine step: vllm:num_requests_running / num_requests_waiting drop,
  vllm:kv_cache_usage_perc goes to 0, kvserve:engine_steps_total advances by
  at most 2 (the step running when the metrics were read, and the one running
  when the socket closed; 3 while another request keeps the engine stepping
  during the polling); also while an echoed prompt is being scored (echo +
  logprobs);
- an SSE stream waiting in the queue gets `: keep-alive` comments;
- admission counts sequences: a request with n=4 takes all 4 slots, so the next
  request gets 429 queue_full with Retry-After; n=5 can never fit (400 naming
  n); once it is gone n=4 fits again.

Usage: hangup_test.py --binary build/kvserve --model PATH [unittest args]
"""
import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvs_server  # noqa: E402
from kvs_server import Server  # noqa: E402

ARGS = None
SERVER = None
LONG = 1000  # max_tokens of a request that would run for many seconds unless cancelled


def setUpModule():
    global SERVER
    SERVER = Server(ARGS.binary, "--model", ARGS.model, "--kv-cache-memory", "64MiB", "--threads", "1",
                    "--max-num-seqs", "1", "--max-queue", "3")


def tearDownModule():
    assert SERVER.stop() == 0, SERVER.output()


def post(body):
    """Sends a completion request on a new socket and returns the socket (nothing read yet)."""
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", SERVER.port), timeout=60)
    sock.sendall((f"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(data)}\r\n\r\n").encode() + data)
    return sock


def long_request(stream, n=1):
    return post({"prompt": "Once upon a time", "max_tokens": LONG, "ignore_eos": True, "stream": stream, "n": n})


def read_until(sock, marker, timeout=30):
    """Reads from `sock` until `marker` (bytes) has arrived; returns everything read."""
    sock.settimeout(timeout)
    data = b""
    while marker not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"connection closed before {marker!r}: {data[-300:]!r}")
        data += chunk
    return data


def hang_up(sock):
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def wait_metrics(predicate, timeout=30):
    """Polls /metrics until predicate(metrics) holds; returns those metrics."""
    deadline = time.monotonic() + timeout
    m = SERVER.metrics()
    while not predicate(m):
        if time.monotonic() > deadline:
            raise AssertionError(f"metrics never matched: {m}")
        time.sleep(0.005)
        m = SERVER.metrics()
    return m


def running(n):
    return lambda m: m["vllm:num_requests_running"] == n


class HangUpTest(unittest.TestCase):
    def setUp(self):
        SERVER.wait_idle(timeout=30)

    def assert_stops_within_a_step(self, sock):
        """Hangs up `sock` (the only request in the engine) and checks that the
        engine stops within a step and frees every KV block."""
        before = wait_metrics(lambda m: m["vllm:num_requests_running"] == 1 and m["kvserve:engine_steps_total"] > 0)
        self.assertGreater(before["vllm:kv_cache_usage_perc"], 0)
        steps = before["kvserve:engine_steps_total"]
        hang_up(sock)
        closed = time.monotonic()
        after = wait_metrics(lambda m: m["vllm:num_requests_running"] == 0 and m["kvserve:kv_blocks_used"] == 0)
        seconds = time.monotonic() - closed
        # The engine idles once the request is gone: its step count is final.
        after = SERVER.metrics()
        print(f"  stopped {seconds * 1e3:.0f} ms after the hang-up, "
              f"{after['kvserve:engine_steps_total'] - steps:.0f} engine steps after the metrics were read")
        self.assertLessEqual(after["kvserve:engine_steps_total"] - steps, 2)
        self.assertEqual(after["vllm:kv_cache_usage_perc"], 0)
        self.assertEqual(after["vllm:num_requests_waiting"], 0)

    def test_streaming_client_hangs_up(self):
        sock = long_request(stream=True)
        read_until(sock, b"data: ")  # the stream is running
        self.assert_stops_within_a_step(sock)

    def test_non_streaming_client_hangs_up(self):
        sock = long_request(stream=False)
        self.assert_stops_within_a_step(sock)

    def test_client_hangs_up_while_its_echoed_prompt_is_scored(self):
        # echo + logprobs scores the prompt with one engine step per prompt token
        # before generating: a hang-up then stops the scoring too.
        prompt = " ".join(["the cache holds keys and values"] * 30)  # about 200 tokens: many steps
        sock = post({"prompt": prompt, "max_tokens": 1, "echo": True, "logprobs": 1})
        self.assert_stops_within_a_step(sock)

    def test_queued_clients_hang_up_and_a_queued_stream_gets_keep_alives(self):
        runner = long_request(stream=True)
        read_until(runner, b"data: ")
        queued_stream = long_request(stream=True)
        queued_plain = long_request(stream=False)
        queued = wait_metrics(lambda m: m["vllm:num_requests_waiting"] == 2)
        self.assertEqual(queued["vllm:num_requests_running"], 1)
        # While it waits, the queued stream gets a keep-alive comment (and no data yet).
        got = read_until(queued_stream, b": keep-alive", timeout=5)
        self.assertIn(b" 200 ", got.split(b"\r\n", 1)[0])
        self.assertNotIn(b"data: ", got)
        steps = SERVER.metrics()["kvserve:engine_steps_total"]
        hang_up(queued_stream)
        hang_up(queued_plain)
        after = wait_metrics(lambda m: m["vllm:num_requests_waiting"] == 0)
        print(f"  queue empty {after['kvserve:engine_steps_total'] - steps:.0f} engine steps after the hang-ups")
        # The runner keeps the engine stepping while /metrics is polled, so
        # the snapshot that first shows the empty queue may be a step late:
        # one step in flight, one to apply the cancels, one of polling.
        # (Unwatched, the queued requests would wait the runner's 1000 steps.)
        self.assertLessEqual(after["kvserve:engine_steps_total"] - steps, 3)
        self.assertEqual(after["vllm:num_requests_running"], 1)  # the running one goes on
        self.assert_stops_within_a_step(runner)


class AdmissionTest(unittest.TestCase):
    def setUp(self):
        SERVER.wait_idle(timeout=30)

    def test_n4_takes_four_slots(self):
        sock = long_request(stream=True, n=4)
        read_until(sock, b"data: ")
        m = wait_metrics(lambda m: m["vllm:num_requests_running"] + m["vllm:num_requests_waiting"] == 4)
        self.assertEqual(m["vllm:num_requests_waiting"], 3)  # every sequence is visible
        status, headers, body = SERVER.raw("POST", "/v1/completions", json.dumps({"prompt": "Hi", "max_tokens": 2}),
                                           {"Content-Type": "application/json"})
        self.assertEqual(status, 429, body)
        self.assertEqual(headers.get("Retry-After"), "1")
        error = json.loads(body)["error"]
        self.assertEqual((error["type"], error["code"]), ("rate_limit_error", "queue_full"))
        hang_up(sock)
        SERVER.wait_idle(timeout=30)
        client = SERVER.client()
        model = client.models.list().data[0].id
        r = client.completions.create(model=model, prompt="Hi", max_tokens=2, n=4, extra_body={"ignore_eos": True})
        self.assertEqual(len(r.choices), 4)
        self.assertEqual(r.usage.completion_tokens, 8)

    def test_more_sequences_than_the_server_holds_is_a_400_naming_n(self):
        status, _, body = SERVER.raw("POST", "/v1/completions",
                                     json.dumps({"prompt": "Hi", "max_tokens": 2, "n": 5}),
                                     {"Content-Type": "application/json"})
        self.assertEqual(status, 400, body)
        self.assertEqual(json.loads(body)["error"]["param"], "n")


def main():
    global ARGS
    ARGS, rest = kvs_server.parse_test_args()
    kvs_server.run_tests(rest)


if __name__ == "__main__":
    main()
