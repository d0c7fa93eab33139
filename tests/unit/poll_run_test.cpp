// A zero-copy poll reads committed records in a tight run and leaves every other frame to its
// general step: where the run stops, what each record it hands over carries, and how the two
// parts meet without losing, repeating or miscounting a record.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <shmbus/detail/format/frame_header.hpp>
#include <shmbus/shmbus.hpp>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/records.hpp"

namespace {

using shmbus::Status;
using shmbus::test::bytes_of;
using shmbus::test::filled;

constexpr std::uint64_t kCapacity = 4096;
constexpr std::uint32_t kMax = 512;

struct Fixture {
    shmbus::test::BusDirectory bus;
    shmbus::Topic topic;

    explicit Fixture(bool timestamps = true)
        : topic(shmbus::test::create_and_open(
              bus, {.capacity = kCapacity, .max_record_size = kMax, .timestamps = timestamps})) {}
    [[nodiscard]] std::uint64_t tail() const { return topic.view().records->tail.position; }
    [[nodiscard]] std::uint64_t frame_size(std::uint64_t length) const {
        return topic.view().frame_size(length);
    }
};

}  // namespace

TEST_CASE("a poll hands over consecutive records with every header field, and stops at its limit") {
    for (const bool timestamps : {true, false}) {
        CAPTURE(timestamps);
        Fixture f(timestamps);
        shmbus::Publisher first(f.topic);
        shmbus::Publisher second(f.topic);
        shmbus::Subscriber subscriber(f.topic, {.start = shmbus::StartAt::earliest()});
        constexpr int kRecords = 10;
        for (int i = 0; i < kRecords; ++i) {
            shmbus::Publisher& publisher = i % 2 == 0 ? first : second;
            REQUIRE(publisher.try_offer(filled(static_cast<std::size_t>(3 * i + 1),
                                               static_cast<std::uint8_t>(i))) == Status::kOk);
        }
        Status status = Status::kCorrupt;
        const auto head = shmbus::test::poll_some(subscriber, 4, &status);
        CHECK(status == Status::kOk);
        REQUIRE(head.size() == 4);
        CHECK(subscriber.consumed() == 4);
        CHECK(subscriber.next_sequence() == 4);
        CHECK(subscriber.position() == head.back().next_position);
        auto received = head;
        for (const auto& record : shmbus::test::drain(subscriber))
            received.push_back(record);
        REQUIRE(received.size() == kRecords);
        std::uint64_t position = 0;
        for (int i = 0; i < kRecords; ++i) {
            CAPTURE(i);
            const auto& record = received[static_cast<std::size_t>(i)];
            const auto length = static_cast<std::size_t>(3 * i + 1);
            CHECK(record.payload == filled(length, static_cast<std::uint8_t>(i)));
            CHECK(record.position == position);
            CHECK(record.next_position == position + f.frame_size(length));
            CHECK(record.sequence == static_cast<std::uint64_t>(i));
            CHECK(record.publisher == (i % 2 == 0 ? first.slot() : second.slot()));
            CHECK((record.timestamp_ns != 0) == timestamps);
            position = record.next_position;
        }
        CHECK(subscriber.position() == f.tail());
        CHECK(subscriber.consumed() == kRecords);
        CHECK(subscriber.voided() == 0);
        CHECK(subscriber.lost() == 0);
        CHECK(subscriber.corrupt() == 0);
    }
}

TEST_CASE("a poll stops at a claim in flight and reads on once it is committed") {
    Fixture f;
    shmbus::Publisher slow(f.topic);
    shmbus::Publisher fast(f.topic);
    shmbus::Subscriber subscriber(f.topic, {.start = shmbus::StartAt::earliest()});
    REQUIRE(fast.try_offer(bytes_of("a")) == Status::kOk);
    shmbus::Claim claim = slow.try_claim(2);
    REQUIRE(claim);
    REQUIRE(fast.try_offer(bytes_of("c")) == Status::kOk);
    const auto before = shmbus::test::drain(subscriber);
    REQUIRE(before.size() == 1);
    CHECK(before[0].payload == bytes_of("a"));
    CHECK(subscriber.position() == claim.position());
    std::memcpy(claim.payload().data(), "bb", 2);
    REQUIRE(claim.commit() == Status::kOk);
    const auto after = shmbus::test::drain(subscriber);
    REQUIRE(after.size() == 2);
    CHECK(after[0].payload == bytes_of("bb"));
    CHECK(after[0].sequence == 1);
    CHECK(after[1].payload == bytes_of("c"));
    CHECK(after[1].sequence == 2);
    CHECK(subscriber.voided() == 0);
}

