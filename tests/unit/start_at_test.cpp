// Where a new subscriber starts: latest, earliest, or a saved position, valid or not.
#include <doctest/doctest.h>

#include <cstdint>
#include <shmbus/detail/format/frame_header.hpp>
#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/payload.hpp"
#include "support/records.hpp"

namespace {

using shmbus::StartAt;
using shmbus::Status;
using shmbus::test::frame_size;

constexpr std::uint64_t kCapacity = 1024;
constexpr std::uint32_t kMax = 224;

struct Fixture {
    shmbus::test::BusDirectory bus;
    shmbus::Topic topic;
    shmbus::Publisher publisher;
    std::uint64_t published = 0;

    explicit Fixture(shmbus::Policy policy = shmbus::Policy::kBlock)
        : topic(shmbus::test::create_and_open(
              bus, {.capacity = kCapacity, .max_record_size = kMax, .policy = policy})),
          publisher(topic) {}

    // Publishes `count` 40-byte records (72-byte frames), record i carrying counter i.
    void publish(std::uint64_t count) {
        std::vector<std::byte> record(40);
        for (std::uint64_t i = 0; i < count; ++i) {
            shmbus::test::fill_record(record, 0, published);
            REQUIRE(publisher.try_offer(record) == Status::kOk);
            ++published;
        }
    }

    [[nodiscard]] std::uint64_t tail() const { return topic.view().records->tail.position; }
};

std::vector<std::uint64_t> counters_of(const std::vector<shmbus::test::Received>& received) {
    std::vector<std::uint64_t> counters;
    for (const auto& got : received)
        counters.push_back(*shmbus::test::carried_counter(got.payload));
    return counters;
}

shmbus::Error attach_error(const shmbus::Topic& topic, StartAt start) {
    try {
        shmbus::Subscriber subscriber(topic, {.start = start});
    } catch (const shmbus::Error& error) {
        return error;
    }
    FAIL("the subscriber attached");
    return shmbus::Error(shmbus::ErrorCode::kSystem, "unreachable");
}

}  // namespace

TEST_CASE("a subscriber starting at latest sees only records published after it attached") {
    Fixture f;
    f.publish(3);
    shmbus::Subscriber subscriber(f.topic, {.start = StartAt::latest()});
    CHECK(subscriber.position() == f.tail());
    CHECK(shmbus::test::drain(subscriber).empty());
    f.publish(2);
    CHECK(counters_of(shmbus::test::drain(subscriber)) == std::vector<std::uint64_t>{3, 4});
    CHECK(subscriber.lost() == 0);
}

TEST_CASE("a subscriber starting at earliest sees every record still in the ring") {
    Fixture f;
    f.publish(5);
    shmbus::Subscriber subscriber(f.topic, {.start = StartAt::earliest()});
    CHECK(subscriber.position() == 0);
    CHECK(counters_of(shmbus::test::drain(subscriber)) ==
          std::vector<std::uint64_t>{0, 1, 2, 3, 4});
}

TEST_CASE(
    "a subscriber starting at earliest after many laps starts at the oldest intact record and has "
    "lost nothing") {
    Fixture f(shmbus::Policy::kOverwrite);
    f.publish(100);  // 7200 bytes: the last 1024 hold 14 whole frames
    shmbus::Subscriber subscriber(f.topic, {.start = StartAt::earliest()});
    const auto received = shmbus::test::drain(subscriber);
    REQUIRE_FALSE(received.empty());
    CHECK(received.front().position >= f.tail() - kCapacity);
    CHECK(received.front().position < f.tail() - kCapacity + frame_size(40));
    CHECK(counters_of(received).back() == 99);
    CHECK(received.size() == 100 - counters_of(received).front());
    CHECK(subscriber.lost() == 0);
}

TEST_CASE("a subscriber resumes after the record whose next_position it saved") {
    Fixture f;
    shmbus::Subscriber first(f.topic, {.start = StartAt::earliest()});
    f.publish(4);
    const auto received = shmbus::test::poll_some(first, 2);
    REQUIRE(received.size() == 2);
    const std::uint64_t saved = received.back().next_position;
    CHECK(saved == first.position());
    f.publish(1);

    shmbus::Subscriber resumed(f.topic, {.start = StartAt::position(saved)});
    CHECK(resumed.position() == saved);
    CHECK(counters_of(shmbus::test::drain(resumed)) == std::vector<std::uint64_t>{2, 3, 4});
    CHECK(resumed.lost() == 0);
    CHECK(resumed.voided() == 0);
}

