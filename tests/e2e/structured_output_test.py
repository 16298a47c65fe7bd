#!/usr/bin/env python3
"""End-to-end tests of structured output and tool calling (issue 23).

One real `kvserve serve` on the default model (SmolLM2-135M-Instruct), driven
by the official `openai` client (vLLM / llama.cpp fields through `extra_body`).
Every answer is checked by someone else's code: `json.loads`, the `jsonschema`
package, Python's `re`:
  - every schema of tests/data/structured_schemas.json through response_format
    json_schema, at temperature 0 and at temperature 1 (seeded): 100% of the
    answers parse and validate, none cut by max_tokens;
  - guided_json (object and text), llama.cpp's json_schema, json_object,
    guided_regex, guided_choice and GBNF grammars: every answer matches,
    streamed answers too;
  - tools: tool_choice "required" and a named function give tool_calls whose
    arguments validate against the function's parameters, streamed and not,
    with finish_reason "tool_calls"; a conversation with assistant tool_calls
    and tool results renders and completes;
  - bad schemas, regexes and grammars (unsupported keyword, recursion without
    a base case, a huge enum, syntax errors), a tool_choice naming no tool:
    400 naming the param, and the server answers normally afterwards.
Requests run concurrently (the server batches them), so the suite stays short.

Usage: structured_output_test.py --binary build/kvserve [--model PATH] [unittest args]
"""
import concurrent.futures
import json
import os
import re
import sys
import time
import unittest

import jsonschema
import openai

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvs_server  # noqa: E402
from kvs_server import Server  # noqa: E402

ARGS = None
SERVER = None
CLIENT = None
SCHEMAS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "structured_schemas.json")
MAX_TOKENS = 400  # a schema answer longer than this is a failure (finish_reason "length"), not a pass
NUM_WORKERS = 16


def setUpModule():
    global SERVER, CLIENT
    model = ["--model", ARGS.model] if ARGS.model else []
    SERVER = Server(ARGS.binary, *model, "--threads", "2", "--kv-cache-memory", "192MiB", "--max-num-seqs",
                    str(NUM_WORKERS), startup_timeout=60)
    CLIENT = SERVER.client(timeout=600)


def tearDownModule():
    if SERVER:
        code = SERVER.stop()
        assert code == 0, f"exit code {code}:\n{SERVER.output()}"


def load_schemas():
    """[(name, schema)] from tests/data/structured_schemas.json."""
    with open(SCHEMAS_PATH) as f:
        data = json.load(f)
    entries = data["cases"]
    return [(entry.get("name", f"schema{i}"), entry["schema"]) for i, entry in enumerate(entries)]


def parallel(calls):
    """Runs the zero-argument callables concurrently; their results (or exceptions) in order."""
    def guarded(call):
        try:
            return call()
        except Exception as e:  # noqa: BLE001 - reported by the caller
            return e
    with concurrent.futures.ThreadPoolExecutor(NUM_WORKERS) as pool:
        return list(pool.map(guarded, calls))


def chat(content, system=None, **kw):
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": content}]
    return CLIENT.chat.completions.create(model=SERVER.model_id(), messages=messages, **kw)


def schema_prompt(name, schema):
    return (f"Write one example of '{name}' as JSON that matches this JSON Schema. Answer with the JSON only.\n"
            f"{json.dumps(schema)}")


def sampling(temperature, seed):
    return {"temperature": temperature, "seed": seed} if temperature > 0 else {"temperature": 0.0}


def stream_text(**kw):
    """A streamed chat answer: (text, finish_reason)."""
    text, finish = "", None
    for chunk in CLIENT.chat.completions.create(model=SERVER.model_id(), stream=True, **kw):
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    return text, finish


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The current time in a time zone.",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}, "format24": {"type": "boolean"}},
            "required": ["timezone"],
        },
    },
}
TOOLS = [WEATHER, TIME]
QUESTION = [{"role": "user", "content": "What is the weather like in Paris, and what time is it in Tokyo?"}]
PARAMETERS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}


