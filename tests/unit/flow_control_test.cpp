// Back-pressure in block topics and exact loss accounting in overwrite topics, on 1 KiB rings,
// checked against a model of where every frame lands.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <shmbus/detail/format/frame_header.hpp>
#include <shmbus/shmbus.hpp>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/payload.hpp"
#include "support/records.hpp"
#include "support/topic_files.hpp"

namespace {

using shmbus::Status;
using shmbus::test::frame_size;

constexpr std::uint64_t kCapacity = 1024;
constexpr std::uint32_t kMax = 224;

shmbus::Topic make_topic(const shmbus::test::BusDirectory& bus, shmbus::Policy policy) {
    return shmbus::test::create_and_open(
        bus, {.capacity = kCapacity, .max_record_size = kMax, .policy = policy});
}

// Where the publisher's frames go: the tail, and each record's position and sequence.
struct RingModel {
    std::uint64_t tail = 0;
    std::uint64_t sequence = 0;

    // The end of the claim for `length` bytes (after a WRAP if one is needed), and the
    // position of the WRAP's end if one is needed.
    struct Plan {
        std::uint64_t wrap_end;  // == tail when no WRAP
        std::uint64_t record_position;
        std::uint64_t end;
    };
    [[nodiscard]] Plan plan(std::uint32_t length) const {
        const std::uint64_t size = frame_size(length);
        const std::uint64_t room = kCapacity - tail % kCapacity;
        const std::uint64_t wrap_end = size > room ? tail + room : tail;
        return Plan{wrap_end, wrap_end, wrap_end + size};
    }
};

struct Published {
    std::uint64_t position;
    std::uint64_t sequence;
    std::uint32_t length;
};

}  // namespace

TEST_CASE("try_offer is back-pressured exactly when the slowest subscriber would be overrun") {
    shmbus::test::BusDirectory bus;
    const shmbus::Topic topic = make_topic(bus, shmbus::Policy::kBlock);
    shmbus::Publisher publisher(topic);
    shmbus::Subscriber fast(topic);
    shmbus::Subscriber slow(topic);
    shmbus::test::TestRandom random(42);
    RingModel model;
    std::vector<Published> published;
    std::size_t refusals = 0;
    std::size_t fast_read = 0;
    std::size_t slow_read = 0;
    for (int step = 0; step < 4000; ++step) {
        const std::uint32_t length = shmbus::test::record_length(0, published.size(), kMax);
        const RingModel::Plan plan = model.plan(length);
        const std::uint64_t limit = std::min(fast.position(), slow.position()) + kCapacity;
        std::vector<std::byte> record(length);
        shmbus::test::fill_record(record, 0, published.size());
        const Status status = publisher.try_offer(record);
        CAPTURE(step);
        CAPTURE(model.tail);
        CAPTURE(limit);
        if (plan.end <= limit) {
            REQUIRE(status == Status::kOk);
            published.push_back({plan.record_position, model.sequence, length});
            model.tail = plan.end;
            ++model.sequence;
        } else {
            REQUIRE(status == Status::kBackPressured);
            ++refusals;
            // A WRAP that fits is claimed even when the record after it does not.
            if (plan.wrap_end <= limit) model.tail = plan.wrap_end;
        }
        REQUIRE(topic.view().records->tail.position == model.tail);
        // Each subscriber reads a random handful now and then; the slow one rarely.
        if (random.below(3) == 0) {
            for (const auto& got : shmbus::test::poll_some(fast, random.below(6))) {
                REQUIRE(fast_read < published.size());
                CHECK(got.position == published[fast_read].position);
                CHECK(got.sequence == published[fast_read].sequence);
                ++fast_read;
            }
        }
        if (random.below(12) == 0) {
            for (const auto& got : shmbus::test::poll_some(slow, random.below(10))) {
                REQUIRE(slow_read < published.size());
                CHECK(got.position == published[slow_read].position);
                CHECK_FALSE(shmbus::test::check_record(got.payload, 0, slow_read, kMax));
                ++slow_read;
            }
        }
    }
    CHECK(refusals > 100);  // the test did exercise back-pressure
    CHECK(slow.lost() == 0);
    CHECK(fast.lost() == 0);
}

TEST_CASE("a back-pressured publisher succeeds again as soon as the subscriber polls") {
    shmbus::test::BusDirectory bus;
    const shmbus::Topic topic = make_topic(bus, shmbus::Policy::kBlock);
    shmbus::Publisher publisher(topic);
    shmbus::Subscriber subscriber(topic);
    const auto record = shmbus::test::filled(kMax, 1);  // 256-byte frames: 4 per lap
    for (int i = 0; i < 4; ++i)
        REQUIRE(publisher.try_offer(record) == Status::kOk);
    CHECK(publisher.try_offer(record) == Status::kBackPressured);
    CHECK(publisher.try_offer({}) == Status::kBackPressured);  // even 32 bytes would overrun
    CHECK(publisher.offer(record, std::chrono::milliseconds(20)) == Status::kTimedOut);
    REQUIRE(shmbus::test::poll_some(subscriber, 1).size() == 1);
    CHECK(publisher.try_offer(record) == Status::kOk);
    CHECK(publisher.try_offer({}) == Status::kBackPressured);
}

