// A committed record whose length is made shorter (a broken or hostile publisher) sends its
// subscriber to a position no frame starts at. The subscriber notices that no claim is in flight
// there (no publisher's intent names it), counts the frame as corrupt and resumes at the next
// frame that vouches for itself, so the block topic does not stall until an eviction.
#include <doctest/doctest.h>

#include <shmbus/shmbus.hpp>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/payload.hpp"
#include "support/records.hpp"

using namespace std::chrono_literals;

TEST_CASE("a shortened record length does not stall a block topic for good") {
    shmbus::test::BusDirectory bus;
    shmbus::create_topic(bus.path(), "t", {.capacity = 4096, .max_record_size = 256});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    shmbus::Publisher publisher(topic);
    shmbus::Subscriber subscriber(topic);
    std::vector<std::uint64_t> positions;
    for (int i = 0; i < 10; ++i) {
        shmbus::Claim claim = publisher.try_claim(shmbus::test::record_length(0, i, 256));
        positions.push_back(claim.position());
        REQUIRE(claim.commit() == shmbus::Status::kOk);
    }
    topic.view().header(positions[3]).length = 8;  // a hostile or broken publisher
    std::size_t delivered = shmbus::test::drain(subscriber).size();
    int refused = 0;
    for (int i = 0; i < 60; ++i) {
        // Each offer waits (and repairs) up to 20 ms; the subscriber reads in between.
        const auto length = shmbus::test::record_length(0, 10 + i, 256);
        if (publisher.offer(shmbus::test::filled(length, 1), 20ms) != shmbus::Status::kOk)
            ++refused;
        delivered += shmbus::test::drain(subscriber).size();
        (void)subscriber.wait(1ms);  // as a real subscriber would, between polls
        delivered += shmbus::test::drain(subscriber).size();
    }
    CHECK(refused < 10);
    CHECK(delivered > 4 + 40);
    CHECK(subscriber.corrupt() >= 1);
}
