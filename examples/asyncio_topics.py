#!/usr/bin/env python3
"""Three topics and a timer in one asyncio loop: each subscriber's wake descriptor is watched by
the loop (subscriber.aiter()), so nothing blocks it.

    asyncio_topics.py           in a temporary bus directory of its own
"""
import asyncio
import tempfile

import shmbus

NAMES = ("prices", "orders", "alerts")


async def consume(subscriber, name, count):
    async for record in subscriber.aiter():
        print(f"{name}: {bytes(record.payload).decode()}")
        count -= 1
        if count == 0:
            return


async def produce(publishers):
    for i in range(5):
        await asyncio.sleep(0.01)  # the loop's timers run between records
        for name, publisher in publishers.items():
            publisher.publish(f"{name} {i}".encode())


async def main(bus):
    topics = [shmbus.Topic.create(name, bus, capacity=1 << 16, max_record_size=256)
              for name in NAMES]
    subscribers = {topic.name: shmbus.Subscriber(topic) for topic in topics}
    publishers = {topic.name: shmbus.Publisher(topic) for topic in topics}
    ticks = 0

    def tick():
        nonlocal ticks
        ticks += 1
        asyncio.get_running_loop().call_later(0.005, tick)

    tick()
    await asyncio.wait_for(asyncio.gather(
        produce(publishers), *(consume(s, name, 5) for name, s in subscribers.items())), 10)
    print(f"timer ticks meanwhile: {ticks}")
    for handle in [*subscribers.values(), *publishers.values(), *topics]:
        handle.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as bus:
        asyncio.run(main(bus))
