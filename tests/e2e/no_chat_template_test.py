#!/usr/bin/env python3
"""A model without a chat template still serves completions; chat gets a 400.

Exports the default GGUF to a Hugging Face folder with `kvserve export`,
removes `chat_template` from its tokenizer_config.json, serves the folder with
the real binary, and talks to it with the official openai client: completions
work, chat completions fail with an OpenAI-shaped 400 naming `messages`, and
`--chat-template chatml` on the same folder makes chat work.

Usage: no_chat_template_test.py --binary build/kvserve --model MODEL.gguf
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import openai

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvs_server  # noqa: E402

ARGS = None
FOLDER = None


class Server(kvs_server.Server):
    def __init__(self, *extra, model=None):
        super().__init__(ARGS.binary, "--model", model or FOLDER, "--threads", "1", "--kv-cache-memory", "32MiB",
                         *extra, grpc=False)
        self.client = kvs_server.Server.client(self)
        self.model = self.model_id()


class NoChatTemplate(unittest.TestCase):
    def test_completions_work_and_chat_is_a_clear_400(self):
        server = Server()
        try:
            completion = server.client.completions.create(model=server.model, prompt="The capital of France is",
                                                          max_tokens=4, temperature=0)
            self.assertIn("Paris", completion.choices[0].text)
            with self.assertRaises(openai.BadRequestError) as caught:
                server.client.chat.completions.create(model=server.model, max_tokens=4,
                                                      messages=[{"role": "user", "content": "Hi"}])
            error = caught.exception.body
            self.assertEqual(error["param"], "messages")
            self.assertIn("chat template", error["message"])
            # The server is still up and serving.
            self.assertEqual(len(server.client.completions.create(model=server.model, prompt="Hi", max_tokens=2,
                                                                  temperature=0).choices), 1)
        finally:
            server.stop()

    def test_a_folder_given_with_a_trailing_slash_is_served_under_its_name(self):
        # `--model dir/`: the served name is the folder's ("model"), not "" (issue 20).
        server = Server(model=FOLDER + "/")
        try:
            self.assertEqual(server.model, os.path.basename(FOLDER))
            completion = server.client.completions.create(model=os.path.basename(FOLDER), prompt="The capital of",
                                                          max_tokens=2, temperature=0)
            self.assertEqual(completion.model, os.path.basename(FOLDER))
            self.assertEqual(completion.usage.completion_tokens, 2)
        finally:
            server.stop()

    def test_a_named_template_makes_chat_work(self):
        server = Server("--chat-template", "chatml")
        try:
            reply = server.client.chat.completions.create(
                model=server.model, max_tokens=8, temperature=0,
                messages=[{"role": "user", "content": "What is the capital of France?"}])
            self.assertIn("Paris", reply.choices[0].message.content)
        finally:
            server.stop()


def main():
    global ARGS, FOLDER
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--model", required=True)
    ARGS, rest = parser.parse_known_args()
    tmp = tempfile.mkdtemp(prefix="kvs-notemplate-")
    try:
        FOLDER = os.path.join(tmp, "model")
        subprocess.run([ARGS.binary, "export", "--model", ARGS.model, "--out", FOLDER], check=True,
                       capture_output=True)
        config_path = os.path.join(FOLDER, "tokenizer_config.json")
        with open(config_path) as f:
            config = json.load(f)
        assert "chat_template" in config, "the export should carry the GGUF's template"
        del config["chat_template"]
        with open(config_path, "w") as f:
            json.dump(config, f)
        program = unittest.main(argv=[sys.argv[0], *rest], verbosity=2, exit=False)
        sys.exit(0 if program.result.wasSuccessful() else 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
