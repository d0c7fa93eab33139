#!/usr/bin/env python3
"""shmbus from Python against what a Python program would otherwise use between two processes:
pyzmq (ipc://) and multiprocessing.Queue. One case, one peer, one JSON line, as shmbus-harness
prints them (bench/tools/sweep.py runs it for the "python" rows of docs/BENCHMARKS.md).

  python_peers.py --case stream --peer shmbus --count 1000000 --size 64
  python_peers.py --case pingpong --peer zmq --count 20000
  python_peers.py --available            (the peers this Python can import, one line)

Two processes, forked, each pinned to its CPU (--writer-cpu, --reader-cpu; sched_setaffinity):

  stream    the writer sends --count records of --size bytes one by one, each stamped with its
            sequence number in its first 8 bytes; the reader takes them one by one, checks the
            length and the number of every one, and times from the first record to the last
            (msgs_per_s: the records after the first over that time). writer_ns_per_record is
            the writer's own time from its first send to its last, per record.
  pingpong  the ping side sends a record and waits for its echo, --warmup round trips, then
            --count measured ones; half of each round trip (time.perf_counter_ns) is a sample,
            p50_ns, p99_ns and p999_ns exact.

Each peer is used the way its users use it by default:

  shmbus    a block topic (1 MiB ring, timestamps on) in a directory of its own under /dev/shm;
            Publisher.publish and iteration over a Subscriber (records in place; it spins
            20 us, then sleeps with the GIL released). Ping-pong: two topics, ping and pong.
  zmq       pyzmq: PUSH -> PULL over ipc:// for a stream, PAIR over ipc:// for a ping-pong;
            send and recv with their defaults (the receiving side sleeps in the kernel).
  mpqueue   multiprocessing.Queue (pickled, a feeder thread, a pipe); two for a ping-pong.

Standard library only, plus shmbus (PYTHONPATH=build/python) and zmq (Debian python3-zmq) for
their peers. The result line has ok: false and failures when a record is missing, out of
order or of the wrong length, or a process fails. foreign_cpu_ns and window_ns say how much CPU
time other programs used meanwhile (/proc/stat), as the harness's lines do.
"""

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import struct
import sys
import tempfile
import time
import traceback

SEQUENCE = struct.Struct("<Q")
# How long the writer (or the ping side) waits for the other side to attach and say so: it
# sends nothing before (a shmbus subscriber starts at the latest record).
READY_TIMEOUT_S = 30


def available_peers():
    peers = []
    try:
        import shmbus  # noqa: F401
        peers.append("shmbus")
    except ImportError:
        pass
    try:
        import zmq  # noqa: F401
        peers.append("zmq")
    except ImportError:
        pass
    peers.append("mpqueue")
    return peers


def pin(cpu):
    os.sched_setaffinity(0, {cpu})


def records_of(size):
    """A function making record i: its sequence number, then padding to `size` bytes."""
    padding = bytes(max(0, size - SEQUENCE.size))
    pack = SEQUENCE.pack
    return lambda i: pack(i) + padding


# ---------------------------------------------------------------- the peers
#
# Each peer has open_writer / open_reader for a stream (made in the child, after fork) and
# open_ping / open_pong for a ping-pong. A writer is (send, close); a reader is (receive, close)
# where receive() returns the next record as a bytes-like object valid until the next call.

class Shmbus:
    def __init__(self, scratch, size):
        import shmbus
        self.shmbus = shmbus
        self.dir = scratch
        for name in ("stream", "ping", "pong"):
            shmbus.Topic.create(name, scratch, max_record_size=max(size, 64),
                                max_subscribers=4, max_publishers=4).close()

    def publisher(self, name):
        topic = self.shmbus.Topic.open(name, self.dir)
        publisher = self.shmbus.Publisher(topic)
        topic.close()
        return publisher.publish, publisher.close

    def subscriber(self, name):
        topic = self.shmbus.Topic.open(name, self.dir, access="subscribe")
        subscriber = self.shmbus.Subscriber(topic, start="latest")
        topic.close()
        return subscriber.__next__, subscriber.close

    def open_writer(self):
        return self.publisher("stream")

    def open_reader(self):
        return self.subscriber("stream")

    def open_ping(self):
        send, close_send = self.publisher("ping")
        receive, close_receive = self.subscriber("pong")
        return send, receive, lambda: (close_send(), close_receive())

    def open_pong(self):
        send, close_send = self.publisher("pong")
        receive, close_receive = self.subscriber("ping")
        return send, receive, lambda: (close_send(), close_receive())


