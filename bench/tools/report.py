#!/usr/bin/env python3
"""Writes docs/BENCHMARKS.md and docs/benchmarks.png from a sweep's results.

Every figure is the median over the runs, with the spread (minimum-maximum over the runs) in
brackets; every ratio is taken within one run (the peer against the floor or the reference
measured minutes apart on the same machine), or within one round where the cases ran in
rounds, and then its median over the runs. The prose that explains missed
targets lives in bench/report/analysis.md and is copied in verbatim.
"""

import argparse
import json
import statistics
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stats import Results, load  # noqa: E402
from archive_bench import kept_blocks  # noqa: E402
from plan import (C_API_ROUND_COUNT, C_API_ROUNDS, DAEMON_PINGPONG_COUNT,  # noqa: E402
                  DAEMON_ROUNDS, DAEMON_STREAM_COUNT, LATENCY_ROUNDS, PUBLISHER_COST_CAPACITY,
                  PUBLISHER_COST_COUNT, PUBLISHER_COST_ROUNDS, PYTHON_PEERS,
                  PYTHON_PINGPONG_COUNTS, PYTHON_ROUNDS, PYTHON_STREAM_COUNTS, SPIN_ROUND_COUNT,
                  SPIN_ROUND_ROWS, THROUGHPUT_ROUND_COUNT, THROUGHPUT_ROUNDS, WAKE_ROUND_COUNT,
                  WAKE_ROUND_PEERS)


# ---------------------------------------------------------------- formatting

def ns(x):
    if x is None:
        return "–"
    if x < 1000:
        return f"{x:.0f} ns"
    if x < 1e6:
        return f"{x / 1e3:.3g} µs"
    return f"{x / 1e6:.3g} ms"


def rate(x):
    if x is None:
        return "–"
    if x >= 1e6:
        return f"{x / 1e6:.3g} M/s"
    if x >= 1e3:
        return f"{x / 1e3:.3g} k/s"
    return f"{x:.3g} /s"


def mbps(x):
    return "–" if x is None else (f"{x / 1e3:.3g} GB/s" if x >= 1e3 else f"{x:.3g} MB/s")


def times(x):
    return "–" if x is None else f"{x:.2f}×"


def ns_delta(x):
    return "–" if x is None else f"{x:+.0f} ns"


def precise_times(x):
    """For a median that two decimals would round onto its target's bound."""
    return "–" if x is None else f"{x:.3f}×"


def plain(x, digits=3):
    return "–" if x is None else f"{x:.{digits}g}"


def cell(summary, fmt):
    """'median [min–max]' from Results.summary or Results.ratio."""
    if summary is None:
        return "–"
    median, low, high, _ = summary
    if fmt(low) == fmt(high):
        return fmt(median)
    return f"{fmt(median)} [{fmt(low)}–{fmt(high)}]"


def median(summary):
    return None if summary is None else summary[0]


def table(header, rows):
    if not rows:
        return "Not measured in this sweep (`bench/run.sh --only` runs a subset).\n"
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


SIZE_NAMES = {64: "64 B", 4096: "4 KiB", 65536: "64 KiB"}
# What the spinning latency rows are compared with: the floor (one cache line, 64 B at most)
# and the SPSC reference.
LATENCY_BASES = (("cache-line", "floor"), ("reference", "reference"))
# The spinning latency targets: size, metric, the base shmbus is compared with, the bound.
SPIN_LATENCY_TARGETS = ((64, "p50_ns", "cache-line", 1.15), (64, "p99_ns", "cache-line", 1.5),
                        (4096, "p50_ns", "reference", 1.2))
# The transports a sleeping shmbus subscriber's wake-up is judged against, the one with the
# lowest p50 (the eventfd ring of the same rounds is a doorbell beside shared memory, shmbus's
# own shape, and is shown, not judged against).
WAKE_TRANSPORTS = ("pipe", "mq", "unix")
# The 64 B stream targets: the row, what it is compared with, the bound, the target's name.
STREAM_TARGETS = (
    ("shmbus batch", "reference", 2.5, "Throughput 64 B, batch path / reference"),
    ("shmbus single", "reference", 1.6,
     "Throughput 64 B, single-record path (try_offer) / reference"),
    ("shmbus single", "shmbus single ts-off", 0.9,
     "Timestamps on / off: throughput 64 B, single-record path"))


# The Python targets: the peer shmbus's package is compared with, the case, the metric, the
# bound, lower or higher, the target's name.
PYTHON_TARGETS = (
    ("zmq", "stream", "msgs_per_s", 5, "higher",
     "Python 64 B stream, 1 → 1: shmbus / pyzmq (ipc:// PUSH → PULL), records/s"),
    ("mpqueue", "stream", "msgs_per_s", 20, "higher",
     "Python 64 B stream, 1 → 1: shmbus / multiprocessing.Queue, records/s"),
    ("zmq", "pingpong", "p50_ns", 0.2, "lower",
     "Python ping-pong 64 B: shmbus p50 / pyzmq (ipc:// PAIR) p50"))
PYTHON_PEER_NAMES = {"shmbus": "shmbus (its Python package)", "zmq": "pyzmq, ipc://",
                     "mpqueue": "multiprocessing.Queue"}


def size_name(size):
    return SIZE_NAMES.get(size, f"{size} B")


def capacity_name(capacity):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if capacity >= 1 << shift:
            return f"{capacity >> shift} {unit}"
    return f"{capacity} B"


# ---------------------------------------------------------------- sections

