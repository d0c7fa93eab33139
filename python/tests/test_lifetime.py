"""A record in place is valid until its subscriber moves past it, and never read after."""

import gc

import pytest

import shmbus


@pytest.fixture
def pair(make_topic):
    topic = make_topic()
    return shmbus.Subscriber(topic), shmbus.Publisher(topic)


def test_a_stale_records_payload_raises_stale_record_error(pair):
    subscriber, publisher = pair
    publisher.publish_batch([b"first", b"second"])
    first = subscriber.receive(timeout=5)
    second = subscriber.receive(timeout=5)
    assert first.stale and not second.stale
    with pytest.raises(shmbus.StaleRecordError):
        first.payload
    with pytest.raises(shmbus.StaleRecordError):
        bytes(first)
    with pytest.raises(shmbus.StaleRecordError):
        memoryview(first)
    assert first.sequence == 0 and len(first) == 5  # the metadata stays
    assert bytes(second.payload) == b"second"


def test_a_memoryview_kept_from_payload_is_released_when_the_subscriber_moves_on(pair):
    subscriber, publisher = pair
    publisher.publish_batch([b"kept", b"next"])
    kept = subscriber.receive(timeout=5).payload
    assert bytes(kept) == b"kept"
    subscriber.receive(timeout=5)
    with pytest.raises(ValueError, match="released"):
        kept[0]
    with pytest.raises(ValueError):
        bytes(kept)


@pytest.mark.parametrize("moving_on", ["receive", "poll", "wait", "arm", "ready", "next", "close"])
def test_every_way_of_moving_on_refuses_while_a_slice_of_the_payload_is_alive(pair, moving_on):
    subscriber, publisher = pair
    publisher.publish_batch([b"0123456789", b"next"])
    record = subscriber.receive(timeout=5)
    piece = record.payload[2:5]
    calls = {
        "receive": lambda: subscriber.receive(0),
        "poll": subscriber.poll,
        "wait": lambda: subscriber.wait(0),
        "arm": subscriber.arm,
        "ready": subscriber.ready,
        "next": lambda: next(subscriber),
        "close": subscriber.close,
    }
    with pytest.raises(shmbus.BufferInUseError):
        calls[moving_on]()
    with pytest.raises(BufferError):  # it is a BufferError too
        calls[moving_on]()
    assert bytes(piece) == b"234" and not record.stale  # still in place, still right
    del piece
    calls[moving_on]()  # now it moves on
    assert record.stale


def test_a_buffer_taken_from_the_record_itself_holds_the_subscriber_too(pair):
    subscriber, publisher = pair
    publisher.publish_batch([b"abc", b"def"])
    record = subscriber.receive(timeout=5)
    view = memoryview(record)
    with pytest.raises(shmbus.BufferInUseError):
        subscriber.receive(0)
    view.release()
    assert bytes(subscriber.receive(0)) == b"def"


def test_a_dropped_record_lets_the_subscriber_move_on(pair):
    subscriber, publisher = pair
    publisher.publish_batch([b"a", b"b"])
    subscriber.receive(timeout=5).payload  # a view made and dropped at once
    assert bytes(subscriber.receive(0)) == b"b"


def test_a_record_in_a_cycle_with_its_view_is_collected(pair):
    subscriber, publisher = pair
    publisher.publish(b"a")
    record = subscriber.receive(timeout=5)
    view = record.payload
    del record, view
    gc.collect()
    publisher.publish(b"b")
    assert bytes(subscriber.receive(timeout=5)) == b"b"


def test_a_claims_memoryview_is_released_after_the_block_and_never_writes_the_ring(pair):
    subscriber, publisher = pair
    with publisher.claim(4) as buf:
        buf[:] = b"good"
    with pytest.raises(ValueError, match="released"):
        buf[:] = b"evil"
    record = subscriber.receive(timeout=5)
    assert bytes(record.payload) == b"good"


def test_a_claim_stays_pending_while_a_slice_of_it_is_alive(pair):
    subscriber, publisher = pair
    claim = publisher.claim(4)
    piece = claim.payload[0:2]
    with pytest.raises(shmbus.BufferInUseError):
        claim.commit()
    assert claim.pending
    with pytest.raises(shmbus.ClaimPending):
        publisher.publish(b"other")
    piece[:] = b"ok"
    del piece
    claim.payload[2:] = b"!!"
    claim.commit()
    assert bytes(subscriber.receive(timeout=5)) == b"ok!!"
    with pytest.raises(shmbus.NoClaim):
        claim.payload
    with pytest.raises(shmbus.NoClaim):
        claim.commit()


def test_closing_a_publisher_aborts_its_claim_and_ends_the_claims_buffers(pair):
    subscriber, publisher = pair
    claim = publisher.claim(4)
    view = claim.payload
    publisher.close()
    assert not claim.pending
    with pytest.raises(ValueError):
        view[0] = 1
    assert subscriber.receive(0) is None


def test_numpy_frombuffer_reads_the_record_in_place(pair):
    numpy = pytest.importorskip("numpy", reason="numpy is not installed (python3-numpy)")
    subscriber, publisher = pair
    values = numpy.arange(16, dtype=numpy.float64)
    publisher.publish(values)
    publisher.publish(b"next")
    record = subscriber.receive(timeout=5)
    array = numpy.frombuffer(record.payload, dtype=numpy.float64)
    direct = numpy.frombuffer(record, dtype=numpy.float64)
    assert numpy.array_equal(array, values)
    # Zero-copy: both views start at the same address, in the ring, not in a copy.
    address = array.__array_interface__["data"][0]
    assert direct.__array_interface__["data"][0] == address
    assert numpy.frombuffer(bytes(record), dtype=numpy.float64).__array_interface__["data"][0] != address
    assert not array.flags.writeable
    with pytest.raises(shmbus.BufferInUseError):
        subscriber.receive(0)  # the arrays would read bytes publishers may overwrite
    del array, direct
    assert bytes(subscriber.receive(0)) == b"next"


def test_numpy_writes_a_claim_in_place(pair):
    numpy = pytest.importorskip("numpy", reason="numpy is not installed (python3-numpy)")
    subscriber, publisher = pair
    claim = publisher.claim(8 * 4)
    array = numpy.frombuffer(claim, dtype=numpy.int64)
    array[:] = [1, 2, 3, 4]
    del array
    claim.commit()
    record = subscriber.receive(timeout=5)
    assert numpy.frombuffer(record, dtype=numpy.int64).tolist() == [1, 2, 3, 4]
