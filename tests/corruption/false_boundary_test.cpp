// Frame boundaries found by scanning (the oldest intact record, resynchronising after a lap):
// a counter, a length or a sequence number must never pass for a frame's commit word. Stamps are
// keyed in their top bits (format/frame_header.hpp) so that small integers never match.
#include <doctest/doctest.h>

#include <shmbus/detail/format/frame_header.hpp>
#include <shmbus/detail/ring/retention.hpp>
#include <shmbus/shmbus.hpp>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/records.hpp"

TEST_CASE(
    "a subscriber starting at earliest never starts inside a frame whose length looks like a "
    "stamp") {
    shmbus::test::BusDirectory bus;
    shmbus::create_topic(
        bus.path(), "t",
        {.capacity = 4096, .max_record_size = 256, .policy = shmbus::Policy::kOverwrite});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    shmbus::Publisher publisher(topic);
    REQUIRE(publisher.slot() == 0);
    // Lap 0: a 0-byte record at 0, then a 42-byte record at 32. Its length word, at position 40,
    // reads 42 == 40 | COMMITTED.
    REQUIRE(publisher.try_offer({}) == shmbus::Status::kOk);
    REQUIRE(publisher.try_offer(shmbus::test::filled(42, 0xee)) == shmbus::Status::kOk);
    // Fill lap 0 to its end (next frame at 112): 3984 bytes = 15 frames of 256 + one of 144.
    for (int i = 0; i < 15; ++i)
        REQUIRE(publisher.try_offer(shmbus::test::filled(224, 1)) == shmbus::Status::kOk);
    REQUIRE(publisher.try_offer(shmbus::test::filled(112, 2)) == shmbus::Status::kOk);
    REQUIRE(topic.view().records->tail.position == 4096);
    // Lap 1: one 40-byte frame overwrites [0, 40) — the head of the record at 32.
    REQUIRE(publisher.try_offer(shmbus::test::filled(5, 3)) == shmbus::Status::kOk);
    REQUIRE(topic.view().records->tail.position == 4136);

    // The oldest intact frame is the one at 112; 40 is inside the damaged record at 32.
    CHECK(shmbus::ring::oldest_intact_position(topic.view(), 4136) == 112);

    shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
    const auto received = shmbus::test::drain(subscriber);
    REQUIRE_FALSE(received.empty());
    CHECK(received.front().position == 112);
    for (const auto& got : received) {
        CHECK(got.payload.size() != 1);  // no such record was published
    }
}
