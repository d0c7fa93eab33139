"""Is the machine quiet enough to measure? Benchmarks on a shared machine are worthless while
somebody else compiles or runs tests, so the sweep waits for quiet before each run and checks
again before each case."""

import os
import sys
import time

# Programs whose presence means somebody is building or testing.
BUSY_PROGRAMS = {"cc1plus", "cc1", "c++", "g++", "gcc", "clang", "clang++", "ld", "ld.gold",
                 "ld.lld", "ctest", "make", "gmake", "ninja", "cmake", "rustc", "cargo",
                 "valgrind", "memcheck-amd64-", "callgrind-amd64"}


def load_average():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def _cpu_times():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]
    total = sum(fields[:8])
    return busy, total


def busy_share(seconds):
    """Share of all CPUs' time spent busy over the next `seconds` (while we sleep)."""
    busy0, total0 = _cpu_times()
    time.sleep(seconds)
    busy1, total1 = _cpu_times()
    return (busy1 - busy0) / max(1, total1 - total0)


def _ancestors_and_self():
    pids = set()
    pid = os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            break
    return pids


def busy_programs():
    """Names of compilers, build tools and test runners running now (not our own ancestors)."""
    mine = _ancestors_and_self()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in mine:
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        if name in BUSY_PROGRAMS:
            found.add(name)
    return sorted(found)


def quiet(strict):
    """(is quiet, why not). Strict: before a run, as the one-minute load must be below 0.3 too.
    Between cases our own runs keep the load average up, so only the CPU time others use
    counts."""
    programs = busy_programs()
    if programs:
        return False, "running: " + ", ".join(programs)
    if strict and load_average() >= 0.3:
        return False, f"load average {load_average():.2f}"
    share = busy_share(2.0 if strict else 1.0)
    if share > 0.03:
        return False, f"CPUs {share:.0%} busy"
    return True, ""


def wait_until_quiet(strict, poll_seconds=60, give_up_seconds=6 * 3600, log=sys.stdout):
    started = time.time()
    announced = False
    while True:
        ok, why = quiet(strict)
        if ok:
            if announced:
                print(f"  quiet again after {time.time() - started:.0f} s", file=log, flush=True)
            return
        if time.time() - started > give_up_seconds:
            raise SystemExit(f"sweep: the machine never became quiet ({why}); giving up")
        if not announced or int(time.time() - started) % 600 < poll_seconds:
            print(f"  waiting for a quiet machine ({why}) ...", file=log, flush=True)
            announced = True
        time.sleep(poll_seconds if strict or "running" in why else 5)
