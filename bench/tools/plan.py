"""The cases of a benchmark sweep: which peer, which case, which options.

Each case is a dict of shmbus-harness options plus a 'label' (the row name in the report) and
a 'group' (the table it belongs to). Counts are chosen so that each case runs for roughly a
second on a small machine; --quick divides them for a smoke run.

shmbus rows measure the topic users get by default (`shmbus create`: timestamps on); a row
labelled 'ts-off' is the same topic with timestamps off, and 'shmbus fd' the same topic read by a
subscriber that sleeps in epoll on its wake descriptor (--mode fd) rather than on its semaphore.
A row labelled 'fenced' is a topic created with fenced commits (--fenced-commits on: publishers
commit with a full barrier, sleepers make no membarrier).
'cache-line' is the floor: one line bounced between two processes, latency only, records of at
most 64 bytes. 'eventfd' is a ring in shared memory with an eventfd for a doorbell. 'shmbus-c'
is shmbus through its C API (shmbus.h). Cases with 'runner': 'python' are not the harness's:
the sweep runs them with bench/python/python_peers.py (shmbus's Python package, pyzmq,
multiprocessing.Queue).
"""

import os

SPIN_PEERS = ["cache-line", "reference", "shmbus", "shmbus ts-off", "iceoryx"]
# Rows at 64 B only: the floor carries no more, and a timestamp costs one clock read per record
# whatever the record's size.
ONLY_64 = ("cache-line", "shmbus ts-off")
SLEEP_PEERS = ["shmbus", "pipe", "mq", "unix", "zeromq", "boost-mq", "iceoryx"]
FAN_OUT_PEERS = ["shmbus", "pipe", "mq", "unix", "zeromq", "boost-mq", "iceoryx"]
FAN_IN_PEERS = ["shmbus", "pipe", "mq", "unix", "boost-mq", "iceoryx"]  # zeromq PAIR: one peer
FAN_SIZES = [2, 4, 8]
# The publisher-cost cases: 650,000 records of 64 bytes take 62.4 MB of 96-byte frames (with
# timestamps), which a 64 MiB ring holds.
PUBLISHER_COST_ROUNDS = 6
PUBLISHER_COST_COUNT = 650_000
PUBLISHER_COST_CAPACITY = 64 << 20
CAPACITIES = [64 << 10, 1 << 20, 16 << 20, 256 << 20, 1 << 30]
TOPIC_COUNTS = [1, 10, 100, 1000]

# Records per writer in a stream, by size, for peers that move tens of millions a second
# ("fast") and for those that pay a system call or two per record ("slow").
STREAM_COUNTS = {
    "fast": {64: 10_000_000, 4096: 1_000_000, 65536: 100_000},
    "slow": {64: 1_000_000, 4096: 200_000, 65536: 20_000},
    "iceoryx": {64: 2_000_000, 4096: 500_000, 65536: 50_000},
}
PINGPONG_COUNT = 200_000
THROUGHPUT_ROUNDS = 8
THROUGHPUT_ROUND_COUNT = 2_000_000
# Ping-pongs in rounds: the floor, the reference and shmbus spinning, and shmbus sleeping
# beside the system-call peers: on its semaphore ('shmbus') and in epoll on its wake descriptor
# ('shmbus fd'), against the pipe, mq and AF_UNIX, and an eventfd doorbell. A sleeping round trip
# across CPUs takes some 40 µs here, hence the smaller count.
LATENCY_ROUNDS = 8
SPIN_ROUND_COUNT = 100_000
WAKE_ROUND_COUNT = 30_000
WAKE_ROUND_WARMUP = 2_000
WAKE_ROUND_PEERS = ["shmbus", "pipe", "mq", "unix", "shmbus fd", "eventfd", "shmbus fenced",
                    "shmbus fd fenced"]
# The spinning rows of each round, by size: at 64 B the floor, the reference, and shmbus with
# timestamps on (the default) and off; at 4 KiB the reference and shmbus.
SPIN_ROUND_ROWS = {64: ["cache-line", "reference", "shmbus", "shmbus ts-off"],
                   4096: ["reference", "shmbus"]}

# The C API against the C++ API: shmbus's single-record and batch paths through each, 64 B,
# back to back in each of C_API_ROUNDS rounds, the ratio taken within a round.
C_API_ROUNDS = 8
C_API_ROUND_COUNT = 2_000_000
C_API_ROWS = [("shmbus single", "shmbus", "single"), ("shmbus batch", "shmbus", "batch"),
              ("shmbus-c single", "shmbus-c", "single"), ("shmbus-c batch", "shmbus-c", "batch")]
