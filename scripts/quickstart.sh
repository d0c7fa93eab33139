#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine: install what shmbus needs, build it, start
# shmbusd on ./run with its embedded default configuration, and send one record through a
# topic from a publisher to a subscriber.
#
#   scripts/quickstart.sh            (uses sudo for apt-get when not root)
#
# Leaves the build in build/ and stops the daemon at the end; ./run keeps the topic.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DSHMBUS_BUILD_TESTS=OFF >/dev/null
cmake --build "$root/build" -j "$(nproc)"

shmbusd="$root/build/daemon/shmbusd"
shmbus="$root/build/client/cli/shmbus"
bus="$root/run"
mkdir -p "$bus"

echo
echo "== starting shmbusd --dir $bus"
"$shmbusd" --dir "$bus" &
daemon=$!
stop_daemon() {
  if kill -0 "$daemon" 2>/dev/null; then
    kill -TERM "$daemon"
    wait "$daemon" || true
  fi
}
trap stop_daemon EXIT

# The daemon is ready once its control socket answers; give it ten seconds.
for _ in $(seq 100); do
  [[ -S "$bus/.shmbusd.sock" ]] && break
  kill -0 "$daemon" 2>/dev/null || { echo "quickstart: shmbusd exited early" >&2; exit 1; }
  sleep 0.1
done
[[ -S "$bus/.shmbusd.sock" ]] || { echo "quickstart: shmbusd did not start" >&2; exit 1; }

echo "== shmbus create demo (the daemon creates it)"
"$shmbus" --dir "$bus" create demo 2>/dev/null || "$shmbus" --dir "$bus" stat demo >/dev/null

message="hello from shmbus $(date +%T)"
received=$(mktemp)
echo "== shmbus sub demo --count 1   (in the background)"
"$shmbus" --dir "$bus" sub demo --count 1 --timeout 10 >"$received" &
subscriber=$!
# Publish once the subscriber is attached: stat lists it with its pid.
for _ in $(seq 100); do
  "$shmbus" --dir "$bus" stat demo --json | grep -q "\"pid\":$subscriber," && break
  sleep 0.1
done
echo "== shmbus pub demo \"$message\""
"$shmbus" --dir "$bus" pub demo "$message"
wait "$subscriber" || { echo "quickstart: the subscriber failed" >&2; exit 1; }
echo "== received: $(cat "$received")"
[[ "$(cat "$received")" == "$message" ]] || { echo "quickstart: expected '$message'" >&2; exit 1; }
rm -f "$received"

echo "== shmbus stat demo"
"$shmbus" --dir "$bus" stat demo
echo
echo "quickstart: ok. Try it yourself:"
echo "  $shmbusd --dir $bus &"
echo "  $shmbus --dir $bus sub demo            # in one shell"
echo "  $shmbus --dir $bus pub demo hello      # in another"
