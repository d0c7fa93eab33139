#!/usr/bin/env bash
# The installed shmbusd.service under a real systemd, with all its hardening in force: it starts
# (Type=notify), stays up past WatchdogSec, creates topics for root and for members of the group
# shmbus and refuses others, reloads on `systemctl reload`, logs with priorities, keeps records
# across a restart, and stops with status 0.
#
# Needs root and the shmbus package installed (scripts/package-test.sh runs this between
# installing and purging it).
#
#   - On a machine that runs systemd, it uses that systemd (and restarts shmbusd.service there).
#   - Elsewhere (a CI container) it boots systemd in a systemd-nspawn container (package
#     systemd-container) whose root is an overlay of this machine's root with a tmpfs on top.
#     Nothing the container does reaches this machine's files: whatever the booted system writes
#     or deletes (systemd-tmpfiles empties /tmp at boot, for one) lands in the tmpfs. Never boot a
#     second systemd on the host's own root file system.
#
# Exits 77 (skipped), saying why, where neither is possible.
set -euo pipefail
skip() { echo "service-test: skipped: $*"; exit 77; }
fail() { echo "service-test: FAIL: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || skip "needs root"
[[ -f /usr/lib/systemd/system/shmbusd.service || -f /lib/systemd/system/shmbusd.service ]] ||
  skip "the shmbus package is not installed"

work=$(mktemp -d /tmp/shmbus-service-test.XXXXXX)
root=""            # the container's root, an overlay (nspawn only)
init_pid=""        # the container's systemd, as this machine sees it
nspawn_pid=""
config=/etc/shmbus/shmbusd.toml   # as the systemd under test sees it
host_config_saved=""
had_nspawn_dir=0
[[ -e /run/systemd/nspawn ]] && had_nspawn_dir=1

cleanup() {
  local status=$?
  set +e
  if [[ -n "$init_pid" ]] && kill -0 "$init_pid" 2>/dev/null; then
    kill -s RTMIN+4 "$init_pid"  # systemd's "power off"
  fi
  if [[ -n "$nspawn_pid" ]]; then
    for _ in $(seq 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$nspawn_pid" 2>/dev/null
    wait "$nspawn_pid" 2>/dev/null
  fi
  if [[ -n "$root" ]]; then
    mountpoint -q "$root" && umount "$root"
    mountpoint -q "$work/layers" && umount "$work/layers"
  fi
  ((had_nspawn_dir)) || rm -rf /run/systemd/nspawn
  [[ -n "$host_config_saved" ]] && cp -p "$host_config_saved" "$config"
  if ((status != 0)) && [[ -f "$work/nspawn.log" ]]; then
    echo "--- the container's console:" >&2
    tail -30 "$work/nspawn.log" >&2
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

if [[ -d /run/systemd/system ]]; then
  echo "service-test: using this machine's systemd"
  run() { "$@"; }
  edit_config() { cat >>"$config"; }
  host_config_saved=$work/shmbusd.toml.saved
  cp -p "$config" "$host_config_saved"
else
  command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is missing (package systemd-container)"
  command -v nsenter >/dev/null || skip "nsenter is missing"
  mkdir "$work/layers" "$work/root"
  mount -t tmpfs -o size=512m,mode=0700 shmbus-service-test "$work/layers" ||
    skip "cannot mount a tmpfs here"
  mkdir "$work/layers/upper" "$work/layers/work"
  if ! mount -t overlay shmbus-service-test \
         -o "lowerdir=/,upperdir=$work/layers/upper,workdir=$work/layers/work" "$work/root"; then
    skip "cannot mount an overlay of / here"
  fi
  root=$work/root
  # Every change below is to the overlay, never to this machine: check that before making one.
  [[ "$(findmnt -n -o FSTYPE --target "$root")" == overlay ]] || fail "$root is not the overlay"
  # nspawn wants an empty /dev to mount its own on (the lower layer holds the host's mountpoint
  # placeholders); deleting through the overlay only hides them in the container.
  find "$root/dev" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  printf '[Unit]\nRequires=shmbusd.service\nAfter=shmbusd.service\nAllowIsolate=yes\n' \
    >"$root/etc/systemd/system/shmbus-service-test.target"
  systemd-nspawn -D "$root" --register=no --keep-unit --private-network --console=passive \
    -b systemd.unit=shmbus-service-test.target >"$work/nspawn.log" 2>&1 </dev/null &
  nspawn_pid=$!
  for _ in $(seq 200); do
    init_pid=$(pgrep -f '/systemd systemd\.unit=shmbus-service-test\.target$' | head -1 || true)
    [[ -n "$init_pid" ]] && break
    kill -0 "$nspawn_pid" 2>/dev/null || skip "systemd-nspawn cannot boot a container here: $(tail -3 "$work/nspawn.log" | tr '\n' ' ')"
    sleep 0.1
  done
  [[ -n "$init_pid" ]] || skip "the container's systemd did not start"
  run() { nsenter -t "$init_pid" -m -p -n -u -i -- "$@"; }
  edit_config() { cat >>"$root$config"; }
  for _ in $(seq 150); do
    state=$(run systemctl is-system-running 2>/dev/null || true)
    [[ "$state" == running || "$state" == degraded ]] && break
    sleep 0.2
  done
  echo "service-test: booted systemd in a container (its pid here: $init_pid), state ${state:-unknown}"
fi

run systemctl start shmbusd.service ||
  { run journalctl -u shmbusd --no-pager | tail -20; fail "the service did not start"; }
[[ "$(run systemctl is-active shmbusd.service)" == active ]] || fail "the service is not active"
status=$(run systemctl show -p StatusText --value shmbusd.service)
echo "status: $status"
[[ "$status" == *"topic"*"attached"* ]] || fail "no STATUS= line from the daemon"
main_pid=$(run systemctl show -p MainPID --value shmbusd.service)

echo "== topics: root, a member of group shmbus, a stranger"
run shmbus --dir /run/shmbus create service-orders --capacity 64K --max-record 1K
run shmbus --dir /run/shmbus pub service-orders one two three
[[ "$(run shmbus --dir /run/shmbus sub service-orders --from earliest --count 3 | tr '\n' ' ')" == "one two three " ]] ||
  fail "records did not come back"
run setpriv --reuid=nobody --regid=nogroup --groups=shmbus \
  shmbus --dir /run/shmbus create service-member --capacity 64K --max-record 1K ||
  fail "a member of group shmbus could not create a topic"
[[ "$(run stat -c '%U:%G %a' /run/shmbus/service-member/records)" == "shmbus:shmbus 660" ]] ||
  fail "the topic's records file is not shmbus:shmbus 0660"
rc=0
run setpriv --reuid=nobody --regid=nogroup --clear-groups \
  shmbus --dir /run/shmbus create service-stranger 2>/dev/null || rc=$?
[[ $rc -eq 4 ]] || fail "a stranger's request was not refused with 'permission denied' (exit $rc)"

echo "== reload"
printf '\n[topics.service-reloaded]\ncapacity = "64KiB"\nmax_record_size = "1KiB"\n' | edit_config
run systemctl reload shmbusd.service
for _ in $(seq 50); do run test -f /run/shmbus/service-reloaded/records && break; sleep 0.1; done
run test -f /run/shmbus/service-reloaded/records || fail "systemctl reload did not add the configured topic"

echo "== journal priorities"
run journalctl -u shmbusd --no-pager -p info -q | grep -q "created topic 'service-orders'" ||
  fail "the journal lacks the daemon's info lines"
if run journalctl -u shmbusd --no-pager -p warning -q | grep -q "created topic"; then
  fail "info lines reached the journal as warnings"
fi

echo "== the watchdog: still the same process after more than WatchdogSec"
echo "WatchdogUSec=$(run systemctl show -p WatchdogUSec --value shmbusd.service)"
sleep 12
[[ "$(run systemctl show -p MainPID --value shmbusd.service)" == "$main_pid" ]] ||
  fail "the daemon was restarted (by the watchdog?)"
[[ "$(run systemctl show -p NRestarts --value shmbusd.service)" == 0 ]] || fail "the daemon restarted"

echo "== restart keeps the records; stop exits 0"
run systemctl restart shmbusd.service
[[ "$(run shmbus --dir /run/shmbus sub service-orders --from earliest --count 3 | wc -l)" == 3 ]] ||
  fail "records were lost across a restart"
run systemctl stop shmbusd.service
[[ "$(run systemctl show -p Result --value shmbusd.service)" == success ]] || fail "the stop was not a success"
[[ "$(run systemctl show -p ExecMainStatus --value shmbusd.service)" == 0 ]] || fail "the daemon did not exit 0"
if [[ -z "$root" ]]; then
  rm -rf /run/shmbus/service-orders /run/shmbus/service-member /run/shmbus/service-reloaded
  systemctl start shmbusd.service
fi
echo "service-test: the hardened service works under systemd"