# Python, one process to another (bench/python/python_peers.py, not the harness): shmbus's
# package against pyzmq over ipc:// and multiprocessing.Queue, 64 B streams and ping-pongs,
# back to back in each of PYTHON_ROUNDS rounds. Counts per peer for about a second each.
PYTHON_ROUNDS = 4
PYTHON_PEERS = ["shmbus", "zmq", "mpqueue"]
PYTHON_STREAM_COUNTS = {"shmbus": 2_000_000, "zmq": 500_000, "mpqueue": 200_000}
PYTHON_PINGPONG_COUNTS = {"shmbus": 100_000, "zmq": 20_000, "mpqueue": 10_000}

# Case fields the sweep records beside the harness's result rather than passing to it.
SWEEP_ONLY_KEYS = ("group", "round", "runner")
PINGPONG_WARMUP = 20_000


def in_rounds(rounds, configurations):
    """(round, configuration) for each configuration in each of `rounds` rounds, in reverse
    order every other round: configurations of one round run back to back, so that a ratio
    between them is taken between neighbours seconds apart, and the reversal keeps any one of
    them from always running first."""
    for round_number in range(rounds):
        order = configurations if round_number % 2 == 0 else configurations[::-1]
        for configuration in order:
            yield round_number, configuration


def peer_args(name, mode):
    """Harness options for a row name: 'shmbus' is the default topic (timestamps on), 'shmbus
    ts-off' the same with timestamps off; no other peer stamps records. 'shmbus fd' is the
    default topic with the reader in epoll on its wake descriptor: a sleeping row, whatever
    `mode` says. A 'fenced' suffix: the topic has fenced commits."""
    if name.startswith("shmbus") and name.endswith(" fenced"):
        return {**peer_args(name.removesuffix(" fenced"), mode), "fenced-commits": "on"}
    if name == "shmbus ts-off":
        return {"peer": "shmbus", "mode": mode, "timestamps": "off"}
    if name == "shmbus fd":
        return {"peer": "shmbus", "mode": "fd", "timestamps": "on"}
    return {"peer": name, "mode": mode, "timestamps": "on" if name == "shmbus" else "off"}


def speed_class(peer):
    if peer in ("reference", "shmbus"):
        return "fast"
    if peer == "iceoryx":
        return "iceoryx"
    return "slow"


