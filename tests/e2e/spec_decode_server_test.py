#!/usr/bin/env python3
"""End-to-end: speculative decoding through `kvserve serve --speculative-ngram 4`
(issue 22), with the official OpenAI client.

A prompt that repeats a passage: greedy output (completions, streamed and not)
equals the output of a server without speculation, each streamed chunk is one
token's text in order, and the vllm:spec_decode_* counters on /metrics move
(drafts, draft tokens, accepted tokens > 0; accepted <= drafted). Every KV
block is free again when the server is idle.

Usage: spec_decode_server_test.py --binary build/kvserve [--model PATH] [unittest args]
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvs_server  # noqa: E402

ARGS = None
PASSAGE = ("The quick brown fox jumps over the lazy dog while the farmer counts his sheep, "
           "one by one, under the pale light of the autumn moon. ")
PROMPT = "Repeat after me.\n" + PASSAGE + "\n" + PASSAGE + "\n" + PASSAGE + "\n"


def serve_args(*extra):
    # f32 KV cache: one attention order for every step shape (docs/speculative-decoding.md, "Numerics").
    return ["--kv-cache-memory", "32MiB", "--kv-cache-dtype", "f32", "--threads", "1", *extra] + (
        ["--model", ARGS.model] if ARGS.model else [])


def generate(server):
    client = server.client()
    model = client.models.list().data[0].id
    whole = client.completions.create(model=model, prompt=PROMPT, max_tokens=48, temperature=0,
                                      extra_body={"ignore_eos": True})
    chunks = [c.choices[0].text for c in client.completions.create(
        model=model, prompt=PROMPT, max_tokens=48, temperature=0, stream=True, extra_body={"ignore_eos": True})
        if c.choices]
    return whole.choices[0].text, whole.usage.completion_tokens, chunks


class SpecDecodeServerTest(unittest.TestCase):
    def test_greedy_output_and_counters(self):
        with kvs_server.Server(ARGS.binary, *serve_args()) as plain:
            expected_text, expected_tokens, _ = generate(plain)
            self.assertEqual(plain.metric_sum("vllm:spec_decode_num_drafts_total"), 0)
        server = kvs_server.Server(ARGS.binary, *serve_args("--speculative-ngram", "4"))
        try:
            text, tokens, chunks = generate(server)
            self.assertEqual(text, expected_text)
            self.assertEqual(tokens, expected_tokens)
            self.assertEqual("".join(chunks), expected_text)
            self.assertGreaterEqual(len(chunks), 40)  # one chunk per token (a few may hold no text)
            drafts = server.metric_sum("vllm:spec_decode_num_drafts_total")
            drafted = server.metric_sum("vllm:spec_decode_num_draft_tokens_total")
            accepted = server.metric_sum("vllm:spec_decode_num_accepted_tokens_total")
            self.assertGreater(drafts, 0)
            self.assertGreaterEqual(drafted, drafts)
            self.assertGreater(accepted, 0)
            self.assertLessEqual(accepted, drafted)
            self.assertEqual(server.metric_sum("vllm:spec_decode_num_accepted_tokens_per_pos_total"), accepted)
            server.wait_idle()
        finally:
            self.assertEqual(server.stop(), 0, server.output())


def main():
    global ARGS
    ARGS, rest = kvs_server.parse_test_args(model_required=False)
    kvs_server.run_tests(rest)


if __name__ == "__main__":
    main()
