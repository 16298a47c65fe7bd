#!/usr/bin/env python3
"""Load: 1,000 concurrent connections against a saturated `kvserve serve`.

The real binary with the real default model and the default admission flags
(--max-num-seqs 64, --max-queue 256, --http-threads 64). While 1,000 clients
each open a connection and POST a completion at once, a separate process polls
GET /health and GET /metrics every 100 ms, each on a new connection (as a
Kubernetes probe does). Checks:
- every probe answers 200, and the probes' p99 latency is <= 50 ms;
- every request gets 200 or 429; every 429 carries Retry-After and an
  OpenAI-shaped rate_limit_error body, and comes within 100 ms of the request;
- every admitted request completes with all its tokens;
- the server filled its capacity (320 sequences) and never held more, and
  what waited showed in vllm:num_requests_waiting;
- idle afterwards: no request running or waiting, 0 KV blocks in use.

The two latency bounds are checked on the Release build; a sanitizer build
(KVS_SANITIZER_BUILD set, as in CI) prints the latencies and checks the rest.

Latencies run from the request's send (a probe's: from its connect) to the
kernel's receive timestamp of the whole answer (SO_TIMESTAMPNS), so they time
the server, not this client's own turns on a busy machine. They are printed so
they can be read from the ctest log.

Usage: load_test.py --binary build/kvserve [--model PATH] [unittest args]
"""
import json
import multiprocessing
import os
import resource
import selectors
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvs_server  # noqa: E402
from kvs_server import Server  # noqa: E402

ARGS = None
# CMake's KVS_SANITIZE (the asan-ubsan presets, what CI runs): set for every script-driven test.
SANITIZED = os.environ.get("KVS_SANITIZER_BUILD", "")
SANITIZED_WHY = (f"a sanitizer build ({SANITIZED}) is several times slower per instruction; the bounds "
                 "are checked on the Release build (KVS_TEST_SANITIZE=0 scripts/test.sh)")
NUM_CLIENTS = 1000
CAPACITY = 64 + 256  # the default --max-num-seqs + --max-queue, in sequences
MAX_TOKENS = 2  # bounded work: 320 admitted requests must finish in seconds under ASan on 2 cores
PROBE_INTERVAL = 0.1
PROBE_TIMEOUT = 5.0
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; Python does not name it


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100.0 * (len(ordered) - 1))))]


def gauge(text, name):
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def receive(sock, bufsize=65536):
    """recv with the kernel's receive timestamp: (data, wall-clock seconds the
    data reached this host, or None). Kernel timestamps keep the client's own
    scheduling delays (it serves a thousand sockets on a busy machine) out of
    the latencies: they say when the server's answer arrived."""
    data, ancillary, _, _ = sock.recvmsg(bufsize, 256)
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            seconds, nanoseconds = struct.unpack("qq", value[:16])
            return data, seconds + nanoseconds / 1e9
    return data, None


