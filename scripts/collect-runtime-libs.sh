#!/usr/bin/env bash
# Copies the shared libraries that the given binaries load (per `ldd`) into
# DEST/lib, so DEST can run on a machine that lacks them (a slim container
# image, a GPU machine without gRPC). Left out: the C library and loader
# (every Linux has its own) and the CUDA driver and toolkit libraries, which
# the runtime image or the GPU machine's driver provides.
# Usage: scripts/collect-runtime-libs.sh DEST BINARY...
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 DEST BINARY..." >&2; exit 2; }
dest=$1; shift
mkdir -p "$dest/lib"
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|librt\.so|libpthread\.so|libresolv\.so|libcuda\.so|libnvidia-)'
for binary in "$@"; do
  ldd "$binary" | awk '/=> \// { print $1, $3 }' | while read -r name path; do
    if [[ "$name" =~ $skip ]] || [[ "$path" == /usr/local/cuda* ]]; then continue; fi
    cp -L -n "$path" "$dest/lib/$name"
  done
done
echo "collect-runtime-libs: $(ls "$dest/lib" | wc -l) libraries in $dest/lib"
