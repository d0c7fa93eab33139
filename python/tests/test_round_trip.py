"""Records go in and come out as they were: copied, batched, claimed in place, polled."""

import pytest

import shmbus


def test_a_published_record_arrives_with_its_payload_and_metadata(make_topic):
    topic = make_topic()
    subscriber = shmbus.Subscriber(topic, start="earliest")
    publisher = shmbus.Publisher(topic)
    publisher.publish(b"hello")
    record = subscriber.receive(timeout=5)
    assert bytes(record.payload) == b"hello"
    assert len(record) == 5
    assert record.sequence == 0
    assert record.position == 0
    assert record.next_position > record.position
    assert record.timestamp_ns > 0
    assert record.in_place and not record.stale
    assert record.payload.readonly


def test_any_buffer_is_a_record_bytes_bytearray_memoryview_array(make_topic):
    import array

    topic = make_topic()
    subscriber = shmbus.Subscriber(topic)
    publisher = shmbus.Publisher(topic)
    values = array.array("i", [1, 2, 3])
    sent = [b"bytes", bytearray(b"bytearray"), memoryview(b"..view..")[2:6], values, b""]
    for data in sent:
        publisher.publish(data)
    received = [bytes(subscriber.receive(timeout=5)) for _ in sent]
    assert received == [bytes(data) for data in sent]


def test_try_publish_says_false_when_a_block_topic_is_full(make_topic):
    topic = make_topic(capacity=1 << 12, max_record_size=256)
    subscriber = shmbus.Subscriber(topic)  # never reads: holds the publishers back
    publisher = shmbus.Publisher(topic)
    published = 0
    while publisher.try_publish(b"x" * 200):
        published += 1
        assert published < 100
    assert 10 <= published < 100
    with pytest.raises(shmbus.Timeout) as raised:
        publisher.publish(b"x", timeout=0.05)
    assert raised.value.status == -2 and isinstance(raised.value, TimeoutError)
    record = subscriber.receive(0)
    assert not publisher.try_publish(b"x" * 200)  # the record in place still holds them back
    assert subscriber.receive(0).sequence == record.sequence + 1  # moving past it makes room
    assert publisher.try_publish(b"x" * 200)


def test_a_batch_arrives_in_order(make_topic):
    topic = make_topic()
    subscriber = shmbus.Subscriber(topic)
    publisher = shmbus.Publisher(topic)
    batch = [str(i).encode() * (i % 5) for i in range(150)]
    assert publisher.publish_batch(batch) == 150
    assert publisher.publish_batch(iter([])) == 0
    got = []
    while len(got) < 150:
        got += [bytes(record.payload) for record in subscriber.poll(64)]
    assert got == batch


def test_a_batch_larger_than_the_ring_waits_for_the_subscriber_and_times_out_partly(make_topic):
    topic = make_topic(capacity=1 << 12, max_record_size=256)
    subscriber = shmbus.Subscriber(topic)  # holds the publishers back, never reads
    publisher = shmbus.Publisher(topic)
    with pytest.raises(shmbus.Timeout) as raised:
        publisher.publish_batch([b"y" * 100] * 100, timeout=0.05)
    assert 0 < raised.value.published < 100
    assert len(subscriber.poll(100)) == raised.value.published


def test_a_claim_is_written_in_place_and_committed_at_the_end_of_the_block(make_topic):
    topic = make_topic()
    subscriber = shmbus.Subscriber(topic)
    publisher = shmbus.Publisher(topic)
    with publisher.claim(8) as buf:
        assert isinstance(buf, memoryview) and not buf.readonly and len(buf) == 8
        buf[:4] = b"in p"
        buf[4:] = b"lace"
        assert subscriber.receive(0) is None  # nothing before the commit
    assert bytes(subscriber.receive(timeout=5).payload) == b"in place"


def test_a_claim_whose_block_raises_is_aborted_and_never_delivered(make_topic):
    topic = make_topic()
    subscriber = shmbus.Subscriber(topic)
    publisher = shmbus.Publisher(topic)
    try:
        with publisher.claim(4) as buf:
            buf[:] = b"lost"
            raise KeyError("the writer failed")
    except KeyError:
        pass
    publisher.publish(b"next")
    record = subscriber.receive(timeout=5)
    assert bytes(record.payload) == b"next"
    assert subscriber.counters()["voided"] == 1


def test_a_claim_can_be_committed_by_hand(make_topic):
    topic = make_topic()
    subscriber = shmbus.Subscriber(topic)
    publisher = shmbus.Publisher(topic)
    claim = publisher.claim(3)
    assert claim.pending and len(claim) == 3
    claim.payload[:] = b"abc"
    claim.commit()
    assert not claim.pending
    assert bytes(subscriber.receive(timeout=5)) == b"abc"