TEST_CASE("a saved position equal to the tail is valid and waits for the next record") {
    Fixture f;
    f.publish(2);
    shmbus::Subscriber subscriber(f.topic, {.start = StartAt::position(f.tail())});
    CHECK(shmbus::test::drain(subscriber).empty());
    f.publish(1);
    CHECK(counters_of(shmbus::test::drain(subscriber)) == std::vector<std::uint64_t>{2});
}

TEST_CASE("a saved position that is not a frame boundary is kInvalidArgument") {
    Fixture f;
    f.publish(3);  // frames at 0, 72, 144; tail 216
    SUBCASE("not 8-byte aligned") {
        const shmbus::Error error = attach_error(f.topic, StartAt::position(76));
        CHECK(error.code() == shmbus::ErrorCode::kInvalidArgument);
        CHECK(std::string(error.what()).find("position 76") != std::string::npos);
    }
    SUBCASE("beyond the tail") {
        const shmbus::Error error = attach_error(f.topic, StartAt::position(f.tail() + 8));
        CHECK(error.code() == shmbus::ErrorCode::kInvalidArgument);
        CHECK(std::string(error.what()).find("tail is at 216") != std::string::npos);
    }
    SUBCASE("far beyond the tail") {
        const shmbus::Error error = attach_error(f.topic, StartAt::position(~std::uint64_t{7}));
        CHECK(error.code() == shmbus::ErrorCode::kInvalidArgument);
    }
    SUBCASE("in the middle of a record") {
        for (const std::uint64_t inside : {80u, 88u, 96u, 104u, 112u, 136u}) {
            CAPTURE(inside);
            const shmbus::Error error = attach_error(f.topic, StartAt::position(inside));
            CHECK(error.code() == shmbus::ErrorCode::kInvalidArgument);
            CHECK(std::string(error.what()).find("not the start of a record") != std::string::npos);
        }
    }
    // No failed attach left a slot taken.
    CHECK(f.topic.view().state->attached_subscribers[0] == 0);
}

TEST_CASE("a saved position the ring has moved past resumes at the oldest intact record") {
    Fixture f(shmbus::Policy::kOverwrite);
    shmbus::Subscriber first(f.topic, {.start = StartAt::earliest()});
    f.publish(3);
    REQUIRE(shmbus::test::drain(first).size() == 3);
    const std::uint64_t saved = first.position();  // before record 3
    f.publish(60);                                 // records 3..62: the ring keeps only the last 14

    shmbus::Subscriber resumed(f.topic, {.start = StartAt::position(saved)});
    const auto received = shmbus::test::drain(resumed);
    REQUIRE_FALSE(received.empty());
    const std::uint64_t oldest = counters_of(received).front();
    CHECK(oldest > 3);
    CHECK(counters_of(received).back() == 62);
    CHECK(received.front().position >= f.tail() - kCapacity);
    CHECK(received.size() == 63 - oldest);
}

TEST_CASE("a saved position and sequence the ring has moved past count the gap as lost, exactly") {
    Fixture f(shmbus::Policy::kOverwrite);
    shmbus::Subscriber first(f.topic, {.start = StartAt::earliest()});
    f.publish(3);
    REQUIRE(shmbus::test::drain(first).size() == 3);
    const std::uint64_t saved = first.position();
    const std::uint64_t next_sequence = first.next_sequence();
    CHECK(next_sequence == 3);
    f.publish(60);

    shmbus::Subscriber resumed(f.topic, {.start = StartAt::position(saved, next_sequence)});
    const auto received = shmbus::test::drain(resumed);
    REQUIRE_FALSE(received.empty());
    const std::uint64_t oldest = counters_of(received).front();
    CHECK(resumed.lost() == oldest - 3);
    CHECK(resumed.lost() + received.size() == 60);
}

