#pragma once
// Which instruction-set copy of the CPU kernels runs (issue 22).
//
// A -march build (KVS_MARCH=native, x86-64-v3, ...) has one copy, chosen by
// the compiler's macros (__AVX2__, __AVX512VNNI__, ...). A dispatch build
// (KVS_MARCH=dispatch) compiles the kernels twice, for x86-64-v3 (AVX2, FMA,
// F16C) and for x86-64-v4 + AVX512-VNNI, and picks one once, at the first
// call, from cpuid (every feature the AVX-512 copy was compiled with) or from
// the environment variable KVS_FORCE_ISA=avx2|avx512. Each copy reproduces the
// matching llama.cpp build (AVX2 and AVX-512 builds round differently).
// All functions are thread-safe; the choice never changes within a process.
#include <string>

namespace kvs::kernels {

// "avx512" or "avx2" (a dispatch build: the copy in use), or a -march build's
// compile-time level: "avx512", "avx2" or "generic".
const char* cpu_isa_name();
// One line for the start-up log: the name, the build mode and why this copy.
std::string cpu_isa_description();
// True when the binary carries both copies (KVS_MARCH=dispatch).
bool cpu_isa_dispatch_build();

namespace detail {
// In the x86-64-v3 kernels of a dispatch build: true when the AVX-512 copy was
// chosen, so a public entry point forwards to isa_avx512:: (cpu_isa_entry.h).
// Everywhere else (a -march build, the AVX-512 copy itself) constant false.
#if defined(KVS_ISA_DISPATCH) && !defined(KVS_ISA_COPY_AVX512)
bool route_to_avx512();
#else
constexpr bool route_to_avx512() { return false; }
#endif
}  // namespace detail

}  // namespace kvs::kernels
