#pragma once
// Constrained decoding in the engine loop (issue 23): each constrained
// sequence's GrammarMatcher, the masking of its logits rows and the advance
// after every token it outputs.
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/grammar/grammar_matcher.h"

namespace kvs {

// Owned by EngineCore; engine thread only (not thread-safe). Sequences
// without a grammar are not in it and cost nothing.
class GrammarGuide {
 public:
  // What the masked row allows.
  enum class Verdict : uint8_t {
    kSample,     // some tokens are allowed: sample (or verify) the masked row
    kForceStop,  // the output is complete: only ending is possible (stop_token, if any, is the token to emit)
    kDeadEnd,    // no token of the vocabulary can continue, and the output cannot end
  };

  void add(uint64_t id, std::shared_ptr<const grammar::CompiledGrammar> grammar);
  void remove(uint64_t id);
  bool constrained(uint64_t id) const { return matchers_.count(id) != 0; }

  // Sets logits[t] = -inf ([vocab] floats, in place) for every token t that
  // cannot continue sequence `id`'s output; the ids in `stop_ids` stay as they
  // are only when the output can end here. kForceStop: `stop_token` = the
  // first of stop_ids (-1 when there are none); the row is not touched.
  // Precondition: constrained(id).
  Verdict mask(uint64_t id, float* logits, int64_t vocab, const std::vector<int32_t>& stop_ids, int32_t& stop_token);

  // Budget steering: a constrained answer should end complete within
  // max_tokens rather than be cut (a small model can nest, repeat or write a
  // string forever). `budget`: the tokens the request may still emit, this one
  // and a final stop token included. fits_budget says whether, after `token`,
  // the fewest tokens that spell a shortest completion
  // (GrammarMatcher::completion_tokens; bounded first by its bytes) and a stop
  // step still fit in budget - 1; a stop token always fits. When a sampled
  // token does not, the caller masks the row again with mask_shortest: only
  // the tokens that start such a spelling stay (single bytes of the shortest
  // completion when it is too long to spell out; the stop ids when the output
  // can end), then samples from it as usual. Since every step keeps "shortest completion + stop
  // <= budget", an answer whose grammar fits max_tokens at its start always
  // ends complete. mask_shortest's verdicts are mask's; kDeadEnd when the
  // vocabulary has no single-byte token for the bytes needed (the caller keeps
  // the token it sampled).
  bool fits_budget(uint64_t id, int32_t token, const std::vector<int32_t>& stop_ids, int64_t budget);
  Verdict mask_shortest(uint64_t id, float* logits, int64_t vocab, const std::vector<int32_t>& stop_ids,
                        int32_t& stop_token);
  // After `token` was appended to sequence `id`'s output (not a stop token
  // that ended it): advances its matcher. False when the grammar rejects the
  // token (the caller fails the request). No-op (true) for an unconstrained id.
  bool advance(uint64_t id, int32_t token);

  // Time spent computing and applying masks and budget checks, how many rows
  // were masked, and how many were steered to a shortest completion
  // (EngineMetrics::grammar_*).
  double mask_seconds() const { return mask_seconds_; }
  int64_t num_masks() const { return num_masks_; }
  int64_t num_steered() const { return num_steered_; }

 private:
  std::unordered_map<uint64_t, grammar::GrammarMatcher> matchers_;
  std::vector<uint64_t> bits_;  // scratch: the allowed-token bitmask of the row being masked
  // Sets -inf outside bits_ (stop ids kept when keep_stops).
  bool apply_bits(float* logits, int64_t vocab, const std::vector<int32_t>& stop_ids, bool keep_stops) const;

  double mask_seconds_ = 0.0;
  int64_t num_masks_ = 0;
  int64_t num_steered_ = 0;
};

}  // namespace kvs
