#!/usr/bin/env bash
# Creates (once) the virtual environment with tests/requirements.txt and prints
# its python. It lives outside the clone, keyed by the requirements' hash, so
# every clone on a machine shares it; TZREC_VENV overrides the location.
# torch's Linux wheel brings its CUDA runtime packages (~3 GB, ~2-4 min).
set -euo pipefail
cd "$(dirname "$0")/.."
req=tests/requirements.txt
key=$(cat "$req" tests/requirements-nodeps.txt | sha256sum | cut -c1-12)
venv=${TZREC_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tzrec/venv-$key}
mkdir -p "$(dirname "$venv")"
# Test runners starting at once wait for one creation instead of racing
# (each would remove what the other is installing).
exec 9>"$venv.lock"
flock 9
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  echo "venv: creating $venv from $req" >&2
  rm -rf "$venv"
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    # Debian's python3 makes virtual environments with python3-venv.
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r tests/requirements-nodeps.txt >&2
  touch "$venv/.complete"
fi
echo "$venv/bin/python"
