// The live progress line on stderr ("\r"-rewritten). Called from one thread
// (the driver's monitor loop); draws nothing when disabled or when stderr is
// not a terminal.
#pragma once

#include <cstdint>
#include <string>

namespace kvs::client {

class ProgressBar {
 public:
  // `total` requests (0 = unknown) and/or `duration_s` seconds (0 = none) bound the run.
  ProgressBar(bool enabled, std::string label, int64_t total, double duration_s)
      : enabled_(enabled && is_terminal()), label_(std::move(label)), total_(total), duration_s_(duration_s) {}
  void draw(int64_t num_done, int64_t num_failed, int64_t num_in_flight, double elapsed_s);
  void finish();  // ends the line

 private:
  static bool is_terminal();  // NOTE: a bar of "\r" rewrites is noise in a log file

 private:
  bool enabled_;
  std::string label_;
  int64_t total_;
  double duration_s_;
  bool drawn_ = false;
};

}  // namespace kvs::client
