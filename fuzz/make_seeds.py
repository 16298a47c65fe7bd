#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<harness>/ (small valid inputs, a few
hundred bytes to a few KB each). Run from anywhere: python3 fuzz/make_seeds.py.
hf_config seeds copy the tiny models' configs from ../shared/fixtures when
present. Deterministic: rerunning rewrites the same files."""
import json
import os
import struct
import sys
import zlib

ROOT = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.environ.get("KVS_FUZZ_FIXTURES_DIR", os.path.join(ROOT, "..", "..", "shared", "fixtures"))


def out(harness, name, data):
    d = os.path.join(ROOT, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- GGUF --------------------------------------------------------------------
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gval(t, v):
    if t == STR:
        return gstr(v)
    if t == ARR:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(gval(et, x) for x in items)
    fmt = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?",
           U64: "Q", I64: "q", F64: "d"}[t]
    return struct.pack("<" + fmt, v)


def gguf(kvs, tensors, alignment=32, version=3):
    """kvs: [(key, type, value)]; tensors: [(name, dims, ggml_type, nbytes)]."""
    b = struct.pack("<IIQQ", 0x46554747, version, len(tensors), len(kvs))
    for k, t, v in kvs:
        b += gstr(k) + struct.pack("<I", t) + gval(t, v)
    offset = 0
    data = b""
    for name, dims, gt, nbytes in tensors:
        b += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        b += struct.pack("<IQ", gt, offset)
        chunk = bytes((i * 7 + 3) & 0xFF for i in range(nbytes))
        pad = (-nbytes) % alignment
        data += chunk + b"\0" * pad
        offset += nbytes + pad
    b += b"\0" * ((-len(b)) % alignment)
    return b + data


def llama_kvs(arch="llama"):
    p = arch + "."
    return [
        ("general.architecture", STR, arch),
        (p + "context_length", U32, 128),
        (p + "embedding_length", U32, 8),
        (p + "feed_forward_length", U32, 16),
        (p + "block_count", U32, 1),
        (p + "attention.head_count", U32, 2),
        (p + "attention.head_count_kv", U32, 1),
        (p + "attention.layer_norm_rms_epsilon", F32, 1e-5),
        (p + "rope.freq_base", F32, 10000.0),
    ]


bpe_tokens = ["a", "b", "c", "Ġ", "ab", "Ġa", "abc", "<|im_start|>", "<|im_end|>", "<|endoftext|>"]
bpe_kvs = [
    ("tokenizer.ggml.model", STR, "gpt2"),
    ("tokenizer.ggml.pre", STR, "smollm"),
    ("tokenizer.ggml.tokens", ARR, (STR, bpe_tokens)),
    ("tokenizer.ggml.token_type", ARR, (I32, [1] * 7 + [3, 3, 3])),
    ("tokenizer.ggml.merges", ARR, (STR, ["a b", "Ġ a", "ab c"])),
    ("tokenizer.ggml.bos_token_id", U32, 9),
    ("tokenizer.ggml.eos_token_id", U32, 8),
]
spm_tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % i for i in range(4)] + ["▁", "a", "b", "▁a", "ab"]
spm_kvs = [
    ("tokenizer.ggml.model", STR, "llama"),
    ("tokenizer.ggml.tokens", ARR, (STR, spm_tokens)),
    ("tokenizer.ggml.scores", ARR, (F32, [0.0] * 7 + [-1.0, -2.0, -3.0, -0.5, -0.7])),
    ("tokenizer.ggml.token_type", ARR, (I32, [2, 3, 3] + [6] * 4 + [1] * 5)),
    ("tokenizer.ggml.add_bos_token", BOOL, True),
    ("tokenizer.ggml.add_space_prefix", BOOL, True),
]
f32, q8_0, q4_1 = 0, 8, 3
out("gguf_fuzzer", "llama_bpe_f32.gguf",
    gguf(llama_kvs() + bpe_kvs, [("token_embd.weight", [8, 10], f32, 320), ("output_norm.weight", [8], f32, 32)]))
out("gguf_fuzzer", "llama_spm_q8.gguf",
    gguf(llama_kvs() + spm_kvs + [("general.alignment", U32, 64)],
         [("token_embd.weight", [32, 12], q8_0, 12 * 34), ("blk.0.attn_q.weight", [32, 2], q4_1, 2 * 20)],
         alignment=64))
out("gguf_fuzzer", "qwen2_rope_v2.gguf",
    gguf(llama_kvs("qwen2") + [("qwen2.rope.scaling.type", STR, "linear"), ("qwen2.rope.scaling.factor", F32, 2.0),
                               ("general.name", STR, "seed"), ("x.i64s", ARR, (I64, [1, -2])),
                               ("x.f64", F64, 0.5), ("x.u64", U64, 7), ("x.i8", I8, -1), ("x.u16", U16, 3)] + bpe_kvs,
         [("rope_freqs.weight", [2], f32, 8)], version=2))
out("gguf_fuzzer", "header_only.gguf", gguf([("general.architecture", STR, "llama")], []))

# ---- safetensors ---------------------------------------------------------------


def safetensors(entries, metadata=None):
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    data = b""
    sizes = {"F32": 4, "F16": 2, "BF16": 2, "I32": 4, "I64": 8, "U8": 1, "BOOL": 1, "F64": 8, "I8": 1}
    for name, dtype, shape in entries:
        n = sizes[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + n]}
        data += bytes((i * 13 + 1) & 0xFF for i in range(n))
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + data


out("safetensors_fuzzer", "f32_bf16.safetensors",
    safetensors([("model.embed_tokens.weight", "F32", [4, 2]), ("model.norm.weight", "BF16", [3])], {"format": "pt"}))
out("safetensors_fuzzer", "ints.safetensors",
    safetensors([("input_ids_0", "I32", [7]), ("mask", "BOOL", [2, 2]), ("scalar", "F16", []), ("e", "I64", [0])]))
out("safetensors_fuzzer", "empty.safetensors", safetensors([]))

# ---- config.json ----------------------------------------------------------------
models = os.path.join(FIXTURES, "models")
for m in ("tiny-llama", "tiny-llama3-scaled", "tiny-qwen2"):
    try:
        with open(os.path.join(models, m, "config.json"), "rb") as f:
            cfg = f.read()
        with open(os.path.join(models, m, "generation_config.json"), "rb") as f:
            gen = f.read()
    except OSError:
        print("make_seeds: no fixture", m, "(skipped)", file=sys.stderr)
        continue
    out("hf_config_fuzzer", m + ".json", cfg + b"\0" + gen)
out("hf_config_fuzzer", "old_style_rope.json", json.dumps({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100,
    "max_position_embeddings": 256, "rms_norm_eps": 1e-6, "rope_theta": 500000.0, "hidden_act": "silu",
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 64},
    "tie_word_embeddings": True, "bos_token_id": 1, "eos_token_id": [2, 3]}) + "\0" + '{"eos_token_id": 4}')

# ---- tokenizer.json --------------------------------------------------------------
byte_level = {
    "version": "1.0",
    "added_tokens": [{"id": 8, "content": "<|im_start|>", "special": True},
                     {"id": 9, "content": "<|im_end|>", "special": True},
                     {"id": 10, "content": "<tool>", "special": False}],
    "normalizer": {"type": "NFC"},
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}| ?\\p{L}+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated",
         "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
    "post_processor": {"type": "ByteLevel"},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "ignore_merges": False, "byte_fallback": False,
              "vocab": {"H": 0, "i": 1, "Ġ": 2, "t": 3, "h": 4, "Hi": 5, "Ġt": 6, "th": 7},
              "merges": ["H i", ["Ġ", "t"], "t h"]},
}
spm = {
    "version": "1.0",
    "added_tokens": [{"id": 0, "content": "<unk>", "special": True}, {"id": 1, "content": "<s>", "special": True},
                     {"id": 2, "content": "</s>", "special": True}],
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                                                       {"type": "Replace", "pattern": {"String": " "},
                                                        "content": "▁"}]},
    "pre_tokenizer": None,
    "post_processor": {"type": "TemplateProcessing",
                       "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                       "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
    "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                                                  {"type": "ByteFallback"}, {"type": "Fuse"},
                                                  {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": True, "fuse_unk": True,
              "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x00>": 3, "<0x0A>": 4, "<0xC3>": 5, "▁": 6, "H": 7,
                        "i": 8, "▁H": 9, "▁Hi": 10, "4": 11, "2": 12},
              "merges": ["▁ H", "▁H i"]},
}
metaspace = dict(spm)
metaspace["normalizer"] = None
metaspace["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False}
metaspace["decoder"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False}
out("tokenizer_json_fuzzer", "byte_level.json",
    json.dumps(byte_level, ensure_ascii=False) + "\0" +
    json.dumps({"add_bos_token": False, "eos_token": "<|im_end|>", "pad_token": {"content": "<|im_start|>"}}))
out("tokenizer_json_fuzzer", "sentencepiece.json",
    json.dumps(spm, ensure_ascii=False) + "\0" + json.dumps({"add_bos_token": True, "bos_token": "<s>",
                                                           "eos_token": "</s>", "unk_token": "<unk>"}))
out("tokenizer_json_fuzzer", "metaspace.json", json.dumps(metaspace, ensure_ascii=False))

# ---- tokenizer on arbitrary bytes --------------------------------------------------
texts = [
    "Hello, world! The quick brown fox jumps over the lazy dog.",
    "  leading spaces\tand\ttabs\n\nnewlines   ",
    "<|im_start|>user\nhi<|im_end|> <s>[INST] x [/INST]</s>",
    "数字 12345 café naïve Ünïcödé 😀👍🏽 ﷽",
    "def f(x):\n    return x ** 2  # comment",
]
for i, t in enumerate(texts):
    for flags in (0, 7, 14):
        out("tokenizer_encode_fuzzer", "text%d_%d" % (i, flags), bytes([flags]) + t.encode())
out("tokenizer_encode_fuzzer", "invalid_utf8", b"\x01\xff\xfe\xc3(\xe2\x82\xf0\x9f\x98 a\x00b\xed\xa0\x80")

# ---- chat templates ----------------------------------------------------------------
SEP = b"\x1f"
R = {"system": b"\x00", "user": b"\x01", "assistant": b"\x02", "tool": b"\x03", "ipython": b"\x04"}


def conv(*turns):
    parts = []
    for role, content in turns:
        parts += [R.get(role, role.encode()), content.encode()]
    return parts


names = ["chatml", "qwen3", "llama3", "llama3.1", "llama2", "mistral", "mistral-v0.1", "gemma", "zephyr"]
basic = conv(("system", "You are helpful."), ("user", "  Hi there  "), ("assistant", "<think>hm</think>Hello!"),
             ("user", "Bye"))
alternating = conv(("user", "Hi"), ("assistant", " Hello "), ("user", "More?"))
tools = conv(("user", "Weather?"), ("assistant", "calling"), ("tool", "{\"t\": 20}"), ("tool", "sunny"))
for i, name in enumerate(names):
    for j, c in enumerate((basic, alternating, tools)):
        out("chat_template_fuzzer", "%s_%d" % (name, j), bytes([i, j & 1]) + SEP.join([b"<s>", b"</s>"] + c))
calls = conv(("system", "Be brief."), ("user", "Weather?"), ("assistant", "{\"city\": \"Paris\", \"n\": 1.5e15}"),
             ("tool", "18C"), ("user", "Thanks"))
tool_json = b'{"type": "function", "function": {"name": "get_weather", "parameters": {"x": [1, "\\u00e9"]}}}'
for i, name in enumerate(names):
    out("chat_template_fuzzer", "%s_tools" % name, bytes([i, 7]) + SEP.join([b"<s>", b"</s>"] + calls))
    out("chat_template_fuzzer", "%s_tool_json" % name, bytes([i, 11]) + SEP.join([b"<s>", tool_json] + calls))
jinja = {
    "smollm": "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
              "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM<|im_end|>\n' }}{% endif %}"
              "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}",
    "qwen3": "<|im_start|>{{ m }}</think> last_query_index <tool_response>",
    "llama31": "<|start_header_id|>x<|end_header_id|> Cutting Knowledge Date strftime_now",
    "llama2": "[INST] <<SYS>> {{ eos_token + ' ' }}",
    "gemma": "<start_of_turn>{{ role }}",
    "zephyr": "<|user|>\n<|assistant|>\n",
}
for name, src in jinja.items():
    out("chat_template_fuzzer", "jinja_" + name, bytes([255, 1]) + SEP.join([src.encode(), b"<s>", b"</s>"] + basic))

# ---- GBNF grammars + matcher input (GBNF \0 chunks separated by 0x01) ----------------
JSON_GBNF = r"""root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
ws ::= | " " | "\n" [ \t]{0,20}
"""
ARITH_GBNF = r"""root  ::= (expr "=" ws term "\n")+
expr  ::= term ([-+*/] term)*
term  ::= ident | num | "(" ws expr ")" ws
ident ::= [a-z] [a-z0-9_]* ws
num   ::= [0-9]+ ws
ws    ::= [ \t\n]*
"""
LIST_GBNF = 'root ::= item+\n# no line breaks inside an item\nitem ::= "- " [^\\r\\n\\x0b\\x0c\\x85\\u2028\\u2029]+ "\\n"\n'


def gbnf_seed(grammar, *chunks):
    return grammar.encode() + b"\0" + b"\x01".join(c.encode() if isinstance(c, str) else c for c in chunks)


out("grammar_gbnf_fuzzer", "json", gbnf_seed(JSON_GBNF, '{"a', '": [1, ', '2.5e3, "x\\u00e9', '"], "b": nu', "ll}"))
out("grammar_gbnf_fuzzer", "json_split_utf8", gbnf_seed(JSON_GBNF, '{"k": "', b"\xe6", b"\x9d\xb1", b'"}'))
out("grammar_gbnf_fuzzer", "arithmetic", gbnf_seed(ARITH_GBNF, "x = (a+", "b)*c\n", "y = 1\n"))
out("grammar_gbnf_fuzzer", "list", gbnf_seed(LIST_GBNF, "- milk\n- ", "\u9762\u5305", "\n"))
out("grammar_gbnf_fuzzer", "repetition", gbnf_seed('root ::= "a"{2,4} [0-9]{1,} ("x" | "yz")? .', "aaa", "12", "yz\u00e9"))
out("grammar_gbnf_fuzzer", "left_recursion", gbnf_seed('root ::= a\na ::= b "x" | "y"\nb ::= " "* a\n'))
out("grammar_gbnf_fuzzer", "no_base_case", gbnf_seed('root ::= "a" root\n'))
# ---- HTTP bodies -------------------------------------------------------------------
completions = [
    {"model": "m", "prompt": "Once upon a time", "max_tokens": 16, "temperature": 0.7, "top_p": 0.9, "top_k": 40,
     "stop": ["\n", "END"], "seed": 42, "stream": True, "stream_options": {"include_usage": True}, "logprobs": 2},
    {"prompt": [[1, 2, 3], "text"], "n": 3, "echo": True, "stop_token_ids": [2], "ignore_eos": True,
     "kvserve": {"priority": -5, "kv_policy": "h2o", "kv_budget": 0.5}, "min_p": 0.05, "repetition_penalty": 1.1},
    {"prompt": [5, 6, 7], "max_completion_tokens": 1, "presence_penalty": 0.5, "frequency_penalty": -0.5,
     "user": "u", "seed": 18446744073709551615},
]
chats = [
    {"model": "m", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
     "max_tokens": 8, "logprobs": True, "top_logprobs": 3},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
     "stop": "x", "kvserve": {"kv_policy": "streaming"}, "stream": False},
    {"messages": [{"role": "assistant", "content": None}], "kvserve": {"kv_budget": 64}, "temperature": 0},
]
for i, body in enumerate(completions):
    out("http_body_fuzzer", "completion%d" % i, b"\x00" + json.dumps(body).encode())
for i, body in enumerate(chats):
    out("http_body_fuzzer", "chat%d" % i, b"\x01" + json.dumps(body).encode())

# ---- gRPC GenerateRequest ----------------------------------------------------------


def varint(v):
    v &= (1 << 64) - 1
    b = b""
    while True:
        c = v & 0x7F
        v >>= 7
        if v:
            b += bytes([c | 0x80])
        else:
            return b + bytes([c])


def key(field, wire):
    return varint(field << 3 | wire)


def ld(field, payload):
    return key(field, 2) + varint(len(payload)) + payload


def vi(field, v):
    return key(field, 0) + varint(v)


def fl(field, v):
    return key(field, 5) + struct.pack("<f", v)


def packed(field, values):
    return ld(field, b"".join(varint(x) for x in values))


sampling = fl(1, 0.8) + fl(2, 0.95) + vi(3, 50) + fl(4, 0.05) + fl(5, 1.1) + fl(6, 0.1) + fl(7, 0.2) + vi(8, 1234)
out("grpc_request_fuzzer", "text", ld(1, b"Hello there") + vi(3, 32) + ld(4, sampling) + ld(5, b"\n") +
    ld(5, b"END") + packed(6, [2, 7]) + vi(7, 1) + vi(8, 1))
out("grpc_request_fuzzer", "token_ids_policy", ld(2, packed(1, [1, 2, 3])) + ld(9, b"snapkv") +
    key(10, 1) + struct.pack("<d", 0.25))
out("grpc_request_fuzzer", "greedy", ld(1, b"x") + ld(4, fl(1, 0.0)) + ld(9, b"residual") +
    key(10, 1) + struct.pack("<d", 128.0))
# ---- disk-tier entry files (kvcache/tiers/tier_file_format.h) -----------------------
def tier_file(fingerprint, hash_, group, parent, tokens, payload):
    body = (b"kvstier\0" + struct.pack("<IIQiIQQ", 1, len(fingerprint), hash_, group, len(tokens), parent,
                                         len(payload)) + fingerprint + struct.pack("<%di" % len(tokens), *tokens) +
            payload)
    return body + struct.pack("<I", zlib.crc32(body)) + b"kvse"


out("tier_file_fuzzer", "block", tier_file(b"ab12cd", 0x0123456789abcdef, 0, 0x6b76736572766531,
                                           [1, 2, 3, 4], bytes(range(64))))
out("tier_file_fuzzer", "group_empty_payload", tier_file(b"f", 42, 5, 7, [9] * 16, b""))
# ---- constraint compilers (issue 23): JSON Schemas and regexes ----------------------
with open(os.path.join(ROOT, "..", "tests", "data", "structured_schemas.json"), encoding="utf-8") as f:
    for case in json.load(f)["cases"]:
        out("json_schema_fuzzer", "schema_" + case["name"], json.dumps(case["schema"], ensure_ascii=False))
for i, pattern in enumerate(["^[A-Z]{2}-\\d{3}$", "(?:ab|c)+x?[^\\s\"]{1,4}", "a.b*\\.\\w|[\\u00e9-\\u00ff]$",
                             "(a)\\1", "x(?=y)", "yes\x1fno\x1fmaybe"]):
    out("json_schema_fuzzer", "regex%d" % i, pattern)
# ---- tool calls in model output (issue 23): format byte, chunk byte, text ----------
replies = [
    (0, "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
        "</tool_call>\n<tool_call>\n{\"name\": \"t\", \"arguments\": {\"q\": \"} \\\" {\"}}\n</tool_call>"),
    (0, "<tool_call><tool_call>{\"name\": 5}</tool_call> <tool_ <tool_call>{\"name\": \"f\", \"arguments\": {\"a\": ["),
    (1, "<|python_tag|>{\"name\": \"f\", \"parameters\": {\"x\": 1}}; {\"name\": \"g\", \"parameters\": {}} tail"),
    (1, "{\"answer\": 42}"),
    (2, "Both:\n```tool_call\n{\"name\": \"a\", \"arguments\": {}}\n```\n```python\nprint(1)\n```"),
]
for i, (fmt, text) in enumerate(replies):
    for chunk in (0, 6):
        out("tool_call_parser_fuzzer", "reply%d_%d" % (i, chunk), bytes([fmt, chunk]) + text.encode())
print("make_seeds: wrote", sum(len(fs) for _, _, fs in os.walk(os.path.join(ROOT, "corpus"))), "seed files")
