#!/usr/bin/env bash
# Fuzzes one parser of outside input (fuzz/<TARGET>_fuzzer.cc) with libFuzzer,
# or every one in turn:
#   scripts/fuzz.sh TARGET SECONDS      e.g. scripts/fuzz.sh csv_reader 120
#   scripts/fuzz.sh --all SECONDS       SECONDS per target
# Builds the target in build-sanitize (ASan + UBSan, scripts/sanitize_build.sh),
# copies the committed seeds (fuzz/corpus/TARGET, never written to) into the
# scratch corpus build-sanitize/fuzz-runs/TARGET/corpus, which keeps growing
# across runs, and runs under `nice`. Prints the executions; exits non-zero
# on a finding (crash, sanitizer report, escaped exception, hang over 10 s,
# over 2 GB of memory), naming the file holding the input. To keep one as a
# regression input, copy it to fuzz/corpus/TARGET/regress-<what>: the replay
# tests (fuzz_replay.TARGET) then run it on every build.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/fuzz.sh TARGET SECONDS | --all SECONDS" >&2; exit 2; }
[ $# -eq 2 ] || usage
seconds=$2
[[ "$seconds" =~ ^[0-9]+$ ]] || usage
if [ "$1" = "--all" ]; then
  targets=()
  for f in fuzz/*_fuzzer.cc; do t=$(basename "$f" _fuzzer.cc); targets+=("$t"); done
else
  [ -f "fuzz/$1_fuzzer.cc" ] || { echo "fuzz.sh: no fuzz/$1_fuzzer.cc" >&2; exit 2; }
  targets=("$1")
fi

BUILD_DIR=build-sanitize
fuzzers=()
for t in "${targets[@]}"; do fuzzers+=("${t}_fuzzer"); done
scripts/sanitize_build.sh "${fuzzers[@]}"

source scripts/sanitizer_env.sh "$PWD/$BUILD_DIR"
status=0
for t in "${targets[@]}"; do
  run_dir=$BUILD_DIR/fuzz-runs/$t
  mkdir -p "$run_dir/corpus" "$run_dir/findings"
  cp -n fuzz/corpus/"$t"/* "$run_dir/corpus/" 2>/dev/null || true
  log=$run_dir/last.log
  echo "fuzz.sh: $t for ${seconds}s (corpus $run_dir/corpus, log $log)" >&2
  # fuzz/<target>_fuzzer.options: extra libFuzzer flags, one per line ('#' comments).
  extra=()
  if [ -f "fuzz/${t}_fuzzer.options" ]; then
    while read -r line; do extra+=("$line"); done < <(grep -v '^\s*\(#\|$\)' "fuzz/${t}_fuzzer.options")
  fi
  rc=0
  nice -n 10 "$BUILD_DIR/fuzz/${t}_fuzzer" "$run_dir/corpus" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$run_dir/findings/" \
    ${extra[@]+"${extra[@]}"} >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ -z "$execs" ]; then
    # A finding ends the run before the final stats: the last status line.
    execs=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
  fi
  finding=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
  corpus_size=$(find "$run_dir/corpus" -type f | wc -l)
  if [ "$rc" -ne 0 ] || [ -n "$finding" ]; then
    echo "fuzz.sh: $t: FINDING after ${execs:-?} executions (exit $rc): ${finding:-see $log}" >&2
    grep -E "ERROR: |runtime error|fuzz finding|SUMMARY" "$log" | head -n 5 >&2 || true
    status=1
  else
    echo "fuzz.sh: $t: ${execs:-?} executions in ${seconds}s, no finding (corpus: $corpus_size inputs)"
  fi
done
exit $status
