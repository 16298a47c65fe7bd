#!/usr/bin/env python3
"""Soak and overload runs of the real `kvserve serve` over loopback.

soak:     N requests (or D seconds) from W client threads with random prompt
          lengths, random sampling parameters, streamed or not, n = 1 or 2,
          and random client disconnects (mid-stream and before the answer),
          against a KV pool small enough to force preemption. Passes when
          every request that was not cut by its own client succeeded, the
          server's KV blocks are all free when it is idle again, it preempted
          at least once, and its RSS is within 10% of its level after
          warm-up.
overload: closed-loop clients offering about 3x what the server admits
          (--max-num-seqs + --max-queue). Passes when the excess gets 429
          with Retry-After and nothing else fails, admitted requests' p99
          latency stays within a bound derived from the run's own baseline,
          RSS stays within 10% of its post-warm-up level, and right after
          the load stops a request is served at baseline latency.

Both print one JSON summary line (what bench/RESULTS.md records) and exit 1
on failure. Every target is 127.0.0.1; loops are bounded in count and time.

Usage: soak.py soak|overload --binary build/kvserve --model M.gguf [--requests N] [--duration S]
"""
import argparse
import http.client
import json
import random
import statistics
import sys
import threading
import os
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import kvs_server  # noqa: E402

ARGS = None
# A sanitizer build (CMake KVS_SANITIZE; the asan-ubsan preset) keeps freed
# memory in quarantine and maps shadow memory, so RSS then measures the
# sanitizer's allocator, not the server: the RSS bounds are skipped there
# (LeakSanitizer checks the server's memory at exit instead). Everything else
# is checked as usual.
SANITIZED = os.environ.get("KVS_SANITIZER_BUILD", "")
SANITIZED_WHY = ("a sanitizer build (" + SANITIZED + ") measures the sanitizer's allocator "
                 "(quarantine, shadow memory); LeakSanitizer checks at exit instead")


class Server(kvs_server.Server):
    def __init__(self, *extra):
        super().__init__(ARGS.binary, "--model", ARGS.model, "--threads", str(ARGS.threads), *extra, grpc=False)
        self.model = self.model_id()

    def output(self):
        return super().output()[-4000:]

    def get(self, path):
        status, _, body = self.raw("GET", path, timeout=30)
        return status, body.decode()

    def metric(self, name):
        return self.metric_sum(name)

    def wait_idle(self, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.metric("vllm:num_requests_running") == 0 and self.metric("vllm:num_requests_waiting") == 0:
                return True
            time.sleep(0.2)
        return False

    def stop(self):
        return super().stop(timeout=120)


WORDS = ("the cache holds keys and values for every token a model has seen so far while it writes "
         "one more word at a time under load from many clients").split()


def random_body(rng):
    prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 30)))
    body = {"prompt": prompt, "max_tokens": rng.randint(1, 16),
            "temperature": rng.choice([0.0, 0.7, 1.3]), "stream": rng.random() < 0.5}
    if rng.random() < 0.5:
        body["top_p"] = rng.choice([0.5, 0.9, 1.0])
    if rng.random() < 0.3:
        body["top_k"] = rng.choice([1, 5, 40])
    if rng.random() < 0.3:
        body["seed"] = rng.randint(0, 10 ** 6)
    if rng.random() < 0.2:
        body["n"] = 2
    if rng.random() < 0.2:
        body["stop"] = [rng.choice(WORDS)]
    if rng.random() < 0.2:
        body["frequency_penalty"] = rng.choice([0.5, 1.0])
    return body


def send(server, body, disconnect=None, timeout=300):
    """Returns (outcome, status, seconds, retry_after). outcome: ok, cut, http_<status>, error."""
    body = dict(body, model=server.model)
    start = time.time()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
        if disconnect == "before":
            return "cut", 0, time.time() - start, None
        res = conn.getresponse()
        if res.status != 200:
            res.read()
            return f"http_{res.status}", res.status, time.time() - start, res.getheader("Retry-After")
        if disconnect == "mid" and body.get("stream"):
            res.read(64)
            return "cut", 200, time.time() - start, None
        data = res.read().decode()
        if body.get("stream"):
            if not data.rstrip().endswith("data: [DONE]"):
                return "error", 200, time.time() - start, None
        else:
            parsed = json.loads(data)
            if len(parsed["choices"]) != body.get("n", 1):
                return "error", 200, time.time() - start, None
        return "ok", 200, time.time() - start, None
    except (OSError, http.client.HTTPException, ValueError):
        return ("cut" if disconnect else "error"), 0, time.time() - start, None
    finally:
        conn.close()


