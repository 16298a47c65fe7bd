#include "kernels/cpu/cpu_threads.h"

#include <cblas.h>

#include <algorithm>
#include <mutex>
#include <thread>

namespace kvs::kernels {

int resolve_cpu_threads(int requested) {
#ifdef KVS_TSAN_BUILD  // CMake KVS_SANITIZE=thread
  (void)requested;
  return 1;
#else
  return requested > 0 ? requested : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
#endif
}

void request_blas_threads(int requested) {
  static std::mutex mutex;
  static int current = 0;
  const int threads = resolve_cpu_threads(requested);
  std::lock_guard<std::mutex> lock(mutex);
  if (threads <= current) return;
  current = threads;
  openblas_set_num_threads(threads);
}

}  // namespace kvs::kernels
