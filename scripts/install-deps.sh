#!/usr/bin/env bash
# Installs the Debian packages kvserve builds and tests with. Skips apt when
# everything is present already. Needs root (or sudo).
set -euo pipefail
packages=(
  build-essential cmake pkg-config git unzip
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libspdlog-dev nlohmann-json3-dev libgtest-dev libgmock-dev libcpp-httplib-dev
  libpcre2-dev libicu-dev libcli11-dev libopenblas-dev libssl-dev zlib1g-dev
  clang libclang-rt-14-dev libomp-dev  # fuzz/ harnesses (scripts/fuzz.sh): clang, libFuzzer, OpenMP for clang
  nginx
  python3 python3-venv python3-pip
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all Debian packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
