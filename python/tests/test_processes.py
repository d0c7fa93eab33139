"""Python publishers and subscribers in processes of their own: fan-out, fan-in, kill -9."""

import os
import signal
import struct
import subprocess
import time

import pytest

import shmbus
from conftest import peer_command
from peer import RECORD, check

COUNT = 5000


def start_subscribers(bus_dir, name, how_many, publishers, count):
    subscribers = [
        subprocess.Popen(peer_command("subscribe", bus_dir, name, publishers, count),
                         stdout=subprocess.PIPE, text=True)
        for _ in range(how_many)
    ]
    for process in subscribers:
        assert process.stdout.readline().strip() == "ready"  # attached before anything is sent
    return subscribers


def finish(process, timeout=60):
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return process.returncode, out


def test_one_publisher_fans_out_to_three_subscriber_processes(make_topic, bus_dir):
    # A small ring: the publisher waits for the slowest subscriber over and over.
    make_topic("fan-out", capacity=1 << 14, max_record_size=64)
    subscribers = start_subscribers(bus_dir, "fan-out", 3, publishers=1, count=COUNT)
    publisher = subprocess.Popen(peer_command("publish", bus_dir, "fan-out", 0, COUNT))
    assert finish(publisher)[0] == 0
    for process in subscribers:
        assert finish(process) == (0, f"ok {COUNT}\n")


def test_three_publisher_processes_fan_in_to_one_subscriber(make_topic, bus_dir):
    make_topic("fan-in", capacity=1 << 14, max_record_size=64)
    subscriber = start_subscribers(bus_dir, "fan-in", 1, publishers=3, count=COUNT)[0]
    publishers = [subprocess.Popen(peer_command("publish", bus_dir, "fan-in", i, COUNT))
                  for i in range(3)]
    for process in publishers:
        assert finish(process)[0] == 0
    assert finish(subscriber) == (0, f"ok {3 * COUNT}\n")


def test_a_publisher_killed_mid_stream_loses_no_record_it_committed(make_topic, bus_dir, tmp_path):
    topic = make_topic("killed", capacity=1 << 22, max_record_size=64)
    subscriber = shmbus.Subscriber(topic)
    progress = tmp_path / "committed"
    progress.write_bytes(bytes(8))
    publisher = subprocess.Popen(
        peer_command("publish", bus_dir, "killed", 0, 10**7, progress))
    expected = [0]
    deadline = time.monotonic() + 30
    try:
        # Read while it publishes, until it has committed a good many.
        while struct.unpack("<Q", progress.read_bytes())[0] < 3000:
            assert time.monotonic() < deadline, "the publisher did not get going"
            assert publisher.poll() is None, "the publisher exited"
            for record in subscriber.poll():
                assert check(record.payload, expected), f"record {expected[0]} is wrong"
                expected[0] += 1
    finally:
        os.kill(publisher.pid, signal.SIGKILL)
        publisher.wait(timeout=30)
    committed = struct.unpack("<Q", progress.read_bytes())[0]
    # Everything committed before the kill arrives, in order, without a gap: a prefix.
    while True:
        record = subscriber.receive(timeout=0.5)
        if record is None:
            break
        assert check(record.payload, expected), f"record {expected[0]} is wrong"
        expected[0] += 1
    assert expected[0] >= committed, f"committed {committed}, received {expected[0]}"
    assert expected[0] <= committed + 1  # at most the one committed before its count was written
    assert RECORD.size == 12
