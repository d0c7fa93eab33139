#!/usr/bin/env bash
# The whole shmbus test suite, as CI runs it, on a fresh Debian 12 machine:
#
#   1. install what is needed (scripts/install-deps.sh)
#   2. build with the crash-test fault points and run every test           build-test/   (g++)
#   3. the configuration the .deb ships: every option at its default, no   build-package/ (g++)
#      fault points, prefix /usr; run every test (the fault-point cases skip, visibly)
#   4. build with ASan+UBSan and run every test                            build-asan/ (clang++)
#   5. build with TSan and run the threaded tests                          build-tsan/   (g++)
#   6. the optional stages below, each if present:
#        fuzzing (60 s), the chaos soak (60 s), the .deb package test (it packages stage 3's
#        build), the benchmark smoke run
#
# Every stage builds with -DSHMBUS_WERROR=ON: warnings are errors here, never in a user's build.
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
# Fault points are on unless an option says otherwise.
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

stage "the shipped configuration (the .deb's): default options, all tests"
# What users and the package get: no fault points. Only -DSHMBUS_WERROR=ON and the package's
# prefix differ from a plain `cmake -S . -B build`; scripts/package-test.sh packages this build.
cmake -S "$root" -B "$root/build-package" -DSHMBUS_WERROR=ON -DCMAKE_INSTALL_PREFIX=/usr \
      -DSHMBUS_FAULT_INJECTION=OFF >/dev/null
cmake --build "$root/build-package" -j "$jobs"
run_ctest build-package

stage "ASan+UBSan build (clang++): all tests"
# clang++ here and g++ elsewhere: every stage's -Werror holds with both compilers. clang for the
# C tests too (tests/c_api): one sanitizer runtime, the one clang links into the executable.
CC=clang CXX=clang++ configure_and_build build-asan -DSHMBUS_SANITIZE=address,undefined
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