class Base(unittest.TestCase):
    """Shared checks; no tests of its own."""

    def setUp(self):
        self.started = time.time()

    def tearDown(self):
        print(f"  ({self.id().rsplit('.', 1)[-1]}: {time.time() - self.started:.1f} s)", file=sys.stderr)
        SERVER.wait_idle()  # every request ended and every KV block is free again

    def assert_bad_request(self, param, call):
        with self.assertRaises(openai.BadRequestError) as caught:
            call()
        self.assertEqual(caught.exception.param, param, caught.exception.body)
        return caught.exception

    def check_answers(self, answers, check):
        """`answers`: [(label, response or exception)]; `check(label, text)` returns None or a problem.
        Fails listing every problem."""
        problems = []
        for label, r in answers:
            if isinstance(r, Exception):
                problems.append(f"{label}: {type(r).__name__}: {r}")
                continue
            for choice in r.choices:
                text = choice.message.content or ""
                if choice.finish_reason != "stop":
                    problems.append(f"{label}: finish_reason {choice.finish_reason} after "
                                    f"{r.usage.completion_tokens} tokens: {text[:300]!r}")
                    continue
                problem = check(label, text)
                if problem:
                    problems.append(f"{label}: {problem}: {text[:300]!r}")
        self.assertEqual(problems, [], "\n".join(problems))

    def check_tool_calls(self, calls, allowed):
        self.assertTrue(calls, "no tool_calls")
        for call in calls:
            self.assertEqual(call.type, "function")
            self.assertTrue(call.id)
            self.assertIn(call.function.name, allowed)
            jsonschema.validate(json.loads(call.function.arguments), PARAMETERS[call.function.name])

    def check_tool_jobs(self, jobs):
        """jobs: [(label, allowed names, exactly one call, streamed, call)]; every reply must be tool calls
        only, finished with "tool_calls", arguments valid."""
        results = parallel([job for *_, job in jobs])
        for (label, allowed, single, streamed, _), r in zip(jobs, results):
            with self.subTest(case=label, streamed=streamed):
                self.assertNotIsInstance(r, Exception, r)
                if streamed:
                    calls, content, finish = r
                else:
                    choice = r.choices[0]
                    calls, content, finish = choice.message.tool_calls, choice.message.content, choice.finish_reason
                self.assertEqual(finish, "tool_calls", (content, calls))
                self.assertFalse(content, "content beside forced tool calls")
                self.check_tool_calls(calls, allowed)
                if single:
                    self.assertEqual(len(calls), 1, calls)

    def collect_stream(self, **kw):
        """A streamed answer's tool calls assembled from delta.tool_calls: (calls, content, finish_reason).
        Checks the shape of the deltas: id, type and name on a call's first chunk only."""
        calls, content, finish = {}, "", None
        for chunk in CLIENT.chat.completions.create(stream=True, **kw):
            for choice in chunk.choices:
                content += choice.delta.content or ""
                finish = choice.finish_reason or finish
                for delta in choice.delta.tool_calls or []:
                    if delta.index not in calls:
                        assert delta.id and delta.type == "function" and delta.function.name, delta
                        calls[delta.index] = {"id": delta.id, "name": delta.function.name,
                                              "arguments": delta.function.arguments or ""}
                    else:
                        assert delta.id is None and (delta.function.name is None), delta
                        calls[delta.index]["arguments"] += delta.function.arguments or ""
        from openai.types.chat import ChatCompletionMessageToolCall
        out = [ChatCompletionMessageToolCall(id=c["id"], type="function",
                                             function={"name": c["name"], "arguments": c["arguments"]})
               for _, c in sorted(calls.items())]
        return out, content, finish


