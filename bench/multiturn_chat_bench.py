#!/usr/bin/env python3
"""Multi-turn chat benchmark for the prefix cache's tiers (issue 21).

One conversation: a system message, a ~3k-token document with a first
question, then 8 follow-up questions, each turn sent with the whole history
(greedy, max_tokens tokens per answer). Between turns another client sends an
unrelated ~3k-token document, so a small KV pool (--kv-cache-memory) has to
evict the conversation's blocks, as on a busy server. Time to first token
(TTFT, streamed through the official openai client) per turn, for:

  kvserve, tiers off          the pool's prefix cache only: evicted = recomputed
  kvserve, host tier          --kv-offload-memory: evicted blocks wait in RAM
  kvserve, disk after restart --kv-offload-dir: one server ran the conversation
                              (writing every block through), a fresh server on
                              the same directory runs it again
  llama.cpp server            llama-cpp-python's server with its RAM prompt cache
                              (--cache true), same model, threads and conversation

The turn-1 TTFT with tiers off is the cost of computing the document; the disk
row's turn 1 is the same prompt loaded from disk. Answers must be identical in
all kvserve rows (checked; the script exits 1 otherwise).

  .venv/bin/python bench/multiturn_chat_bench.py --binary build/kvserve \
      --model models/SmolLM2-135M-Instruct.Q4_1.gguf --threads 2 --out bench/multiturn_chat.md
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from kvs_server import Server, free_port  # noqa: E402

import openai  # noqa: E402

QUESTIONS = [
    "Summarise the first paragraph of the document in one sentence.",
    "Which names or places does the document mention?",
    "What is the main topic of the second half?",
    "Quote one sentence from the document that contains a number.",
    "What would be a good title for the document?",
    "List three keywords from the document.",
    "Is there any dialogue in the document? Answer briefly.",
    "Which sentence of the document is the longest?",
    "Summarise the whole document in two sentences.",
]


def fixture_lines(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            text = json.loads(line).get("text", "").strip()
            if len(text) >= 8:
                yield text


def documents(fixtures, server, num_tokens, count):
    """`count` disjoint documents of about num_tokens tokens each (real text)."""
    lines = fixture_lines(fixtures)
    docs = []
    for _ in range(count):
        parts, total = [], 0
        while total < num_tokens:
            text = next(lines)
            _, _, body = server.raw("POST", "/tokenize", json.dumps({"prompt": text + "\n"}),
                                    {"Content-Type": "application/json"})
            total += json.loads(body)["count"]
            parts.append(text)
        docs.append("\n".join(parts))
    return docs


def ttft_and_text(client, model, messages, max_tokens):
    start = time.perf_counter()
    first = None
    pieces = []
    stream = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens,
                                            temperature=0, stream=True)
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta.content or ""
        if first is None and (delta or chunk.choices[0].finish_reason):
            first = time.perf_counter() - start
        pieces.append(delta)
    return first, "".join(pieces)


def conversation(client, model, doc, noise_docs, turns, max_tokens):
    """Runs the conversation; returns (ttfts, answers)."""
    messages = [{"role": "system", "content": "You answer questions about the document the user gives."},
                {"role": "user", "content": "Document:\n" + doc + "\n\n" + QUESTIONS[0]}]
    ttfts, answers = [], []
    for turn in range(turns + 1):
        if turn > 0:
            messages.append({"role": "user", "content": QUESTIONS[turn % len(QUESTIONS)]})
        seconds, answer = ttft_and_text(client, model, messages, max_tokens)
        ttfts.append(seconds)
        answers.append(answer)
        messages.append({"role": "assistant", "content": answer})
        # Another user's long prompt, so the pool must evict this conversation.
        client.chat.completions.create(model=model, max_tokens=1, temperature=0,
                                       messages=[{"role": "user", "content": noise_docs[turn % len(noise_docs)]}])
    return ttfts, answers


class LlamaCppServer:
    """llama-cpp-python's OpenAI server with its prompt cache."""

    def __init__(self, python, model, threads, n_ctx, cache_bytes):
        self.port = free_port()
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [python, "-m", "llama_cpp.server", "--model", model, "--n_threads", str(threads),
             "--n_threads_batch", str(threads), "--n_ctx", str(n_ctx), "--port", str(self.port),
             "--host", "127.0.0.1", "--cache", "true", "--cache_type", "ram", "--cache_size", str(cache_bytes),
             "--interrupt_requests", "false", "--verbose", "false"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError("llama_cpp.server exited:\n" + self.log.read().decode(errors="replace"))
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/models", timeout=2)
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("llama_cpp.server did not come up")

    def client(self):
        return openai.OpenAI(base_url=f"http://127.0.0.1:{self.port}/v1", api_key="EMPTY", max_retries=0,
                             timeout=600)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--doc-tokens", type=int, default=3000)
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--kv-cache-memory", default="96MiB", help="small enough that the noise evicts the conversation")
    parser.add_argument("--fixtures", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                           "shared", "fixtures", "tokenizers", "qwen3", "expected.jsonl"))
    parser.add_argument("--llamacpp-python", default=sys.executable, help="a Python with llama-cpp-python[server]")
    parser.add_argument("--skip-llamacpp", action="store_true")
    parser.add_argument("--out", default="", help="also write the markdown table here")
    args = parser.parse_args()

    common = ["--model", args.model, "--threads", str(args.threads), "--kv-cache-memory", args.kv_cache_memory]
    rows, answers_by_row = [], {}
    with Server(args.binary, *common) as server:
        docs = documents(args.fixtures, server, args.doc_tokens, 3)
        doc, noise = docs[0], docs[1:]
        model = server.model_id()
        ttfts, answers = conversation(server.client(timeout=600), model, doc, noise, args.turns, args.max_tokens)
        rows.append(("kvserve, tiers off", ttfts))
        answers_by_row["tiers off"] = answers
    with Server(args.binary, *common, "--kv-offload-memory", "2GiB") as server:
        ttfts, answers = conversation(server.client(timeout=600), model, doc, noise, args.turns, args.max_tokens)
        rows.append(("kvserve, host tier (2 GiB)", ttfts))
        answers_by_row["host tier"] = answers
        host_hits = server.metric_sum("kvserve:kv_offload_hits_total")
    disk_dir = tempfile.mkdtemp(prefix="kvs-multiturn-")
    try:
        disk = ["--kv-offload-dir", disk_dir, "--kv-offload-disk-bytes", "4GiB"]
        with Server(args.binary, *common, *disk) as server:  # writes every block through
            conversation(server.client(timeout=600), model, doc, noise, args.turns, args.max_tokens)
        with Server(args.binary, *common, *disk) as server:  # after the restart
            ttfts, answers = conversation(server.client(timeout=600), model, doc, noise, args.turns, args.max_tokens)
            rows.append(("kvserve, disk tier after a restart", ttfts))
            answers_by_row["disk tier"] = answers
            disk_hits = server.metric_sum("kvserve:kv_offload_hits_total")
            disk_load_seconds = server.metric_sum("kvserve:kv_offload_load_seconds_total")
    finally:
        shutil.rmtree(disk_dir, ignore_errors=True)
    if not args.skip_llamacpp:
        peer = LlamaCppServer(args.llamacpp_python, args.model, args.threads, n_ctx=8192, cache_bytes=2 << 30)
        try:
            ttfts, _ = conversation(peer.client(), "model", doc, noise, args.turns, args.max_tokens)
            rows.append(("llama.cpp server (RAM prompt cache)", ttfts))
        finally:
            peer.stop()

    identical = all(a == answers_by_row["tiers off"] for a in answers_by_row.values())
    header = "| run | " + " | ".join(f"turn {i + 1}" for i in range(args.turns + 1)) + " |"
    lines = [header, "|" + " --- |" * (args.turns + 2)]
    for name, ttfts in rows:
        lines.append(f"| {name} | " + " | ".join(f"{t * 1000:.0f}" for t in ttfts) + " |")
    cold = rows[0][1][0]
    disk_first = next(t for name, t in rows if name.startswith("kvserve, disk"))[0]
    summary = [
        "",
        f"TTFT in ms. Document {args.doc_tokens} tokens, {args.turns} follow-up turns, {args.max_tokens}-token greedy "
        f"answers, --threads {args.threads}, --kv-cache-memory {args.kv_cache_memory}.",
        f"Disk tier after a restart, turn 1: {disk_first * 1000:.0f} ms = {100 * disk_first / cold:.1f}% of computing "
        f"it ({cold * 1000:.0f} ms). Host-tier hits {host_hits:.0f} blocks; disk-tier hits {disk_hits:.0f} blocks, "
        f"{disk_load_seconds * 1000:.0f} ms loading.",
        f"kvserve answers identical with and without the tiers: {'yes' if identical else 'NO'}.",
    ]
    table = "\n".join(lines + summary)
    print(table)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(table + "\n")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
