#!/usr/bin/env bash
# Checks a KVS_MARCH=dispatch build (issue 22) for AVX-512 code that the AVX2
# path could reach:
#   1. the AVX-512 copy of the kernels (kvs_kernels_avx512.o) defines no global
#      symbol but the functions kvs::kernels::isa_avx512::*, and no static
#      initializer (.init_array / .ctors would run on every CPU at start-up);
#   2. no other object of the build has an AVX-512 (EVEX) or VNNI instruction;
#   3. in each binary given, every function with such an instruction is a
#      local symbol (the copy's), except isa_avx512::* entry points.
#   scripts/check-isa-dispatch.sh build-dispatch [binaries...]
set -euo pipefail
BUILD=${1:?usage: $0 BUILD_DIR [binaries...]}
shift
COPY=$BUILD/kvs_kernels_avx512.o
[[ -f $COPY ]] || { echo "no $COPY: not a KVS_MARCH=dispatch build?"; exit 1; }
# zmm, opmask registers, registers 16-31, embedded broadcast, EVEX-only moves
# and logic, VNNI: none can come from -march=x86-64-v3.
EVEX='%zmm|%k[0-7]([^0-9]|$)|%[xy]mm(1[6-9]|2[0-9]|3[01])|\{1to[0-9]+\}|vmovdq[au](8|16|32|64)|vpternlog|vperm[it]2|vpdpbus|vpdpws'
fail=0

globals=$(nm -g --defined-only "$COPY" | awk '{print $3}' | grep -v '^_ZN3kvs7kernels10isa_avx512' || true)
if [[ -n $globals ]]; then echo "FAIL: global symbols of the AVX-512 copy besides isa_avx512::"; echo "$globals" | c++filt; fail=1; fi
if readelf -SW "$COPY" | grep -Eq '\.(init_array|preinit_array|ctors)'; then
  echo "FAIL: the AVX-512 copy has static initializers"; fail=1
fi
echo "ok 1: the AVX-512 copy exports $(nm -g --defined-only "$COPY" | grep -c ' T _ZN3kvs7kernels10isa_avx512') entry points"

others=$(find "$BUILD" -path "*/CMakeFiles/*" -name '*.o' -not -path '*kvs_kernels_avx512_objects*' | sort)
n=0
for obj in $others; do
  n=$((n + 1))
  if objdump -d --no-show-raw-insn "$obj" | grep -Eq "$EVEX"; then echo "FAIL: AVX-512 instruction in $obj"; fail=1; fi
done
echo "ok 2: $n x86-64-v3 objects checked"

for bin in "$@"; do
  # function start address -> binding, from the symbol table
  declare -A binding=()
  while read -r addr type name; do binding[$addr]=$type; done < <(nm --defined-only "$bin" | awk 'NF == 3')
  bad=0 local=0
  while read -r addr name; do
    type=${binding[$addr]:-?}
    if [[ $type == t ]]; then local=$((local + 1));
    elif [[ $name != *isa_avx512* ]]; then echo "FAIL: $bin: global function with AVX-512 code: $name ($type)"; bad=1; fi
  done < <(objdump -d --no-show-raw-insn -C "$bin" | awk -v re="$EVEX" '
      /^[0-9a-f]+ <.*>:$/ { addr = $1; name = substr($0, length($1) + 3); sub(/>:$/, "", name); flagged = 0; next }
      $0 ~ re && !flagged { print addr, name; flagged = 1 }')
  [[ $bad == 0 ]] && echo "ok 3: $bin: AVX-512 code only in $local local functions and the isa_avx512 entry points"
  [[ $bad == 0 ]] || fail=1
  unset binding
done
exit $fail