class Zmq:
    def __init__(self, scratch, size):
        import zmq
        self.zmq = zmq
        self.endpoint = "ipc://" + os.path.join(scratch, "zmq.ipc")

    def socket(self, kind, bind):
        context = self.zmq.Context()
        socket = context.socket(kind)
        socket.setsockopt(self.zmq.LINGER, 1000)
        (socket.bind if bind else socket.connect)(self.endpoint)

        def close():
            socket.close()
            context.term()
        return socket, close

    def open_writer(self):
        socket, close = self.socket(self.zmq.PUSH, bind=False)
        return socket.send, close

    def open_reader(self):
        socket, close = self.socket(self.zmq.PULL, bind=True)
        return socket.recv, close

    def open_ping(self):
        socket, close = self.socket(self.zmq.PAIR, bind=False)
        return socket.send, socket.recv, close

    def open_pong(self):
        socket, close = self.socket(self.zmq.PAIR, bind=True)
        return socket.send, socket.recv, close


class MpQueue:
    def __init__(self, scratch, size):
        context = multiprocessing.get_context("fork")
        self.stream = context.Queue()
        self.ping = context.Queue()
        self.pong = context.Queue()

    @staticmethod
    def closer(*queues):
        def close():
            for queue in queues:
                queue.close()
                queue.join_thread()
        return close

    def open_writer(self):
        return self.stream.put, self.closer(self.stream)

    def open_reader(self):
        return self.stream.get, lambda: None

    def open_ping(self):
        return self.ping.put, self.pong.get, self.closer(self.ping)

    def open_pong(self):
        return self.pong.put, self.ping.get, self.closer(self.pong)


PEERS = {"shmbus": Shmbus, "zmq": Zmq, "mpqueue": MpQueue}


# ---------------------------------------------------------------- the cases

def stream_writer(peer, args, ready, results):
    pin(args.writer_cpu)
    send, close = peer.open_writer()
    make = records_of(args.size)
    if not ready.wait(READY_TIMEOUT_S):
        raise RuntimeError("the reader did not attach")
    start = time.monotonic_ns()
    for i in range(args.count):
        send(make(i))
    end = time.monotonic_ns()
    results.put(("writer", {"writer_ns_per_record": (end - start) / args.count}))
    close()


def stream_reader(peer, args, ready, results):
    pin(args.reader_cpu)
    receive, close = peer.open_reader()
    unpack = SEQUENCE.unpack_from
    size = args.size
    errors = 0
    ready.set()
    record = receive()
    first = time.monotonic_ns()
    for i in range(args.count):
        if i:
            record = receive()
        if len(record) != size or unpack(record)[0] != i:
            errors += 1
    last = time.monotonic_ns()
    del record
    close()
    elapsed = last - first
    results.put(("reader", {"elapsed_ns": elapsed, "errors": errors,
                            "msgs_per_s": (args.count - 1) / elapsed * 1e9 if elapsed else 0.0}))


def ping_side(peer, args, ready, results):
    pin(args.writer_cpu)
    send, receive, close = peer.open_ping()
    make = records_of(args.size)
    unpack = SEQUENCE.unpack_from
    clock = time.perf_counter_ns
    if not ready.wait(READY_TIMEOUT_S):
        raise RuntimeError("the pong side did not attach")
    samples = []
    errors = 0
    total = args.warmup + args.count
    for i in range(total):
        record = make(i)
        start = clock()
        send(record)
        echo = receive()
        end = clock()
        if len(echo) != args.size or unpack(echo)[0] != i:
            errors += 1
        if i >= args.warmup:
            samples.append((end - start) / 2)
    del echo
    close()
    samples.sort()

    def percentile(p):
        return samples[min(len(samples) - 1, int(p * len(samples)))]
    results.put(("ping", {"p50_ns": percentile(0.5), "p99_ns": percentile(0.99),
                          "p999_ns": percentile(0.999), "mean_ns": sum(samples) / len(samples),
                          "errors": errors}))


