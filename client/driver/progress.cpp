#include "client/driver/progress.h"

#include <algorithm>
#include <cstdio>

#include <unistd.h>

namespace kvs::client {

void ProgressBar::draw(int64_t num_done, int64_t num_failed, int64_t num_in_flight, double elapsed_s) {
  if (!enabled_) return;
  double fraction = 0;
  if (total_ > 0) fraction = static_cast<double>(num_done) / static_cast<double>(total_);
  if (duration_s_ > 0) fraction = std::max(fraction, elapsed_s / duration_s_);
  fraction = std::clamp(fraction, 0.0, 1.0);
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(fraction * kWidth);
  char bar[kWidth + 1];
  for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
  bar[kWidth] = '\0';
  const double rate = elapsed_s > 0 ? static_cast<double>(num_done) / elapsed_s : 0;
  std::fprintf(stderr, "\r%s [%s] %3d%% %lld%s done, %lld failed, %lld in flight, %.1f req/s, %.1fs ",
               label_.c_str(), bar, static_cast<int>(fraction * 100), static_cast<long long>(num_done),
               total_ > 0 ? ("/" + std::to_string(total_)).c_str() : "", static_cast<long long>(num_failed),
               static_cast<long long>(num_in_flight), rate, elapsed_s);
  std::fflush(stderr);
  drawn_ = true;
}

bool ProgressBar::is_terminal() { return isatty(STDERR_FILENO) != 0; }

void ProgressBar::finish() {
  if (drawn_) std::fputc('\n', stderr);
  drawn_ = false;
}

}  // namespace kvs::client
