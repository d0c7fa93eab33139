#!/usr/bin/env bash
# Fuzzes the topic-file validator and the reader (tests/fuzz/) with libFuzzer, ASan and UBSan.
#
#   scripts/fuzz.sh                 build in build-fuzz/, run every target for 60 s in all
#   scripts/fuzz.sh --seconds N     run for N seconds in all, shared among the targets
#   scripts/fuzz.sh --seeds         regenerate the committed seed corpus (tests/fuzz/corpus/)
#
# Each target runs over a copy of its committed corpus, so a run never writes into the
# repository. A finding (crash, ASan or UBSan report, broken promise, timeout, memory limit)
# stops the script with a non-zero status and the path of the input that reproduces it; copy
# that file into tests/fuzz/regressions/<target>/ so the replay test (ctest -L unit) keeps it.
# Env: JOBS (build jobs, default 2), FUZZ_TIMEOUT (seconds per input, default 10),
#      FUZZ_RSS_MB (memory limit, default 2048).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

seconds=60
seeds=0
while (($#)); do
  case "$1" in
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    --seeds) seeds=1; shift ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fuzz.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$seconds" =~ ^[0-9]+$ ]] && ((seconds > 0)) \
  || { echo "fuzz.sh: --seconds wants a whole number above 0, not '$seconds'" >&2; exit 2; }

targets=(topic_image)
build="$root/build-fuzz"
jobs=${JOBS:-2}

clangxx=$(command -v clang++ || true)
runtime=$(clang++ -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null || true)
if [[ -z "$clangxx" || ! -f "$runtime" ]]; then
  "$root/scripts/install-deps.sh"
  clangxx=$(command -v clang++ || true)
  [[ -n "$clangxx" ]] || { echo "fuzz.sh: clang++ is not installed" >&2; exit 1; }
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$clangxx" \
      -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link" -DSHMBUS_SANITIZE=address,undefined \
      -DSHMBUS_FUZZ=ON -DSHMBUS_BUILD_DAEMON=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]/#/shmbus_fuzz_}" shmbus_fuzz_seeds

if ((seeds)); then
  for target in "${targets[@]}"; do
    rm -rf "$root/tests/fuzz/corpus/$target"
  done
  "$build/tests/fuzz/shmbus_fuzz_seeds" "$root/tests/fuzz/corpus/topic_image"
  exit 0
fi

work="$build/fuzz-run"
rm -rf "$work"
mkdir -p "$work"
per_target=$(( seconds / ${#targets[@]} ))
((per_target > 0)) || per_target=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for target in "${targets[@]}"; do
  corpus="$work/$target/corpus"
  artifacts="$work/$target/findings/"
  mkdir -p "$corpus" "$artifacts"
  cp "$root/tests/fuzz/corpus/$target/"* "$corpus/"
  if compgen -G "$root/tests/fuzz/regressions/$target/*" >/dev/null; then
    cp "$root/tests/fuzz/regressions/$target/"* "$corpus/"
  fi
  echo "fuzz.sh: $target for ${per_target}s over $(ls "$corpus" | wc -l) seeds"
  status=0
  "$build/tests/fuzz/shmbus_fuzz_$target" "$corpus" \
      -max_total_time="$per_target" -timeout="${FUZZ_TIMEOUT:-10}" \
      -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -max_len=16384 -print_final_stats=1 \
      -artifact_prefix="$artifacts" >"$work/$target/log" 2>&1 || status=$?
  found=$(find "$artifacts" -type f | sort)
  if ((status != 0)) || [[ -n "$found" ]]; then
    tail -n 60 "$work/$target/log" >&2
    echo "fuzz.sh: $target found a problem (status $status); log: $work/$target/log" >&2
    for file in $found; do
      echo "fuzz.sh: reproduce with: $build/tests/fuzz/shmbus_fuzz_$target $file" >&2
    done
    exit 1
  fi
  grep -E '^(#[0-9]+[[:space:]]+DONE|stat::)' "$work/$target/log" || tail -n 5 "$work/$target/log"
done
echo "fuzz.sh: no findings in ${seconds}s"