def test_poll_returns_copies_that_stay_valid(make_topic):
    topic = make_topic()
    subscriber = shmbus.Subscriber(topic)
    publisher = shmbus.Publisher(topic)
    for i in range(10):
        publisher.publish(b"r%d" % i)
    first = subscriber.poll(4)
    rest = subscriber.poll()
    assert [bytes(r.payload) for r in first + rest] == [b"r%d" % i for i in range(10)]
    assert not first[0].in_place and not first[0].stale
    assert subscriber.poll() == []
    assert subscriber.consumed == 10 and subscriber.lost == 0 and subscriber.corrupt == 0


def test_iteration_yields_every_record_in_order(make_topic):
    topic = make_topic()
    subscriber = shmbus.Subscriber(topic)
    publisher = shmbus.Publisher(topic)
    for i in range(100):
        publisher.publish(i.to_bytes(4, "little"))
    for expected, record in zip(range(100), subscriber):
        assert int.from_bytes(record.payload, "little") == expected


def test_a_subscriber_resumes_at_a_saved_position(make_topic):
    topic = make_topic()
    publisher = shmbus.Publisher(topic)
    first = shmbus.Subscriber(topic)
    for i in range(5):
        publisher.publish(b"%d" % i)
    saved = None
    for _ in range(3):
        record = first.receive(timeout=5)
        saved = (record.next_position, record.sequence + 1)
    resumed = shmbus.Subscriber(topic, start=saved[0], next_sequence=saved[1])
    assert [bytes(r.payload) for r in resumed.poll()] == [b"3", b"4"]


def test_an_overwrite_topic_counts_what_a_slow_subscriber_lost(make_topic):
    topic = make_topic(capacity=1 << 12, max_record_size=256, policy="overwrite")
    subscriber = shmbus.Subscriber(topic)
    publisher = shmbus.Publisher(topic)
    for i in range(1000):
        assert publisher.try_publish(b"%08d" % i)
    records = subscriber.poll(1000)
    assert records and bytes(records[-1].payload) == b"00000999"
    assert subscriber.lost == 1000 - len(records)


def test_stat_reports_the_layout_and_the_counters(make_topic):
    topic = make_topic(capacity=1 << 15, max_record_size=512, timestamps=False,
                       fenced_commits=True)
    publisher = shmbus.Publisher(topic)
    subscriber = shmbus.Subscriber(topic)
    publisher.publish(b"x")
    assert subscriber.receive(timeout=5).timestamp_ns == 0
    stats = topic.stat()
    assert stats["capacity"] == 1 << 15
    assert stats["max_record_size"] == 512
    assert stats["policy"] == "block"
    assert stats["timestamps"] is False
    assert stats["fenced_commits"] is True
    assert stats["published"] == 1
    assert stats["publishers"] == 1 and stats["subscribers"] == 1
    assert topic.name == "t"


def test_topics_open_remove_and_context_managers(bus_dir):
    with shmbus.Topic.create("a", bus_dir, capacity=1 << 16, max_record_size=64) as created:
        assert created.directory.endswith("bus")
        with shmbus.Topic.open("a", bus_dir, access="subscribe") as opened:
            with shmbus.Subscriber(opened) as subscriber:
                assert not subscriber.closed
            assert subscriber.closed
    assert created.closed
    again = shmbus.Topic.create("a", bus_dir, exist_ok=True)
    again.close()
    assert shmbus.Topic.remove("a", bus_dir) is True
    assert shmbus.Topic.remove("a", bus_dir) is False


def test_the_module_reports_versions():
    assert shmbus.version() == shmbus.__version__
    assert shmbus.HEADER_VERSION.count(".") == 2
    assert shmbus.C_ABI_VERSION == 2
    assert shmbus.format_version() > 0
    assert shmbus.strerror(-2) == "timed out"


def test_without_a_bus_dir_the_topic_lives_in_shmbus_dir(bus_dir, monkeypatch):
    monkeypatch.setenv("SHMBUS_DIR", bus_dir)
    with shmbus.Topic.create("env", capacity=1 << 16, max_record_size=64) as created:
        assert created.directory == bus_dir
    with shmbus.Topic.open("env") as topic, shmbus.Topic.open_or_create("env") as again:
        assert topic.directory == again.directory == bus_dir
    assert shmbus.Topic.remove("env")


def test_flush_writes_committed_records_to_the_file_and_refuses_a_closed_publisher(make_topic):
    topic = make_topic()
    publisher = shmbus.Publisher(topic)
    publisher.publish(b"flushed record")
    assert publisher.flush() is None
    subscriber = shmbus.Subscriber(topic, start="earliest")
    assert bytes(subscriber.receive(timeout=5)) == b"flushed record"
    publisher.close()
    with pytest.raises(shmbus.Closed):
        publisher.flush()
