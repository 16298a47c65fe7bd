#pragma once
// The bytes of one disk-tier entry file (kvcache/tiers/disk_tier.h), format
// version 1. All integers little-endian:
//
//   offset  size  field
//        0     8  magic "kvstier\0"
//        8     4  format version (1)
//       12     4  fingerprint length F (1..kMaxFingerprintBytes)
//       16     8  key hash
//       24     4  key group (int32)
//       28     4  number of tokens T (0..kMaxTierTokens)
//       32     8  parent hash
//       40     8  payload size P (bytes)
//       48     F  fingerprint (ASCII)
//     48+F   4*T  token ids (int32)
//          P      payload (the block's K/V bytes)
//          4      crc32 of every byte before it
//          4      end magic "kvse"
//
// The total size follows from the header (tier_file_size), so a truncated or
// extended file never parses; the trailing checksum covers header and
// payload. Pure functions; thread-safe.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kvcache/tiers/tier_entry.h"

namespace kvs {

inline constexpr uint32_t kTierFileVersion = 1;
inline constexpr size_t kMaxFingerprintBytes = 256;
inline constexpr size_t kMaxTierTokens = 1u << 20;

// Bytes of a file holding `num_tokens` tokens and `num_payload_bytes` payload
// under a fingerprint of `fingerprint_bytes` characters.
uint64_t tier_file_size(size_t fingerprint_bytes, size_t num_tokens, uint64_t num_payload_bytes);

// The whole file for `info`'s block under `fingerprint`. Throws
// InvalidArgument for a fingerprint or token count out of range or
// num_payload_bytes < 0.
std::vector<uint8_t> encode_tier_file(std::string_view fingerprint, const TierEntryInfo& info,
                                      const uint8_t* payload, int64_t num_payload_bytes);

// A file that parsed and whose checksum holds; its pointers and views point
// into the bytes given to parse_tier_file.
struct TierFileView {
  std::string_view fingerprint;
  TierEntryInfo info;
  const uint8_t* payload = nullptr;
  int64_t num_payload_bytes = 0;
};

// Any bytes: a view when they are exactly one well-formed version-1 file
// (magic, version, sizes within bounds, total size, checksum, end magic),
// otherwise nullopt. Never reads outside data[0, size).
std::optional<TierFileView> parse_tier_file(const uint8_t* data, size_t size);

// Whether a parsed file is the entry asked for: the same parent hash, tokens
// and payload size (the key and fingerprint are checked by the caller, for
// whom a mismatch there means a foreign or misnamed file).
bool tier_file_matches(const TierFileView& file, const TierEntryInfo& expected, int64_t num_payload_bytes);

// The file name of a key inside the fingerprint folder:
// "<16 lowercase hex digits of hash>-g<group>.kvb".
std::string tier_file_name(const TierKey& key);
// The inverse of tier_file_name: the key of a name it produced, else nullopt.
std::optional<TierKey> parse_tier_file_name(std::string_view name);

}  // namespace kvs
