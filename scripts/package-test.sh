#!/usr/bin/env bash
# The .deb, end to end, as CI runs it: on a Debian 12 machine, as root, after
# scripts/install-deps.sh.
#
#   1. build shmbus with prefix /usr and `cpack -G DEB`          build-package/shmbus_*.deb
#      (scripts/test.sh has already built and tested build-package/: it is packaged as it is)
#   2. apt-get install ./shmbus_*.deb                             (the user shmbus is created)
#   3. the installed shmbusd --version, and checks of what the package installed
#   4. build examples/ (C++ and C) from /usr/share/doc/shmbus/examples with g++ and clang++,
#      through find_package(shmbus) and through pkg-config, and run them: pubsub (C++ and C), and
#      the event loops over three topics (epoll, Boost.Asio) woken through their wake descriptors
#      (tests/install/examples_test.sh)
#   5. the Python package: import shmbus with Debian's python3, run examples/pubsub.py and
#      examples/asyncio_topics.py
#   6. run the installed shmbusd (as the user shmbus, with the installed configuration) and
#      exchange records between the examples (C++, C, Python) and the installed shmbus CLI,
#      both ways
#   7. the installed service under a real systemd, hardening in force (scripts/service-test.sh;
#      it boots systemd in private namespaces where the machine does not run it)
#   8. apt-get purge shmbus, and check it is gone
#
# Leaves the machine as it found it (but for the user shmbus, which Debian never removes).
# Env: JOBS (parallel build jobs, default: number of CPUs), KEEP_PACKAGE=1 (skip step 7).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
build=$root/build-package
work=$(mktemp -d /tmp/shmbus-package-test.XXXXXX)
jobs=${JOBS:-$(nproc)}
# The package installs its Python package for Debian's python3 (dist-packages), whatever else
# is first on PATH.
python3=/usr/bin/python3
python_package=/usr/lib/python3/dist-packages/shmbus
daemon_pid=""
installed=0

step() { printf '\n=== package-test: %s\n' "$*"; }
fail() { echo "package-test: FAIL: $*" >&2; exit 1; }