TEST_CASE("padding, a wrap and the sequence gaps they leave are read past in one poll") {
    Fixture f;
    shmbus::Publisher publisher(f.topic);
    shmbus::Subscriber subscriber(f.topic, {.start = shmbus::StartAt::earliest()});
    std::uint64_t published = 0;
    // Records, an aborted claim every fifth, until the ring has wrapped once.
    for (int i = 0; f.tail() < kCapacity + 400; ++i) {
        if (i % 5 == 4) {
            shmbus::Claim claim = publisher.try_claim(40);
            REQUIRE(claim);
            claim.abort();
        } else {
            REQUIRE(publisher.try_offer(filled(100, static_cast<std::uint8_t>(i))) == Status::kOk);
            ++published;
        }
        if (f.tail() > kCapacity / 2 && subscriber.consumed() == 0) {
            // Read the first half now, so that the publish limit lets the ring wrap.
            CHECK(shmbus::test::drain(subscriber).size() == published);
        }
    }
    const std::uint64_t read_first = subscriber.consumed();
    Status status = Status::kCorrupt;
    const auto rest = shmbus::test::poll_some(subscriber, 1000, &status);
    CHECK(status == Status::kOk);
    CHECK(read_first + rest.size() == published);
    CHECK(subscriber.position() == f.tail());
    CHECK(subscriber.lost() == 0);
    CHECK(subscriber.corrupt() == 0);
    // Every aborted claim took one sequence number: sequences delivered + voided == all handed out.
    CHECK(subscriber.consumed() + subscriber.voided() == f.topic.view().records->tail.sequence);
    CHECK(subscriber.voided() > 1);
}

TEST_CASE(
    "a committed record with an impossible length ends the run; the records around it arrive") {
    Fixture f;
    shmbus::Publisher publisher(f.topic);
    shmbus::Subscriber subscriber(f.topic, {.start = shmbus::StartAt::earliest()});
    for (int i = 0; i < 3; ++i)
        REQUIRE(publisher.try_offer(filled(16, static_cast<std::uint8_t>(i))) == Status::kOk);
    // The second record claims more than the topic's maximum: a scribbled header.
    const std::uint64_t second = f.frame_size(16);
    auto& header = const_cast<shmbus::format::FrameHeader&>(f.topic.view().header(second));
    const std::uint32_t impossible = kMax + 1;
    std::memcpy(&header.length, &impossible, sizeof impossible);
    Status status = Status::kOk;
    const auto received = shmbus::test::drain(subscriber, &status);
    CHECK(status == Status::kCorrupt);
    REQUIRE(received.size() == 2);
    CHECK(received[0].payload == filled(16, 0));
    CHECK(received[1].payload == filled(16, 2));
    CHECK(subscriber.corrupt() >= 1);
    CHECK(subscriber.position() == f.tail());
}

TEST_CASE("a subscriber resumed without a sequence learns it from its first record, then runs") {
    Fixture f;
    shmbus::Publisher publisher(f.topic);
    for (int i = 0; i < 6; ++i)
        REQUIRE(publisher.try_offer(filled(8, static_cast<std::uint8_t>(i))) == Status::kOk);
    const std::uint64_t third = 2 * f.frame_size(8);
    shmbus::Subscriber subscriber(f.topic, {.start = shmbus::StartAt::position(third)});
    const auto received = shmbus::test::drain(subscriber);
    REQUIRE(received.size() == 4);
    for (std::size_t i = 0; i < received.size(); ++i)
        CHECK(received[i].sequence == i + 2);
    CHECK(subscriber.next_sequence() == 6);
    CHECK(subscriber.voided() == 0);
    CHECK(subscriber.lost() == 0);
}