def soak():
    server = Server("--kv-cache-memory", "4MiB", "--max-num-seqs", "16", "--max-queue", "100000",
                    "--max-num-batched-tokens", "256")
    rng_lock = threading.Lock()
    master = random.Random(ARGS.seed)
    outcomes = {}
    done = [0]
    deadline = time.time() + ARGS.duration if ARGS.duration else None
    rss = {}

    def worker():
        while True:
            with rng_lock:
                if done[0] >= ARGS.requests or (deadline and time.time() > deadline):
                    return
                done[0] += 1
                index = done[0]
                rng = random.Random(master.random())
            body = random_body(rng)
            roll = rng.random()
            disconnect = "before" if roll < 0.05 else ("mid" if roll < 0.15 else None)
            outcome = send(server, body, disconnect)[0]
            with rng_lock:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
                if index == ARGS.warmup:
                    rss["warm"] = server.rss_bytes()
                if index % 1000 == 0:  # progress of a long run, on stderr
                    print(f"soak: {index} requests started, {time.time() - start:.0f} s, {outcomes}",
                          file=sys.stderr, flush=True)

    threads = [threading.Thread(target=worker) for _ in range(ARGS.workers)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - start
    idle = server.wait_idle()
    time.sleep(1.0)
    rss["end"] = server.rss_bytes()
    blocks = server.metric("kvserve:kv_blocks_used")
    preemptions = server.metric("vllm:num_preemptions_total")
    status = server.stop()
    warm = rss.get("warm", rss["end"])
    summary = {"mode": "soak", "requests": sum(outcomes.values()), "seconds": round(elapsed, 1),
               "outcomes": outcomes, "kv_blocks_used_at_end": blocks, "preemptions": preemptions,
               "rss_after_warmup_mib": round(warm / 2 ** 20, 1), "rss_end_mib": round(rss["end"] / 2 ** 20, 1),
               "rss_growth": round(rss["end"] / warm - 1, 4), "exit_status": status}
    print(json.dumps(summary))
    failures = []
    if set(outcomes) - {"ok", "cut"}:
        failures.append("unexpected outcomes")
    if not idle or blocks != 0:
        failures.append("KV blocks still in use")
    if preemptions < 1:
        failures.append("the pool never forced a preemption")
    if SANITIZED:
        print("soak: RSS bound not checked: " + SANITIZED_WHY)
    elif rss["end"] > warm * 1.10:
        failures.append("RSS grew more than 10%")
    if status != 0:
        failures.append("server did not exit cleanly")
    return failures


def overload():
    seqs, queue = 4, 4
    server = Server("--kv-cache-memory", "16MiB", "--max-num-seqs", str(seqs), "--max-queue", str(queue))
    body = {"prompt": "The capital of France is", "max_tokens": 8, "temperature": 0}
    # Baseline: one request at a time.
    baseline = statistics.median(send(server, body)[2] for _ in range(5))
    clients = 3 * (seqs + queue)
    stop_at = time.time() + ARGS.duration
    lock = threading.Lock()
    outcomes, admitted, retry_after = {}, [], set()
    rss = {"warm": server.rss_bytes(), "max": 0}

    def client():
        while time.time() < stop_at:
            outcome, status, seconds, retry = send(server, body)
            with lock:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
                if outcome == "ok":
                    admitted.append(seconds)
                if status == 429:
                    retry_after.add(retry)
            if status == 429:
                time.sleep(0.05)  # a well-behaved client backs off a little (shorter than Retry-After)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        rss["max"] = max(rss["max"], server.rss_bytes())
        time.sleep(0.5)
    for t in threads:
        t.join()
    recovery = send(server, body)
    status = server.stop()
    admitted.sort()
    p99 = admitted[int(0.99 * (len(admitted) - 1))] if admitted else None
    # Admitted requests wait at most for the queue ahead of them: (seqs + queue) / seqs
    # batches of work, each no slower than a step-for-step run of all seqs together.
    bound = baseline * (seqs + queue) * 2
    summary = {"mode": "overload", "clients": clients, "admitted_capacity": seqs + queue,
               "seconds": ARGS.duration, "outcomes": outcomes, "retry_after": sorted(r for r in retry_after if r),
               "baseline_s": round(baseline, 3), "admitted_p50_s": round(statistics.median(admitted), 3) if admitted else None,
               "admitted_p99_s": round(p99, 3) if p99 else None, "p99_bound_s": round(bound, 3),
               "rss_after_warmup_mib": round(rss["warm"] / 2 ** 20, 1), "rss_max_mib": round(rss["max"] / 2 ** 20, 1),
               "recovery_s": round(recovery[2], 3), "recovery_outcome": recovery[0], "exit_status": status}
    print(json.dumps(summary))
    failures = []
    if set(outcomes) - {"ok", "http_429"} or outcomes.get("http_429", 0) == 0:
        failures.append("expected only successes and 429s, and some 429s")
    if retry_after != {"1"}:
        failures.append("429 without Retry-After")
    if p99 is None or p99 > bound:
        failures.append("admitted latency unbounded")
    if SANITIZED:
        print("overload: RSS bound not checked: " + SANITIZED_WHY)
    elif rss["max"] > rss["warm"] * 1.10:
        failures.append("RSS grew more than 10% under overload")
    if recovery[0] != "ok" or recovery[2] > 3 * baseline + 0.5:
        failures.append("no immediate recovery")
    if status != 0:
        failures.append("server did not exit cleanly")
    return failures


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["soak", "overload"])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--duration", type=float, default=0, help="seconds (soak: stop early; overload: load time)")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=200, help="soak: requests before the RSS reference")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    ARGS = parser.parse_args()
    if ARGS.mode == "overload" and not ARGS.duration:
        ARGS.duration = 30
    failures = soak() if ARGS.mode == "soak" else overload()
    for failure in failures:
        print("FAIL:", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
