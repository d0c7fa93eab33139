#!/usr/bin/env bash
# The whole shmbus test suite, as CI runs it, on a fresh Debian 12 machine:
#
#   1. install what is needed (scripts/install-deps.sh)
#   2. build and run every test                      build-test/
#   3. build with ASan+UBSan and run every test      build-asan/
#   4. build with TSan and run the threaded tests    build-tsan/
#   5. the optional stages below, each if present:
#        fuzzing (60 s), the chaos soak (60 s), the .deb package test, the benchmark smoke run
#
# Options:  --quick   only stage 2 (for a fast local check)
# Env:      JOBS      parallel build jobs (default: number of CPUs)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

jobs=${JOBS:-$(nproc)}
started=$(date +%s)
stage() { printf '\n=== %s (%ds)\n' "$1" $(( $(date +%s) - started )); }

# configure_and_build DIR [CMAKE_OPTION...] [-- TARGET...]: every target unless some are named.
configure_and_build() {
  local dir=$1; shift
  local options=() targets=()
  while (($#)) && [[ "$1" != "--" ]]; do options+=("$1"); shift; done
  (($#)) && shift
  targets=("$@")
  cmake -S "$root" -B "$root/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMBUS_WERROR=ON \
        -DSHMBUS_FAULT_INJECTION=ON "${options[@]}" >/dev/null
  if ((${#targets[@]})); then
    cmake --build "$root/$dir" -j "$jobs" --target "${targets[@]}"
  else
    cmake --build "$root/$dir" -j "$jobs"
  fi
}

run_ctest() {
  local dir=$1; shift
  ctest --test-dir "$root/$dir" --output-on-failure --timeout 900 "$@"
}

stage "installing dependencies"
"$root/scripts/install-deps.sh"

stage "plain build: all tests"
configure_and_build build-test
run_ctest build-test

if ((quick)); then
  stage "done (quick)"
  exit 0
fi

stage "ASan+UBSan build: all tests"
configure_and_build build-asan -DSHMBUS_SANITIZE=address,undefined
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_ctest build-asan

stage "TSan build: threaded tests"
# Only the threaded tests run under TSan, so only they are built (the `threads` label).
configure_and_build build-tsan -DSHMBUS_SANITIZE=thread -DSHMBUS_BUILD_DAEMON=OFF -- \
  test_threaded_pub_sub test_smoke test_semaphore
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/tests/tsan.supp" \
  run_ctest build-tsan -L threads

for extra in scripts/fuzz.sh scripts/soak.sh scripts/package-test.sh bench/smoke.sh; do
  if [[ -x "$root/$extra" ]]; then
    stage "$extra"
    "$root/$extra"
  fi
done

stage "all stages passed"
