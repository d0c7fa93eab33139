#!/usr/bin/env bash
# Runs the workload under `strace -f -c` and fails if read, write, futex or membarrier calls grow
# with the number of records. Budget: 0.5% of the records, for all four together, over both processes:
# the pipe handshake, startup, and the few times the subscriber catches up and sleeps.
set -euo pipefail
workload=$1
records=$2
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
strace -f -c -o "$summary" "$workload" "$records"
cat "$summary"
count() { awk -v name="$1" '$NF == name { print ($4 ~ /^[0-9]+$/) ? $4 : $(NF-2) }' "$summary" | head -1; }
total=0
for call in read write futex membarrier; do
  n=$(count "$call")
  n=${n:-0}
  echo "syscall_budget: $call: $n calls for $records records"
  total=$((total + n))
done
budget=$((records / 200))
if ((total > budget)); then
  echo "syscall_budget: FAIL: $total read/write/futex calls for $records records (budget $budget)" >&2
  exit 1
fi
echo "syscall_budget: ok: $total read/write/futex calls for $records records (budget $budget)"
