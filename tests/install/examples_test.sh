#!/usr/bin/env bash
# Builds examples/ against an installed shmbus the four ways a user would, with nothing from the
# source or build tree, and runs each against the installed shmbusd:
#
#   g++ / gcc        + pkg-config      (examples/Makefile)
#   clang++ / clang  + pkg-config
#   g++ / gcc        + find_package(shmbus)   (examples/CMakeLists.txt)
#   clang++ / clang  + find_package(shmbus)
#
# Each way builds the C++ example (pubsub.cpp) and the C one (pubsub.c, through shmbus.h, compiled
# with `cc -std=c11` and pkg-config's flags: they must be a C compiler's flags too).
#
# Usage:
#   examples_test.sh --prefix DIR     an install made with `cmake --install BUILD --prefix DIR`
#   examples_test.sh --system         the installed .deb (pkg-config, CMake and shmbusd on their
#                                     default paths; run by scripts/package-test.sh)
#   examples_test.sh --install BUILD  installs BUILD into a temporary prefix first (ctest)
#
# Each example binary must load libshmbus.so from the install, never from the build tree; each
# publishes 50 records through the installed shmbusd and another reads them back (C++ and C
# binaries alternate, so each API reads what the other wrote).
# Exit status: 0 all passed, 1 a failure, 77 skipped (a sanitizer build: its library needs the
# sanitizer runtime that a plain example does not link).
set -euo pipefail

fail() { echo "examples_test: FAIL: $*" >&2; exit 1; }

mode=${1:-}
work=$(mktemp -d /tmp/shmbus-examples.XXXXXX)
daemon_pid=""
cleanup() {
  if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
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

for tool in g++ clang++ gcc clang pkg-config cmake make; do
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
else
  examples=/usr/share/doc/shmbus/examples
  shmbusd=$(command -v shmbusd) || fail "shmbusd is not on PATH"
fi
[[ -f "$examples/pubsub.cpp" && -f "$examples/pubsub.c" ]] || fail "no examples in $examples"
libdir=$(pkg-config --variable=libdir shmbus)
library=$(readlink -f "$libdir/libshmbus.so")
[[ -f "$library" ]] || fail "pkg-config's libdir $libdir holds no libshmbus.so"
echo "pkg-config: $(pkg-config --modversion shmbus), $(pkg-config --cflags --libs shmbus)"

# C users get no C++ flags from pkg-config (shmbus.pc's Cflags serve both languages).
[[ "$(pkg-config --cflags shmbus)" != *-std=* ]] || fail "shmbus.pc's Cflags name a language standard"

built=()
for compiler in g++ clang++; do
  c_compiler=${compiler%++}
  [[ "$c_compiler" == g ]] && c_compiler=gcc
  out=$work/make-$compiler
  mkdir -p "$out"
  # An rpath to the install's libdir, as a user of a private prefix would set one. Warnings are
  # errors for the C example: shmbus.h must compile cleanly as strict C11.
  make -s -C "$out" -f "$examples/Makefile" CXX="$compiler" CC="$c_compiler" \
    CFLAGS="-O2 -Wall -Wextra -pedantic -Werror" LDFLAGS="-Wl,-rpath,$libdir" >"$out.log" 2>&1 ||
    { cat "$out.log" >&2; fail "$compiler / $c_compiler with pkg-config"; }
  built+=("$out/shmbus-example" "$out/shmbus-example-c")
  echo "built with $compiler / $c_compiler and pkg-config"

  out=$work/cmake-$compiler
  cmake -S "$examples" -B "$out" -DCMAKE_CXX_COMPILER="$compiler" \
    -DCMAKE_C_COMPILER="$c_compiler" >"$out.log" 2>&1 &&
    cmake --build "$out" >>"$out.log" 2>&1 ||
    { cat "$out.log" >&2; fail "$compiler / $c_compiler with find_package(shmbus)"; }
  built+=("$out/shmbus-example" "$out/shmbus-example-c")
  echo "built with $compiler / $c_compiler and find_package(shmbus)"
done

for example in "${built[@]}"; do
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
echo "examples_test: ${#built[@]} builds, each published 50 records that another read back"
