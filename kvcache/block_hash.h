#pragma once
// Content hash of one full KV block, chained with the hash of the block
// before it, so equal hashes mean (up to collisions) equal whole prefixes.
#include <cstdint>

namespace kvs {

// The chain's starting value (the "parent" of a sequence's first block).
constexpr uint64_t kRootBlockHash = 0x6b76736572766531ull;  // "kvserve1"

// Hash of `num_tokens` token ids following a block whose hash is
// `parent_hash`. `tag` separates blocks whose tokens match but whose K/V were
// computed differently (see KvCacheManager: the prompt/output boundary when
// numerics depend on step shape); 0 when there is nothing to separate.
// Deterministic across runs and processes (no per-process seed). Collisions
// are possible (64 bits) and are handled by BlockPool, which compares the
// stored token ids and the parent block's content id before reusing a block.
uint64_t hash_block(uint64_t parent_hash, const int32_t* tokens, int64_t num_tokens, uint32_t tag);

}  // namespace kvs
