#pragma once
// How many threads a CPU kernel call runs with. The count is passed with each
// call (MatmulScratch::num_threads, attention_varlen_paged's num_threads), so
// two models in one process, or the ranks of a tensor-parallel model, each use
// their own count; nothing process-wide decides it.
namespace kvs::kernels {

// `requested` when > 0, else the hardware's thread count. ThreadSanitizer
// builds (CMake KVS_SANITIZE=thread) always get 1: libgomp and OpenBLAS are
// not instrumented, so TSan cannot see their barriers and would report every
// parallel region as a race; TSan checks the threads we start (engine loop,
// scheduler clients, front ends, tensor-parallel ranks), and the kernels'
// OpenMP teams are covered by the ASan build and by their results matching
// references. Thread-safe.
int resolve_cpu_threads(int requested);

// OpenBLAS's own thread count (the F32 sgemm path), which OpenBLAS keeps
// process-wide: the largest count any model asked for (resolved as above).
// Thread-safe.
void request_blas_threads(int requested);

}  // namespace kvs::kernels
