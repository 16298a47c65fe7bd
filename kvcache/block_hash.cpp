#include "kvcache/block_hash.h"

#include <functional>

namespace kvs {
namespace {

// splitmix64's finaliser: spreads every input bit over the whole word (the
// standard library's std::hash of an integer is the identity on libstdc++).
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

uint64_t combine(uint64_t seed, uint64_t value) {
  return mix(seed ^ (value + 0x9e3779b97f4a7c15ull + (seed << 6) + (seed >> 2)));
}

}  // namespace

uint64_t hash_block(uint64_t parent_hash, const int32_t* tokens, int64_t num_tokens, uint32_t tag) {
  const std::hash<int32_t> token_hash;
  uint64_t h = combine(mix(parent_hash), (static_cast<uint64_t>(tag) << 32) | static_cast<uint64_t>(num_tokens));
  for (int64_t i = 0; i < num_tokens; ++i) h = combine(h, token_hash(tokens[i]));
  return h;
}

}  // namespace kvs
