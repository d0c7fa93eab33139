#!/usr/bin/env bash
# Builds examples/ against an installed shmbus the ways a user would, with nothing from the
# source or build tree, and runs each against the installed shmbusd:
#
#   g++ / gcc        + pkg-config      (examples/Makefile)           every example
#   clang++ / clang  + pkg-config                                    pubsub.cpp, pubsub.c
#   g++ / gcc        + find_package(shmbus)   (examples/CMakeLists.txt)   every example
#   clang++ / clang  + find_package(shmbus)                          pubsub.cpp, pubsub.c
#
# Each way builds the C++ pubsub (pubsub.cpp) and the C one (pubsub.c, through shmbus.h, compiled
# with `cc -std=c11` and pkg-config's flags: they must be a C compiler's flags too).
#
# Usage:
#   examples_test.sh --prefix DIR     an install made with `cmake --install BUILD --prefix DIR`
#   examples_test.sh --system         the installed .deb (pkg-config, CMake and shmbusd on their
#                                     default paths; run by scripts/package-test.sh)
#   examples_test.sh --install BUILD  installs BUILD into a temporary prefix first (ctest)
#
# Each example binary must load libshmbus.so from the install, never from the build tree. Each
# pubsub build publishes 50 records through the installed shmbusd and another reads them back
# (C++ and C binaries alternate, so each API reads what the other wrote). Each event-loop build
# (epoll_topics.cpp, asio_topics.cpp) reads three topics: records published before it started,
# and records the installed `shmbus pub` publishes once it says it waits (so that they wake it
# through the wake descriptors); it must print each topic's records in order, and stop by itself
# at --count, and at --seconds.
# Exit status: 0 all passed, 1 a failure, 77 skipped (a sanitizer build: its library needs the
# sanitizer runtime that a plain example does not link).
set -euo pipefail

fail() { echo "examples_test: FAIL: $*" >&2; exit 1; }

mode=${1:-}
work=$(mktemp -d /tmp/shmbus-examples.XXXXXX)
daemon_pid=""
loop_pid=""  # an event-loop example running in the background
cleanup() {
  for pid in "$loop_pid" "$daemon_pid"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

case "$mode" in
  --install)
    build=${2:?--install needs a build directory}
    if grep -Eq '^SHMBUS_SANITIZE:STRING=.+' "$build/CMakeCache.txt"; then
      echo "skipped: a sanitizer build's libshmbus needs the sanitizer runtime in every client"
      exit 77
    fi
    prefix=$work/prefix
    cmake --install "$build" --prefix "$prefix" >"$work/install.log" ||
      { cat "$work/install.log" >&2; fail "cmake --install $build --prefix $prefix"; }
    ;;
  --prefix) prefix=$(readlink -f "${2:?--prefix needs a directory}") ;;
  --system) prefix="" ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac

for tool in g++ clang++ gcc clang pkg-config cmake make timeout; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/install-deps.sh)"
done

if [[ -n "$prefix" ]]; then
  # Only the install: pkg-config and CMake search it, and nothing else of shmbus.
  pc_dir=$(dirname "$(find "$prefix" -name shmbus.pc -print -quit)")
  [[ -f "$pc_dir/shmbus.pc" ]] || fail "no shmbus.pc under $prefix"
  export PKG_CONFIG_PATH=$pc_dir
  export CMAKE_PREFIX_PATH=$prefix
  examples=$prefix/share/doc/shmbus/examples
  shmbusd=$prefix/bin/shmbusd
  cli=$prefix/bin/shmbus
else
  examples=/usr/share/doc/shmbus/examples
  shmbusd=$(command -v shmbusd) || fail "shmbusd is not on PATH"
  cli=$(command -v shmbus) || fail "the shmbus CLI is not on PATH"
fi
for source in pubsub.cpp pubsub.c epoll_topics.cpp asio_topics.cpp; do
  [[ -f "$examples/$source" ]] || fail "no $source in $examples"
done
libdir=$(pkg-config --variable=libdir shmbus)
library=$(readlink -f "$libdir/libshmbus.so")
[[ -f "$library" ]] || fail "pkg-config's libdir $libdir holds no libshmbus.so"
echo "pkg-config: $(pkg-config --modversion shmbus), $(pkg-config --cflags --libs shmbus)"

# C users get no C++ flags from pkg-config (shmbus.pc's Cflags serve both languages).
[[ "$(pkg-config --cflags shmbus)" != *-std=* ]] || fail "shmbus.pc's Cflags name a language standard"

