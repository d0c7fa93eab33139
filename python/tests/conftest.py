"""Fixtures for the shmbus Python tests: every test gets its own bus directory."""

import os
import shutil
import sys

import pytest

import shmbus

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "peer.py")


@pytest.fixture
def bus_dir(tmp_path):
    """A fresh bus directory of this test's own."""
    path = tmp_path / "bus"
    path.mkdir()
    return str(path)


@pytest.fixture
def make_topic(bus_dir):
    """make_topic(name, **options): creates a topic in the test's bus directory and opens it;
    closes every topic it made at the end."""
    topics = []

    def make(name="t", **options):
        options.setdefault("capacity", 1 << 16)
        options.setdefault("max_record_size", 1024)
        topic = shmbus.Topic.create(name, bus_dir, **options)
        topics.append(topic)
        return topic

    yield make
    for topic in topics:
        topic.close()


@pytest.fixture
def cli():
    """The shmbus CLI built with this tree ($SHMBUS_CLI), else one on PATH; skipped if none."""
    path = os.environ.get("SHMBUS_CLI") or shutil.which("shmbus")
    if not path or not os.access(path, os.X_OK):
        pytest.skip("no shmbus CLI: set SHMBUS_CLI to the built client/cli/shmbus")
    return path


def peer_command(*args):
    """The command line of tests/peer.py, run by this interpreter."""
    return [sys.executable, PEER, *map(str, args)]
