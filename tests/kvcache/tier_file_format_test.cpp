// The disk tier's entry file: a round trip, and every single-byte change,
// truncation or extension of a file refused.
#include <gtest/gtest.h>

#include "engine/errors.h"
#include "kvcache/tiers/tier_file_format.h"
#include "tests/kvcache/tier_test_util.h"

namespace kvs {
namespace {

using test::tier_bytes;
using test::tier_info;

TEST(TierFileFormat, RoundTrips) {
  const TierEntryInfo info = tier_info(0xfedcba9876543210ull, 3, 16);
  const auto payload = tier_bytes(5, 1000);
  const auto file = encode_tier_file("ab12", info, payload.data(), 1000);
  EXPECT_EQ(file.size(), tier_file_size(4, 16, 1000));
  const auto view = parse_tier_file(file.data(), file.size());
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->fingerprint, "ab12");
  EXPECT_EQ(view->info.key, info.key);
  EXPECT_EQ(view->info.parent_hash, info.parent_hash);
  EXPECT_EQ(view->info.tokens, info.tokens);
  ASSERT_EQ(view->num_payload_bytes, 1000);
  EXPECT_EQ(std::vector<uint8_t>(view->payload, view->payload + 1000), payload);
  EXPECT_TRUE(tier_file_matches(*view, info, 1000));
  EXPECT_FALSE(tier_file_matches(*view, info, 999));
  TierEntryInfo other = info;
  other.tokens.pop_back();
  EXPECT_FALSE(tier_file_matches(*view, other, 1000));
}

TEST(TierFileFormat, RefusesEveryChangedByteTruncationAndExtension) {
  const auto payload = tier_bytes(7, 40);
  const auto file = encode_tier_file("0f", tier_info(9, 1, 3), payload.data(), 40);
  for (size_t i = 0; i < file.size(); ++i) {
    for (const uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
      auto changed = file;
      changed[i] ^= flip;
      EXPECT_FALSE(parse_tier_file(changed.data(), changed.size()).has_value()) << "byte " << i;
    }
  }
  for (size_t size = 0; size < file.size(); ++size) {
    EXPECT_FALSE(parse_tier_file(file.data(), size).has_value()) << "truncated to " << size;
  }
  auto longer = file;
  longer.push_back(0);
  EXPECT_FALSE(parse_tier_file(longer.data(), longer.size()).has_value());
  EXPECT_FALSE(parse_tier_file(nullptr, 0).has_value());
}

TEST(TierFileFormat, RefusesBadArguments) {
  const TierEntryInfo info = tier_info(1);
  EXPECT_THROW(encode_tier_file("", info, nullptr, 0), InvalidArgument);
  EXPECT_THROW(encode_tier_file("ab", info, nullptr, 4), InvalidArgument);
  EXPECT_THROW(encode_tier_file(std::string(kMaxFingerprintBytes + 1, 'a'), info, nullptr, 0), InvalidArgument);
}

TEST(TierFileFormat, NamesRoundTripAndOnlyCanonicalNamesParse) {
  for (const TierKey key : {TierKey{0, 0}, TierKey{0xffffffffffffffffull, 2147483647},
                            TierKey{0x0123456789abcdefull, -2147483647 - 1}, TierKey{42, 5}}) {
    const std::string name = tier_file_name(key);
    const auto parsed = parse_tier_file_name(name);
    ASSERT_TRUE(parsed.has_value()) << name;
    EXPECT_EQ(*parsed, key);
  }
  EXPECT_EQ(tier_file_name({0xab, 2}), "00000000000000ab-g2.kvb");
  for (const char* bad : {"00000000000000ab-g02.kvb", "00000000000000AB-g2.kvb", "00000000000000ab-g-0.kvb",
                          "00000000000000ab-g.kvb", "0000000000000ab-g2.kvb", "00000000000000ab-g2.kvb.tmp",
                          ".tmp-1-2.kvb.tmp", "00000000000000ab-g2147483648.kvb"}) {
    EXPECT_FALSE(parse_tier_file_name(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace kvs
