// What the handles promise at the edges of their use: an empty batch, a claim's payload once
// the claim is over, and moving a subscriber.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <shmbus/shmbus.hpp>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/records.hpp"

namespace {

using shmbus::Status;

struct Fixture {
    shmbus::test::BusDirectory bus;
    shmbus::Topic topic = shmbus::test::create_and_open(
        bus, {.capacity = 4096, .max_record_size = 128, .policy = shmbus::Policy::kBlock});
    shmbus::Publisher publisher{topic};
};

}  // namespace

TEST_CASE("a batch claim of no records is an invalid argument, and claims nothing") {
    Fixture f;
    const std::uint64_t tail = f.topic.view().records->tail.position;
    shmbus::BatchClaim batch = f.publisher.try_claim_batch({});
    CHECK_FALSE(batch);
    CHECK(batch.status() == Status::kInvalidArgument);
    CHECK(f.topic.view().records->tail.position == tail);
    // Nothing is pending: the next claim goes through.
    shmbus::Claim claim = f.publisher.try_claim(8);
    REQUIRE(claim);
    CHECK(claim.commit() == Status::kOk);
}

TEST_CASE("offering an empty list of records publishes nothing and succeeds") {
    Fixture f;
    std::size_t published = 99;
    CHECK(f.publisher.try_offer_batch({}, published) == Status::kOk);
    CHECK(published == 0);
    published = 99;
    CHECK(f.publisher.offer_batch({}, published) == Status::kOk);
    CHECK(published == 0);
    CHECK(f.topic.view().records->tail.sequence == 0);
}

TEST_CASE(
    "a committed or aborted claim's payload is empty, so a late write cannot change a record") {
    Fixture f;
    shmbus::Subscriber subscriber(f.topic, {.start = shmbus::StartAt::earliest()});
    shmbus::Claim committed = f.publisher.try_claim(16);
    REQUIRE(committed);
    CHECK(committed.payload().size() == 16);
    std::memset(committed.payload().data(), 'a', 16);
    REQUIRE(committed.commit() == Status::kOk);
    CHECK(committed.payload().empty());
    CHECK(committed.commit() == Status::kNoClaim);

    shmbus::Claim aborted = f.publisher.try_claim(16);
    REQUIRE(aborted);
    aborted.abort();
    CHECK(aborted.payload().empty());

    shmbus::Claim never;
    CHECK(never.payload().empty());
    const auto records = shmbus::test::drain(subscriber);
    REQUIRE(records.size() == 1);
    CHECK(records[0].payload == std::vector<std::byte>(16, std::byte{'a'}));

    const std::array<std::uint32_t, 2> lengths{8, 8};
    shmbus::BatchClaim batch = f.publisher.try_claim_batch(lengths);
    REQUIRE(batch);
    REQUIRE(batch.commit() == Status::kOk);
    CHECK(batch.payload(0).empty());
    CHECK(batch.payload(1).empty());
}