class StructuredOutputTest(Base):
    """Every constraint field, tools, bad input."""

    # --- the other JSON fields ------------------------------------------------------------
    def test_guided_json_json_schema_and_json_object(self):
        person = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 40},
                                                   "age": {"type": "integer", "minimum": 0, "maximum": 150}},
                  "required": ["name", "age"], "additionalProperties": False}
        prompt = "Describe a person as JSON with a name and an age."
        jobs = []
        for seed in range(3):
            kw = dict(max_tokens=MAX_TOKENS, **sampling(1.0, seed))
            jobs += [
                (f"guided_json object seed {seed}", lambda kw=kw: chat(prompt, extra_body={"guided_json": person}, **kw)),
                (f"guided_json text seed {seed}",
                 lambda kw=kw: chat(prompt, extra_body={"guided_json": json.dumps(person)}, **kw)),
                (f"json_schema seed {seed}", lambda kw=kw: chat(prompt, extra_body={"json_schema": person}, **kw)),
                (f"json_object seed {seed}",
                 lambda kw=kw: chat(prompt, response_format={"type": "json_object"}, **kw)),
            ]
        results = parallel([job for _, job in jobs])

        def check(label, text):
            try:
                value = json.loads(text)
            except ValueError as e:
                return f"not JSON ({e})"
            if label.startswith("json_object"):
                return None if isinstance(value, dict) else "not an object"
            try:
                jsonschema.validate(value, person)
            except jsonschema.ValidationError as e:
                return f"invalid ({e.message})"
            return None
        self.check_answers([(label, r) for (label, _), r in zip(jobs, results)], check)

    def test_regex_choice_and_grammar_hold_on_every_answer(self):
        patterns = {
            "phone": (r"\(\d{3}\) \d{3}-\d{4}", "Give me a US phone number."),
            "date": (r"(19|20)\d{2}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", "When did the first moon landing happen?"),
            "email": (r"[a-z]{3,10}\.[a-z]{3,10}@example\.(com|org)", "Invent an email address."),
        }
        choices = ["positive", "negative", "neutral"]
        gbnf = 'root ::= "The answer is " ("yes" | "no") "." ( " " [a-z]{1,10} ){0,3}'
        gbnf_re = r"The answer is (yes|no)\.( [a-z]{1,10}){0,3}"
        jobs = []
        for seed in range(4):
            kw = dict(max_tokens=60, **sampling(1.0, seed))
            for name, (pattern, prompt) in patterns.items():
                jobs.append((f"regex {name} seed {seed}", pattern,
                             lambda p=pattern, q=prompt, kw=kw: chat(q, extra_body={"guided_regex": p}, **kw)))
            jobs.append((f"choice seed {seed}", "|".join(choices), lambda kw=kw: chat(
                "Classify the sentiment: 'I love this phone.'", extra_body={"guided_choice": choices}, **kw)))
            jobs.append((f"guided_grammar seed {seed}", gbnf_re, lambda kw=kw: chat(
                "Is the sky blue?", extra_body={"guided_grammar": gbnf}, **kw)))
            jobs.append((f"grammar seed {seed}", gbnf_re, lambda kw=kw: chat(
                "Is water wet?", extra_body={"grammar": gbnf}, **kw)))
        # n > 1 shares one grammar over the choices; completions take constraints too.
        jobs.append(("choice n=3", "|".join(choices), lambda: chat(
            "Classify: 'meh'", n=3, max_tokens=10, temperature=1.0, seed=5, extra_body={"guided_choice": choices})))
        results = parallel([job for _, _, job in jobs])
        answers = [(f"{label}\0{pattern}", r) for (label, pattern, _), r in zip(jobs, results)]
        self.check_answers(answers, lambda label, text: None if re.fullmatch(label.split("\0")[1], text)
                           else "does not match")
        completion = CLIENT.completions.create(model=SERVER.model_id(), prompt="My favourite colour is", max_tokens=10,
                                               extra_body={"guided_choice": ["red", "green", "blue"]})
        self.assertIn(completion.choices[0].text, ["red", "green", "blue"])

    def test_streamed_constrained_answers_match(self):
        pattern = r"\d{4}-\d{2}-\d{2}"
        schema = {"type": "object", "properties": {"ok": {"type": "boolean"}, "items": {
            "type": "array", "items": {"type": "integer"}, "maxItems": 5}}, "required": ["ok", "items"]}
        results = parallel([
            lambda: stream_text(messages=[{"role": "user", "content": "A date?"}], max_tokens=40,
                                extra_body={"guided_regex": pattern}, temperature=1.0, seed=3),
            lambda: stream_text(messages=[{"role": "user", "content": "A list?"}], max_tokens=MAX_TOKENS,
                                response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}},
                                temperature=1.0, seed=4),
        ])
        for r in results:
            self.assertNotIsInstance(r, Exception, r)
        (date, date_finish), (obj, obj_finish) = results
        self.assertEqual(date_finish, "stop")
        self.assertRegex(date, "^" + pattern + "$")
        self.assertEqual(obj_finish, "stop", obj)
        jsonschema.validate(json.loads(obj), schema)

    # --- tools ----------------------------------------------------------------------------
    def test_required_and_named_tool_choice_give_valid_tool_calls(self):
        question = QUESTION
        named = {"type": "function", "function": {"name": "get_time"}}
        # (label, tool_choice, extra fields, allowed names, exactly one call)
        cases = [("required single", "required", {"parallel_tool_calls": False}, {"get_weather", "get_time"}, True),
                 ("named", named, {}, {"get_time"}, True)]
        jobs = []
        for label, tool_choice, extra, allowed, single in cases:
            for seed in range(4):
                kw = dict(model=SERVER.model_id(), messages=question, tools=TOOLS, tool_choice=tool_choice,
                          max_tokens=MAX_TOKENS, extra_body=extra, **sampling(1.0 if seed else 0.0, seed))
                jobs.append((label, allowed, single, False, lambda kw=kw: CLIENT.chat.completions.create(**kw)))
                jobs.append((label, allowed, single, True, lambda kw=kw: self.collect_stream(**kw)))
        self.check_tool_jobs(jobs)

    def test_auto_tool_choice_reply_is_content_or_well_formed_calls(self):
        """tool_choice "auto": no grammar; the reply is parsed. Whatever the model chose, the response is
        consistent: tool_calls (each with an id, a known name and JSON arguments) iff finish_reason is
        "tool_calls", and the streamed reply assembles to the same as the whole one (T=0)."""
        kw = dict(model=SERVER.model_id(), tools=TOOLS, max_tokens=120, temperature=0.0,
                  messages=[{"role": "system", "content": "Use the tools when they help."},
                            {"role": "user", "content": "What's the weather in Berlin in celsius?"}])
        whole, streamed = parallel([lambda: CLIENT.chat.completions.create(**kw), lambda: self.collect_stream(**kw)])
        self.assertNotIsInstance(whole, Exception, whole)
        self.assertNotIsInstance(streamed, Exception, streamed)
        choice = whole.choices[0]
        calls = choice.message.tool_calls or []
        if choice.finish_reason == "tool_calls":
            self.assertTrue(calls)
        else:
            self.assertIn(choice.finish_reason, ("stop", "length"))
        for call in calls:
            self.assertTrue(call.id)
            self.assertIn(call.function.name, PARAMETERS)
            if choice.finish_reason == "tool_calls":
                json.loads(call.function.arguments)
        s_calls, s_content, s_finish = streamed
        self.assertEqual(s_finish, choice.finish_reason)
        self.assertEqual(s_content, choice.message.content or "")
        self.assertEqual([(c.function.name, c.function.arguments) for c in s_calls],
                         [(c.function.name, c.function.arguments) for c in calls])

    def test_conversation_with_tool_calls_and_results_completes(self):
        messages = [
            {"role": "user", "content": "What is the weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris", "unit": "celsius"})}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": json.dumps({"temperature": 21, "sky": "sunny"})},
        ]
        r = CLIENT.chat.completions.create(model=SERVER.model_id(), messages=messages, tools=TOOLS, max_tokens=30,
                                           temperature=0.0)
        self.assertIn(r.choices[0].finish_reason, ("stop", "length", "tool_calls"))
        self.assertGreater(r.usage.completion_tokens, 0)
        # The tool result is in the prompt: more prompt tokens than without it.
        without = CLIENT.chat.completions.create(model=SERVER.model_id(), messages=messages[:1], tools=TOOLS,
                                                 max_tokens=1, temperature=0.0)
        self.assertGreater(r.usage.prompt_tokens, without.usage.prompt_tokens + 10)
        # /tokenize renders the tools as the chat endpoint does.
        status, _, body = SERVER.raw("POST", "/tokenize", json.dumps({"messages": messages, "tools": TOOLS}),
                                     {"Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["count"], r.usage.prompt_tokens)
        # tool_choice "none": plain text, never tool_calls.
        r = CLIENT.chat.completions.create(model=SERVER.model_id(), messages=messages, tools=TOOLS, tool_choice="none",
                                           max_tokens=20, temperature=0.0)
        self.assertIsNone(r.choices[0].message.tool_calls)
        self.assertNotEqual(r.choices[0].finish_reason, "tool_calls")

    # --- bad input ------------------------------------------------------------------------
    def test_bad_constraints_are_a_400_naming_the_param(self):
        def fmt(schema):
            return {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
        unproductive = {"$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}},
                                           "required": ["next"]}}, "$ref": "#/$defs/node"}
        huge_enum = {"enum": list(range(100000))}  # under the schema size limit, over the enum limit
        huge_schema = {"type": "string", "enum": [f"value{i}" for i in range(100000)]}  # over the size limit
        cases = [
            ("response_format", dict(response_format=fmt({"type": "object", "not": {"required": ["a"]}}))),
            ("response_format", dict(response_format=fmt(unproductive))),
            ("guided_json", dict(extra_body={"guided_json": huge_enum})),
            ("guided_json", dict(extra_body={"guided_json": huge_schema})),
            ("guided_json", dict(extra_body={"guided_json": {"type": "strin"}})),
            ("guided_regex", dict(extra_body={"guided_regex": "(unclosed"})),
            ("guided_regex", dict(extra_body={"guided_regex": r"(a)\1"})),
            ("guided_grammar", dict(extra_body={"guided_grammar": 'root ::= "a" undefined'})),
            ("grammar", dict(extra_body={"grammar": "root ::= ("})),
            ("grammar", dict(extra_body={"grammar": "root ::= root \"a\""})),  # left recursion
            ("tool_choice", dict(tools=TOOLS, tool_choice={"type": "function", "function": {"name": "nope"}})),
            ("tools[1].function.parameters", dict(tools=[WEATHER, {"type": "function", "function": {
                "name": "bad", "parameters": {"type": "object", "properties": {"x": {"$ref": "#/$defs/missing"}},
                                              "required": ["x"]}}}], tool_choice="required")),
        ]
        for param, kw in cases:
            with self.subTest(param=param, kw=str(kw)[:80]):
                error = self.assert_bad_request(param, lambda kw=kw: chat("Hi", max_tokens=5, **kw))
                self.assertEqual(error.status_code, 400)
                self.assertTrue(error.message)
        # Two constraints at once name both.
        error = self.assert_bad_request("guided_regex", lambda: chat(
            "Hi", max_tokens=5, response_format={"type": "json_object"}, extra_body={"guided_regex": "a"}))
        self.assertIn("response_format", error.message)
        # The deprecated function calling stays refused.
        self.assert_bad_request("functions", lambda: chat("Hi", max_tokens=5, extra_body={
            "functions": [{"name": "f", "parameters": {"type": "object"}}]}))
        # The server is fine.
        r = chat("Say hi.", max_tokens=5, temperature=0.0)
        self.assertEqual(r.choices[0].finish_reason, "length")
        self.assertGreater(len(r.choices[0].message.content), 0)


class AcceptanceTest(Base):
    """Issue 23's acceptance on the default model: every schema at T=0 and T=1, and parallel forced tool calls
    (the default), must end by themselves (finish_reason "stop" / "tool_calls") and validate: an answer cut by
    max_tokens fails. Separate from StructuredOutputTest so that ctest tells the two apart."""

    # --- JSON Schema: every schema, T=0 and T=1 --------------------------------------
    def test_every_schema_parses_and_validates_at_t0_and_t1(self):
        schemas = load_schemas()
        self.assertGreaterEqual(len(schemas), 30)
        jobs = []
        for name, schema in schemas:
            for temperature in (0.0, 1.0):
                fmt = {"type": "json_schema", "json_schema": {"name": re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64],
                                                               "schema": schema, "strict": True}}
                jobs.append(((name, temperature, schema), lambda n=name, s=schema, t=temperature, f=fmt: chat(
                    schema_prompt(n, s), max_tokens=MAX_TOKENS, response_format=f, **sampling(t, 7))))
        results = parallel([job for _, job in jobs])
        passed = {0.0: 0, 1.0: 0}
        problems = []
        for ((name, temperature, schema), _), r in zip(jobs, results):
            label = f"{name} T={temperature:g}"
            if isinstance(r, Exception):
                problems.append(f"{label}: {type(r).__name__}: {r}")
                continue
            choice = r.choices[0]
            text = choice.message.content or ""
            if choice.finish_reason != "stop":
                problems.append(f"{label}: finish_reason {choice.finish_reason} after {r.usage.completion_tokens} "
                                f"tokens: {text[:200]!r}")
                continue
            try:
                jsonschema.validate(json.loads(text), schema)
            except (ValueError, jsonschema.ValidationError, jsonschema.SchemaError) as e:
                problems.append(f"{label}: {type(e).__name__}: {str(e)[:200]}: {text[:200]!r}")
                continue
            passed[temperature] += 1
        print(f"\nstructured_schemas.json: {len(schemas)} schemas; pass T=0: {passed[0.0]}/{len(schemas)}, "
              f"T=1: {passed[1.0]}/{len(schemas)}", file=sys.stderr)
        self.assertEqual(problems, [], "\n".join(problems))

    def test_parallel_required_tool_calls_end_and_validate(self):
        jobs = []
        for seed in range(2):
            kw = dict(model=SERVER.model_id(), messages=QUESTION, tools=TOOLS, tool_choice="required",
                      max_tokens=MAX_TOKENS, **sampling(1.0 if seed else 0.0, seed))
            jobs.append(("required parallel", {"get_weather", "get_time"}, False, False,
                         lambda kw=kw: CLIENT.chat.completions.create(**kw)))
        self.check_tool_jobs(jobs)


if __name__ == "__main__":
    ARGS, rest = kvs_server.parse_test_args(model_required=False)
    kvs_server.run_tests(rest)