cleanup() {
  local status=$?
  if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  if ((installed)) && [[ "${KEEP_PACKAGE:-0}" != 1 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq shmbus >/dev/null 2>&1 || true
  fi
  if ((status != 0)) && [[ -f "$work/shmbusd.log" ]]; then
    echo "--- shmbusd's log:" >&2
    cat "$work/shmbusd.log" >&2
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

[[ $(id -u) -eq 0 ]] || fail "run as root: it installs and removes a package"
if dpkg-query -W -f='${Status}' shmbus 2>/dev/null | grep -q "install ok installed"; then
  fail "shmbus is already installed; remove it first (apt-get purge shmbus)"
fi

step "building the .deb"
# A build scripts/test.sh made and tested (default options, prefix /usr) is packaged as it is;
# otherwise the same configuration is built here, without the tests.
if ! grep -qx 'CMAKE_INSTALL_PREFIX:PATH=/usr' "$build/CMakeCache.txt" 2>/dev/null ||
   ! grep -qx 'SHMBUS_FAULT_INJECTION:BOOL=OFF' "$build/CMakeCache.txt" 2>/dev/null ||
   grep -Eq '^SHMBUS_SANITIZE:STRING=.+' "$build/CMakeCache.txt"; then
  rm -rf "$build"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
        -DSHMBUS_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j "$jobs"
rm -f "$build"/shmbus_*.deb
(cd "$build" && cpack -G DEB)
deb=$(ls "$build"/shmbus_*.deb)
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'

step "apt-get install ./$(basename "$deb")"
(cd "$build" && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$(basename "$deb")")
installed=1

step "the installed package"
command -v shmbusd | grep -qx /usr/bin/shmbusd || fail "shmbusd is not /usr/bin/shmbusd"
shmbusd --version
shmbusd --version | grep -q "^shmbusd $(sed -nE 's/^project\(shmbus VERSION ([0-9.]+).*/\1/p' "$root/CMakeLists.txt")" ||
  fail "shmbusd --version does not report the project's version"
command -v shmbus >/dev/null || fail "the shmbus CLI is not installed"
getent passwd shmbus >/dev/null || fail "the user shmbus was not created"
getent group shmbus >/dev/null || fail "the group shmbus was not created"
[[ -d /run/shmbus && "$(stat -c %U /run/shmbus)" == shmbus ]] || fail "/run/shmbus is missing or not shmbus's"
for file in /usr/lib/systemd/system/shmbusd.service /usr/lib/sysusers.d/shmbus.conf \
            /usr/lib/tmpfiles.d/shmbus.conf /etc/shmbus/shmbusd.toml \
            /usr/include/shmbus/shmbus.hpp /usr/include/shmbus/shmbus.h \
            /usr/share/doc/shmbus/CONFIG.md /usr/share/doc/shmbus/SERVICE.md \
            /usr/share/doc/shmbus/examples/pubsub.cpp /usr/share/doc/shmbus/examples/pubsub.c \
            /usr/share/doc/shmbus/examples/epoll_topics.cpp \
            /usr/share/doc/shmbus/examples/asio_topics.cpp; do
  [[ -f "$file" ]] || fail "$file was not installed"
done
dpkg-query -W -f='${Conffiles}\n' shmbus | grep -q /etc/shmbus/shmbusd.toml ||
  fail "/etc/shmbus/shmbusd.toml is not a conffile"
systemd-analyze verify /usr/lib/systemd/system/shmbusd.service
shmbusd --config /etc/shmbus/shmbusd.toml --check-config
pkg-config --modversion shmbus

step "the examples, built against the package with g++ and clang++, with pkg-config and CMake"
"$root/tests/install/examples_test.sh" --system

step "the Python package, with $python3"
[[ -f "$python_package/__init__.py" && -f "$python_package/py.typed" ]] ||
  fail "the Python package was not installed in $python_package"
"$python3" -c 'import shmbus'
"$python3" -c 'import shmbus; print("shmbus", shmbus.__version__, "from", shmbus.__file__)'
[[ "$("$python3" -c 'import shmbus; print(shmbus.__file__)')" == "$python_package/__init__.py" ]] ||
  fail "python3 imports shmbus from somewhere else than $python_package"
extension=$(ls "$python_package"/_shmbus.*.so)
linked=$(ldd "$extension" | sed -nE 's/.*libshmbus\.so\.[0-9]+ => ([^ ]+).*/\1/p')
[[ -n "$linked" && "$(readlink -f "$linked")" == "$(readlink -f "$(pkg-config --variable=libdir shmbus)/libshmbus.so")" ]] ||
  fail "$extension does not use the installed libshmbus (it uses '${linked:-nothing}')"
(cd "$work" && "$python3" /usr/share/doc/shmbus/examples/pubsub.py) > "$work/pubsub.py.out"
cat "$work/pubsub.py.out"
grep -qx "1 in place" "$work/pubsub.py.out" || fail "examples/pubsub.py did not print its records"
# Three topics and a timer in one asyncio loop, woken through the wake descriptors.
(cd "$work" && timeout 60 "$python3" /usr/share/doc/shmbus/examples/asyncio_topics.py) \
  > "$work/asyncio_topics.py.out" || fail "examples/asyncio_topics.py failed"
for name in prices orders alerts; do
  [[ "$(grep -c "^$name: $name [0-4]\$" "$work/asyncio_topics.py.out")" == 5 ]] ||
    { cat "$work/asyncio_topics.py.out" >&2; fail "examples/asyncio_topics.py missed records of $name"; }
done
echo "examples/asyncio_topics.py: 5 records on each of 3 topics"

step "building the example with find_package(shmbus)"
cp -r /usr/share/doc/shmbus/examples "$work/examples"
cmake -S "$work/examples" -B "$work/cmake-build" >/dev/null
cmake --build "$work/cmake-build"
example_cmake=$work/cmake-build/shmbus-example

step "building the example with pkg-config"
mkdir "$work/make-build"
make -C "$work/make-build" -f "$work/examples/Makefile"
example_make=$work/make-build/shmbus-example
# Both link the installed shared library, nothing from the source tree.
installed_library=$(readlink -f "$(pkg-config --variable=libdir shmbus)/libshmbus.so")
for example in "$example_cmake" "$example_make"; do
  linked=$(ldd "$example" | sed -nE 's/.*libshmbus\.so\.[0-9]+ => ([^ ]+).*/\1/p')
  [[ -n "$linked" && "$(readlink -f "$linked")" == "$installed_library" ]] ||
    fail "$example does not use the installed $installed_library (it uses '${linked:-nothing}')"
done

step "records between the examples and the installed CLI, through the installed shmbusd"
bus=$work/bus
mkdir "$bus"
chown shmbus:shmbus "$bus"
chmod 0755 "$work"
# As the service runs it: the user shmbus, the installed configuration.
setpriv --reuid=shmbus --regid=shmbus --init-groups --inh-caps=-all \
  /usr/bin/shmbusd --config /etc/shmbus/shmbusd.toml --dir "$bus" >"$work/shmbusd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
  grep -q "ready:" "$work/shmbusd.log" && break
  kill -0 "$daemon_pid" 2>/dev/null || fail "shmbusd exited"
  sleep 0.1
done
grep -q "ready:" "$work/shmbusd.log" || fail "shmbusd did not become ready"
export SHMBUS_DIR=$bus

# The example asks the daemon for the topic (open_or_create) and publishes; the CLI reads.
"$example_cmake" pub to-cli 100
[[ "$(stat -c %U "$bus/to-cli/records")" == shmbus ]] || fail "the daemon did not create topic to-cli"
received=$(timeout 30 shmbus sub --from earliest --count 100 to-cli)
expected=$(for i in $(seq 0 99); do echo "hello $i"; done)
[[ "$received" == "$expected" ]] || fail "shmbus sub did not receive what the example published"
echo "example (find_package) -> shmbus sub: 100 records"

# The CLI asks the daemon for a topic and publishes; the other example reads.
shmbus create from-cli
seq 1 100 | sed 's/^/record /' | shmbus pub from-cli
received=$(timeout 30 "$example_make" sub from-cli 100)
expected=$(seq 1 100 | sed 's/^/record /')
[[ "$received" == "$expected" ]] || fail "the example did not receive what shmbus pub published"
echo "shmbus pub -> example (pkg-config): 100 records"

# The Python example, both ways: it asks the daemon for its topic and publishes; it reads what
# the CLI published.
"$python3" /usr/share/doc/shmbus/examples/pubsub.py pub python-to-cli 100
received=$(timeout 30 shmbus sub --from earliest --count 100 python-to-cli)
expected=$(for i in $(seq 0 99); do echo "hello $i"; done)
[[ "$received" == "$expected" ]] || fail "shmbus sub did not receive what examples/pubsub.py published"
echo "examples/pubsub.py -> shmbus sub: 100 records"
received=$(timeout 30 "$python3" /usr/share/doc/shmbus/examples/pubsub.py sub from-cli 100)
expected=$(seq 1 100 | sed 's/^/record /')
[[ "$received" == "$expected" ]] || fail "examples/pubsub.py did not receive what shmbus pub published"
echo "shmbus pub -> examples/pubsub.py: 100 records"

shmbus stat to-cli
kill "$daemon_pid"
wait "$daemon_pid" || fail "shmbusd did not exit 0 on SIGTERM"
daemon_pid=""

step "the installed service under systemd, hardening in force"
rc=0
"$root/scripts/service-test.sh" || rc=$?
if ((rc == 77)); then
  echo "(skipped; see the reason above)"
elif ((rc != 0)); then
  fail "scripts/service-test.sh failed"
fi

if [[ "${KEEP_PACKAGE:-0}" == 1 ]]; then
  step "done (KEEP_PACKAGE=1: shmbus stays installed)"
  exit 0
fi
step "apt-get purge shmbus"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq shmbus >/dev/null
installed=0
[[ ! -e /usr/bin/shmbusd && ! -e /usr/include/shmbus && ! -e /etc/shmbus/shmbusd.toml &&
   ! -e "$python_package" ]] ||
  fail "files were left behind after the purge"
step "all package checks passed"
