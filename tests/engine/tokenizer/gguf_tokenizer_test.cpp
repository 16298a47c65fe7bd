// The tokenizer read from GGUF metadata: the default model (SmolLM2, byte-level
// "smollm") against llama.cpp's own view of it, and small hand-built files for
// the SentencePiece path and the errors.
#include <gtest/gtest.h>

#include <fstream>

#include "engine/errors.h"
#include "engine/loader/gguf_file.h"
#include "engine/loader/gguf_tokenizer.h"
#include "tests/engine/tokenizer/tokenizer_test_util.h"

namespace kvs {
namespace {

using Ids = std::vector<int32_t>;

// Writes a tensor-less GGUF v3 file with the given metadata.
class MetadataOnlyGguf {
 public:
  void add_string(const std::string& key, const std::string& value) {
    begin(key, 8);
    put_string(value);
  }
  void add_u32(const std::string& key, uint32_t value) {
    begin(key, 4);
    put(value);
  }
  void add_bool(const std::string& key, bool value) {
    begin(key, 7);
    put<uint8_t>(value ? 1 : 0);
  }
  void add_strings(const std::string& key, const std::vector<std::string>& values) {
    begin(key, 9);
    put<uint32_t>(8);
    put<uint64_t>(values.size());
    for (const auto& v : values) put_string(v);
  }
  void add_i32s(const std::string& key, const std::vector<int32_t>& values) {
    begin(key, 9);
    put<uint32_t>(5);
    put<uint64_t>(values.size());
    for (int32_t v : values) put(v);
  }
  void add_f32s(const std::string& key, const std::vector<float>& values) {
    begin(key, 9);
    put<uint32_t>(6);
    put<uint64_t>(values.size());
    for (float v : values) put(v);
  }
  std::string write(const std::string& name) const {
    std::string file = "GGUF";
    auto append = [&](auto v) { file.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
    append(uint32_t{3});
    append(uint64_t{0});  // tensors
    append(static_cast<uint64_t>(num_kv_));
    file += body_;
    file.resize((file.size() + 31) / 32 * 32, '\0');
    const std::string path = test::make_temp_dir("gguf-tokenizer") + "/" + name;
    std::ofstream(path, std::ios::binary) << file;
    return path;
  }

 private:
  template <typename T>
  void put(T value) {
    body_.append(reinterpret_cast<const char*>(&value), sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    body_ += s;
  }
  void begin(const std::string& key, uint32_t type) {
    put_string(key);
    put(type);
    ++num_kv_;
  }
  std::string body_;
  size_t num_kv_ = 0;
};

TokenizerSpec spec_of(const MetadataOnlyGguf& gguf) {
  return tokenizer_spec_from_gguf(*GgufFile::open(gguf.write("t.gguf")));
}

TEST(GgufTokenizer, DefaultModelMatchesLlamaCppsVocabulary) {
  const TokenizerSpec spec = tokenizer_spec_from_gguf(*GgufFile::open(test::default_model()));
  EXPECT_EQ(spec.kind, TokenizerKind::ByteLevelBpe);
  EXPECT_EQ(spec.tokens.size(), 49152u);
  EXPECT_EQ(spec.merges.size(), 48900u);
  EXPECT_EQ(spec.pre_name, "smollm");
  EXPECT_EQ(spec.pre_regexes.size(), 2u);
  EXPECT_EQ(spec.bos_id, 1);
  EXPECT_EQ(spec.eos_id, 2);
  EXPECT_EQ(spec.unk_id, 0);
  EXPECT_EQ(spec.pad_id, 2);
  EXPECT_FALSE(spec.add_bos);
  EXPECT_FALSE(spec.ignore_merges);
  // llama.cpp 0.3.36 (llama_vocab_is_eog / is_control over all ids):
  // EOG = {0 <|endoftext|>, 2 <|im_end|>, 4 <reponame>}, control = ids 0..16.
  EXPECT_EQ(spec.eog_ids, (Ids{0, 2, 4}));
  for (int32_t id = 0; id < static_cast<int32_t>(spec.tokens.size()); ++id) {
    ASSERT_EQ(spec.token_types[id] == TokenType::Control, id <= 16) << id;
  }
}

TEST(GgufTokenizer, DefaultModelEncodesLikeLlamaCpp) {
  const auto tokenizer = Tokenizer::create(tokenizer_spec_from_gguf(*GgufFile::open(test::default_model())));
  // llama_cpp.Llama(vocab_only=True).tokenize(text, add_bos=False, special=False / True).
  EXPECT_EQ(tokenizer->encode("Hello world", false, false), (Ids{19556, 905}));
  EXPECT_EQ(tokenizer->encode("<|im_start|>user\nHi<|im_end|>", false, true), (Ids{1, 4093, 198, 26843, 2}));
  EXPECT_EQ(tokenizer->encode("<|im_start|>user\nHi<|im_end|>", false, false),
            (Ids{44, 108, 306, 79, 3738, 108, 46, 4093, 198, 26843, 44, 108, 306, 79, 486, 108, 46}));
  EXPECT_EQ(tokenizer->encode("<reponame>x", false, true), (Ids{4, 104}));
  EXPECT_EQ(tokenizer->encode("  lots   of   space  \n\n\tTab", false, false),
            (Ids{216, 5890, 256, 282, 256, 1898, 256, 1116, 197, 30064}));
  EXPECT_EQ(tokenizer->encode("I'M 12345 don't", false, false), (Ids{57, 23, 61, 216, 33, 34, 35, 36, 37, 1326, 982}));
  const Ids emoji = {10813, 242, 218, 10813, 121, 250, 216, 18645, 250, 48392, 138};
  EXPECT_EQ(tokenizer->encode("😀🫠 你好", false, false), emoji);
  // The emoji and CJK characters straddle tokens: a stream holds them back.
  IncrementalDetokenizer detokenizer(*tokenizer, true);
  std::vector<std::string> pieces;
  for (int32_t id : emoji) pieces.push_back(detokenizer.push(id));
  EXPECT_EQ(pieces, (std::vector<std::string>{"", "", "😀", "", "", "🫠", " ", "", "你", "", "好"}));
  EXPECT_EQ(detokenizer.flush(), "");
}

// A Llama-2 style vocabulary: <unk> <s> </s>, 256 byte tokens, scored pieces.
MetadataOnlyGguf tiny_llama_gguf() {
  const TokenizerSpec spm = test::tiny_scored_spm_spec(
      {{"\xE2\x96\x81", -1}, {"a", -2}, {"b", -3}, {"\xE2\x96\x81" "a", -4}, {"ab", -5}, {"\xE2\x96\x81" "ab", -6}});
  MetadataOnlyGguf gguf;
  gguf.add_string("tokenizer.ggml.model", "llama");
  gguf.add_strings("tokenizer.ggml.tokens", spm.tokens);
  std::vector<int32_t> types;
  for (TokenType t : spm.token_types) types.push_back(static_cast<int32_t>(t));
  gguf.add_i32s("tokenizer.ggml.token_type", types);
  gguf.add_f32s("tokenizer.ggml.scores", spm.scores);
  return gguf;
}

TEST(GgufTokenizer, LlamaVocabularyIsScoredSentencePieceWithLlamaCppDefaults) {
  const TokenizerSpec spec = spec_of(tiny_llama_gguf());
  EXPECT_EQ(spec.kind, TokenizerKind::SentencePieceBpe);
  EXPECT_TRUE(spec.merges.empty());
  EXPECT_TRUE(spec.byte_fallback);
  EXPECT_TRUE(spec.add_space_prefix);
  EXPECT_TRUE(spec.add_bos);
  EXPECT_EQ(spec.bos_id, 1);
  EXPECT_EQ(spec.eos_id, 2);
  EXPECT_EQ(spec.unk_id, 0);
  EXPECT_EQ(spec.eog_ids, Ids{2});
  const auto tokenizer = Tokenizer::create(spec);
  const int32_t space_ab = test::id_of(spec, "\xE2\x96\x81" "ab");
  EXPECT_EQ(tokenizer->encode("ab", true, false), (Ids{1, space_ab}));
  // "é" has no piece: byte fallback.
  EXPECT_EQ(tokenizer->encode("ab\xC3\xA9", false, false), (Ids{space_ab, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(tokenizer->decode({1, space_ab, 3 + 0xC3, 3 + 0xA9}, true), "ab\xC3\xA9");
}

TEST(GgufTokenizer, KeysOverrideDefaults) {
  MetadataOnlyGguf gguf = tiny_llama_gguf();
  gguf.add_bool("tokenizer.ggml.add_space_prefix", false);
  gguf.add_bool("tokenizer.ggml.add_bos_token", false);
  gguf.add_u32("tokenizer.ggml.eos_token_id", 1);
  gguf.add_u32("tokenizer.ggml.padding_token_id", 99999);  // out of range: ignored, as in llama.cpp
  const TokenizerSpec spec = spec_of(gguf);
  EXPECT_FALSE(spec.add_space_prefix);
  EXPECT_FALSE(spec.add_bos);
  EXPECT_EQ(spec.eos_id, 1);
  EXPECT_EQ(spec.pad_id, -1);
  // "</s>" is still an end marker by its spelling (llama.cpp's rule).
  EXPECT_EQ(spec.eog_ids, (Ids{1, 2}));
}

TEST(GgufTokenizer, BadMetadataIsAModelLoadError) {
  const std::vector<std::string> tokens = {"a", "b", "ab"};
  auto gpt2 = [&](const std::string& pre) {
    MetadataOnlyGguf gguf;
    gguf.add_string("tokenizer.ggml.model", "gpt2");
    if (!pre.empty()) gguf.add_string("tokenizer.ggml.pre", pre);
    gguf.add_strings("tokenizer.ggml.tokens", tokens);
    return gguf;
  };
  {
    MetadataOnlyGguf gguf = gpt2("qwen2");
    gguf.add_strings("tokenizer.ggml.merges", {"a b"});
    const TokenizerSpec spec = spec_of(gguf);  // the well-formed version loads
    EXPECT_EQ(Tokenizer::create(spec)->encode("ab", false, false), Ids{2});
  }
  {
    MetadataOnlyGguf gguf = gpt2("no-such-pre");
    gguf.add_strings("tokenizer.ggml.merges", {"a b"});
    EXPECT_THROW(spec_of(gguf), ModelLoadError);
  }
  EXPECT_THROW(spec_of(gpt2("qwen2")), ModelLoadError);  // no merges
  {
    MetadataOnlyGguf gguf = gpt2("qwen2");
    gguf.add_strings("tokenizer.ggml.merges", {"a b"});
    gguf.add_i32s("tokenizer.ggml.token_type", {1, 1});  // shorter than the vocabulary
    EXPECT_THROW(spec_of(gguf), ModelLoadError);
  }
  {
    MetadataOnlyGguf gguf;
    gguf.add_string("tokenizer.ggml.model", "bert");
    gguf.add_strings("tokenizer.ggml.tokens", tokens);
    EXPECT_THROW(spec_of(gguf), ModelLoadError);
  }
  {
    MetadataOnlyGguf gguf;
    gguf.add_string("tokenizer.ggml.model", "gpt2");
    EXPECT_THROW(spec_of(gguf), ModelLoadError);  // no tokens
  }
  {
    MetadataOnlyGguf gguf;
    gguf.add_strings("tokenizer.ggml.tokens", tokens);
    EXPECT_THROW(spec_of(gguf), ModelLoadError);  // no model
  }
}

TEST(GgufTokenizer, ExportedJsonOfTheDefaultModelReadsBackAlike) {
  const TokenizerSpec spec = tokenizer_spec_from_gguf(*GgufFile::open(test::default_model()));
  const TokenizerSpec reread =
      tokenizer_spec_from_json(tokenizer_json_from_spec(spec), tokenizer_config_json_from_spec(spec));
  EXPECT_EQ(reread.tokens, spec.tokens);
  EXPECT_EQ(reread.merges, spec.merges);
  EXPECT_EQ(reread.pre_regexes, spec.pre_regexes);
  EXPECT_EQ(reread.eos_id, spec.eos_id);
  const auto a = Tokenizer::create(spec);
  const auto b = Tokenizer::create(reread);
  size_t equal = 0, lines = 0;
  for (const std::string name : {"llama2", "qwen3"}) {
    for (const auto& line : test::read_expected_lines(test::fixture_tokenizer_dir(name) + "/expected.jsonl")) {
      equal += a->encode(line.text, false, false) == b->encode(line.text, false, false);
      ++lines;
    }
  }
  EXPECT_EQ(equal, lines);
}

}  // namespace
}  // namespace kvs
