"""System calls per record, counted by strace.

Each configuration runs twice under `strace -f -c`, with a small and a larger record count;
the difference between the two counts, divided by the difference in records, is the cost per
record without the setup both runs share. strace slows every system call down a lot, which
changes how often a sleeping side actually sleeps; the counts are what that run did.

Separately, shmbus's sleeping ping-pong runs under `strace -f -e trace=futex`: every one-way
record wakes a sleeping subscriber, and the futex wake calls per sleep say whether a wake-up
costs at most one FUTEX_WAKE.
"""

import os
import re
import subprocess
import tempfile

STREAM_ROWS = [
    # label, harness options
    ("reference", {"peer": "reference", "mode": "spin"}),
    ("shmbus batch", {"peer": "shmbus", "mode": "spin", "api": "batch"}),
    ("shmbus single", {"peer": "shmbus", "mode": "spin", "api": "single"}),
    ("shmbus sleep batch", {"peer": "shmbus", "mode": "sleep", "api": "batch"}),
    ("shmbus sleep single", {"peer": "shmbus", "mode": "sleep", "api": "single"}),
    ("iceoryx", {"peer": "iceoryx", "mode": "spin"}),
    ("iceoryx sleep", {"peer": "iceoryx", "mode": "sleep"}),
    ("unix", {"peer": "unix", "mode": "sleep"}),
    ("pipe", {"peer": "pipe", "mode": "sleep"}),
    ("mq", {"peer": "mq", "mode": "sleep"}),
    ("zeromq", {"peer": "zeromq", "mode": "sleep"}),
    ("boost-mq", {"peer": "boost-mq", "mode": "sleep"}),
]
SMALL, LARGE = 20_000, 120_000


def parse_summary(path):
    """{syscall: calls} from an `strace -c` summary."""
    calls = {}
    with open(path) as f:
        for line in f:
            fields = line.split()
            if len(fields) < 5 or not re.match(r"^[\d.]+$", fields[0]):
                continue
            name = fields[-1]
            if name == "total":
                continue
            calls[name] = calls.get(name, 0) + int(fields[3])
    return calls


def counted_run(harness, options, count):
    with tempfile.TemporaryDirectory() as scratch:
        summary = os.path.join(scratch, "summary")
        result = os.path.join(scratch, "result")
        command = ["strace", "-f", "-c", "-o", summary, harness, "--case", "stream",
                   "--size", "64", "--count", str(count), "--output", result]
        for key, value in options.items():
            command += [f"--{key}", str(value)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")
        return parse_summary(summary)


def per_record(harness, label, options):
    small = counted_run(harness, options, SMALL)
    large = counted_run(harness, options, LARGE)
    names = set(small) | set(large)
    delta = {n: (large.get(n, 0) - small.get(n, 0)) / (LARGE - SMALL) for n in names}
    delta = {n: v for n, v in delta.items() if abs(v) >= 0.0005}
    return {"label": label, "per_record": round(sum(delta.values()), 4),
            "futex_per_record": round(delta.get("futex", 0.0), 4),
            "by_syscall": {n: round(v, 4) for n, v in sorted(delta.items())}}


FUTEX_CALL = re.compile(r"^(\d+)\s+futex\(0x[0-9a-f]+, (FUTEX_\w+)")
RESUMED = re.compile(r"^(\d+)\s+<\.\.\. futex resumed>.*=\s*(-?\d+)")
RESULT = re.compile(r"\)\s*=\s*(-?\d+)")


def futex_per_wakeup(harness, count=2000):
    """Sleeping shmbus ping-pong under strace: futex waits and wakes per one-way record."""
    with tempfile.TemporaryDirectory() as scratch:
        trace = os.path.join(scratch, "trace")
        result = os.path.join(scratch, "result")
        command = ["strace", "-f", "-e", "trace=futex", "-o", trace, harness, "--peer", "shmbus",
                   "--case", "pingpong", "--mode", "sleep", "--size", "64", "--count",
                   str(count), "--warmup", "0", "--output", result]
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")
        waits = wakes = wakes_that_woke = 0
        pending = {}  # pid -> operation of an unfinished call
        with open(trace) as f:
            for line in f:
                call = FUTEX_CALL.match(line)
                if call:
                    pid, op = call.group(1), call.group(2)
                    if op.startswith("FUTEX_WAIT"):
                        waits += 1
                    elif op.startswith("FUTEX_WAKE"):
                        wakes += 1
                    finished = RESULT.search(line)
                    if finished is None:
                        pending[pid] = op
                    elif op.startswith("FUTEX_WAKE") and int(finished.group(1)) > 0:
                        wakes_that_woke += 1
                    continue
                resumed = RESUMED.match(line)
                if resumed and pending.get(resumed.group(1), "").startswith("FUTEX_WAKE"):
                    if int(resumed.group(2)) > 0:
                        wakes_that_woke += 1
                if resumed:
                    pending.pop(resumed.group(1), None)
    records = 2 * count  # one-way records: ping and pong
    return {"records": records, "futex_waits": waits, "futex_wakes": wakes,
            "futex_wakes_that_woke": wakes_that_woke,
            "wakes_per_sleep": round(wakes / waits, 3) if waits else None,
            "wakes_per_record": round(wakes / records, 3)}
