"""A publisher or a subscriber in a process of its own, for the multi-process tests.

    peer.py publish BUS TOPIC ID COUNT [PROGRESS_FILE]
        publishes COUNT records (ID, counter) through claims; after each commit, writes the
        number committed so far to PROGRESS_FILE (8 bytes at offset 0) if given
    peer.py subscribe BUS TOPIC PUBLISHERS COUNT
        prints "ready", reads PUBLISHERS * COUNT records, checks that each publisher's counters
        arrive in order without a gap, prints "ok N" (or "bad ..." and exits 1)
"""

import os
import struct
import sys

import shmbus

RECORD = struct.Struct("<IQ")


def payload(publisher_id, counter):
    """What record `counter` of publisher `publisher_id` holds: both numbers, then filler that
    depends on them, so that a torn record shows."""
    head = RECORD.pack(publisher_id, counter)
    return head + bytes((publisher_id + counter + i) & 0xFF for i in range(counter % 17))


def check(data, expected):
    """(publisher, counter) of a record, verified against `expected`[publisher]; None if bad."""
    publisher_id, counter = RECORD.unpack_from(data)
    if publisher_id >= len(expected) or counter != expected[publisher_id]:
        return None
    if bytes(data) != payload(publisher_id, counter):
        return None
    return publisher_id, counter


def publish(bus, name, publisher_id, count, progress=None):
    with shmbus.Topic.open(name, bus) as topic, shmbus.Publisher(topic) as publisher:
        fd = os.open(progress, os.O_WRONLY) if progress else None
        for counter in range(count):
            data = payload(publisher_id, counter)
            with publisher.claim(len(data), timeout=30) as buf:
                buf[:] = data
            if fd is not None:
                os.pwrite(fd, struct.pack("<Q", counter + 1), 0)
    return 0


def subscribe(bus, name, publishers, count):
    with shmbus.Topic.open(name, bus, access="subscribe") as topic:
        subscriber = shmbus.Subscriber(topic, start="latest")
    print("ready", flush=True)
    expected = [0] * publishers
    for received in range(publishers * count):
        record = subscriber.receive(timeout=30)
        if record is None:
            print(f"bad: timed out after {received} records {expected}", flush=True)
            return 1
        checked = check(record.payload, expected)
        if checked is None:
            print(f"bad: record {received}: {bytes(record.payload)[:12]!r} {expected}", flush=True)
            return 1
        expected[checked[0]] += 1
    subscriber.close()
    print(f"ok {publishers * count}", flush=True)
    return 0


def main(argv):
    if argv[1] == "publish":
        progress = argv[6] if len(argv) > 6 else None
        return publish(argv[2], argv[3], int(argv[4]), int(argv[5]), progress)
    if argv[1] == "subscribe":
        return subscribe(argv[2], argv[3], int(argv[4]), int(argv[5]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
