#include "kernels/cpu/cpu_isa.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace kvs::kernels {
namespace {

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VNNI__)
constexpr const char* kCompiledIsa = "avx512";
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
constexpr const char* kCompiledIsa = "avx2";
#else
constexpr const char* kCompiledIsa = "generic";
#endif

const char* forced_isa() {
  const char* forced = std::getenv("KVS_FORCE_ISA");
  return forced != nullptr && *forced != '\0' ? forced : nullptr;
}

#if defined(KVS_ISA_DISPATCH)
// Every feature the AVX-512 copy is compiled with (CMake: -march=x86-64-v4
// -mavx512vnni); libgcc also checks that the OS saves the AVX-512 state.
bool cpu_runs_avx512_copy() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("x86-64-v4") && __builtin_cpu_supports("avx512vnni");
}

struct Choice {
  bool avx512 = false;
  std::string reason;
};

// NOTE: a KVS_FORCE_ISA this CPU cannot run, or a misspelt one, stops the
// process: running on would either crash later (illegal instruction) or
// silently test another copy than the one asked for.
Choice choose() {
  const bool supported = cpu_runs_avx512_copy();
  if (const char* forced = forced_isa()) {
    if (std::strcmp(forced, "avx2") == 0) return {false, "forced by KVS_FORCE_ISA=avx2"};
    if (std::strcmp(forced, "avx512") == 0 && supported) return {true, "forced by KVS_FORCE_ISA=avx512"};
    std::fprintf(
        stderr, "kvserve: KVS_FORCE_ISA=%s: %s\n", forced,
        std::strcmp(forced, "avx512") == 0 ? "this CPU lacks AVX-512 F/BW/CD/DQ/VL/VNNI" : "expected avx2 or avx512");
    std::exit(EXIT_FAILURE);
  }
  if (supported) return {true, "cpuid: AVX-512 F/BW/CD/DQ/VL/VNNI"};
  return {false, "cpuid: no AVX-512 F/BW/CD/DQ/VL/VNNI"};
}

const Choice& choice() {
  static const Choice chosen = choose();
  return chosen;
}
#endif

}  // namespace

#if defined(KVS_ISA_DISPATCH)
bool cpu_isa_dispatch_build() { return true; }
const char* cpu_isa_name() { return choice().avx512 ? "avx512" : "avx2"; }
std::string cpu_isa_description() {
  return std::string(cpu_isa_name()) + " (runtime dispatch between avx2 and avx512; " + choice().reason + ")";
}
namespace detail {
#if !defined(KVS_ISA_COPY_AVX512)
bool route_to_avx512() {
  static const bool avx512 = choice().avx512;
  return avx512;
}
#endif
}  // namespace detail
#else
bool cpu_isa_dispatch_build() { return false; }
const char* cpu_isa_name() { return kCompiledIsa; }
std::string cpu_isa_description() {
  std::string line = std::string(kCompiledIsa) + " (fixed at build time by -march)";
  if (const char* forced = forced_isa(); forced != nullptr && std::strcmp(forced, kCompiledIsa) != 0) {
    line += "; KVS_FORCE_ISA=" + std::string(forced) + " ignored: only a KVS_MARCH=dispatch build can switch";
  }
  return line;
}
#endif

}  // namespace kvs::kernels