TEST_CASE("a saved position without its sequence resumes without inventing a loss count") {
    Fixture f(shmbus::Policy::kOverwrite);
    shmbus::Subscriber first(f.topic, {.start = StartAt::earliest()});
    f.publish(3);
    REQUIRE(shmbus::test::drain(first).size() == 3);
    const std::uint64_t saved = first.position();
    f.publish(60);
    shmbus::Subscriber resumed(f.topic, {.start = StartAt::position(saved)});
    CHECK_FALSE(shmbus::test::drain(resumed).empty());
    CHECK(resumed.lost() == 0);
}

TEST_CASE("a subscriber starting at a sequence the ring holds starts at that record") {
    Fixture f;
    f.publish(10);
    shmbus::Subscriber subscriber(f.topic, {.start = StartAt::sequence(6)});
    CHECK(counters_of(shmbus::test::drain(subscriber)) == std::vector<std::uint64_t>{6, 7, 8, 9});
    CHECK(subscriber.lost() == 0);
    CHECK(subscriber.voided() == 0);
}

TEST_CASE("a subscriber starting at the next sequence waits for it; one beyond is refused") {
    Fixture f;
    f.publish(4);
    shmbus::Subscriber subscriber(f.topic, {.start = StartAt::sequence(4)});
    CHECK(shmbus::test::drain(subscriber).empty());
    f.publish(1);
    CHECK(counters_of(shmbus::test::drain(subscriber)) == std::vector<std::uint64_t>{4});
    const shmbus::Error error = attach_error(f.topic, StartAt::sequence(9));
    CHECK(error.code() == shmbus::ErrorCode::kInvalidArgument);
    CHECK(std::string(error.what()).find("sequence 9 has not been published yet") !=
          std::string::npos);
}

TEST_CASE(
    "a sequence the ring has moved past starts at the oldest record and counts the gap lost") {
    Fixture f(shmbus::Policy::kOverwrite);
    f.publish(100);
    shmbus::Subscriber subscriber(f.topic, {.start = StartAt::sequence(5)});
    const auto received = shmbus::test::drain(subscriber);
    REQUIRE_FALSE(received.empty());
    const std::uint64_t oldest = counters_of(received).front();
    CHECK(oldest > 5);
    CHECK(subscriber.lost() == oldest - 5);
    CHECK(counters_of(received).back() == 99);
    CHECK(received.size() == 100 - oldest);
}

TEST_CASE("a subscriber starting at a time starts at the first record stamped at or after it") {
    Fixture f;
    f.publish(8);
    shmbus::Subscriber everything(f.topic, {.start = StartAt::earliest()});
    const auto all = shmbus::test::drain(everything);
    REQUIRE(all.size() == 8);
    REQUIRE(all[5].timestamp_ns > 0);
    // The first record stamped at or after record 5's time: 5, or an earlier one the clock did
    // not tell apart from it.
    shmbus::Subscriber from_time(f.topic, {.start = StartAt::time(all[5].timestamp_ns)});
    const auto received = shmbus::test::drain(from_time);
    REQUIRE_FALSE(received.empty());
    const std::uint64_t first = counters_of(received).front();
    CHECK(first <= 5);
    CHECK(all[first].timestamp_ns >= all[5].timestamp_ns);
    if (first > 0) CHECK(all[first - 1].timestamp_ns < all[5].timestamp_ns);
    CHECK(counters_of(received).back() == 7);

    // Older than every record: the oldest. Newer than every record: what comes next.
    shmbus::Subscriber from_past(f.topic, {.start = StartAt::time(1)});
    CHECK(shmbus::test::drain(from_past).size() == 8);
    shmbus::Subscriber from_future(f.topic, {.start = StartAt::time(all[7].timestamp_ns + 1)});
    CHECK(shmbus::test::drain(from_future).empty());
    f.publish(1);
    CHECK(counters_of(shmbus::test::drain(from_future)) == std::vector<std::uint64_t>{8});
}

TEST_CASE("a topic without timestamps refuses a start at a time") {
    shmbus::test::BusDirectory bus;
    const shmbus::Topic topic = shmbus::test::create_and_open(
        bus, {.capacity = kCapacity, .max_record_size = kMax, .timestamps = false});
    const shmbus::Error error = attach_error(topic, StartAt::time(1));
    CHECK(error.code() == shmbus::ErrorCode::kInvalidArgument);
    CHECK(std::string(error.what()).find("has no timestamps") != std::string::npos);
}
