#!/usr/bin/env bash
# The shmbus chaos soak (tests/soak/soak_main.cpp): publishers, subscribers and shmbusd killed,
# stopped and restarted at random, then a checker proves that nothing committed was lost,
# duplicated, reordered or torn, that overwrite losses add up exactly, and that nothing stalled.
#
#   scripts/soak.sh                        60 s, a random seed (printed)
#   scripts/soak.sh --duration 600         ten minutes
#   scripts/soak.sh --seed 1234            replay a chaos schedule
#   scripts/soak.sh -- --keep              anything after -- goes to shmbus-soak as is
#
# Builds what it needs in build-test/ (the build scripts/test.sh makes; BUILD_DIR overrides it)
# with fault injection on. Exit status: 0 every invariant held, non-zero otherwise.
# Env: JOBS  parallel build jobs (default: number of CPUs)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

duration=60
soak_args=()
while (($#)); do
  case "$1" in
    --duration) [[ $# -ge 2 ]] || { echo "soak.sh: --duration needs a number of seconds" >&2; exit 2; }
                duration=$2; shift 2 ;;
    --seed) [[ $# -ge 2 ]] || { echo "soak.sh: --seed needs a number" >&2; exit 2; }
            soak_args+=(--seed "$2"); shift 2 ;;
    --) shift; soak_args+=("$@"); break ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
if ! [[ $duration =~ ^[0-9]+$ ]] || ((duration < 1)); then
  echo "soak.sh: --duration '$duration' is not a whole number of seconds (at least 1)" >&2
  exit 2
fi

build=${BUILD_DIR:-$root/build-test}
jobs=${JOBS:-$(nproc)}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMBUS_FAULT_INJECTION=ON \
      -DSHMBUS_BUILD_DAEMON=ON >/dev/null
cmake --build "$build" -j "$jobs" --target shmbus-soak shmbusd
exec "$build/tests/soak/shmbus-soak" --duration "$duration" "${soak_args[@]}"
