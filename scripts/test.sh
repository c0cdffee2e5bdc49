#!/usr/bin/env bash
# Installs, builds and runs the whole test suite (C++ GoogleTest + Python client tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)"
