// Workload generators: turn the options into the list of requests a run sends
// (built up front, so generating costs nothing during the run).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "client/options.h"
#include "client/workload/request_spec.h"

namespace kvs::client {

// `count` requests for options.dataset (synthetic, jsonl, shared-prefix),
// deterministic for options.seed. A JSONL dataset with fewer usable entries
// than `count` is cycled. Throws std::runtime_error on an unreadable or empty
// dataset file (the message names the file and line).
std::vector<RequestSpec> build_workload(const BenchOptions& options, int64_t count);

std::vector<RequestSpec> synthetic_workload(const BenchOptions& options, int64_t count);
std::vector<RequestSpec> shared_prefix_workload(const BenchOptions& options, int64_t count);

// Entries of a JSONL file (or a JSON array file): {"prompt": "...", optional
// "output_len"/"max_tokens"} or ShareGPT {"conversations": [{"from": "human",
// "value": ...}, {"from": "gpt", "value": ...}, ...]} (first human turn is the
// prompt; the first reply's estimated token count is the output length unless
// options.output_len was given explicitly, see `fixed_output_len`).
std::vector<RequestSpec> load_prompt_file(const std::string& path, int64_t fixed_output_len);

}  // namespace kvs::client
