// Memory bandwidth of this machine, STREAM-style, with the thread count the
// engine benchmarks use, so decode throughput can be put against it:
//   triad: a[i] = b[i] + s * c[i]  (STREAM's count: 3 x 8 bytes per element)
//   read:  sum += a[i]             (8 bytes per element; decode is a read stream)
// Arrays of --mib MiB each (far beyond the caches), first-touched by the
// threads that use them, best of --runs passes. Prints one JSON line, GB/s =
// 1e9 bytes per second.
//   kvs_bench_stream --threads 2 --mib 512 --runs 10
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"STREAM-like memory bandwidth (triad and read)"};
  int threads = 2, runs = 10;
  int64_t mib = 512;
  app.add_option("--threads", threads)->check(CLI::PositiveNumber);
  app.add_option("--mib", mib, "MiB per array")->check(CLI::Range(int64_t{8}, int64_t{16384}));
  app.add_option("--runs", runs)->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  const int64_t n = mib * (1 << 20) / static_cast<int64_t>(sizeof(double));
  std::unique_ptr<double[]> a(new double[static_cast<size_t>(n)]);
  std::unique_ptr<double[]> b(new double[static_cast<size_t>(n)]);
  std::unique_ptr<double[]> c(new double[static_cast<size_t>(n)]);
  double* pa = a.get();
  double* pb = b.get();
  double* pc = c.get();
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; ++i) pa[i] = 0.0, pb[i] = 1.0, pc[i] = 2.0;

  const double scalar = 3.0;
  double best_triad = 1e30, best_read = 1e30, checksum = 0.0;
  for (int r = 0; r < runs; ++r) {
    auto start = std::chrono::steady_clock::now();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < n; ++i) pa[i] = pb[i] + scalar * pc[i];
    best_triad = std::min(best_triad, seconds_since(start));
    start = std::chrono::steady_clock::now();
    double sum = 0.0;
#pragma omp parallel for simd num_threads(threads) schedule(static) reduction(+ : sum)
    for (int64_t i = 0; i < n; ++i) sum += pa[i];
    best_read = std::min(best_read, seconds_since(start));
    checksum += sum;
  }
  const double bytes = static_cast<double>(n) * sizeof(double);
  nlohmann::json out = {{"threads", threads},
                        {"mib_per_array", mib},
                        {"triad_gb_per_second", 3.0 * bytes / best_triad / 1e9},
                        {"read_gb_per_second", bytes / best_read / 1e9},
                        {"checksum", checksum}};
  std::cout << out.dump() << std::endl;
  // The checksum must be 7 * n per run (b + 3c = 7); anything else is a bug.
  return checksum == 7.0 * static_cast<double>(n) * runs ? 0 : 1;
}
