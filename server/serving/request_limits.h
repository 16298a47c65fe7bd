#pragma once
// The bounds on what one request may ask for, shared by the HTTP and gRPC
// front ends (`kvserve serve` flags of the same names; docs: server/README.md).
//
// Plain values, set once at start (ServeConfig::validate checks them) and
// read-only while serving, so any thread may read them.
#include <cstdint>

#include "server/api/openai_types.h"

namespace kvs {

struct RequestLimits {
  // Bytes. HTTP: the request body (413 beyond); gRPC: the received message.
  int64_t max_body_bytes = 8 << 20;
  // Bytes. HTTP: the sum of every header's name and value (431 beyond);
  // gRPC: the metadata size (GRPC_ARG_MAX_METADATA_SIZE).
  int64_t max_header_bytes = 16 << 10;
  int64_t max_n = 128;             // choices per prompt (`n`)
  int64_t max_tokens = 0;          // tokens a request may generate; 0 = only the context bounds it
  int64_t max_stop = 16;           // stop strings per request
  int64_t max_stop_bytes = 256;    // bytes per stop string
  // Streams (HTTP SSE responses, gRPC Generate calls) open at once per API
  // key; without keys, all clients share one count. 0 = unlimited.
  int64_t max_streams_per_key = 64;
};

// Throws ApiError(400) naming the field ("n", "max_tokens", "stop") when
// `options` exceeds `limits`.
void check_request_limits(const RequestLimits& limits, const GenerationOptions& options);

// A completion request with `num_prompts` prompts and `n` choices each runs
// num_prompts * n sequences under one admission slot: that total is bounded
// by limits.max_n too. Throws ApiError(400) naming "prompt".
void check_choice_count(const RequestLimits& limits, int64_t num_prompts, int64_t n);

// The tokens a request generates at most: its own max_tokens, or else the
// room left in the context (`context_room`) capped at limits.max_tokens.
int64_t effective_max_tokens(const RequestLimits& limits, const GenerationOptions& options, int64_t context_room);

}  // namespace kvs
