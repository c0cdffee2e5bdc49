#!/usr/bin/env bash
# Installs the Debian 12 packages tzrec needs (only those missing) and builds
# into ./build. Idempotent: a second run with nothing to do prints nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev python3-torch python3-numpy
  libprotobuf-dev protobuf-compiler
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libfaiss-dev libmuparser-dev libfarmhash-dev
  # libtorch's matrix products go through the system libblas.so.3; the
  # reference BLAS is ~50x slower than OpenBLAS on these machines.
  libopenblas0-pthread libopenblas-pthread-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcurl4-openssl-dev libcpp-httplib-dev libzip-dev libssl-dev
  libexpat1-dev
  # The EAS SDK's TorchRequest(True) snappy-compresses bypass requests.
  libsnappy-dev
  # CRC-32C (ISA-L) of the TensorBoard event records train_eval writes.
  libisal-dev
  # S3 integration tests (tests/py/test_s3_export.py): a one-machine Ceph
  # cluster with radosgw, and boto3 as the independent client (~95 s to install).
  ceph-mon ceph-osd radosgw python3-boto3
)

scripts/apt_install.sh bootstrap "${PACKAGES[@]}"

BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-Release}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" >/dev/null
fi
# Ninja prints one line per step; keep it quiet when there is nothing to do.
out=$(cmake --build "$BUILD_DIR" 2>&1) || { echo "$out" >&2; exit 1; }
grep -q "no work to do" <<<"$out" || echo "$out" | tail -n 3 >&2
