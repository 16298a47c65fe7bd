#!/usr/bin/env bash
# The one command for a fresh machine: installs the Debian packages, fetches
# the default model, builds, and starts an interactive chat with the model.
# Arguments are passed to `kvserve generate` (default: --chat).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/fetch-model.sh
scripts/build.sh
if [ $# -eq 0 ]; then set -- --chat; fi
exec build/kvserve generate "$@"
