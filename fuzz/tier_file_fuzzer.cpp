// Harness: the disk tier's entry file decoder (kvcache/tiers/tier_file_format.h).
//
// Input: the bytes of a file found under an entry's name (any bytes: a torn,
// truncated, corrupted or foreign file).
// Contract: parse_tier_file never crashes, reads out of bounds, hits UB or
// throws; it accepts only a file that encode_tier_file writes byte for byte
// from what it decoded (so a changed byte, a truncation or an extension is
// always refused), and a file it accepts under another key or fingerprint
// never matches the entry asked for. parse_tier_file_name accepts only the
// canonical name of the key it returns.
// Seeds: fuzz/corpus/tier_file_fuzzer (small valid files, make_seeds.py).
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_common.h"
#include "kvcache/tiers/tier_file_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string name(reinterpret_cast<const char*>(data), size < 64 ? size : 64);
  if (const auto key = kvs::parse_tier_file_name(name)) KVS_FUZZ_CHECK(kvs::tier_file_name(*key) == name);

  const auto file = kvs::parse_tier_file(data, size);
  if (!file) return 0;
  const std::vector<uint8_t> again =
      kvs::encode_tier_file(file->fingerprint, file->info, file->payload, file->num_payload_bytes);
  KVS_FUZZ_CHECK(again.size() == size && std::equal(again.begin(), again.end(), data));
  KVS_FUZZ_CHECK(kvs::tier_file_matches(*file, file->info, file->num_payload_bytes));
  kvs::TierEntryInfo other = file->info;
  other.parent_hash ^= 1;
  KVS_FUZZ_CHECK(!kvs::tier_file_matches(*file, other, file->num_payload_bytes));
  KVS_FUZZ_CHECK(!kvs::tier_file_matches(*file, file->info, file->num_payload_bytes + 1));
  return 0;
}
