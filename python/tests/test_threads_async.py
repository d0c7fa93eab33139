"""Waiting releases the GIL, and subscribers fit an asyncio loop."""

import asyncio
import threading
import time

import pytest

import shmbus


def test_another_thread_makes_progress_while_one_waits(make_topic):
    topic = make_topic()
    subscriber = shmbus.Subscriber(topic)
    publisher = shmbus.Publisher(topic)
    got = []
    waiter = threading.Thread(target=lambda: got.append(next(subscriber)))
    waiter.start()
    # Pure-Python work in this thread: it would stall if the waiting thread held the GIL.
    started = time.monotonic()
    spins = 0
    while time.monotonic() - started < 0.3:
        spins += 1
    assert spins > 10000
    assert waiter.is_alive() and not got
    publisher.publish(b"wake up")
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    assert bytes(got[0].payload) == b"wake up"


def test_a_subscriber_waiting_in_one_thread_refuses_another(make_topic):
    topic = make_topic()
    subscriber = shmbus.Subscriber(topic)
    results = []
    waiter = threading.Thread(target=lambda: results.append(subscriber.wait(timeout=10)))
    waiter.start()
    deadline = time.monotonic() + 10
    refused = None
    while refused is None and time.monotonic() < deadline:
        try:
            subscriber.counters()  # fine until the waiter is inside wait()
        except shmbus.Error as error:
            refused = error
    assert refused is not None and "another thread" in str(refused)
    with pytest.raises(shmbus.Error, match="another thread"):
        subscriber.close()  # never closes what the waiter uses
    shmbus.Publisher(topic).publish(b"x")
    waiter.join(timeout=10)
    assert results == [True]
    subscriber.close()


def test_publishers_in_threads_reach_a_subscriber_in_another(make_topic):
    topic = make_topic(capacity=1 << 14, max_record_size=64)
    subscriber = shmbus.Subscriber(topic)

    def publish(identity):
        with shmbus.Publisher(topic) as publisher:
            for i in range(2000):
                publisher.publish(b"%d:%d" % (identity, i), timeout=30)

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    expected = [0, 0, 0]
    for _ in range(6000):
        record = subscriber.receive(timeout=30)
        identity, counter = map(int, bytes(record.payload).split(b":"))
        assert counter == expected[identity]
        expected[identity] += 1
    for thread in threads:
        thread.join(timeout=30)
    assert expected == [2000, 2000, 2000]


def test_asyncio_reads_three_topics_and_runs_a_timer_in_one_loop(make_topic):
    topics = [make_topic(f"async-{i}") for i in range(3)]
    subscribers = [shmbus.Subscriber(topic) for topic in topics]
    publishers = [shmbus.Publisher(topic) for topic in topics]
    per_topic = 200

    async def consume(subscriber, index):
        received = []
        async for record in subscriber.aiter():
            received.append(bytes(record.payload))
            if len(received) == per_topic:
                break
        assert received == [b"%d-%d" % (index, i) for i in range(per_topic)]
        return index

    async def main():
        loop = asyncio.get_running_loop()
        ticks = []
        # The loop's own timer keeps running while the subscribers wait.
        ticker = loop.call_later(0.01, lambda: ticks.append(loop.time()))

        # Topic 0 and 1 get records from the loop's timers, topic 2 from another thread.
        def publish_some(index, start):
            for i in range(start, min(start + 20, per_topic)):
                publishers[index].publish(b"%d-%d" % (index, i))
            if start + 20 < per_topic:
                loop.call_later(0.002, publish_some, index, start + 20)

        loop.call_soon(publish_some, 0, 0)
        loop.call_later(0.005, publish_some, 1, 0)
        feeder = threading.Thread(target=lambda: [
            (publishers[2].publish(b"2-%d" % i), time.sleep(0.0005)) for i in range(per_topic)])
        feeder.start()
        sleeper_ran = []

        async def sleeper():
            await asyncio.sleep(0.05)
            sleeper_ran.append(True)

        done = await asyncio.wait_for(
            asyncio.gather(*(consume(s, i) for i, s in enumerate(subscribers)), sleeper()),
            timeout=30)
        feeder.join(timeout=10)
        ticker.cancel()
        return done, ticks, sleeper_ran

    done, ticks, sleeper_ran = asyncio.run(main())
    assert done[:3] == [0, 1, 2]
    assert ticks and sleeper_ran
    assert all(subscriber.consumed == per_topic for subscriber in subscribers)


def test_the_async_iterator_removes_its_reader_when_it_ends(make_topic):
    topic = make_topic()
    subscriber = shmbus.Subscriber(topic)
    shmbus.Publisher(topic).publish(b"one")

    async def main():
        async for record in subscriber.aiter():
            assert bytes(record.payload) == b"one"
            break
        loop = asyncio.get_running_loop()
        # The descriptor is no longer watched: adding it again works, removing says it was.
        loop.add_reader(subscriber.fileno(), lambda: None)
        assert loop.remove_reader(subscriber.fileno())

    asyncio.run(asyncio.wait_for(main(), timeout=10))


def test_the_wake_descriptor_becomes_readable_once_armed_and_a_record_comes(make_topic):
    import select

    topic = make_topic()
    subscriber = shmbus.Subscriber(topic)
    publisher = shmbus.Publisher(topic)
    fd = subscriber.fileno()
    assert fd == subscriber.wake_fd >= 0
    assert subscriber.arm() is False  # nothing there: the descriptor will say when
    assert select.select([fd], [], [], 0)[0] == []
    publisher.publish(b"x")
    assert select.select([fd], [], [], 5)[0] == [fd]
    assert subscriber.ready()
    assert bytes(subscriber.receive(0)) == b"x"
    assert subscriber.receive(0) is None
    assert subscriber.arm() is False  # drained, armed again
    assert select.select([fd], [], [], 0)[0] == []
    publisher.publish(b"y")
    assert subscriber.arm() is True  # something came: receive before waiting
