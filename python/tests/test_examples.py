"""examples/pubsub.py and examples/asyncio_topics.py run, and print what they should."""

import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")


def run_example(name, *args, env=None):
    return subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *args],
                          capture_output=True, text=True, timeout=60, env=env)


def test_pubsub_py_makes_a_round_trip_of_its_own():
    result = run_example("pubsub.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["0 copied in", "1 in place", "2 batch 1", "3 batch 2"]


def test_pubsub_py_publishes_and_subscribes_through_a_bus_directory(make_topic, bus_dir):
    make_topic("example")  # no daemon here: the topic must exist
    env = dict(os.environ, SHMBUS_DIR=bus_dir)
    assert run_example("pubsub.py", "pub", "example", "20", env=env).returncode == 0
    result = run_example("pubsub.py", "sub", "example", "20", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"hello {i}" for i in range(20)]
    missing = run_example("pubsub.py", "sub", "missing", "1", env=env)
    assert missing.returncode == 1 and "status -20" in missing.stderr


def test_asyncio_topics_py_reads_three_topics_while_its_timer_ticks():
    result = run_example("asyncio_topics.py")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in ("prices", "orders", "alerts"):
        assert [line for line in lines if line.startswith(name + ":")] == \
            [f"{name}: {name} {i}" for i in range(5)]
    ticks = int(lines[-1].rsplit(" ", 1)[1])
    if ticks == 0:
        pytest.fail("the timer never ran while the subscribers waited")
