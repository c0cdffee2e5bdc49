#!/usr/bin/env bash
# Builds ./build-sanitize: every tzrec target with ASan + UBSan (LeakSanitizer
# included) and libFuzzer's coverage, compiled by clang (cmake/sanitize.cmake),
# so that scripts/test.sh --sanitize and scripts/fuzz.sh share one build.
#   scripts/sanitize_build.sh [TARGET...]    (default: all)
# Installs what the sanitize mode needs beyond scripts/bootstrap.sh's list
# (clang and its sanitizer/libFuzzer runtimes), then lets bootstrap.sh install
# the rest and build. The build runs under `nice`: it takes long on few cores
# and should not starve other work.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(clang libclang-rt-14-dev)
scripts/apt_install.sh sanitize_build "${PACKAGES[@]}"

BUILD_DIR=build-sanitize
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  # -O1 -g: ASan's usual level (readable stacks, tests not much slower than
  # -O2); NDEBUG as in the Release build, so the same code is tested.
  CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DTZREC_SANITIZE=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g -DNDEBUG" >/dev/null
fi
if [ $# -eq 0 ]; then
  # bootstrap.sh installs the remaining packages and builds everything.
  BUILD_DIR=$BUILD_DIR nice -n 5 scripts/bootstrap.sh
else
  out=$(nice -n 5 cmake --build "$BUILD_DIR" --target "$@" 2>&1) || { echo "$out" >&2; exit 1; }
  grep -q "no work to do" <<<"$out" || echo "$out" | tail -n 3 >&2
fi
