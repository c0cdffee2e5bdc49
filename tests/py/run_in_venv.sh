#!/usr/bin/env bash
# Runs a Python test in the reference runtime's virtual environment
# (scripts/venv.sh: torch 2.12.1, torchrec 1.7.0, fbgemm-gpu-cpu 1.7.0).
set -euo pipefail
python=$("$(dirname "$0")/../../scripts/venv.sh")
exec "$python" "$@"