def parse_response(data):
    """(status, headers, body) once `data` holds a whole Content-Length response, else None."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if len(body) < int(headers.get("content-length", "0")):
        return None
    return int(lines[0].split()[1]), headers, body


def probe(port, path):
    """One GET on a new connection, as a Kubernetes probe does: (status, seconds
    from connecting to the whole answer arriving, body)."""
    start = time.time()
    with socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT) as sock:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        data, arrived = b"", None
        while True:
            chunk, stamp = receive(sock)
            if not chunk:
                raise ConnectionError(f"{path}: closed before a whole response")
            data += chunk
            arrived = stamp or time.time()
            response = parse_response(data)
            if response:
                return response[0], arrived - start, response[2]


def probe_loop(port, stop, results):
    """Runs in its own process (no GIL shared with the load): one probe of each
    path every PROBE_INTERVAL. Puts a list of (path, status or error, seconds,
    running, waiting) on `results`."""
    samples = []
    while not stop.is_set():
        tick = time.monotonic()
        for path in ("/health", "/metrics"):
            running = waiting = None
            try:
                status, seconds, body = probe(port, path)
                if path == "/metrics" and status == 200:
                    text = body.decode()
                    running = gauge(text, "vllm:num_requests_running")
                    waiting = gauge(text, "vllm:num_requests_waiting")
            except OSError as e:
                status, seconds = repr(e), PROBE_TIMEOUT
            samples.append((path, status, seconds, running, waiting))
        stop.wait(max(0.0, PROBE_INTERVAL - (time.monotonic() - tick)))
    results.put(samples)


class Connection:
    """One client: connects, sends its request when the socket is writable,
    reads its response (Content-Length bodies only, as the server sends here)."""

    def __init__(self, index, request):
        self.index = index
        self.request = request
        self.sock = socket.socket()
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sent_at = None
        self.data = b""
        self.result = None

    def on_writable(self):
        self.sent_at = time.time()
        self.sock.sendall(self.request)  # a few hundred bytes: fits the send buffer at once

    def on_readable(self):
        """Returns True once the response is complete."""
        chunk, arrived = receive(self.sock)
        if not chunk:
            raise ConnectionError(f"connection {self.index} closed without a full response: {self.data[:200]!r}")
        self.data += chunk
        response = parse_response(self.data)
        if response is None:
            return False
        status, headers, body = response
        self.result = {"index": self.index, "status": status, "headers": headers, "body": body,
                       "seconds": (arrived or time.time()) - self.sent_at}
        return True


def burst(port, timeout=240):
    """Opens NUM_CLIENTS connections at once and posts a completion on each, on
    one thread with non-blocking sockets (light enough that the client's own
    time stays out of the latencies). Returns the results."""
    body = json.dumps({"prompt": "Hi", "max_tokens": MAX_TOKENS, "ignore_eos": True, "temperature": 0}).encode()
    request = (f"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    selector = selectors.DefaultSelector()
    conns = [Connection(i, request) for i in range(NUM_CLIENTS)]
    for conn in conns:
        conn.sock.connect_ex(("127.0.0.1", port))
        selector.register(conn.sock, selectors.EVENT_WRITE, conn)
    pending = len(conns)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for key, events in selector.select(timeout=1.0):
            conn = key.data
            if conn.sent_at is None:
                conn.on_writable()
                selector.modify(conn.sock, selectors.EVENT_READ, conn)
            elif conn.on_readable():
                selector.unregister(conn.sock)
                conn.sock.close()
                pending -= 1
    for conn in conns:
        if conn.result is None:
            conn.sock.close()
    return [conn.result for conn in conns]


class LoadTest(unittest.TestCase):
    def test_thousand_connections_probes_stay_fast_and_excess_gets_429(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = NUM_CLIENTS + 512
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
        with Server(ARGS.binary, "--model", ARGS.model, "--kv-cache-memory", "64MiB", "--threads", "1") as server:
            # Warm up (first-use allocations) so the probes measure serving.
            status, _, raw = server.raw("POST", "/v1/completions", json.dumps({"prompt": "Hi", "max_tokens": 2}),
                                        {"Content-Type": "application/json"})
            self.assertEqual(status, 200, raw)

            stop = multiprocessing.Event()
            results = multiprocessing.Queue()
            prober = multiprocessing.Process(target=probe_loop, args=(server.port, stop, results))
            prober.start()
            time.sleep(0.5)  # a few probes before the load: the baseline
            started = time.monotonic()
            responses = burst(server.port)
            load_seconds = time.monotonic() - started
            time.sleep(0.5)  # and a few after
            stop.set()
            samples = results.get(timeout=30)
            prober.join(timeout=30)

            self.assertNotIn(None, responses, "a request got no response in time")
            ok = [r for r in responses if r["status"] == 200]
            refused = [r for r in responses if r["status"] == 429]
            self.assertEqual(len(ok) + len(refused), NUM_CLIENTS,
                             sorted({r["status"] for r in responses}))

            probe_seconds = [s[2] for s in samples]
            failed = [s for s in samples if s[1] != 200]
            refused_seconds = [r["seconds"] for r in refused]
            ok_seconds = [r["seconds"] for r in ok]
            running_waiting = [(s[3], s[4]) for s in samples if s[3] is not None]
            print(f"\nload: {NUM_CLIENTS} connections in {load_seconds:.2f} s: {len(ok)} admitted (200), "
                  f"{len(refused)} refused (429)")
            print(f"probes: {len(samples)} ({len(failed)} failed), p50 {percentile(probe_seconds, 50) * 1e3:.1f} ms, "
                  f"p99 {percentile(probe_seconds, 99) * 1e3:.1f} ms, max {max(probe_seconds) * 1e3:.1f} ms")
            if refused_seconds:
                print(f"429s: p50 {percentile(refused_seconds, 50) * 1e3:.1f} ms, "
                      f"p99 {percentile(refused_seconds, 99) * 1e3:.1f} ms, max {max(refused_seconds) * 1e3:.1f} ms")
            print(f"200s: p50 {percentile(ok_seconds, 50):.2f} s, max {max(ok_seconds):.2f} s")
            print(f"most running + waiting seen: {max(r + w for r, w in running_waiting):.0f}, "
                  f"most waiting: {max(w for _, w in running_waiting):.0f}")
            sys.stdout.flush()

            # The latency bounds hold for the server as shipped (Release); a
            # sanitizer build runs every instruction several times slower and
            # measures ASan, not the design (as soak.py's RSS bound): there the
            # numbers above are printed and everything else is checked.
            timed = not SANITIZED
            if not timed:
                print("latency bounds not checked: " + SANITIZED_WHY)
            # Probes: never fail, p99 within 50 ms.
            self.assertEqual(failed, [])
            self.assertGreaterEqual(len(samples), 10)
            if timed:
                self.assertLessEqual(percentile(probe_seconds, 99), 0.050)
            # Beyond capacity: a clear, fast 429.
            self.assertGreater(len(refused), 0)
            for r in refused:
                self.assertIn("retry-after", r["headers"])
                error = json.loads(r["body"])["error"]
                self.assertEqual(error["type"], "rate_limit_error")
                self.assertEqual(error["code"], "queue_full")
                if timed:
                    self.assertLessEqual(r["seconds"], 0.100, f"429 after {r['seconds'] * 1e3:.0f} ms")
            # Every admitted request completes with all its tokens.
            self.assertGreaterEqual(len(ok), CAPACITY)
            for r in ok:
                body = json.loads(r["body"])
                self.assertEqual(body["usage"]["completion_tokens"], MAX_TOKENS)
                self.assertEqual(body["choices"][0]["finish_reason"], "length")
            # The engine held at most the capacity, and the queue showed.
            self.assertLessEqual(max(r + w for r, w in running_waiting), CAPACITY)
            self.assertGreater(max(w for _, w in running_waiting), 0)
            # Idle: nothing running or waiting, no KV block in use.
            m = server.wait_idle(timeout=30)
            self.assertEqual(m["kvserve:kv_blocks_used"], 0)
            self.assertEqual(m["vllm:kv_cache_usage_perc"], 0)
            self.assertEqual(m["vllm:num_requests_waiting"], 0)
            self.assertEqual(server.stop(), 0)


def main():
    global ARGS
    ARGS, rest = kvs_server.parse_test_args()
    kvs_server.run_tests(rest)


if __name__ == "__main__":
    main()
