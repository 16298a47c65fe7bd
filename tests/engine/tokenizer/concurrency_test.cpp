// Tokenizer is immutable after create(): concurrent encode/decode from several
// threads give the same results as a single thread.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/engine/tokenizer/tokenizer_test_util.h"

namespace kvs {
namespace {

TEST(TokenizerConcurrency, ParallelEncodeAndDecodeAgreeWithTheReference) {
  for (const std::string name : {"llama2", "qwen3"}) {
    const Tokenizer& tokenizer = test::fixture_tokenizer(name);
    const auto lines = test::read_expected_lines(test::fixture_tokenizer_dir(name) + "/expected.jsonl");
    std::atomic<size_t> mismatches{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        // Each thread walks the lines from a different start.
        for (size_t k = 0; k < lines.size(); ++k) {
          const auto& line = lines[(k + t * lines.size() / 4) % lines.size()];
          if (tokenizer.encode(line.text, false, true) != line.ids) ++mismatches;
          if (tokenizer.decode(line.ids, false) != line.decoded) ++mismatches;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(mismatches.load(), 0u) << name;
  }
}

}  // namespace
}  // namespace kvs
