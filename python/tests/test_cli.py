"""Python and the C++ shmbus CLI exchange records through one topic, both ways."""

import base64
import json
import subprocess

import shmbus


def run(cli, bus_dir, *args, stdin=None):
    return subprocess.run([cli, "--dir", bus_dir, *args], input=stdin, capture_output=True,
                          timeout=60, check=True)


def test_records_from_python_arrive_in_shmbus_sub(cli, make_topic, bus_dir):
    topic = make_topic("py-to-cli", capacity=1 << 20)
    publisher = shmbus.Publisher(topic)
    sent = [bytes([i % 256]) * (i % 50) + b"\n\x00" + str(i).encode() for i in range(300)]
    publisher.publish_batch(sent[:100])
    for data in sent[100:200]:
        publisher.publish(data)
    for data in sent[200:]:
        with publisher.claim(len(data)) as buf:
            buf[:] = data
    out = run(cli, bus_dir, "sub", "py-to-cli", "--from", "earliest", "--count", "300",
              "--format", "json").stdout
    lines = [json.loads(line) for line in out.splitlines()]
    assert [base64.b64decode(line["payload_base64"]) for line in lines] == sent
    assert [line["sequence"] for line in lines] == list(range(300))


def test_records_from_shmbus_pub_arrive_in_python(cli, make_topic, bus_dir):
    topic = make_topic("cli-to-py", capacity=1 << 20)
    subscriber = shmbus.Subscriber(topic)
    lines = [f"line {i}" for i in range(500)]
    run(cli, bus_dir, "pub", "cli-to-py", stdin=("\n".join(lines) + "\n").encode())
    run(cli, bus_dir, "pub", "cli-to-py", "one", "two")
    received = []
    for record in subscriber:
        received.append(bytes(record.payload).decode())
        if len(received) == 502:
            break
    assert received == lines + ["one", "two"]
    assert topic.stat()["published"] == 502
