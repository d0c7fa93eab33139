#!/usr/bin/env bash
# systemd-analyze verify on systemd/shmbusd.service.
#
# verify needs every ExecStart binary to exist. The unit names the installed /usr/bin/shmbusd,
# so this checks, honestly labelled:
#   1. a copy of the unit whose binary paths point at the build's shmbusd   (always)
#   2. the unit file itself, as it is                                       (only when shmbusd is
#                                                                             installed in /usr/bin)
#   3. systemd-analyze security --offline: the hardening must rate SAFE or OK (exposure < 3.0)
# It needs no running systemd. Exit 77 (skipped) if systemd-analyze is missing.
set -euo pipefail
source_dir=$1
shmbusd=$2
unit=$source_dir/systemd/shmbusd.service

if ! command -v systemd-analyze >/dev/null; then
  echo "skipped: systemd-analyze is not installed (Debian package systemd)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== 1. verify (binary path -> $shmbusd)"
sed "s#/usr/bin/shmbusd#$shmbusd#g" "$unit" >"$work/shmbusd.service"
systemd-analyze verify "$work/shmbusd.service"
echo "ok"

echo "== 2. verify $unit as it is"
if [[ -x /usr/bin/shmbusd ]]; then
  systemd-analyze verify "$unit"
  echo "ok"
else
  echo "not checked: /usr/bin/shmbusd is not installed (scripts/package-test.sh checks it after installing the .deb)"
fi

echo "== 3. hardening"
report=$(systemd-analyze security --offline=yes "$work/shmbusd.service" 2>&1)
line=$(grep -F "Overall exposure level" <<<"$report") || { echo "$report"; exit 1; }
echo "$line"
exposure=$(sed -E 's/.*: ([0-9.]+) .*/\1/' <<<"$line")
awk -v e="$exposure" 'BEGIN { exit !(e < 3.0) }' || { echo "$report"; echo "FAIL: exposure $exposure is 3.0 or more"; exit 1; }

echo "== sysusers.d and tmpfiles.d"
if command -v systemd-sysusers >/dev/null; then
  # --dry-run parses the file and says what it would create, changing nothing.
  systemd-sysusers --dry-run "$source_dir/systemd/shmbus.sysusers"
fi
if command -v systemd-tmpfiles >/dev/null; then
  # Applied to a scratch root whose user database holds the user that sysusers.d would create.
  mkdir -p "$work/root/etc"
  echo 'shmbus:x:990:990::/:/usr/sbin/nologin' >"$work/root/etc/passwd"
  echo 'shmbus:x:990:' >"$work/root/etc/group"
  systemd-tmpfiles --root="$work/root" --create "$source_dir/systemd/shmbus.tmpfiles"
  [[ "$(stat -c '%a %u %g' "$work/root/run/shmbus")" == "755 990 990" ]] ||
    { echo "FAIL: tmpfiles.d did not create /run/shmbus 0755 shmbus:shmbus"; exit 1; }
  echo "ok"
fi
echo "all checks passed"
