#!/usr/bin/env bash
# Apache Arrow's C++ Parquet libraries for tzrec's ParquetDataset: Debian 12
# does not package them, so they come from the pinned pyarrow wheel of the
# Python package registry (it ships libarrow/libparquet and their headers,
# built with the C++11 string ABI that Debian's g++ and libtorch use).
# Unpacks them once outside the clone, keyed by version, and prints the
# folder (include/, lib/). TZREC_ARROW_DIR overrides the location.
set -euo pipefail
version=22.0.0
so=2200
dir=${TZREC_ARROW_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tzrec/arrow-$version}
if [ ! -f "$dir/.complete" ]; then
  echo "arrow: unpacking pyarrow==$version's C++ libraries into $dir" >&2
  if ! python3 -m pip --version >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-pip >/dev/null
  fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download -q --disable-pip-version-check --no-deps "pyarrow==$version" \
    --only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.11 -d "$tmp" >&2
  python3 -m zipfile -e "$tmp"/pyarrow-*.whl "$tmp/wheel"
  rm -rf "$dir"
  mkdir -p "$dir/lib"
  cp -r "$tmp/wheel/pyarrow/include" "$dir/include"
  for lib in arrow parquet; do
    cp "$tmp/wheel/pyarrow/lib$lib.so.$so" "$dir/lib/"
    ln -sf "lib$lib.so.$so" "$dir/lib/lib$lib.so"
  done
  touch "$dir/.complete"
fi
echo "$dir"
