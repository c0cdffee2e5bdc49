#!/usr/bin/env bash
# Installs, builds and runs the whole test suite (C++ GoogleTest + Python client tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
# The Python tests' reference runtime (torch 2.12): created once, before the
# tests run in parallel.
scripts/venv.sh >/dev/null
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)"
