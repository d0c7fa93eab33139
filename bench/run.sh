#!/usr/bin/env bash
# The shmbus benchmarks, from scratch, on a Debian 12 machine:
#
#   bench/run.sh [--runs N] [--quick] [--no-wait] [--only REGEX]
#
#   1. installs the peers it lacks (scripts/install-deps.sh --bench: ZeroMQ, pyzmq, iceoryx,
#      gnuplot)
#   2. builds shmbus-harness, shmbus and the Python package in build-bench/ (Release, -O2)
#   3. runs every case N times (default 3) on a quiet machine, RouDi started for iceoryx;
#      raw results in bench/results/<date>/
#   4. writes docs/BENCHMARKS.md and docs/benchmarks.png
#
# --quick: tiny counts, no waiting for a quiet machine, the report goes to bench/results/ only
# (never over the committed docs). --no-wait: full counts but start at once. --only: a subset
# of the cases (group or label matching REGEX), report in bench/results/ only.
# Env: JOBS (parallel build jobs, default 2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

runs=3
quick=0
sweep_flags=()
for ((i = 1; i <= $#; i++)); do
  arg=${!i}
  case "$arg" in
    --runs) i=$((i + 1)); runs=${!i} ;;
    --quick) quick=1; sweep_flags+=(--quick) ;;
    --no-wait) sweep_flags+=(--no-wait) ;;
    --only) i=$((i + 1)); sweep_flags+=(--only "${!i}"); quick=1 ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --runs wants a positive number" >&2; exit 2; }

"$root/scripts/install-deps.sh" --bench

build="$root/build-bench"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -g -DNDEBUG" \
      -DSHMBUS_BUILD_BENCH=ON -DSHMBUS_BUILD_TESTS=OFF -DSHMBUS_BUILD_DAEMON=ON >/dev/null
targets=(shmbus_harness shmbus_instructions shmbus_cli shmbusd)
# shmbus's Python package, where the Python headers are (python/CMakeLists.txt): the configure
# step writes its pure-Python files into the build tree only then.
python_flags=()
if [[ -f "$build/python/shmbus/__init__.py" ]]; then
  targets+=(shmbus_python)
  # The interpreter the package was built for: -DPython3_EXECUTABLE, else the one CMake found.
  python=$(sed -n 's/^_\{0,1\}Python3_EXECUTABLE:[A-Z]*=//p' "$build/CMakeCache.txt" | head -n 1)
  python_flags=(--python-path "$build/python" --python "${python:-python3}")
else
  echo "run.sh: shmbus's Python package is not built here (no Python headers): no python rows"
fi
cmake --build "$build" -j "${JOBS:-2}" --target "${targets[@]}"

results="$root/bench/results/$(date -u +%Y%m%d-%H%M%S)"
set +e
python3 "$root/bench/tools/sweep.py" --harness "$build/bench/shmbus-harness" \
  --cli "$build/client/cli/shmbus" --daemon "$build/daemon/shmbusd" \
  --instructions "$build/bench/shmbus-instructions" --results "$results" --runs "$runs" \
  "${python_flags[@]}" "${sweep_flags[@]}"
swept=$?
set -e

if ((quick)); then
  doc="$results/BENCHMARKS.md" chart="$results/benchmarks.png" extra=(--include-disturbed)
else
  doc="$root/docs/BENCHMARKS.md" chart="$root/docs/benchmarks.png" extra=()
fi
command="bench/run.sh"
((runs != 3)) && command+=" --runs $runs"
python3 "$root/bench/tools/report.py" --results "$results" --doc "$doc" --chart "$chart" \
  --analysis "$root/bench/report/analysis.md" --command "$command" "${extra[@]}"
exit $swept