TEST_CASE(
    "a block topic with no subscriber never back-pressures: the publisher overwrites the oldest "
    "records") {
    shmbus::test::BusDirectory bus;
    const shmbus::Topic topic = make_topic(bus, shmbus::Policy::kBlock);
    shmbus::Publisher publisher(topic);
    std::vector<std::byte> record(100);
    for (std::uint64_t i = 0; i < 200; ++i) {  // 200 * 136 bytes: more than 26 laps
        shmbus::test::fill_record(record, 7, i);
        REQUIRE(publisher.try_offer(record) == Status::kOk);
    }
    // What is left is the newest lap's worth, intact.
    shmbus::Subscriber late(topic, {.start = shmbus::StartAt::earliest()});
    const auto received = shmbus::test::drain(late);
    REQUIRE_FALSE(received.empty());
    CHECK(received.size() == kCapacity / frame_size(100));  // 7 frames of 136 fit a lap
    for (const auto& got : received) {
        shmbus::test::fill_record(record, 7, got.sequence);
        CHECK(got.payload == record);
    }
    CHECK(received.back().sequence == 199);
}

TEST_CASE("an overwrite topic never back-pressures, however far behind its subscriber is") {
    shmbus::test::BusDirectory bus;
    const shmbus::Topic topic = make_topic(bus, shmbus::Policy::kOverwrite);
    shmbus::Publisher publisher(topic);
    shmbus::Subscriber subscriber(topic);
    for (int i = 0; i < 100; ++i) {
        REQUIRE(publisher.try_offer(shmbus::test::filled(kMax, 1)) == Status::kOk);
    }
}

TEST_CASE(
    "a lapped overwrite subscriber resumes at the oldest intact record and counts exactly what it "
    "lost") {
    shmbus::test::BusDirectory bus;
    const shmbus::Topic topic = make_topic(bus, shmbus::Policy::kOverwrite);
    shmbus::Publisher publisher(topic);
    shmbus::Subscriber subscriber(topic);
    shmbus::test::TestRandom random(7);
    RingModel model;
    std::vector<Published> published;
    std::uint64_t delivered = 0;
    std::uint64_t next_unread = 0;  // index into published of the next record it should get
    std::size_t laps_seen = 0;
    for (int round = 0; round < 400; ++round) {
        // A burst of 0 to ~3 laps of records.
        const std::uint64_t burst = random.below(25);
        for (std::uint64_t i = 0; i < burst; ++i) {
            const std::uint64_t counter = published.size();
            const std::uint32_t length = shmbus::test::record_length(3, counter, kMax);
            const RingModel::Plan plan = model.plan(length);
            std::vector<std::byte> record(length);
            shmbus::test::fill_record(record, 3, counter);
            REQUIRE(publisher.try_offer(record) == Status::kOk);
            published.push_back({plan.record_position, model.sequence, length});
            model.tail = plan.end;
            ++model.sequence;
        }
        // The oldest intact record now: the first whose frame starts at or after tail - capacity.
        const std::uint64_t window = model.tail > kCapacity ? model.tail - kCapacity : 0;
        const auto oldest = static_cast<std::uint64_t>(
            std::partition_point(published.begin(), published.end(),
                                 [&](const Published& p) { return p.position < window; }) -
            published.begin());
        const std::uint64_t lost_before = subscriber.lost();
        const std::uint64_t limit = random.below(8);
        const auto received = shmbus::test::poll_some(subscriber, limit);
        CAPTURE(round);
        if (!received.empty()) {
            const std::uint64_t expected_first = std::max(next_unread, oldest);
            if (expected_first > next_unread) ++laps_seen;
            CHECK(received.front().position == published[expected_first].position);
            CHECK(subscriber.lost() - lost_before == expected_first - next_unread);
            next_unread = expected_first;
            for (const auto& got : received) {
                REQUIRE(next_unread < published.size());
                CHECK(got.position == published[next_unread].position);
                CHECK(got.sequence == published[next_unread].sequence);
                CHECK_FALSE(shmbus::test::check_record(got.payload, 3, next_unread, kMax));
                ++next_unread;
                ++delivered;
            }
        }
    }
    // Read what is left: every record is then delivered or counted lost, exactly once.
    const auto rest = shmbus::test::drain(subscriber);
    delivered += rest.size();
    CHECK(subscriber.consumed() == delivered);
    CHECK(delivered + subscriber.lost() == published.size());
    CHECK(subscriber.voided() == 0);
    CHECK(laps_seen > 20);  // the test did lap the subscriber
}

TEST_CASE("a publisher that published once and went idle does not hold back another after a lap") {
    for (const shmbus::Policy policy : {shmbus::Policy::kOverwrite, shmbus::Policy::kBlock}) {
        CAPTURE(static_cast<int>(policy));
        shmbus::test::BusDirectory bus;
        const shmbus::Topic topic = make_topic(bus, policy);
        shmbus::Publisher idle(topic);
        shmbus::Publisher busy(topic);
        REQUIRE(idle.try_offer(shmbus::test::bytes_of("once")) == Status::kOk);
        // 100 frames of 136 bytes: 13 laps past the idle publisher's record.
        for (int i = 0; i < 100; ++i) {
            CAPTURE(i);
            REQUIRE(busy.try_offer(shmbus::test::filled(100, 1)) == Status::kOk);
        }
        // And the idle one can still publish, after all those laps.
        CHECK(idle.try_offer(shmbus::test::bytes_of("again")) == Status::kOk);
    }
}
