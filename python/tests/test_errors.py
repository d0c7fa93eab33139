"""Misuse raises a shmbus.Error with the status and the message: never a crash."""

import ctypes
import os

import pytest

import shmbus


def test_an_error_carries_the_status_errno_and_the_libraries_message(bus_dir):
    with pytest.raises(shmbus.NotFound) as raised:
        shmbus.Topic.open("missing", bus_dir)
    error = raised.value
    assert isinstance(error, shmbus.Error)
    assert error.status == -20
    assert isinstance(error.errno, int)
    assert "missing" in str(error)


def test_creating_a_topic_twice_is_exists(make_topic, bus_dir):
    make_topic("twice")
    with pytest.raises(shmbus.Exists):
        shmbus.Topic.create("twice", bus_dir)


def test_bad_options_are_invalid_argument_or_value_error(bus_dir):
    with pytest.raises(shmbus.InvalidArgument) as raised:
        shmbus.Topic.create("t", bus_dir, capacity=1000)
    assert isinstance(raised.value, ValueError)
    with pytest.raises(ValueError):
        shmbus.Topic.create("t", bus_dir, policy="sometimes")
    with pytest.raises(ValueError):
        shmbus.Topic.open("t", bus_dir, access="everything")
    with pytest.raises(shmbus.InvalidArgument):
        shmbus.Topic.create("../escape", bus_dir)


def test_publishing_on_a_topic_opened_for_subscribing_is_permission_denied(make_topic, bus_dir):
    make_topic()
    with shmbus.Topic.open("t", bus_dir, access="subscribe") as topic:
        with pytest.raises(shmbus.PermissionDenied):
            shmbus.Publisher(topic)
        shmbus.Subscriber(topic).close()


def test_a_record_too_large_raises_too_large(make_topic):
    publisher = shmbus.Publisher(make_topic(max_record_size=64))
    with pytest.raises(shmbus.TooLarge):
        publisher.publish(b"x" * 65)
    with pytest.raises(shmbus.TooLarge):
        publisher.try_publish(b"x" * 65)
    with pytest.raises(shmbus.TooLarge):
        publisher.claim(65)


def test_closed_handles_raise_closed(make_topic):
    topic = make_topic()
    publisher = shmbus.Publisher(topic)
    subscriber = shmbus.Subscriber(topic)
    publisher.close()
    publisher.close()  # again: nothing
    subscriber.close()
    for call in (lambda: publisher.publish(b"x"), lambda: publisher.try_publish(b"x"),
                 lambda: publisher.claim(1), lambda: publisher.publish_batch([b"x"]),
                 lambda: subscriber.receive(0), lambda: subscriber.poll(), subscriber.fileno,
                 subscriber.arm, subscriber.counters, lambda: next(subscriber)):
        with pytest.raises(shmbus.Closed):
            call()
    topic.close()
    for call in (topic.stat, lambda: topic.name, lambda: shmbus.Subscriber(topic),
                 lambda: shmbus.Publisher(topic)):
        with pytest.raises(shmbus.Closed):
            call()


def test_a_payload_asked_for_after_close_raises_stale(make_topic):
    topic = make_topic()
    subscriber = shmbus.Subscriber(topic)
    shmbus.Publisher(topic).publish(b"x")
    record = subscriber.receive(timeout=5)
    subscriber.close()
    with pytest.raises(shmbus.StaleRecordError):
        record.payload


def test_a_second_claim_is_claim_pending(make_topic):
    publisher = shmbus.Publisher(make_topic())
    claim = publisher.claim(1)
    with pytest.raises(shmbus.ClaimPending):
        publisher.claim(1)
    with pytest.raises(shmbus.ClaimPending):
        publisher.try_publish(b"x")
    claim.abort()
    assert publisher.try_publish(b"x")


def test_wrong_argument_types_raise_type_error(make_topic):
    topic = make_topic()
    publisher = shmbus.Publisher(topic)
    with pytest.raises(TypeError):
        publisher.publish("a str is not a buffer")
    with pytest.raises(TypeError):
        publisher.publish_batch([b"ok", 5])
    with pytest.raises(TypeError):
        shmbus.Publisher("not a topic")
    with pytest.raises(TypeError):
        shmbus.Subscriber(topic, start=1.5)
    with pytest.raises(ValueError):
        shmbus.Subscriber(topic, start="middle")
    with pytest.raises(ValueError):
        shmbus.Subscriber(topic).receive(timeout=-1)
    with pytest.raises(shmbus.InvalidArgument):
        shmbus.Subscriber(topic, start=3)  # not a frame boundary
    with pytest.raises(TypeError):
        shmbus.Record()
    with pytest.raises(TypeError):
        shmbus.Claim()


def test_a_record_payload_is_read_only(make_topic):
    topic = make_topic()
    subscriber = shmbus.Subscriber(topic)
    shmbus.Publisher(topic).publish(b"const")
    record = subscriber.receive(timeout=5)
    with pytest.raises(TypeError):
        record.payload[0] = 0
    with pytest.raises(TypeError, match="not writable"):
        (ctypes.c_char * 5).from_buffer(record)  # a writable buffer is refused
    copy = bytearray(5)
    copy[:] = record  # reading it is fine
    assert copy == b"const"


def test_open_or_create_opens_an_existing_topic_and_needs_shmbusd_for_a_missing_one(
        make_topic, bus_dir):
    make_topic("there")
    with shmbus.Topic.open_or_create("there", bus_dir, access="subscribe") as topic:
        assert topic.name == "there"
    with pytest.raises(shmbus.NotFound):
        shmbus.Topic.open_or_create("missing", bus_dir)  # no daemon supervises bus_dir


def test_a_parents_handles_raise_forked_in_a_child_which_opens_its_own(make_topic, bus_dir):
    topic = make_topic()
    publisher = shmbus.Publisher(topic)
    subscriber = shmbus.Subscriber(topic)
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status only
        status = 1
        try:
            try:
                publisher.publish(b"from the child")
            except shmbus.Forked:
                with shmbus.Topic.open("t", bus_dir) as own:
                    shmbus.Publisher(own).publish(b"own")
                status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert bytes(subscriber.receive(timeout=5)) == b"own"
    publisher.publish(b"parent")  # the parent's handles go on working
    assert bytes(subscriber.receive(timeout=5)) == b"parent"