def pong_side(peer, args, ready, results):
    pin(args.reader_cpu)
    send, receive, close = peer.open_pong()
    ready.set()
    for _ in range(args.warmup + args.count):
        record = receive()
        send(record)
    del record
    close()
    results.put(("pong", {}))


def busy_ns():
    """CPU time all CPUs spent on anything but idling, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) * 1e9 / os.sysconf("SC_CLK_TCK")


def own_cpu_ns():
    """CPU time of this process and of its finished children: the case's own."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += (usage.ru_utime + usage.ru_stime) * 1e9
    return total


def run(args):
    scratch = tempfile.mkdtemp(prefix="shmbus-python-",
                               dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    ready = context.Event()
    failures = []
    out = {}
    try:
        peer = PEERS[args.peer](scratch, args.size)
        sides = (stream_writer, stream_reader) if args.case == "stream" else \
            (ping_side, pong_side)

        def guarded(side):
            def body():
                try:
                    side(peer, args, ready, results)
                except BaseException:
                    results.put(("failure", f"{side.__name__}: " +
                                 traceback.format_exc().strip().splitlines()[-1]))
                    sys.exit(1)
            return body
        cpu_before = own_cpu_ns()
        busy_before = busy_ns()
        window_start = time.monotonic_ns()
        processes = [context.Process(target=guarded(side), daemon=True) for side in sides]
        # The receiving side first: it attaches and then says it is ready.
        for process in processes[::-1]:
            process.start()
        deadline = time.monotonic() + args.timeout
        pending = len(processes)
        while pending:
            try:
                kind, value = results.get(timeout=max(0.1, deadline - time.monotonic()))
            except Exception:
                failures.append(f"no result within {args.timeout} s")
                break
            pending -= 1
            if kind == "failure":
                failures.append(value)
            else:
                out.update(value)
        for process in processes:
            process.join(timeout=5 if not failures else 0.5)
            if process.is_alive():
                process.kill()
                process.join()
            elif process.exitcode != 0 and not failures:
                failures.append(f"a process exited with {process.exitcode}")
        window = time.monotonic_ns() - window_start
        own = own_cpu_ns() - cpu_before
        out["window_ns"] = window
        out["own_cpu_ns"] = own
        out["foreign_cpu_ns"] = max(0.0, busy_ns() - busy_before - own)
    except Exception as error:  # the peer could not be set up (a missing module, a bus)
        failures.append(f"{type(error).__name__}: {error}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if out.get("errors"):
        failures.append(f"{out['errors']} record(s) missing, out of order or of the wrong length")
    line = {"label": args.label or f"python {args.peer}", "group": args.group, "peer": args.peer,
            "case": args.case, "size": args.size, "count": args.count, "writers": 1,
            "readers": 1, "writer_cpus": str(args.writer_cpu),
            "reader_cpus": str(args.reader_cpu), "python": sys.version.split()[0], **out,
            "ok": not failures, "failures": "; ".join(failures)}
    if args.case == "pingpong":
        line["warmup"] = args.warmup
    return line


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=("stream", "pingpong"), default="stream")
    parser.add_argument("--peer", choices=sorted(PEERS), default="shmbus")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, help="ping-pong round trips first (count / 10)")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--writer-cpu", type=int, default=0, help="the writer, or the ping side")
    parser.add_argument("--reader-cpu", type=int, default=1, help="the reader, or the pong side")
    parser.add_argument("--label", help="the row's name (default: python PEER)")
    parser.add_argument("--group", default="python")
    parser.add_argument("--timeout", type=float, default=300, help="seconds")
    parser.add_argument("--output", help="append the line to this file (default: print it)")
    parser.add_argument("--available", action="store_true",
                        help="print the peers this Python can import and exit")
    args = parser.parse_args()
    if args.available:
        print(" ".join(available_peers()))
        return 0
    if args.size < SEQUENCE.size or args.count < 2:
        parser.error("--size must be at least 8 and --count at least 2")
    if args.warmup is None:
        args.warmup = max(10, args.count // 10)
    line = run(args)
    text = json.dumps(line)
    if args.output:
        with open(args.output, "a") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0 if line["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
