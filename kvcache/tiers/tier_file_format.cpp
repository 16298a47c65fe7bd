#include "kvcache/tiers/tier_file_format.h"

#include <zlib.h>

#include <cstdio>
#include <cstring>

#include "engine/errors.h"

namespace kvs {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "tier files are written in host order (little-endian)");

constexpr char kMagic[8] = {'k', 'v', 's', 't', 'i', 'e', 'r', '\0'};
constexpr char kEndMagic[4] = {'k', 'v', 's', 'e'};
constexpr size_t kFixedHeaderBytes = 48;
constexpr size_t kTrailerBytes = 8;

template <typename T>
void put(std::vector<uint8_t>& out, size_t& at, T value) {
  std::memcpy(out.data() + at, &value, sizeof(T));
  at += sizeof(T);
}

template <typename T>
T get(const uint8_t* data, size_t at) {
  T value;
  std::memcpy(&value, data + at, sizeof(T));
  return value;
}

uint32_t checksum(const uint8_t* data, size_t size) {
  return static_cast<uint32_t>(crc32_z(crc32_z(0, nullptr, 0), data, size));
}

}  // namespace

uint64_t tier_file_size(size_t fingerprint_bytes, size_t num_tokens, uint64_t num_payload_bytes) {
  return kFixedHeaderBytes + fingerprint_bytes + 4ull * num_tokens + num_payload_bytes + kTrailerBytes;
}

std::vector<uint8_t> encode_tier_file(std::string_view fingerprint, const TierEntryInfo& info,
                                      const uint8_t* payload, int64_t num_payload_bytes) {
  if (fingerprint.empty() || fingerprint.size() > kMaxFingerprintBytes) {
    throw InvalidArgument("tier file: fingerprint of " + std::to_string(fingerprint.size()) + " bytes");
  }
  if (info.tokens.size() > kMaxTierTokens) throw InvalidArgument("tier file: too many tokens");
  if (num_payload_bytes < 0 || (num_payload_bytes > 0 && payload == nullptr)) {
    throw InvalidArgument("tier file: bad payload");
  }
  std::vector<uint8_t> out(
      tier_file_size(fingerprint.size(), info.tokens.size(), static_cast<uint64_t>(num_payload_bytes)));
  size_t at = 0;
  std::memcpy(out.data(), kMagic, sizeof(kMagic));
  at += sizeof(kMagic);
  put<uint32_t>(out, at, kTierFileVersion);
  put<uint32_t>(out, at, static_cast<uint32_t>(fingerprint.size()));
  put<uint64_t>(out, at, info.key.hash);
  put<int32_t>(out, at, info.key.group);
  put<uint32_t>(out, at, static_cast<uint32_t>(info.tokens.size()));
  put<uint64_t>(out, at, info.parent_hash);
  put<uint64_t>(out, at, static_cast<uint64_t>(num_payload_bytes));
  std::memcpy(out.data() + at, fingerprint.data(), fingerprint.size());
  at += fingerprint.size();
  if (!info.tokens.empty()) std::memcpy(out.data() + at, info.tokens.data(), 4 * info.tokens.size());
  at += 4 * info.tokens.size();
  if (num_payload_bytes > 0) std::memcpy(out.data() + at, payload, static_cast<size_t>(num_payload_bytes));
  at += static_cast<size_t>(num_payload_bytes);
  put<uint32_t>(out, at, checksum(out.data(), at));
  std::memcpy(out.data() + at, kEndMagic, sizeof(kEndMagic));
  return out;
}

std::optional<TierFileView> parse_tier_file(const uint8_t* data, size_t size) {
  if (data == nullptr || size < kFixedHeaderBytes + kTrailerBytes) return std::nullopt;
  if (std::memcmp(data, kMagic, sizeof(kMagic)) != 0) return std::nullopt;
  if (get<uint32_t>(data, 8) != kTierFileVersion) return std::nullopt;
  const uint32_t fingerprint_bytes = get<uint32_t>(data, 12);
  const uint32_t num_tokens = get<uint32_t>(data, 28);
  const uint64_t num_payload_bytes = get<uint64_t>(data, 40);
  if (fingerprint_bytes == 0 || fingerprint_bytes > kMaxFingerprintBytes || num_tokens > kMaxTierTokens) {
    return std::nullopt;
  }
  // NOTE: checked before tier_file_size so the sum cannot overflow.
  if (num_payload_bytes > size) return std::nullopt;
  if (tier_file_size(fingerprint_bytes, num_tokens, num_payload_bytes) != size) return std::nullopt;
  const size_t body_bytes = size - kTrailerBytes;
  if (std::memcmp(data + body_bytes + 4, kEndMagic, sizeof(kEndMagic)) != 0) return std::nullopt;
  if (get<uint32_t>(data, body_bytes) != checksum(data, body_bytes)) return std::nullopt;

  TierFileView view;
  view.fingerprint = std::string_view(reinterpret_cast<const char*>(data + kFixedHeaderBytes), fingerprint_bytes);
  view.info.key.hash = get<uint64_t>(data, 16);
  view.info.key.group = get<int32_t>(data, 24);
  view.info.parent_hash = get<uint64_t>(data, 32);
  view.info.tokens.resize(num_tokens);
  const size_t tokens_at = kFixedHeaderBytes + fingerprint_bytes;
  if (num_tokens > 0) std::memcpy(view.info.tokens.data(), data + tokens_at, 4ull * num_tokens);
  view.payload = data + tokens_at + 4ull * num_tokens;
  view.num_payload_bytes = static_cast<int64_t>(num_payload_bytes);
  return view;
}

bool tier_file_matches(const TierFileView& file, const TierEntryInfo& expected, int64_t num_payload_bytes) {
  return file.info.parent_hash == expected.parent_hash && file.info.tokens == expected.tokens &&
         file.num_payload_bytes == num_payload_bytes;
}

std::string tier_file_name(const TierKey& key) {
  char name[64];
  std::snprintf(name, sizeof(name), "%016llx-g%d.kvb", static_cast<unsigned long long>(key.hash),
                static_cast<int>(key.group));
  return name;
}

std::optional<TierKey> parse_tier_file_name(std::string_view name) {
  // 16 hex, "-g", a decimal int32 (optionally negative), ".kvb".
  if (name.size() < 16 + 2 + 1 + 4 || name.substr(16, 2) != "-g" || name.substr(name.size() - 4) != ".kvb") {
    return std::nullopt;
  }
  TierKey key;
  for (size_t i = 0; i < 16; ++i) {
    const char c = name[i];
    int digit;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    else return std::nullopt;
    key.hash = (key.hash << 4) | static_cast<uint64_t>(digit);
  }
  std::string_view group = name.substr(18, name.size() - 18 - 4);
  const bool negative = !group.empty() && group[0] == '-';
  if (negative) group.remove_prefix(1);
  if (group.empty() || group.size() > 10) return std::nullopt;
  int64_t value = 0;
  for (const char c : group) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (negative) value = -value;
  if (value < INT32_MIN || value > INT32_MAX) return std::nullopt;
  key.group = static_cast<int32_t>(value);
  // Only the canonical spelling (no leading zeros, no "-0") names a key.
  if (tier_file_name(key) != name) return std::nullopt;
  return key;
}

}  // namespace kvs
