#!/usr/bin/env python3
"""The Python version of pubsub.c: publishes or subscribes to one topic.

    pubsub.py pub TOPIC COUNT   publishes "hello 0" .. "hello COUNT-1"
    pubsub.py sub TOPIC COUNT   prints COUNT records (the oldest still there first)
    pubsub.py                   a round trip in a temporary bus directory of its own

The bus directory is $SHMBUS_DIR, else /run/shmbus. A missing topic is asked of shmbusd.
"""
import sys
import tempfile

import shmbus


def demo():
    with tempfile.TemporaryDirectory() as bus, \
            shmbus.Topic.create("demo", bus, capacity=1 << 16, max_record_size=1024) as topic:
        subscriber = shmbus.Subscriber(topic, start="earliest")
        publisher = shmbus.Publisher(topic)
        publisher.publish(b"copied in")
        with publisher.claim(8) as buf:  # zero-copy: written in place, committed at the end
            buf[:] = b"in place"
        publisher.publish_batch([b"batch 1", b"batch 2"])
        for record in subscriber.poll():
            print(record.sequence, bytes(record.payload).decode())
        subscriber.close()
        publisher.close()


def main(argv):
    if len(argv) == 1:
        demo()
        return 0
    if len(argv) != 4 or argv[1] not in ("pub", "sub"):
        print(f"usage: {argv[0]} [pub|sub TOPIC COUNT]", file=sys.stderr)
        return 2
    command, name, count = argv[1], argv[2], int(argv[3])
    try:
        with shmbus.Topic.open_or_create(name) as topic:
            if command == "pub":
                with shmbus.Publisher(topic) as publisher:
                    for i in range(count):
                        publisher.publish(b"hello %d" % i)
                return 0
            with shmbus.Subscriber(topic, start="earliest") as subscriber:
                for _, record in zip(range(count), subscriber):  # waits for each record
                    sys.stdout.buffer.write(bytes(record.payload) + b"\n")
                    del record  # the next record moves the subscriber past this one
        return 0
    except shmbus.Error as error:
        print(f"{argv[0]}: {error} (status {error.status})", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
