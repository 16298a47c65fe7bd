// Sends a workload at a server and collects every request's record.
//
// Closed loop (request_rate == 0): `concurrency` workers each send the next
// request as soon as their previous one ends. Open loop: arrivals at
// gamma-distributed gaps (shape = burstiness, mean 1/rate; burstiness 1 is a
// Poisson process; rate inf sends all at once) handed to a pool of workers
// that grows on demand up to `concurrency` (0 = kDefaultMaxWorkers); when all
// are busy an arrival waits (its record's start is when it was really sent).
// Bounds: `num_requests` (0 = none) and/or `duration_s` (0 = none): no request
// starts after the duration; the ones in flight finish.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "client/backend/backend.h"
#include "client/record.h"
#include "client/workload/request_spec.h"

namespace kvs::client {

constexpr int64_t kDefaultMaxWorkers = 1024;
constexpr int64_t kInitialOpenLoopWorkers = 16;

struct LoadPlan {
  double request_rate = 0;   // 0 = closed loop
  double burstiness = 1;
  int64_t concurrency = 1;
  int64_t num_requests = 0;
  double duration_s = 0;
  uint64_t seed = 0;
  std::string label;         // shown on the progress bar
  bool show_progress = true;
};

struct RunResult {
  std::vector<RequestRecord> records;  // in completion order
  double duration_s = 0;               // first send -> last completion
  bool interrupted = false;
};

// Runs the plan. `specs` are used in order, cycling when there are fewer than
// the requests sent. `interrupt` (e.g. set by SIGINT) stops new sends and
// cancels the requests in flight; what finished is returned. Blocks the
// calling thread, which draws the progress bar.
RunResult run_load(const LoadPlan& plan, const std::vector<RequestSpec>& specs, const BackendFactory& factory,
                   const std::atomic<bool>& interrupt);

// Arrival offsets in seconds for `count` requests (exposed for tests).
std::vector<double> arrival_times(double request_rate, double burstiness, int64_t count, uint64_t seed);

}  // namespace kvs::client