class Report:
    def __init__(self, results, machine, runs, syscalls, analysis, command, instructions=None):
        self.instructions = instructions or []
        self.r = results
        self.machine = machine
        self.runs = runs
        self.syscalls = syscalls
        self.analysis = analysis
        self.command = command
        self.targets = []
        self.chart_rows = {"latency": [], "throughput": []}
        self.spinning_fans = False

    # -- lookups
    def latency(self, group, label, size, cpus=("0", "1")):
        return self.r.one(group=group, label=label, size=size, writer_cpus=cpus[0],
                          reader_cpus=cpus[1])

    def stream(self, label, size, group="throughput", **fields):
        return self.r.one(group=group, label=label, size=size, **fields)

    def target(self, name, summary, threshold, better, note="", fmt=times):
        value = median(summary)
        met = None if value is None else (value <= threshold if better == "lower"
                                          else value >= threshold)
        bound = ("≤ " if better == "lower" else "≥ ") + fmt(threshold)
        if value is not None and fmt is times and fmt(value) == fmt(threshold) \
                and value != threshold:
            fmt = precise_times  # "1.00×, missed" would read as a contradiction
        self.targets.append((name, summary, bound, met, note, fmt))

    def target_within_rounds(self, name, paired, per_run, threshold, better, cases, fmt=times):
        """A target judged within a round on its `cases` run in rounds where the sweep ran
        them, else within a run on its cases of one run each, which are quoted beside."""
        if paired is None:
            self.target(name, per_run, threshold, better, "one case per run", fmt)
        else:
            self.target(name, paired, threshold, better,
                        f"{cases} in rounds, within a round; within a run, "
                        f"{cell(per_run, fmt)}", fmt)

    # -- the document
    def write(self):
        parts = [self.head(), self.latency_section(), self.throughput_section(),
                 self.c_api_section(), self.python_section(), self.fan_section(),
                 self.syscall_section(), self.scaling_section(), self.daemon_section(),
                 self.cli_section(), self.instruction_section()]
        targets = self.target_section()
        return "\n".join([parts[0], targets] + parts[1:] + [self.analysis_section(),
                                                            self.not_measured()])

    def head(self):
        m = self.machine
        run_lines = []
        for run in sorted({e["run"] for e in self.runs}):
            start = next((e for e in self.runs if e["run"] == run and e["event"] == "start"), None)
            end = next((e for e in self.runs if e["run"] == run and e["event"] == "end"), None)
            if start and end:
                run_lines.append(f"run {run}: load {start['load1']:.2f} → {end['load1']:.2f}, "
                                 f"{(end['time'] - start['time']) / 60:.0f} min")
        runs = len({e["run"] for e in self.runs})
        return f"""# shmbus benchmarks

<!-- Generated by bench/run.sh (bench/tools/report.py). Do not edit: edit the tools, or the
     analysis in bench/report/analysis.md, and regenerate. -->

What a record costs through shmbus, next to what it costs through the transports an
application would otherwise use, measured with the same method in the same sweep. Each figure
is the **median of {runs} runs**, with the spread over the runs (minimum–maximum) in brackets.
Each ratio is taken between two figures of the same run, then its median is shown.

![latency and throughput per peer](benchmarks.png)

## Regenerate

```
{self.command}
```

`bench/run.sh` installs the peers it lacks (`scripts/install-deps.sh --bench`), builds
`shmbus-harness`, `shmbus` and the Python package in `build-bench/` (Release, `-O2`), waits
until the machine is quiet (1-minute load below 0.3, no compiler or test runner), runs every
case `--runs` times (default 3), starts and stops `iox-roudi` around the iceoryx cases, counts
system calls with strace, and writes this file and its chart. Raw results: `bench/results/<date>/` (JSON lines).
A single case by hand: `build-bench/bench/shmbus-harness --help`.

## The machine

| | |
|---|---|
| CPU | {m.get('cpu')} ({m.get('cpus')} CPUs{', ' + m['hypervisor'] + ' guest' if m.get('hypervisor') else ''}) |
| Caches | L1d {m.get('l1d')}, L2 {m.get('l2')}, L3 {m.get('l3')} |
| Memory | {m.get('memory_gib')} GiB |
| System | Debian {m.get('debian')}, Linux {m.get('kernel')}, clock source {m.get('clocksource')} |
| Compiler | {m.get('compiler')} |
| shmbus | commit {m.get('commit')}{' (with local changes)' if m.get('dirty') else ''} |
| Measured | {m.get('date')}; {'; '.join(run_lines)} |

## Method

* **Placement.** Every measured process is pinned to one CPU (`sched_setaffinity`). Unless a
  table says otherwise the writer (or ping side) runs on CPU 0 and the reader (or pong side) on
  CPU 1. The driver itself sleeps while a case runs.
* **Quiet machine.** A case's result records how much CPU time anything other than its own
  measured processes used while it ran (from `/proc/stat`); a result where that exceeds 2 % of
  the machine (plus 20 ms: `/proc/stat` counts in 10 ms ticks) is discarded and the case is run
  again, up to three times. Load averages at the start and end of
  each run are in the table above.
* **Latency** is ping-pong: one side stamps a sequence number into a record, reads the cycle
  counter (`rdtscp`), sends, waits for the echo, reads the counter again; half the round trip
  is one sample. 20,000 round trips warm up, 200,000 are measured; percentiles are exact (every
  sample is kept). Both sides copy each payload out of the transport. On this machine the time
  stamp counter advances in steps of about 10 ns, so one-way figures move in steps of 5 ns, and
  the two `rdtscp` reads add about 9 ns to every one-way figure (the same for every peer).
* **Throughput** is lossless: the writer sends `count` records of the given size, handed to
  the transport 32 at a time (shmbus's batch path claims them with one CAS; every other peer
  and shmbus's single-record path send them one by one); the reader copies every payload out
  and checks every sequence number. The rate is the records one reader received divided by
  the time from the writer's start to the reader's last record. Every link buffers about
  1 MiB (ring capacity, pipe size, socket buffer, queue depth), except iceoryx (its subscriber
  queue holds 256 chunks, its maximum).
* **Wait modes.** *Spin*: the reader polls in a loop (shmbus `poll()`, the reference's head,
  iceoryx `take()`). *Sleep*: the reader blocks — in shmbus `poll()` then `wait()` with
  `SubscriberOptions::spin = 0`, so it goes straight to sleep on its semaphore; a blocking
  `read`/`recv`/`mq_receive`/`zmq_recv` or a WaitSet for the others. *Fd* (rows `shmbus fd`):
  shmbus's reader waits as an event loop does, `poll()`, then `arm()`, then `epoll_wait` on
  its wake descriptor (`Subscriber::wake_fd`); its publisher writes a byte into the descriptor's
  FIFO when it finds the reader armed.
* **shmbus topics** are the topics `shmbus create` makes by default: block topics (lossless)
  with timestamps on (a vDSO clock read per claim, and 8 bytes more per frame). Rows marked
  `ts-off` are the same topics with timestamps off; the floor and the reference carry no
  timestamp.
* **The floor** (`cache-line`) is one 64-byte line in a `MAP_SHARED` file that both processes
  map: the writer copies a record into it and stores its first word last (release), the reader
  spins on that word (acquire) and copies the line out (`bench/peers/cache_line.hpp`). Data
  and signal share the line, so a record costs one line transfer between the two CPUs: nothing
  that moves a record between two processes costs less. It buffers nothing and carries at most
  64 bytes, so it has a ping-pong at 64 B and no stream; the 64 B latency targets take their
  ratio against it.
* **The reference** is a minimal single-producer, single-consumer ring of fixed 64-byte-aligned
  slots in a `MAP_SHARED` file that both processes map, with head and tail on separate cache
  lines, acquire/release atomics, cached counters and a busy spin without `pause`
  (`bench/peers/reference_ring.hpp`): a lossless stream between two processes without
  shmbus's framing, the reference for throughput and for latency at 4 KiB.
"""

    def target_section(self):
        rows = []
        for name, summary, bound, met, note, fmt in self.targets:
            verdict = "–" if met is None else ("**met**" if met else "**missed**")
            rows.append((name, cell(summary, fmt), bound, verdict, note))
        missed = [t for t in self.targets if t[3] is False]
        text = "## Targets\n\nEach target is a ratio between figures of the same run, or of " \
               "the same round where the notes say so (what timestamps add to latency is a " \
               "difference): the median over the runs (or rounds), with the spread in " \
               "brackets. The verdict is the median's.\n\n"
        text += table(["Target", "Measured", "Target", "Verdict", "Notes"], rows)
        if missed:
            text += f"\n{len(missed)} target(s) missed: see [Where the time goes]" \
                    "(#where-the-time-goes) for the profiles and what would close each gap.\n"
        return text

    def latency_section(self):
        text = "## Latency\n\nOne-way latency (half the round trip) of a record.\n\n"
        text += "### Busy-spinning readers (CPU 0 ↔ CPU 1)\n\n"
        rows = []
        for size in (64, 4096):
            bases = [self.latency("latency-spin", base, size) for base, _ in LATENCY_BASES]
            for label in ("cache-line", "reference", "shmbus", "shmbus ts-off", "iceoryx"):
                runs = self.latency("latency-spin", label, size)
                if not runs:
                    continue
                rows.append([label, size_name(size),
                             cell(Results.summary(runs, "p50_ns"), ns),
                             cell(Results.summary(runs, "p99_ns"), ns),
                             cell(Results.summary(runs, "p999_ns"), ns)] +
                            [cell(Results.ratio(runs, base, metric), times)
                             for base in bases for metric in ("p50_ns", "p99_ns")])
                if size == 64:
                    self.chart_rows["latency"].append(
                        (f"{label} spin", Results.summary(runs, "p50_ns"),
                         Results.summary(runs, "p99_ns"), Results.summary(runs, "p999_ns")))
        text += table(["Peer", "Size", "p50", "p99", "p99.9"] +
                      [f"{metric} / {name}" for _, name in LATENCY_BASES
                       for metric in ("p50", "p99")], rows)
        text += "\nThe floor carries records of at most 64 bytes: 4 KiB rows have no ratio to " \
                "it.\n"
        shmbus64 = self.latency("latency-spin", "shmbus", 64)
        text += self.paired_spin_latency_text()
        ice = self.latency("latency-spin", "iceoryx", 64)
        self.target("Latency 64 B: iceoryx busy-poll p50 / shmbus p50",
                    Results.ratio(ice, shmbus64, "p50_ns"), 5, "higher")
        unix = self.latency("latency-sleep", "unix", 64)
        self.target("Latency 64 B: AF_UNIX p50 / shmbus (spin) p50",
                    Results.ratio(unix, shmbus64, "p50_ns"), 10, "higher",
                    "AF_UNIX blocks; shmbus sleeping vs AF_UNIX is the blocking-mode target")

        for group, cpus, title in (("latency-sleep", ("0", "1"),
                                    "Sleeping readers, CPU 0 ↔ CPU 1"),
                                   ("latency-sleep-one-cpu", ("0", "0"),
                                    "Sleeping readers, both sides on CPU 0")):
            text += f"\n### {title}\n\n"
            sizes = (64, 4096) if group == "latency-sleep" else (64,)
            rows = []
            best = {}
            for size in sizes:
                for label in ("shmbus", "pipe", "mq", "unix", "zeromq", "boost-mq", "iceoryx"):
                    runs = self.latency(group, label, size, cpus)
                    if not runs:
                        continue
                    rows.append((label, size_name(size), cell(Results.summary(runs, "p50_ns"), ns),
                                 cell(Results.summary(runs, "p99_ns"), ns),
                                 cell(Results.summary(runs, "p999_ns"), ns),
                                 plain(median(Results.summary(runs, "switches_per_record")), 2)))
                    if size == 64 and group == "latency-sleep":
                        self.chart_rows["latency"].append(
                            (f"{label} sleep", Results.summary(runs, "p50_ns"),
                             Results.summary(runs, "p99_ns"), Results.summary(runs, "p999_ns")))
                    if size == 64 and label in ("pipe", "mq", "unix"):
                        best[label] = runs
            text += table(["Peer", "Size", "p50", "p99", "p99.9", "context switches / record"],
                          rows)
            shmbus = self.latency(group, "shmbus", 64, cpus)
            ratios = {label: Results.ratio(shmbus, runs, "p50_ns") for label, runs in best.items()}
            ratios = {k: v for k, v in ratios.items() if v}
            where = "CPU 0 ↔ 1" if cpus[1] == "1" else "one CPU"
            if ratios and not self.r.one(group="latency-sleep-rounds", reader_cpus=cpus[1]):
                # The best syscall peer: the lowest median p50.
                label = min(ratios, key=lambda k: median(Results.summary(best[k], "p50_ns")))
                self.target(f"Wake-up latency 64 B ({where}): shmbus sleeping p50 / best "
                            f"syscall peer ({label})", ratios[label], 1.0, "lower",
                            "one case per run")
        text += self.paired_wake_latency_text()
        return text

    def paired_spin_latency_text(self):
        """The spinning ping-pongs in rounds, and the spin latency targets judged on them (on
        the table above's cases, within a run, where the sweep ran no rounds)."""
        def shmbus_against(base, size, metric, paired, per_run):
            """(within a round, within a run) of shmbus against `base`."""
            rounds = {"group": "latency-spin-rounds", "size": size}
            return (paired(metric, {**rounds, "label": "shmbus"}, {**rounds, "label": base}),
                    per_run(self.latency("latency-spin", "shmbus", size),
                            self.latency("latency-spin", base, size), metric))

        for size, metric, base, threshold in SPIN_LATENCY_TARGETS:
            paired, per_run = shmbus_against(base, size, metric, self.r.paired_ratio,
                                             Results.ratio)
            self.target_within_rounds(f"Latency {size_name(size)}, spin, {metric[:3]} / "
                                      f"{dict(LATENCY_BASES)[base]}", paired, per_run, threshold,
                                      "lower", "ping-pongs")
        timestamps, per_run = shmbus_against("shmbus ts-off", 64, "p50_ns",
                                             self.r.paired_difference, Results.difference)
        self.target_within_rounds("Timestamps on − off: latency 64 B, spin, p50", timestamps,
                                  per_run, 10, "lower", "ping-pongs", fmt=ns_delta)
        if not self.r.one(group="latency-spin-rounds"):
            return ""
        text = "\n### Busy-spinning readers in rounds\n\n" \
               "The floor, the reference and shmbus (the default topic, and with timestamps " \
               f"off) at 64 B, the reference and shmbus at 4 KiB, {SPIN_ROUND_COUNT:,} round " \
               f"trips each, back to back in each of {LATENCY_ROUNDS} rounds per run (in " \
               "reverse order every other round). As with the 64 B streams, neighbours " \
               "seconds apart share this host's speed regime, so the latency targets take " \
               "their ratio within a round. Figures pool every round of every run; ratios are " \
               "taken within a round.\n\n"
        rows = []
        for size, labels in SPIN_ROUND_ROWS.items():
            fields = {"group": "latency-spin-rounds", "size": size}
            for label in labels:
                rows.append([label, size_name(size)] +
                            [cell(self.r.pooled(metric, **fields, label=label), ns)
                             for metric in ("p50_ns", "p99_ns", "p999_ns")] +
                            [cell(self.r.paired_ratio(metric, {**fields, "label": label},
                                                      {**fields, "label": base}), times)
                             for base, _ in LATENCY_BASES for metric in ("p50_ns", "p99_ns")])
        text += table(["Peer", "Size", "p50", "p99", "p99.9"] +
                      [f"{metric} / {name}" for _, name in LATENCY_BASES
                       for metric in ("p50", "p99")], rows)
        return text + "\nshmbus with timestamps on against off, within a round: p50 " \
            f"{cell(timestamps, ns_delta)}.\n"

    def paired_wake_latency_text(self):
        """Sleeping ping-pongs in rounds, and the wake-up targets judged on them, per placement:
        shmbus asleep on its semaphore against the system-call transport with the lowest p50
        over the rounds, and shmbus asleep in epoll on its wake descriptor against the pipe."""
        if not self.r.one(group="latency-sleep-rounds"):
            return ""
        text = "\n### Sleeping readers in rounds\n\n" \
               "shmbus with the reader asleep on its semaphore (`shmbus`) and in " \
               "`epoll_wait` on its wake descriptor after `arm()`, as an event loop waits " \
               "(`shmbus fd`), each on the default topic and on one with fenced commits " \
               "(`fenced`: publishers commit with a full barrier, sleepers make no " \
               "`membarrier`), beside the system-call transports and an eventfd ring (records " \
               "in shared memory, an eventfd for a doorbell: one `write` per record, one " \
               f"`read` per wake-up), 64 B, {WAKE_ROUND_COUNT:,} round trips each, back to " \
               f"back in each of {LATENCY_ROUNDS} rounds per run (in reverse order every " \
               "other round). The semaphore's target compares it with the transport (pipe, " \
               "mq, `AF_UNIX`) whose p50 is lowest over the rounds, the wake descriptor's " \
               "with the pipe; each ratio is taken within a round. The targets are judged on " \
               "both topics: fenced commits are the configuration for readers that sleep, " \
               "and the default topic keeps its publishers free of the barrier, which a " \
               "sleeping reader pays for with a `membarrier` per sleep.\n\n"
        rows = []
        for cpu, where in (("1", "CPU 0 ↔ 1"), ("0", "one CPU")):
            fields = {"group": "latency-sleep-rounds", "size": 64, "reader_cpus": cpu}
            p50 = {}
            for label in WAKE_ROUND_PEERS:
                pooled = self.r.pooled("p50_ns", **fields, label=label)
                if pooled is None:
                    continue
                p50[label] = pooled
                rows.append((label, where, cell(pooled, ns),
                             cell(self.r.pooled("p99_ns", **fields, label=label), ns),
                             cell(self.r.pooled("p999_ns", **fields, label=label), ns),
                             cell(self.r.paired_ratio("p50_ns", {**fields, "label": label},
                                                      {**fields, "label": "pipe"}), times)))
            for label, topic in (("shmbus fd", "default topic"),
                                 ("shmbus fd fenced", "fenced commits")):
                if label in p50 and "pipe" in p50:
                    self.target(f"Wake-up through the fd 64 B ({where}): shmbus in epoll on its "
                                f"wake descriptor, {topic}, p50 / pipe",
                                self.r.paired_ratio("p50_ns", {**fields, "label": label},
                                                    {**fields, "label": "pipe"}), 1.1, "lower",
                                "ping-pongs in rounds, ratio within a round")
            transports = [label for label in WAKE_TRANSPORTS if label in p50]
            if not transports:
                continue
            best = min(transports, key=lambda label: p50[label][0])
            for label, topic in (("shmbus", "default topic"), ("shmbus fenced", "fenced commits")):
                if label in p50:
                    self.target(f"Wake-up latency 64 B ({where}): shmbus sleeping, {topic}, p50 "
                                f"/ best syscall peer ({best})",
                                self.r.paired_ratio("p50_ns", {**fields, "label": label},
                                                    {**fields, "label": best}), 1.0, "lower",
                                "ping-pongs in rounds, ratio within a round")
        text += table(["Peer", "Placement", "p50", "p99", "p99.9", "p50 / pipe"], rows)
        return text

    def throughput_section(self):
        text = "\n## Throughput, one writer to one reader\n\nLossless; every record checked. " \
               "CPU time is per record, user plus system, of each side.\n\n"
        labels = ("reference", "shmbus batch", "shmbus single", "shmbus batch ts-off",
                  "shmbus single ts-off", "shmbus sleep batch", "iceoryx", "iceoryx sleep",
                  "unix", "pipe", "mq", "zeromq", "boost-mq")
        for size in (64, 4096, 65536):
            reference = self.stream("reference", size)
            rows = []
            for label in labels:
                runs = self.stream(label, size)
                if not runs:
                    continue
                rows.append((label, cell(Results.summary(runs, "msgs_per_s"), rate),
                             mbps(median(Results.summary(runs, "mb_per_s"))),
                             cell(Results.ratio(runs, reference, "msgs_per_s"), times),
                             ns(median(Results.summary(runs, "writer_cpu_ns_per_record"))),
                             ns(median(Results.summary(runs, "reader_cpu_ns_per_record")))))
                if size == 64:
                    self.chart_rows["throughput"].append(
                        (label, Results.summary(runs, "msgs_per_s")))
            text += f"### {size_name(size)} records\n\n"
            text += table(["Peer", "Records/s", "Payload", "/ reference", "Writer CPU",
                           "Reader CPU"], rows) + "\n"
            if size == 65536:
                text += "POSIX mq is left out at 64 KiB: Linux's default `msgsize_max` is " \
                        "8 KiB.\n\n"
        batch64 = self.stream("shmbus batch", 64)
        text += self.paired_throughput_text()
        self.target("Throughput 4 KiB, batch path / reference",
                    Results.ratio(self.stream("shmbus batch", 4096),
                                  self.stream("reference", 4096), "msgs_per_s"), 0.7, "higher")
        self.target("Throughput 64 B: shmbus / iceoryx",
                    Results.ratio(batch64, self.stream("iceoryx", 64), "msgs_per_s"), 5, "higher")
        self.target("Throughput 64 B: shmbus / AF_UNIX",
                    Results.ratio(batch64, self.stream("unix", 64), "msgs_per_s"), 10, "higher")
        return text

    def paired_throughput_text(self):
        """The 64 B streams in rounds, and the 64 B targets judged on them (on the long streams
        of the table above, within a run, where the sweep ran no rounds)."""
        fields = {"group": "throughput-rounds", "size": 64}
        for label, base, threshold, name in STREAM_TARGETS:
            self.target_within_rounds(
                name, self.r.paired_ratio("msgs_per_s", {**fields, "label": label},
                                          {**fields, "label": base}),
                Results.ratio(self.stream(label, 64), self.stream(base, 64), "msgs_per_s"),
                threshold, "higher", "streams")
        if not self.r.one(group="throughput-rounds"):
            return ""
        rows = []
        for label in ("reference", "shmbus batch", "shmbus single", "shmbus single ts-off",
                      "shmbus single fenced"):
            if self.r.pooled("msgs_per_s", **fields, label=label) is None:
                continue
            rows.append((label, cell(self.r.pooled("msgs_per_s", **fields, label=label), rate),
                         cell(self.r.paired_ratio("msgs_per_s", {**fields, "label": label},
                                                  {**fields, "label": "reference"}), times),
                         ns(median(self.r.pooled("writer_cpu_ns_per_record", **fields,
                                                 label=label))),
                         ns(median(self.r.pooled("reader_cpu_ns_per_record", **fields,
                                                 label=label)))))
        text = "### 64 B records in rounds\n\n" \
               "The reference, shmbus's batch and single-record paths, and the single-record " \
               "path with timestamps off and on a topic with fenced commits, " \
               f"{THROUGHPUT_ROUND_COUNT:,} records each, back to " \
               f"back in each of {THROUGHPUT_ROUNDS} rounds per run (in reverse order every " \
               "other round). Each stream of the table above runs minutes after its " \
               "reference, and this host's speed drifts between regimes over minutes; " \
               "neighbours seconds apart share one, so the 64 B targets take their ratio " \
               "within a round. Figures pool every round of every run; ratios are taken " \
               "within a round.\n\n"
        text += table(["Peer", "Records/s", "/ reference", "Writer CPU", "Reader CPU"], rows)
        fenced = self.r.paired_ratio("msgs_per_s", {**fields, "label": "shmbus single fenced"},
                                     {**fields, "label": "shmbus single"})
        if fenced:
            text += "\nWhat fenced commits cost a publisher: single-record throughput on a " \
                    f"topic with them / the default topic, within a round, {cell(fenced, times)}" \
                    " (a seq_cst store per commit, which waits for the commit word's cache " \
                    "line while the reader pulls it).\n"
        return text + "\n"

    def c_api_section(self):
        """shmbus's 64 B streams through the C++ API and through the C API (shmbus.h), in
        rounds, and the C API's targets: its time per record over the C++ API's, within a
        round."""
        text = "\n## The C API against the C++ API\n\nshmbus's 64 B stream, spinning, " \
               "through the C++ API (`shmbus`: `Publisher::try_offer`, `try_offer_batch`, " \
               "`Subscriber::poll` with a lambda) and through the C API (`shmbus-c`: " \
               "`shmbus_publisher_try_offer`, `shmbus_publisher_try_offer_batch` with an " \
               "array of `shmbus_buffer`, `shmbus_subscriber_poll` with a C handler), both " \
               "linked from the same static library (`bench/peers/shmbus_c_peer.hpp`), " \
               f"{C_API_ROUND_COUNT:,} records each, the single-record and batch paths of " \
               f"both back to back in each of {C_API_ROUNDS} rounds per run (in reverse order " \
               "every other round). *C / C++* is the C++ API's rate over the C API's in the " \
               "same round, that is the C API's time per record over the C++ API's: 1.00× " \
               "costs nothing, lower is better. Figures pool every round of every run.\n\n"
        fields = {"group": "c-api-rounds", "size": 64}
        if not self.r.one(**fields):
            return text + "Not measured in this sweep.\n"
        rows = []
        for path in ("single", "batch"):
            cpp = self.r.pooled("msgs_per_s", **fields, label=f"shmbus {path}")
            c = self.r.pooled("msgs_per_s", **fields, label=f"shmbus-c {path}")
            ratio = self.r.paired_ratio("msgs_per_s", {**fields, "label": f"shmbus {path}"},
                                        {**fields, "label": f"shmbus-c {path}"})
            rows.append((path, cell(cpp, rate), cell(c, rate),
                         ns(1e9 / median(cpp) if median(cpp) else None),
                         ns(1e9 / median(c) if median(c) else None), cell(ratio, times)))
            self.target(f"C API / C++ API, 64 B, {path}: time per record (C++ rate / C rate)",
                        ratio, 1.05, "lower", "streams in rounds, within a round")
        return text + table(["Path", "C++ API records/s", "C API records/s",
                             "C++ time / record", "C time / record", "C / C++"], rows)

    def python_section(self):
        """shmbus's Python package against pyzmq and multiprocessing.Queue, two processes, in
        rounds (bench/python/python_peers.py), its targets, and what Python adds per record
        over the C++ API's single-record path."""
        counts = ", ".join(f"{PYTHON_PEER_NAMES[p].split(' (')[0]} {PYTHON_STREAM_COUNTS[p]:,}"
                           f" / {PYTHON_PINGPONG_COUNTS[p]:,}" for p in PYTHON_PEERS)
        text = "\n## Python\n\nshmbus from Python (`python/`, the package over `shmbus.h`) " \
               "against what a Python program would otherwise use between two processes, " \
               "measured by `bench/python/python_peers.py` with Debian's `python3`: two " \
               "forked processes pinned to CPU 0 and CPU 1, 64-byte records sent one by one, " \
               "each stamped with its sequence number, which the other side checks. Each " \
               "peer is used as its users use it by default: shmbus `Publisher.publish` and " \
               "iteration over a `Subscriber` (records in place; it spins 20 µs, then " \
               "sleeps with the GIL released) on a block topic with timestamps; pyzmq " \
               "`PUSH` → `PULL` (stream) and `PAIR` (ping-pong) over `ipc://`; " \
               "`multiprocessing.Queue` (two for a ping-pong). A stream is timed on the " \
               "reader, from its first record to its last; a ping-pong sample is half a round " \
               "trip. Every peer's stream and ping-pong run back to back in each of " \
               f"{PYTHON_ROUNDS} rounds per run (in reverse order every other round), and " \
               "each ratio is taken within a round; figures pool every round of every run " \
               f"(records per stream / round trips: {counts}).\n\n"
        base = {"group": "python", "size": 64}
        if not self.r.one(**base):
            return text + "Not measured in this sweep.\n"

        def shmbus_against(peer, case, metric):
            return self.r.paired_ratio(metric, {**base, "case": case, "label": "python shmbus"},
                                       {**base, "case": case, "label": f"python {peer}"})
        rows = []
        for peer in PYTHON_PEERS:
            fields = {**base, "label": f"python {peer}"}
            stream = self.r.pooled("msgs_per_s", **fields, case="stream")
            p50 = self.r.pooled("p50_ns", **fields, case="pingpong")
            if stream is None and p50 is None:
                continue
            other = peer != "shmbus"
            rows.append((PYTHON_PEER_NAMES[peer], cell(stream, rate),
                         cell(shmbus_against(peer, "stream", "msgs_per_s"), times)
                         if other else "",
                         cell(self.r.pooled("writer_ns_per_record", **fields, case="stream"), ns),
                         cell(p50, ns),
                         cell(self.r.pooled("p99_ns", **fields, case="pingpong"), ns),
                         cell(shmbus_against(peer, "pingpong", "p50_ns"), times)
                         if other else ""))
        text += table(["Peer", "Stream records/s", "shmbus / this", "Writer time / record",
                       "Ping-pong p50", "p99", "shmbus p50 / this"], rows)
        if not self.r.one(**base, label="python zmq"):
            text += "\npyzmq was not importable by the interpreter the sweep ran (Debian: " \
                    "`python3-zmq`, which `scripts/install-deps.sh --bench` installs): no " \
                    "pyzmq rows, and its targets are not measured.\n"
        for peer, case, metric, threshold, better, name in PYTHON_TARGETS:
            self.target(name, shmbus_against(peer, case, metric), threshold, better,
                        "in rounds, within a round" if self.r.one(**base, label=f"python {peer}")
                        else f"{PYTHON_PEER_NAMES[peer]}: not measured")

        # What Python adds: the same sweep's C++ single-record path, in rounds with the C API
        # (else with the reference), against the package's publish, and the stream's time per
        # record against the C++ stream's.
        cpp = {"group": "c-api-rounds", "size": 64, "label": "shmbus single"}
        if not self.r.one(**cpp):
            cpp = {"group": "throughput-rounds", "size": 64, "label": "shmbus single"}
        py = {**base, "label": "python shmbus", "case": "stream"}
        rows = []
        for what, python_value, cpp_value in (
                ("Publisher's time per record",
                 median(self.r.pooled("writer_ns_per_record", **py)),
                 median(self.r.pooled("writer_ns_per_record", **cpp))),
                ("Stream: time per record (1 / rate)",
                 self.per_record(self.r.pooled("msgs_per_s", **py)),
                 self.per_record(self.r.pooled("msgs_per_s", **cpp)))):
            added = python_value - cpp_value if python_value and cpp_value else None
            rows.append((what, ns(python_value), ns(cpp_value), ns_delta(added)))
        text += "\nWhat Python adds per record: the package's `publish` against the C++ " \
                "API's single-record path (`Publisher::try_offer`, the same 64 B default " \
                f"topic, spinning; rows `{cpp['label']}` of group `{cpp['group']}`), medians " \
                "of the same sweep (different rounds: not a ratio within a round). The C++ " \
                "writer stamps each record the way the harness does; the Python writer packs " \
                "its sequence number into a new `bytes` per record.\n\n"
        text += table(["", "Python", "C++", "Python adds"], rows)
        return text

    @staticmethod
    def per_record(summary):
        """Nanoseconds per record from a pooled rate, or None."""
        value = median(summary)
        return 1e9 / value if value else None

    def fan_section(self):
        text = "\n## Fan-out and fan-in (64 B, sleeping readers)\n\n" \
               "Fan-out: one writer on CPU 0, N readers on CPU 1, each reader gets every " \
               "record; shmbus and iceoryx broadcast through one topic, the others get one " \
               "link per reader and the writer sends each record down every link. Fan-in: N " \
               "writers on CPU 0, one reader on CPU 1 sharing one link (ZeroMQ's PAIR socket " \
               "takes one peer: left out). Figures: records per second through one reader.\n\n"
        for group, field in (("fan-out", "readers"), ("fan-in", "writers")):
            rows = []
            for label in ("shmbus", "pipe", "mq", "unix", "zeromq", "boost-mq", "iceoryx"):
                cells = []
                for n in (2, 4, 8):
                    runs = self.r.one(group=group, label=label, **{field: n})
                    cells.append(cell(Results.summary(runs, "msgs_per_s"), rate) if runs else "–")
                if any(c != "–" for c in cells):
                    rows.append([label] + cells)
            text += f"### {group.capitalize()}\n\n"
            text += table(["Peer", "N = 2", "N = 4", "N = 8"], rows) + "\n"
        for group, field, title in (("fan-out-spin", "readers", "Fan-out, spinning readers"),
                                    ("fan-in-spin", "writers", "Fan-in, spinning reader")):
            rows = []
            for label in ("reference", "shmbus", "iceoryx"):
                cells = [cell(Results.summary(self.r.one(group=group, label=label,
                                                         **{field: n}), "msgs_per_s"), rate)
                         for n in (2, 4, 8)]
                if any(c != "–" for c in cells):
                    rows.append([label] + cells)
            if rows:
                self.spinning_fans = True
                text += f"### {title} (one CPU per process)\n\n"
                text += table(["Peer", "N = 2", "N = 4", "N = 8"], rows) + "\n"
        text += "### The publisher's cost with N subscribers attached, none asleep\n\n" \
                "The readers attach before the writer starts and read only after it has " \
                f"finished (a {PUBLISHER_COST_CAPACITY >> 20} MiB ring holds all " \
                f"{PUBLISHER_COST_COUNT:,} records), so the writer's time per record is its own " \
                "work with N subscribers attached. The four values of N run back to back in " \
                f"each of {PUBLISHER_COST_ROUNDS} rounds per run; the table pools every round " \
                "of every run, and the 8 / 1 ratio is taken within a round.\n\n"
        rows = []
        for api in ("batch", "single"):
            fields = {"group": "publisher-cost", "label": f"shmbus {api}"}
            cells = [cell(self.r.pooled("writer_ns_per_record", **fields, readers=n), ns)
                     for n in (1, 2, 4, 8)]
            rows.append([f"shmbus {api}"] + cells)
            self.target(f"Fan-out: publisher time per record, 8 / 1 subscribers ({api})",
                        self.r.paired_ratio("writer_ns_per_record", {**fields, "readers": 8},
                                            {**fields, "readers": 1}),
                        1.1, "lower", "does not grow: within 10 %, ratio within a round")
        fields = {"group": "publisher-cost", "label": "shmbus single fd"}
        if self.r.one(**fields):
            rows.append(["shmbus single, readers with a wake descriptor"] +
                        [cell(self.r.pooled("writer_ns_per_record", **fields, readers=n), ns)
                         if n in (1, 8) else "–" for n in (1, 2, 4, 8)])
            self.target("Fan-out: publisher time per record, 8 / 1 subscribers holding a wake "
                        "descriptor (single)",
                        self.r.paired_ratio("writer_ns_per_record", {**fields, "readers": 8},
                                            {**fields, "readers": 1}),
                        1.1, "lower", "does not grow: within 10 %, ratio within a round")
        text += table(["Publisher", "N = 1", "N = 2", "N = 4", "N = 8"], rows)
        return text

    def syscall_section(self):
        text = "\n## System calls per record\n\n"
        if not self.syscalls:
            return text + "Not measured in this sweep.\n"
        text += "`strace -f -c` over two streams of 64-byte records (20,000 and 120,000 " \
                "records); the difference per extra record (below 1 per 2,000 records shows " \
                "as 0). strace slows every system call down, so sleeping readers sleep more " \
                "often than untraced.\n\n"
        rows = []
        for row in self.syscalls.get("streams", []):
            if "error" in row:
                rows.append((row["label"], "failed", "", row["error"][:80]))
                continue
            top = sorted(row["by_syscall"].items(), key=lambda kv: -kv[1])[:4]
            rows.append((row["label"], f"{row['per_record']:.3g}",
                         f"{row['futex_per_record']:.3g}",
                         ", ".join(f"{name} {value:.3g}" for name, value in top)))
        text += table(["Peer", "System calls / record", "futex / record", "Largest"], rows)
        spin = next((r for r in self.syscalls.get("streams", [])
                     if r["label"] == "shmbus batch" and "error" not in r), None)
        single = next((r for r in self.syscalls.get("streams", [])
                       if r["label"] == "shmbus single" and "error" not in r), None)
        worst = max([r["per_record"] for r in (spin, single) if r] or [None]) \
            if (spin or single) else None
        self.targets_syscalls = worst
        if worst is not None:
            self.target("System calls per record, subscriber keeping up (spin)",
                        (worst, worst, worst, 1), 0.0, "lower",
                        "strace, batch and single-record paths", fmt=lambda x: f"{x:.3g}")
        wake = self.syscalls.get("wakeups")
        if wake:
            text += f"\nshmbus ping-pong with both sides sleeping (`strace -f -e trace=futex`, " \
                    f"{wake['records']} one-way records): {wake['futex_waits']} futex waits, " \
                    f"{wake['futex_wakes']} futex wakes ({wake['futex_wakes_that_woke']} of " \
                    f"them woke a sleeper): **{wake['wakes_per_sleep']} wakes per sleep**, " \
                    f"{wake['wakes_per_record']} per record.\n"
            if wake.get("wakes_per_sleep") is not None:
                value = wake["wakes_per_sleep"]
                self.target("futex wakes per wake-up of a sleeping subscriber",
                            (value, value, value, 1), 1.0, "lower", "strace",
                            fmt=lambda x: f"{x:.3g}")
        return text

    def scaling_section(self):
        text = "\n## How cost grows\n\n### Ring capacity\n\n64-byte records, batch path, " \
               "spinning reader; enough records for more than one lap. *Setup* is opening " \
               "and attaching (with pre-faulting, `MAP_POPULATE`, that includes mapping " \
               "every page); *faults* are the page faults the writer and reader took while " \
               "streaming.\n\n"
        rows = []
        capacities = sorted({dict(k).get("capacity") for k in self.r.by_key
                             if dict(k).get("group") == "capacity"})
        for capacity in capacities:
            for label, prefault in (("shmbus batch", True), ("shmbus batch", False),
                                    ("reference", True)):
                runs = self.r.one(group="capacity", label=label, capacity=capacity,
                                  prefault=prefault)
                if not runs:
                    continue
                faults = [r["writer_minor_faults"] + r["reader_minor_faults"]
                          for r in runs.values()]
                # What a first-touch fault costs: the extra time of the run without
                # pre-faulting over the run with it (same run of the sweep), per fault.
                per_fault = "–"
                if label == "shmbus batch" and not prefault:
                    warm = self.r.one(group="capacity", label=label, capacity=capacity,
                                      prefault=True)
                    costs = [(row["elapsed_ns"] - warm[run]["elapsed_ns"]) /
                             (row["writer_minor_faults"] + row["reader_minor_faults"])
                             for run, row in runs.items()
                             if run in warm and row["writer_minor_faults"] +
                             row["reader_minor_faults"] > 0]
                    # A small ring takes a few hundred faults, whose cost the two streams'
                    # own spread can outweigh: a difference that is not positive says so.
                    if costs:
                        cost = sorted(costs)[len(costs) // 2]
                        per_fault = ns(cost) if cost > 0 else "below the noise"
                rows.append((capacity_name(capacity), label,
                             "on" if prefault else "off",
                             cell(Results.summary(runs, "msgs_per_s"), rate),
                             ns(median(Results.summary(runs, "setup_ns"))),
                             f"{sorted(faults)[len(faults) // 2]:,}", per_fault))
        text += table(["Capacity", "Peer", "Pre-fault", "Records/s", "Setup", "Faults",
                       "Time per fault"], rows)

        text += "\n### Topics open in one process\n\nOne process creates N topics (64 KiB " \
                "rings), opens each with a Publisher and a Subscriber, then publishes one " \
                "64-byte record to each in turn and polls each in turn (about a million " \
                "records).\n\n"
        rows = []
        for n in (1, 10, 100, 1000):
            runs = self.r.one(group="topics", topics=n)
            if not runs:
                continue
            rows.append((n, cell(Results.summary(runs, "create_us_per_topic"),
                                 lambda x: f"{x:.3g} µs"),
                         cell(Results.summary(runs, "open_us_per_topic"),
                              lambda x: f"{x:.3g} µs"),
                         plain(median(Results.summary(runs, "rss_kb_per_topic"))) + " KiB",
                         plain(median(Results.summary(runs, "descriptors")), 4),
                         plain(median(Results.summary(runs, "mappings")), 4),
                         cell(Results.summary(runs, "ns_per_record"), ns)))
        text += table(["Topics", "Create / topic", "Open + attach / topic", "Memory / topic",
                       "Descriptors", "Mappings", "Publish + poll / record"], rows)

        runs = self.r.one(group="footprint")
        if runs:
            row = next(iter(runs.values()))
            text += "\n### Memory and files\n\nA topic with the default options (1 MiB ring, " \
                    "16 publishers, 64 subscribers):\n\n"
            text += table(["File", "Size", "Allocated"], [
                ("records", f"{row['records_file_bytes']:,} B",
                 f"{row['records_file_allocated']:,} B"),
                ("state", f"{row['state_file_bytes']:,} B", f"{row['state_file_allocated']:,} B")])
            text += "\nResident memory of a subscriber process (KiB; *shared* is the topic's " \
                    "pages mapped into it, shared with every other process that maps them):\n\n"
            rows = []
            for prefix, what in (("attached_prefaulted", "attached, pre-faulted"),
                                 ("attached_lazy", "attached, not pre-faulted"),
                                 ("read_lap_lazy", "not pre-faulted, after reading one lap")):
                rows.append((what, row[f"{prefix}_rss_before_kb"], row[f"{prefix}_rss_kb"],
                             row[f"{prefix}_anon_kb"], row[f"{prefix}_shmem_kb"]))
            text += table(["Subscriber", "Before opening", "Total", "Private (anon)", "Shared"],
                          rows)
        return text

    def daemon_section(self):
        text = "\n## The daemon's effect\n\nshmbusd is never on the data path: publishers and " \
               "subscribers never talk to it. While it supervises a bus directory it checks " \
               "every topic each `check_interval` (reading slot and header lines, probing " \
               "slot locks). The same shmbus cases with no daemon, with `shmbusd` at its " \
               "default interval (250 ms) and at 10 ms, the daemon unpinned as a service " \
               f"runs (64 B, spinning, CPU 0 ↔ 1; {DAEMON_PINGPONG_COUNT:,} round trips and " \
               f"{DAEMON_STREAM_COUNT:,} records per configuration and round, in " \
               f"{DAEMON_ROUNDS} rounds per run). The three configurations " \
               "of a round run back to back, and each ratio is taken within a round, between " \
               "neighbours seconds apart: on a shared host the machine's own speed drifts by " \
               "more than that over minutes. Figures pool every round of every run:\n\n"
        rows = []
        base = {"group": "daemon", "label": "without shmbusd"}
        for label in ("without shmbusd", "shmbusd every 250 ms", "shmbusd every 10 ms"):
            fields = {"group": "daemon", "label": label}
            latency = self.r.pooled("p50_ns", case="pingpong", **fields)
            if latency is None and self.r.pooled("msgs_per_s", case="stream", **fields) is None:
                continue
            rows.append((label, cell(latency, ns),
                         cell(self.r.pooled("p99_ns", case="pingpong", **fields), ns),
                         cell(self.r.paired_ratio("p99_ns", {**fields, "case": "pingpong"},
                                                  {**base, "case": "pingpong"}), times),
                         cell(self.r.pooled("p999_ns", case="pingpong", **fields), ns),
                         cell(self.r.pooled("msgs_per_s", case="stream", **fields), rate),
                         cell(self.r.paired_ratio("msgs_per_s", {**fields, "case": "stream"},
                                                  {**base, "case": "stream"}), times),
                         ns(self.daemon_cpu_per_run(fields))))
        if not rows:
            return text + "Not measured in this sweep.\n"
        text += table(["", "Latency p50", "p99", "p99 / without", "p99.9", "Records/s",
                       "/ without", "Daemon CPU (a run's latency rounds)"], rows)
        default = {"group": "daemon", "label": "shmbusd every 250 ms"}
        self.target("Daemon at its default interval: latency p99 / without daemon",
                    self.r.paired_ratio("p99_ns", {**default, "case": "pingpong"},
                                        {**base, "case": "pingpong"}), 1.1, "lower",
                    "no effect: within 10 %")
        self.target("Daemon at its default interval: throughput / without daemon",
                    self.r.paired_ratio("msgs_per_s", {**default, "case": "stream"},
                                        {**base, "case": "stream"}), 0.95, "higher",
                    "no effect: within 5 %")
        return text

    def daemon_cpu_per_run(self, fields):
        """The daemon's CPU time over the latency rounds of one run (median over the runs): one
        round is shorter than the clock tick the kernel counts it in."""
        totals = {}
        for _, runs in self.r.find(case="pingpong", **fields):
            for run, row in runs.items():
                totals[run] = totals.get(run, 0) + (row.get("daemon_cpu_ns") or 0)
        return statistics.median(totals.values()) if totals else None

    def cli_section(self):
        text = "\n## `shmbus bench` against the harness\n\n`shmbus bench` (the command users " \
               "run) uses the same method as the harness for the same case; its figures, " \
               "from the same runs:\n\n"
        rows = []
        pairs = (("shmbus bench latency", "p50_ns", ns,
                  self.latency("latency-spin", "shmbus", 64), "ping-pong p50, 64 B, spin"),
                 ("shmbus bench latency sleep", "p50_ns", ns,
                  self.latency("latency-sleep", "shmbus", 64), "ping-pong p50, 64 B, sleep"),
                 ("shmbus bench throughput", "msgs_per_s", rate, self.stream("shmbus batch", 64),
                  "records/s, 64 B, batch, spin"))
        for label, metric, fmt, harness, what in pairs:
            cli = self.r.one(group="cli", label=label)
            if not cli:
                continue
            cli_summary = Results.summary(cli, metric)
            harness_summary = Results.summary(harness, metric)
            agree = None
            if cli_summary and harness_summary:
                agree = cli_summary[1] <= harness_summary[2] and harness_summary[1] <= cli_summary[2]
            rows.append((what, cell(harness_summary, fmt), cell(cli_summary, fmt),
                         "yes" if agree else ("no" if agree is not None else "–")))
        if not rows:
            return text + "Not measured in this sweep.\n"
        return text + table(["Case", "Harness", "`shmbus bench`", "Spreads overlap"], rows)

    def instruction_section(self):
        if not self.instructions:
            return ""
        text = "\n## Instructions per record\n\nCounted by callgrind " \
               "(`bench/tools/instruction_counts.py`, `shmbus-instructions`): the writer publishes 32,768 " \
               "records, handed over 32 at a time as in the throughput case, then the reader " \
               "takes them all, copying each payload out and checking its sequence number; one " \
               "process, nothing spinning, so the counts are exact. Both columns include the " \
               "harness's own work per record (stamping, copying out, checking: the same for " \
               "every row). Instructions are not time: they leave out what dominates between " \
               "two cores, the cache lines that move.\n\n"
        rows = [(row["label"], size_name(row["size"]), row["writer"], row["reader"])
                for row in self.instructions]
        return text + table(["Path", "Size", "Writer", "Reader"], rows)

    def analysis_section(self):
        return "\n## Where the time goes\n\n" + (self.analysis.strip() + "\n" if self.analysis
                                                 else "No target was missed.\n")

    def not_measured(self):
        if self.spinning_fans:
            return ""
        return "\n## Not measured\n\n* Fan-out and fan-in with **spinning** readers: this " \
               "machine has " + str(self.machine.get("cpus")) + " CPUs, and spinning " \
               "readers need one CPU each. The sweep runs them (and records them separately) " \
               "only on a machine with 16 or more CPUs; no such machine was available for " \
               "these figures.\n"


# ---------------------------------------------------------------- chart

def write_chart(report, chart_path, work_dir):
    latency = [r for r in report.chart_rows["latency"] if r[1] and r[2] and r[3]]
    throughput = [r for r in report.chart_rows["throughput"] if r[1]]
    if not latency or not throughput:
        print("report: too few results for a chart; none written")
        return False
    lat_file = os.path.join(work_dir, "latency.dat")
    thr_file = os.path.join(work_dir, "throughput.dat")
    with open(lat_file, "w") as f:
        for label, p50, p99, p999 in latency:
            f.write(f'"{label}" {p50[0]:.1f} {p99[0]:.1f} {p999[0]:.1f}\n')
    with open(thr_file, "w") as f:
        for label, summary in throughput:
            f.write(f'"{label}" {summary[0]:.1f} {summary[1]:.1f} {summary[2]:.1f}\n')
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chart.gp")
    subprocess.run(["gnuplot", "-e", f"latency='{lat_file}'; throughput='{thr_file}'; "
                    f"output='{chart_path}'", script], check=True)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", required=True, nargs="+",
                        help="result directories of one sweep (their runs are pooled)")
    parser.add_argument("--doc", required=True)
    parser.add_argument("--chart", required=True)
    parser.add_argument("--analysis", help="hand-written explanation of missed targets")
    parser.add_argument("--command", default="bench/run.sh")
    parser.add_argument("--include-disturbed", nargs="*", metavar="DIR",
                        help="use results taken while the machine was busy: of every result "
                             "directory, or only of those named (the document says so)")
    args = parser.parse_args()

    rows, runs, machine, syscalls, instructions = [], [], {}, None, None
    for directory in args.results:
        busy_too = args.include_disturbed is not None and (
            not args.include_disturbed or directory in args.include_disturbed)
        rows += load(os.path.join(directory, "results.jsonl"), busy_too)
        if os.path.exists(os.path.join(directory, "runs.jsonl")):
            with open(os.path.join(directory, "runs.jsonl")) as f:
                runs += [json.loads(line) for line in f if line.strip()]
        with open(os.path.join(directory, "machine.json")) as f:
            machine = json.load(f)
        if os.path.exists(os.path.join(directory, "instructions.json")):
            with open(os.path.join(directory, "instructions.json")) as f:
                instructions = json.load(f)
        if os.path.exists(os.path.join(directory, "syscalls.json")):
            with open(os.path.join(directory, "syscalls.json")) as f:
                syscalls = json.load(f)
    analysis = ""
    if args.analysis and os.path.exists(args.analysis):
        with open(args.analysis) as f:
            analysis = f.read()
    report = Report(Results(rows), machine, runs, syscalls, analysis, args.command, instructions)
    text = report.write()
    if not write_chart(report, os.path.abspath(args.chart), args.results[0]):
        # No chart for this sweep: neither point at one nor leave an older sweep's beside it.
        text = text.replace("![latency and throughput per peer](benchmarks.png)\n\n", "")
        if os.path.exists(args.chart):
            os.remove(args.chart)
    # The Archive rows and section come from archive_bench.py, not from the sweep: keep them.
    if os.path.exists(args.doc):
        with open(args.doc) as f:
            text = kept_blocks(f.read(), text)
    with open(args.doc, "w") as f:
        f.write(text)
    missed = [t[0] for t in report.targets if t[3] is False]
    print(f"report: {args.doc}, {args.chart}; {len(report.targets)} targets, "
          f"{len(missed)} missed" + (": " + "; ".join(missed) if missed else ""))


if __name__ == "__main__":
    main()
