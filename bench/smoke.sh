#!/usr/bin/env bash
# CI's benchmark smoke run: every peer once, with small counts, checking correctness only
# (every record arrives once, in order, with the right length; every process exits cleanly).
# It asserts nothing about timing. A few minutes on a small machine.
#
#   bench/smoke.sh          (scripts/test.sh runs it when present)
# Env: JOBS (parallel build jobs, default: number of CPUs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

"$root/scripts/install-deps.sh" --bench
build="$root/build-bench-smoke"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSHMBUS_BUILD_BENCH=ON \
      -DSHMBUS_BUILD_TESTS=OFF -DSHMBUS_BUILD_DAEMON=OFF >/dev/null
targets=(shmbus_harness shmbus_cli)
# shmbus's Python package, where the Python headers are (python/CMakeLists.txt).
python_package="$build/python"
[[ -f "$python_package/shmbus/__init__.py" ]] && targets+=(shmbus_python)
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target "${targets[@]}"
harness="$build/bench/shmbus-harness"
cli="$build/client/cli/shmbus"

# Both CPUs named by the cases must exist; on one CPU everything shares CPU 0.
cpu_b=1
(($(nproc) < 2)) && cpu_b=0
failures=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Runs one command; its output is shown only when it fails.
run_check() {
  local what=$1; shift
  if "$@" >"$work/out" 2>&1; then
    echo "ok    $what"
  else
    echo "FAIL  $what"
    cat "$work/out"
    failures=$((failures + 1))
  fi
}
# Runs one case of the harness.
check() {
  local what=$1; shift
  run_check "$what" "$harness" --writer-cpus 0 --reader-cpus "$cpu_b" --timeout 120 "$@"
}

peers_that_sleep=(shmbus unix pipe mq boost-mq zeromq)
check "cache-line pingpong (the floor)" --peer cache-line --case pingpong --count 2000 \
  --warmup 200
check "reference pingpong" --peer reference --case pingpong --count 2000 --warmup 200
check "reference stream" --peer reference --case stream --count 100000
check "shmbus pingpong spin" --peer shmbus --case pingpong --count 2000 --warmup 200
check "shmbus stream batch" --peer shmbus --case stream --count 100000 --api batch
check "shmbus stream single 4 KiB" --peer shmbus --case stream --count 20000 --size 4096
check "shmbus-c stream single (the C API)" --peer shmbus-c --case stream --count 100000
check "shmbus-c stream batch (the C API)" --peer shmbus-c --case stream --count 100000 --api batch
for peer in "${peers_that_sleep[@]}"; do
  check "$peer pingpong sleep" --peer "$peer" --case pingpong --mode sleep --count 1000 --warmup 100
  check "$peer stream sleep" --peer "$peer" --case stream --mode sleep --count 20000
done
check "shmbus stream 64 KiB" --peer shmbus --case stream --mode sleep --count 2000 --size 65536
# The reader in epoll on its wake descriptor, and the eventfd doorbell it is measured beside.
check "shmbus pingpong fd" --peer shmbus --case pingpong --mode fd --count 1000 --warmup 100
check "eventfd pingpong sleep" --peer eventfd --case pingpong --mode sleep --count 1000 \
  --warmup 100
for peer in shmbus pipe unix; do
  check "$peer fan-out 2" --peer "$peer" --case stream --mode sleep --count 10000 --readers 2
  check "$peer fan-in 2" --peer "$peer" --case stream --mode sleep --count 10000 --writers 2
done
check "shmbus publisher cost, deferred readers" --peer shmbus --case stream --count 10000 \
  --readers 2 --deferred-readers --capacity 4194304
check "shmbus capacity 64 KiB, not pre-faulted" --peer shmbus --case stream --count 100000 \
  --api batch --capacity 65536 --prefault off
check "topics study (10 topics)" --case topics --topics 10
check "footprint study" --case footprint

if command -v iox-roudi >/dev/null; then
  log="$work/roudi.log"
  iox-roudi -c "$root/bench/peers/iceoryx_roudi.toml" >"$log" 2>&1 &
  roudi=$!
  for _ in $(seq 100); do grep -q "RouDi is ready" "$log" && break; sleep 0.2; done
  check "iceoryx pingpong spin" --peer iceoryx --case pingpong --count 2000 --warmup 200
  check "iceoryx pingpong sleep" --peer iceoryx --case pingpong --mode sleep --count 1000 --warmup 100
  check "iceoryx stream" --peer iceoryx --case stream --count 20000
  kill -TERM "$roudi"
  wait "$roudi" || true
else
  echo "skip  iceoryx: iox-roudi is not installed"
fi

# Python: shmbus's package, pyzmq and multiprocessing.Queue, each peer this Python can import.
if [[ -f "$python_package/shmbus/__init__.py" ]]; then
  # The interpreter the package was built for: -DPython3_EXECUTABLE, else the one CMake found.
  python=$(sed -n 's/^_\{0,1\}Python3_EXECUTABLE:[A-Z]*=//p' "$build/CMakeCache.txt" | head -n 1)
  python_peers=(env PYTHONPATH="$python_package" PYTHONDONTWRITEBYTECODE=1 "${python:-python3}"
                "$root/bench/python/python_peers.py")
  available=" $("${python_peers[@]}" --available) "
  [[ "$available" == *" shmbus "* ]] || available+="shmbus "  # a package that does not import fails
  [[ "$available" == *" zmq "* ]] ||
    echo "skip  python zmq: ${python:-python3} cannot import zmq (Debian: python3-zmq)"
  for peer in $available; do
    run_check "python $peer stream" "${python_peers[@]}" --peer "$peer" --case stream \
      --count 20000 --writer-cpu 0 --reader-cpu "$cpu_b" --timeout 120
    run_check "python $peer pingpong" "${python_peers[@]}" --peer "$peer" --case pingpong \
      --count 1000 --warmup 100 --writer-cpu 0 --reader-cpu "$cpu_b" --timeout 120
  done
else
  echo "skip  python: shmbus's Python package is not built (no Python headers)"
fi

if [[ -x "$cli" ]] && "$cli" bench --help >/dev/null 2>&1; then
  mkdir "$work/bus"
  for test in latency throughput; do
    if "$cli" --dir "$work/bus" bench --test "$test" --count 5000 --cpus "0,$cpu_b" \
        >"$work/out" 2>&1; then
      echo "ok    shmbus bench --test $test"
    else
      echo "FAIL  shmbus bench --test $test"
      cat "$work/out"
      failures=$((failures + 1))
    fi
  done
fi

if ((failures)); then
  echo "bench smoke: $failures failure(s)" >&2
  exit 1
fi
echo "bench smoke: all passed"
