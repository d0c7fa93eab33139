// A poll handler that throws: the records before it and the one it threw on are consumed, the
// position past that record is published, the counters are exact, and nothing is delivered
// twice. In place (block) and copied (overwrite), in the tight run of committed records and in
// poll's general step, in a poll of one record and mid-batch.
#include <doctest/doctest.h>

#include <cstdint>
#include <shmbus/shmbus.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/records.hpp"

namespace {

using shmbus::Status;

struct HandlerError : std::runtime_error {
    explicit HandlerError(std::uint64_t sequence)
        : std::runtime_error("refused " + std::to_string(sequence)) {}
};

struct Fixture {
    shmbus::test::BusDirectory bus;
    shmbus::Topic topic;
    shmbus::Publisher publisher;
    shmbus::Subscriber subscriber;

    Fixture(shmbus::Policy policy, bool zero_copy)
        : topic(shmbus::test::create_and_open(
              bus, {.capacity = 4096, .max_record_size = 64, .policy = policy})),
          publisher(topic),
          subscriber(topic, {.start = shmbus::StartAt::earliest(), .zero_copy = zero_copy}) {}

    void publish(std::uint64_t count) {
        for (std::uint64_t i = 0; i < count; ++i) {
            const std::string text = "record " + std::to_string(i);
            REQUIRE(publisher.try_offer(shmbus::test::bytes_of(text)) == Status::kOk);
        }
    }

    /// Polls once with `limit`, throwing on sequence `throw_at`; the sequences handed over.
    std::vector<std::uint64_t> poll_throwing(std::uint64_t throw_at, std::size_t limit,
                                             bool& threw) {
        std::vector<std::uint64_t> seen;
        threw = false;
        try {
            (void)subscriber.poll(
                [&](const shmbus::Record& record) {
                    seen.push_back(record.sequence);
                    if (record.sequence == throw_at) throw HandlerError(record.sequence);
                },
                limit);
        } catch (const HandlerError&) {
            threw = true;
        }
        return seen;
    }
};

struct Mode {
    const char* name;
    shmbus::Policy policy;
    bool zero_copy;
};

const Mode kModes[] = {{"block, in place", shmbus::Policy::kBlock, true},
                       {"block, copied", shmbus::Policy::kBlock, false},
                       {"overwrite, copied", shmbus::Policy::kOverwrite, true}};

}  // namespace

TEST_CASE(
    "a handler that throws mid-batch consumes the records before it and the one it threw on, and "
    "the next poll goes on after it") {
    for (const Mode& mode : kModes) {
        CAPTURE(mode.name);
        Fixture f(mode.policy, mode.zero_copy);
        f.publish(5);
        bool threw = false;
        const auto first = f.poll_throwing(2, 256, threw);
        CHECK(threw);
        CHECK(first == std::vector<std::uint64_t>{0, 1, 2});
        CHECK(f.subscriber.consumed() == 3);
        CHECK(f.subscriber.corrupt() == 0);
        CHECK(f.subscriber.lost() == 0);
        CHECK(f.subscriber.voided() == 0);
        CHECK(f.subscriber.next_sequence() == 3);

        const auto rest = shmbus::test::drain(f.subscriber);
        REQUIRE(rest.size() == 2);
        CHECK(rest[0].sequence == 3);
        CHECK(rest[1].sequence == 4);
        CHECK(f.subscriber.consumed() == 5);
        CHECK(f.subscriber.corrupt() == 0);
        CHECK(f.subscriber.lost() == 0);
    }
}

TEST_CASE("a handler that throws on a poll of one record still moves past that record") {
    for (const Mode& mode : kModes) {
        CAPTURE(mode.name);
        Fixture f(mode.policy, mode.zero_copy);
        f.publish(3);
        bool threw = false;
        CHECK(f.poll_throwing(0, 1, threw) == std::vector<std::uint64_t>{0});
        CHECK(threw);
        CHECK(f.poll_throwing(1, 1, threw) == std::vector<std::uint64_t>{1});
        CHECK(threw);
        CHECK(f.poll_throwing(99, 256, threw) == std::vector<std::uint64_t>{2});
        CHECK_FALSE(threw);
        CHECK(f.subscriber.consumed() == 3);
        CHECK(f.subscriber.corrupt() == 0);
    }
}

TEST_CASE("the position a throwing handler leaves is published, so publishers may reuse the room") {
    // A block topic whose ring holds few records: unless the subscriber's published position
    // moved past the throwing record, the publisher could not fill the ring again.
    shmbus::test::BusDirectory bus;
    const shmbus::Topic topic = shmbus::test::create_and_open(
        bus, {.capacity = 1024, .max_record_size = 64, .policy = shmbus::Policy::kBlock});
    shmbus::Publisher publisher(topic);
    shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
    const auto payload = shmbus::test::filled(64, 0x5a);
    std::uint64_t published = 0;
    while (publisher.try_offer(payload) == Status::kOk)
        ++published;
    REQUIRE(published > 2);
    std::uint64_t handed = 0;
    std::uint64_t after_last = 0;
    try {
        (void)subscriber.poll([&](const shmbus::Record& record) {
            after_last = record.next_position;
            if (++handed == published) throw std::runtime_error("last one");
        });
        FAIL("the handler should have thrown");
    } catch (const std::runtime_error&) {
    }
    CHECK(subscriber.consumed() == published);
    CHECK(subscriber.position() == after_last);
    CHECK(topic.view().subscribers[subscriber.slot()].position == after_last);
    std::uint64_t again = 0;
    while (publisher.try_offer(payload) == Status::kOk)
        ++again;
    CHECK(again == published);
}