def latency_cases(scale):
    cases = []
    count = max(1000, PINGPONG_COUNT // scale)
    warmup = max(100, PINGPONG_WARMUP // scale)
    for size in (64, 4096):
        for name in SPIN_PEERS:
            if name in ONLY_64 and size != 64:
                continue
            cases.append({**peer_args(name, "spin"), "label": name, "group": "latency-spin",
                          "case": "pingpong", "size": size, "count": count, "warmup": warmup,
                          "writer-cpus": "0", "reader-cpus": "1"})
        for name in SLEEP_PEERS:
            cases.append({**peer_args(name, "sleep"), "label": name, "group": "latency-sleep",
                          "case": "pingpong", "size": size, "count": count, "warmup": warmup,
                          "writer-cpus": "0", "reader-cpus": "1"})
    for name in SLEEP_PEERS:
        cases.append({**peer_args(name, "sleep"), "label": name, "group": "latency-sleep-one-cpu",
                      "case": "pingpong", "size": 64, "count": count, "warmup": warmup,
                      "writer-cpus": "0", "reader-cpus": "0"})
    return cases


def paired_latency_cases(scale):
    """Ping-pongs in LATENCY_ROUNDS rounds, so that the latency targets take their ratio
    between neighbours seconds apart (see paired_throughput_cases): SPIN_ROUND_ROWS spinning,
    and WAKE_ROUND_PEERS (shmbus sleeping on its semaphore and on its wake descriptor, beside
    the system-call peers) at 64 B with the two sides on two CPUs and on one."""
    cases = []
    spin_rows = [(name, size) for size, names in SPIN_ROUND_ROWS.items() for name in names]
    for round_number, (name, size) in in_rounds(LATENCY_ROUNDS, spin_rows):
        cases.append({**peer_args(name, "spin"), "label": name, "group": "latency-spin-rounds",
                      "round": round_number, "case": "pingpong", "size": size,
                      "count": max(1000, SPIN_ROUND_COUNT // scale),
                      "warmup": max(100, PINGPONG_WARMUP // scale),
                      "writer-cpus": "0", "reader-cpus": "1"})
    wake_rows = [(name, cpu) for cpu in ("1", "0") for name in WAKE_ROUND_PEERS]
    for round_number, (name, cpu) in in_rounds(LATENCY_ROUNDS, wake_rows):
        cases.append({**peer_args(name, "sleep"), "label": name, "group": "latency-sleep-rounds",
                      "round": round_number, "case": "pingpong", "size": 64,
                      "count": max(1000, WAKE_ROUND_COUNT // scale),
                      "warmup": max(100, WAKE_ROUND_WARMUP // scale),
                      "writer-cpus": "0", "reader-cpus": cpu})
    return cases


def throughput_cases(scale):
    cases = []
    rows = [
        # label, peer, mode, api, timestamps
        ("reference", "reference", "spin", "single", "off"),
        ("shmbus batch", "shmbus", "spin", "batch", "on"),
        ("shmbus single", "shmbus", "spin", "single", "on"),
        ("shmbus batch ts-off", "shmbus", "spin", "batch", "off"),
        ("shmbus single ts-off", "shmbus", "spin", "single", "off"),
        ("shmbus sleep batch", "shmbus", "sleep", "batch", "on"),
        ("iceoryx", "iceoryx", "spin", "single", "off"),
        ("iceoryx sleep", "iceoryx", "sleep", "single", "off"),
        ("unix", "unix", "sleep", "single", "off"),
        ("pipe", "pipe", "sleep", "single", "off"),
        ("mq", "mq", "sleep", "single", "off"),
        ("zeromq", "zeromq", "sleep", "single", "off"),
        ("boost-mq", "boost-mq", "sleep", "single", "off"),
    ]
    for size in (64, 4096, 65536):
        for label, peer, mode, api, timestamps in rows:
            if label.endswith("ts-off") and size != 64:
                continue
            if peer == "mq" and size > 8192:
                continue  # beyond Linux's default msgsize_max (8192): see the report
            count = max(1000, STREAM_COUNTS[speed_class(peer)][size] // scale)
            cases.append({"label": label, "group": "throughput", "peer": peer, "mode": mode,
                          "api": api, "timestamps": timestamps, "case": "stream", "size": size,
                          "count": count, "writer-cpus": "0", "reader-cpus": "1"})
    return cases


def paired_throughput_cases(scale):
    """64 B streams of the reference, of shmbus's batch and single-record paths, and of the
    single-record path with timestamps off, back to back in each of THROUGHPUT_ROUNDS rounds
    (in reverse order every other round). A long stream of the table above runs minutes after
    its reference, and this host's speed drifts between regimes over minutes by a factor of two
    or more; neighbours seconds apart share a regime, so their ratio is what the 64 B targets
    compare."""
    cases = []
    rows = [("reference", "reference", "single", "off"), ("shmbus batch", "shmbus", "batch", "on"),
            ("shmbus single", "shmbus", "single", "on"),
            ("shmbus single ts-off", "shmbus", "single", "off"),
            ("shmbus single fenced", "shmbus", "single", "on")]
    for round_number, (label, peer, api, timestamps) in in_rounds(THROUGHPUT_ROUNDS, rows):
        case = {"label": label, "group": "throughput-rounds", "round": round_number,
                "peer": peer, "mode": "spin", "api": api, "timestamps": timestamps,
                "case": "stream", "size": 64,
                "count": max(1000, THROUGHPUT_ROUND_COUNT // scale),
                "writer-cpus": "0", "reader-cpus": "1"}
        if label.endswith(" fenced"):
            case["fenced-commits"] = "on"
        cases.append(case)
    return cases


def c_api_cases(scale):
    """64 B streams of shmbus's single-record and batch paths through the C++ API ('shmbus')
    and through the C API, shmbus.h ('shmbus-c'), back to back in each of C_API_ROUNDS rounds
    (in reverse order every other round), so that the C API's cost is a ratio between
    neighbours seconds apart (see paired_throughput_cases)."""
    cases = []
    for round_number, (label, peer, api) in in_rounds(C_API_ROUNDS, C_API_ROWS):
        cases.append({"label": label, "group": "c-api-rounds", "round": round_number,
                      "peer": peer, "mode": "spin", "api": api, "timestamps": "on",
                      "case": "stream", "size": 64,
                      "count": max(1000, C_API_ROUND_COUNT // scale),
                      "writer-cpus": "0", "reader-cpus": "1"})
    return cases


def python_cases(scale):
    """Python streams and ping-pongs at 64 B (bench/python/python_peers.py: 'runner':
    'python'), every peer back to back in each of PYTHON_ROUNDS rounds (in reverse order every
    other round), so that shmbus's ratios to pyzmq and multiprocessing.Queue are taken within a
    round."""
    cases = []
    rows = [(case, peer) for case in ("stream", "pingpong") for peer in PYTHON_PEERS]
    for round_number, (case, peer) in in_rounds(PYTHON_ROUNDS, rows):
        counts = PYTHON_STREAM_COUNTS if case == "stream" else PYTHON_PINGPONG_COUNTS
        count = max(1000, counts[peer] // scale)
        entry = {"label": f"python {peer}", "group": "python", "round": round_number,
                 "runner": "python", "peer": peer, "case": case, "size": 64, "count": count,
                 "writer-cpu": 0, "reader-cpu": 1}
        if case == "pingpong":
            entry["warmup"] = max(100, count // 10)
        cases.append(entry)
    return cases


def fan_cases(scale):
    cases = []
    for n in FAN_SIZES:
        for name in FAN_OUT_PEERS:
            count = max(1000, (1_000_000 if name == "shmbus" else 200_000) // scale)
            cases.append({**peer_args(name, "sleep"), "label": name, "group": "fan-out",
                          "api": "batch" if name == "shmbus" else "single",
                          "case": "stream", "size": 64, "count": count, "readers": n,
                          "writer-cpus": "0", "reader-cpus": "1"})
        for name in FAN_IN_PEERS:
            total = 1_000_000 if name == "shmbus" else 200_000
            count = max(1000, total // n // scale)
            cases.append({**peer_args(name, "sleep"), "label": name, "group": "fan-in",
                          "api": "batch" if name == "shmbus" else "single",
                          "case": "stream", "size": 64, "count": count, "writers": n,
                          "writer-cpus": "0", "reader-cpus": "1"})
    # Spinning readers need a CPU each: only on machines with 16 CPUs or more, recorded as
    # groups of their own.
    if (os.cpu_count() or 1) >= 16:
        for n in FAN_SIZES:
            others = ",".join(str(cpu) for cpu in range(1, n + 1))
            for name in ("reference", "shmbus", "iceoryx"):
                count = max(1000, 2_000_000 // scale)
                cases.append({**peer_args(name, "spin"), "label": name, "group": "fan-out-spin",
                              "api": "batch" if name == "shmbus" else "single",
                              "case": "stream", "size": 64, "count": count, "readers": n,
                              "writer-cpus": "0", "reader-cpus": others})
                if name == "reference":
                    continue  # one writer per ring
                cases.append({**peer_args(name, "spin"), "label": name, "group": "fan-in-spin",
                              "api": "batch" if name == "shmbus" else "single",
                              "case": "stream", "size": 64, "count": max(1000, count // n),
                              "writers": n, "writer-cpus": others, "reader-cpus": "0"})
    # The publisher's own cost with N subscribers attached and none asleep: readers start
    # after the writer has finished, so the ring must hold every record. The four values of N
    # run back to back in each of PUBLISHER_COST_ROUNDS rounds (in reverse order every other
    # round), so that the 8 / 1 ratio is taken between neighbours: a stream of a few
    # milliseconds can land in a slower phase of a shared host, which a ratio between runs
    # minutes apart would blame on N.
    for round_number, n in in_rounds(PUBLISHER_COST_ROUNDS, [1] + FAN_SIZES):
        for api in ("batch", "single"):
            cases.append({"label": f"shmbus {api}", "group": "publisher-cost",
                          "round": round_number, "peer": "shmbus", "mode": "spin",
                          "api": api, "timestamps": "on", "case": "stream", "size": 64,
                          "count": max(1000, PUBLISHER_COST_COUNT // scale), "readers": n,
                          "deferred-readers": True, "capacity": PUBLISHER_COST_CAPACITY,
                          "writer-cpus": "0", "reader-cpus": "1"})
        # The same single-record stream with readers that hold a wake descriptor (--mode fd:
        # the FIFO is open, the reader is awake, not armed), at N = 1 and 8.
        if n in (1, 8):
            cases.append({"label": "shmbus single fd", "group": "publisher-cost",
                          "round": round_number, "peer": "shmbus", "mode": "fd",
                          "api": "single", "timestamps": "on", "case": "stream", "size": 64,
                          "count": max(1000, PUBLISHER_COST_COUNT // scale), "readers": n,
                          "deferred-readers": True, "capacity": PUBLISHER_COST_CAPACITY,
                          "writer-cpus": "0", "reader-cpus": "1"})
    return cases


def scaling_cases(scale):
    cases = []
    for capacity in CAPACITIES:
        frames = capacity // 96  # 64-byte records with timestamps take 96-byte frames
        count = max(4_000_000, frames * 6 // 5) // scale
        for prefault in ("on", "off"):
            cases.append({"label": "shmbus batch", "group": "capacity", "peer": "shmbus",
                          "mode": "spin", "api": "batch", "timestamps": "on", "case": "stream",
                          "size": 64, "count": max(1000, count), "capacity": capacity,
                          "prefault": prefault, "writer-cpus": "0", "reader-cpus": "1"})
        cases.append({"label": "reference", "group": "capacity", "peer": "reference",
                      "mode": "spin", "case": "stream", "size": 64, "count": max(1000, count),
                      "capacity": capacity, "prefault": "on", "writer-cpus": "0",
                      "reader-cpus": "1"})
    for topics in TOPIC_COUNTS:
        cases.append({"label": "shmbus", "group": "topics", "peer": "shmbus", "case": "topics",
                      "topics": topics, "writer-cpus": "0", "timestamps": "on"})
    cases.append({"label": "shmbus", "group": "footprint", "peer": "shmbus", "case": "footprint",
                  "reader-cpus": "1"})
    return cases


DAEMON_ROUNDS = 8
DAEMON_INTERVALS = (0, 250, 10)
# Per round and configuration: about 0.15 s of ping-pong and 0.4 s of stream on this host.
DAEMON_PINGPONG_COUNT = 500_000
DAEMON_STREAM_COUNT = 12_500_000


def daemon_cases(scale, daemon):
    """shmbus with and without shmbusd supervising its topics: the daemon is never on the data
    path. Each configuration runs in DAEMON_ROUNDS rounds, the three of a round back to back
    (in reverse order every other round), so that a ratio can be taken between neighbours: on a
    shared host the machine's speed drifts over minutes, by more than any effect of the daemon.
    Together long enough to span many of its checks."""
    if not daemon:
        return []
    cases = []
    for round_number in range(DAEMON_ROUNDS):
        intervals = DAEMON_INTERVALS if round_number % 2 == 0 else DAEMON_INTERVALS[::-1]
        for case in ("pingpong", "stream"):
            for interval in intervals:
                label = "without shmbusd" if interval == 0 else f"shmbusd every {interval} ms"
                extra = {} if interval == 0 else {"daemon": daemon,
                                                  "daemon-interval-ms": interval}
                common = {"label": label, "group": "daemon", "round": round_number,
                          "peer": "shmbus", "mode": "spin", "timestamps": "on", "size": 64,
                          "writer-cpus": "0", "reader-cpus": "1", **extra}
                if case == "pingpong":
                    cases.append({**common, "case": "pingpong",
                                  "count": max(1000, DAEMON_PINGPONG_COUNT // scale),
                                  "warmup": 20_000 // scale})
                else:
                    cases.append({**common, "api": "batch", "case": "stream",
                                  "count": max(1000, DAEMON_STREAM_COUNT // scale)})
    return cases


def full_plan(scale=1, only=None, daemon=None):
    """Every case of one run, iceoryx cases last (RouDi runs only while they do)."""
    cases = (latency_cases(scale) + paired_latency_cases(scale) + throughput_cases(scale) +
             paired_throughput_cases(scale) + c_api_cases(scale) + fan_cases(scale) +
             scaling_cases(scale) + daemon_cases(scale, daemon) + python_cases(scale))
    if only:
        cases = [c for c in cases if only(c)]
    return [c for c in cases if c["peer"] != "iceoryx"] + \
        [c for c in cases if c["peer"] == "iceoryx"]


def harness_arguments(case):
    """The command-line options of shmbus-harness (or, for a case whose runner is 'python', of
    bench/python/python_peers.py) for a case."""
    args = []
    for key, value in case.items():
        if key in SWEEP_ONLY_KEYS:
            continue
        if value is True:
            args.append(f"--{key}")
        else:
            args += [f"--{key}", str(value)]
    return args