built=()        # pubsub.cpp and pubsub.c, each build
event_loops=()  # epoll_topics.cpp and asio_topics.cpp, the g++ builds
for compiler in g++ clang++; do
  c_compiler=${compiler%++}
  [[ "$c_compiler" == g ]] && c_compiler=gcc
  # g++ builds every example (the Makefile's and CMake's default); clang++ the two pubsubs.
  make_targets=() cmake_targets=()
  if [[ "$compiler" == clang++ ]]; then
    make_targets=(shmbus-example shmbus-example-c)
    cmake_targets=(--target shmbus-example shmbus-example-c)
  fi
  out=$work/make-$compiler
  mkdir -p "$out"
  # An rpath to the install's libdir, as a user of a private prefix would set one. Warnings are
  # errors for the C example: shmbus.h must compile cleanly as strict C11.
  make -s -C "$out" -f "$examples/Makefile" CXX="$compiler" CC="$c_compiler" \
    CFLAGS="-O2 -Wall -Wextra -pedantic -Werror" LDFLAGS="-Wl,-rpath,$libdir" \
    "${make_targets[@]}" >"$out.log" 2>&1 ||
    { cat "$out.log" >&2; fail "$compiler / $c_compiler with pkg-config"; }
  built+=("$out/shmbus-example" "$out/shmbus-example-c")
  ((${#make_targets[@]})) || event_loops+=("$out/shmbus-epoll-topics" "$out/shmbus-asio-topics")
  echo "built with $compiler / $c_compiler and pkg-config"

  out=$work/cmake-$compiler
  cmake -S "$examples" -B "$out" -DCMAKE_CXX_COMPILER="$compiler" \
    -DCMAKE_C_COMPILER="$c_compiler" >"$out.log" 2>&1 &&
    cmake --build "$out" "${cmake_targets[@]}" >>"$out.log" 2>&1 ||
    { cat "$out.log" >&2; fail "$compiler / $c_compiler with find_package(shmbus)"; }
  built+=("$out/shmbus-example" "$out/shmbus-example-c")
  ((${#cmake_targets[@]})) || event_loops+=("$out/shmbus-epoll-topics" "$out/shmbus-asio-topics")
  echo "built with $compiler / $c_compiler and find_package(shmbus)"
done

for example in "${built[@]}" "${event_loops[@]}"; do
  linked=$(ldd "$example" | sed -nE 's/.*libshmbus\.so\.[0-9]+ => ([^ ]+).*/\1/p')
  [[ -n "$linked" && "$(readlink -f "$linked")" == "$library" ]] ||
    fail "$example loads '${linked:-no libshmbus}', not the install's $library"
done

bus=$work/bus
mkdir "$bus"
"$shmbusd" --dir "$bus" >"$work/shmbusd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
  [[ -S "$bus/.shmbusd.sock" ]] && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/shmbusd.log" >&2; fail "shmbusd exited"; }
  sleep 0.1
done
[[ -S "$bus/.shmbusd.sock" ]] || fail "$shmbusd did not start"
export SHMBUS_DIR=$bus

expected=$(for i in $(seq 0 49); do echo "hello $i"; done)
index=0
for example in "${built[@]}"; do
  # Each binary publishes to a topic of its own; the next one in the list reads it.
  reader=${built[$(( (index + 1) % ${#built[@]} ))]}
  topic=example$index
  "$example" pub "$topic" 50 || fail "$example pub $topic"
  received=$(timeout 30 "$reader" sub "$topic" 50) || fail "$reader sub $topic"
  [[ "$received" == "$expected" ]] || fail "$reader did not read what $example published"
  index=$((index + 1))
done
echo "examples_test: ${#built[@]} builds of pubsub, each published 50 records that another read back"

# Waits (at most 20 s) until the event loop that logs to $1 says every subscriber is armed.
await_waiting() {
  for _ in $(seq 200); do
    grep -q "^waiting on " "$1" && return 0
    sleep 0.1
  done
  return 1
}

index=0
for example in "${event_loops[@]}"; do
  topics=(loop$index-a loop$index-b loop$index-c)
  log=$work/loop$index
  # Five records in each topic before the loop starts (pubsub asks shmbusd for the topic), five
  # more once it waits: the first it finds at its start, the others wake it.
  for topic in "${topics[@]}"; do
    "${built[0]}" pub "$topic" 5 || fail "${built[0]} pub $topic"
  done
  timeout 60 "$example" --count 30 --seconds 30 "${topics[@]}" >"$log.out" 2>"$log.err" &
  loop_pid=$!
  await_waiting "$log.err" || { cat "$log.err" >&2; fail "$example never said it was waiting"; }
  for topic in "${topics[@]}"; do
    "$cli" pub "$topic" "late 0" "late 1" "late 2" "late 3" "late 4" >/dev/null ||
      fail "shmbus pub $topic"
  done
  status=0
  wait "$loop_pid" || status=$?
  loop_pid=""
  ((status == 0)) || { cat "$log.err" >&2; fail "$example --count 30 exited with $status"; }
  expected=$(printf 'hello %d\n' 0 1 2 3 4; printf 'late %d\n' 0 1 2 3 4)
  for topic in "${topics[@]}"; do
    received=$(sed -n "s/^$topic: //p" "$log.out")
    [[ "$received" == "$expected" ]] ||
      { cat "$log.out" >&2; fail "$example did not print $topic's records in order"; }
  done
  [[ $(wc -l <"$log.out") -eq 30 ]] || { cat "$log.out" >&2; fail "$example printed more"; }

  # A time limit and no count: it reads what is there, then stops by itself with status 0.
  received=$(timeout 20 "$example" --seconds 1 "${topics[1]}" 2>"$log.err") ||
    { cat "$log.err" >&2; fail "$example --seconds 1 failed"; }
  [[ "$received" == "$(sed "s/^/${topics[1]}: /" <<<"$expected")" ]] ||
    fail "$example --seconds 1 did not print ${topics[1]}'s records"
  echo "$example: 30 records from three topics, 15 of them through its wake descriptors"
  index=$((index + 1))
done
echo "examples_test: ${#event_loops[@]} builds of the event-loop examples, each read three topics"
