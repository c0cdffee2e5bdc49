# Sourced by scripts/test.sh --sanitize and scripts/fuzz.sh:
#   source scripts/sanitizer_env.sh BUILD_DIR [--report-files]
# The sanitizer runtime options for build-sanitize's binaries, and the
# processes they start (the tests run the tzrec command).
#  - Every report aborts the process with exit code 86, which no tzrec
#    command or test uses: a report in a command a test expects to fail
#    (exit 1 or 2) still fails the test.
#  - With --report-files, every report goes to a file under
#    BUILD_DIR/sanitizer-reports/ instead of stderr, so one in a child process
#    whose stderr a test swallowed is still seen (scripts/test.sh --sanitize
#    prints them and fails when that folder is not empty). libFuzzer
#    (scripts/fuzz.sh) reads the report from stderr: no files there.
#  - LeakSanitizer reads tests/sanitizers/lsan.supp: leaks inside
#    libraries this project does not build (each entry says why).
_san_build=$1
_san_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_san_common="exitcode=86:print_summary=1:symbolize=1"
if [ "${2:-}" = "--report-files" ]; then
  mkdir -p "$_san_build/sanitizer-reports"
  _san_common="$_san_common:log_path=$_san_build/sanitizer-reports/report"
fi
export ASAN_OPTIONS="$_san_common:abort_on_error=0:detect_leaks=1:check_initialization_order=1:strict_init_order=1"
export UBSAN_OPTIONS="$_san_common:halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="$_san_common:suppressions=$_san_root/tests/sanitizers/lsan.supp:print_suppressions=0"
unset _san_build _san_root _san_common