TEST_CASE("a subscriber moves with its slot, position and counters; the moved-from one is closed") {
    static_assert(std::is_nothrow_move_constructible_v<shmbus::Subscriber>);
    static_assert(std::is_nothrow_move_assignable_v<shmbus::Subscriber>);
    static_assert(!std::is_move_constructible_v<shmbus::Publisher>,
                  "a pending claim points at its publisher (see publisher.hpp)");
    Fixture f;
    shmbus::Subscriber first(f.topic, {.start = shmbus::StartAt::earliest()});
    const std::uint32_t slot = first.slot();
    for (int i = 0; i < 3; ++i)
        REQUIRE(f.publisher.try_offer(shmbus::test::bytes_of("r")) == Status::kOk);
    REQUIRE(shmbus::test::poll_some(first, 1).size() == 1);

    shmbus::Subscriber moved(std::move(first));
    CHECK(moved.slot() == slot);
    CHECK(moved.consumed() == 1);
    CHECK(shmbus::test::drain(moved).size() == 2);
    CHECK(moved.consumed() == 3);

    // The moved-from subscriber holds nothing and says so.
    Status status = Status::kOk;
    CHECK(shmbus::test::poll_some(first, 10, &status).empty());
    CHECK(status == Status::kClosed);
    CHECK(first.wait(std::chrono::milliseconds(1)) == Status::kClosed);

    // Assignment detaches the target's own slot and takes the source's.
    shmbus::Subscriber other(f.topic, {.start = shmbus::StartAt::earliest()});
    const std::uint32_t other_slot = other.slot();
    CHECK(other_slot != slot);
    other = std::move(moved);
    CHECK(other.slot() == slot);
    CHECK(other.consumed() == 3);
    const auto& slots = f.topic.view().subscribers;
    CHECK(slots[other_slot].state == shmbus::format::kSlotFree);
    CHECK(slots[slot].state == shmbus::format::kSlotActive);
    REQUIRE(f.publisher.try_offer(shmbus::test::bytes_of("after")) == Status::kOk);
    CHECK(shmbus::test::drain(other).size() == 1);

    // A moved subscriber still holds back a block topic's publishers: its slot is live.
    std::vector<shmbus::Subscriber> many;
    many.push_back(std::move(other));
    CHECK(many.front().slot() == slot);
}

TEST_CASE(
    "peek hands out the next record without a handler, keeps it until advance, and publishers may "
    "not overwrite it meanwhile") {
    for (const shmbus::Policy policy : {shmbus::Policy::kBlock, shmbus::Policy::kOverwrite}) {
        CAPTURE(policy == shmbus::Policy::kBlock ? "block" : "overwrite");
        shmbus::test::BusDirectory bus;
        const shmbus::Topic topic = shmbus::test::create_and_open(
            bus, {.capacity = 1024, .max_record_size = 64, .policy = policy});
        shmbus::Publisher publisher(topic);
        shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
        CHECK(subscriber.peek().record == nullptr);
        CHECK(subscriber.peek().status == Status::kOk);
        for (const char* text : {"first", "second"})
            REQUIRE(publisher.try_offer(shmbus::test::bytes_of(text)) == Status::kOk);

        const auto peeked = subscriber.peek();
        REQUIRE(peeked.record != nullptr);
        CHECK(peeked.record->sequence == 0);
        CHECK(peeked.record->payload.size() == 5);
        // Again, without advance: the same record.
        CHECK(subscriber.peek().record == peeked.record);
        CHECK(subscriber.peek().record->sequence == 0);
        const std::uint64_t slot_position = topic.view().subscribers[subscriber.slot()].position;
        CHECK(slot_position == 0);  // publishers still see us before the peeked record
        if (policy == shmbus::Policy::kBlock) {
            // The ring fills up to the peeked record and no further: it stays intact.
            std::size_t more = 0;
            while (publisher.try_offer(shmbus::test::filled(40, 0x33)) == Status::kOk)
                ++more;
            CHECK(more > 0);
            CHECK(std::memcmp(peeked.record->payload.data(), "first", 5) == 0);
        }
        subscriber.advance();
        const auto next = subscriber.peek();
        REQUIRE(next.record != nullptr);
        CHECK(next.record->sequence == 1);
        CHECK(std::memcmp(next.record->payload.data(), "second", 6) == 0);
        subscriber.advance();
        CHECK(topic.view().subscribers[subscriber.slot()].position > slot_position);
        // poll after a peek counts the peeked record as read.
        REQUIRE(publisher.try_offer(shmbus::test::bytes_of("third")) == Status::kOk);
        (void)subscriber.peek();
        std::vector<std::uint64_t> sequences;
        (void)subscriber.poll(
            [&](const shmbus::Record& record) { sequences.push_back(record.sequence); });
        CHECK(std::find(sequences.begin(), sequences.end(), 0) == sequences.end());
    }
}
