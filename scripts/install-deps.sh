#!/usr/bin/env bash
# Installs everything shmbus needs to build, run and test, from Debian 12 packages.
#   scripts/install-deps.sh            build, run, tests (the Python package's too)
#   scripts/install-deps.sh --bench    also the benchmark peers (ZeroMQ, pyzmq, iceoryx, gnuplot)
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libboost-dev libspdlog-dev libfmt-dev doctest-dev libcli11-dev
  libtomlplusplus-dev libsystemd-dev libnats-dev nats-server libxxhash-dev systemd systemd-container
  clang libclang-rt-14-dev strace procps util-linux psmisc file python3
  python3-dev python3-pytest python3-numpy
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(libzmq3-dev iceoryx libiceoryx-posh-dev libiceoryx-hoofs-dev gnuplot-nox linux-perf
             python3 python3-zmq valgrind)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
