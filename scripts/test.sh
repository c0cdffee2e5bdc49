#!/usr/bin/env bash
# Installs, builds and runs the whole test suite (C++ GoogleTest + Python client tests).
#   scripts/test.sh              the suite, in ./build
#   scripts/test.sh --sanitize   the C++ test binaries and the fuzz corpus replays
#                                under ASan + UBSan + LeakSanitizer, in ./build-sanitize
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--sanitize" ]; then
  # The Python tests are not run here: they judge file formats with stock
  # PyTorch (no sanitizer can see into those processes), need the torch 2.12
  # virtual environment, and what they run of tzrec (the command) the C++
  # tests run too, through TZREC_BINARY, which here is the sanitized tzrec.
  scripts/sanitize_build.sh
  rm -rf build-sanitize/sanitizer-reports
  source scripts/sanitizer_env.sh "$PWD/build-sanitize" --report-files
  rc=0
  ctest --test-dir build-sanitize --output-on-failure -j "$(nproc)" -R '(_tests$|^fuzz_replay\.)' || rc=$?
  # Reports of processes a test started (the tzrec command) and whose output
  # the test kept to itself.
  if [ -n "$(ls -A build-sanitize/sanitizer-reports 2>/dev/null)" ]; then
    echo "test.sh --sanitize: sanitizer reports:" >&2
    for report in build-sanitize/sanitizer-reports/*; do
      echo "== $report" >&2
      head -n 60 "$report" >&2
    done
    rc=1
  fi
  exit $rc
fi
scripts/bootstrap.sh
# The Python tests' reference runtime (torch 2.12): created once, before the
# tests run in parallel.
scripts/venv.sh >/dev/null
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)"
