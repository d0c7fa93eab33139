// Claim, commit and abort, byte by byte on a 1 KiB ring: where each frame lands, what its header
// holds, how a lap ends, and what subscribers make of it.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <shmbus/detail/format/frame_header.hpp>
#include <shmbus/detail/ring/frame_inspect.hpp>
#include <shmbus/shmbus.hpp>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/records.hpp"

namespace {

using shmbus::Status;
using shmbus::format::FrameState;
using shmbus::format::stamp;
using shmbus::test::bytes_of;
using shmbus::test::filled;
using shmbus::test::frame_size;

constexpr std::uint64_t kCapacity = 1024;
constexpr std::uint32_t kMax = 224;  // frame_size(224) == 256 == capacity / 4

// The rings here carry timestamps (the default), so a record's payload starts 32 bytes in.
constexpr std::uint64_t kRecordHeaderSize = shmbus::format::record_header_size(true);

struct Ring {
    shmbus::test::BusDirectory bus;
    shmbus::Topic topic;

    explicit Ring(shmbus::TopicOptions options = {.capacity = kCapacity, .max_record_size = kMax})
        : topic(shmbus::test::create_and_open(bus, options)) {}

    [[nodiscard]] const shmbus::ring::TopicView& view() const { return topic.view(); }
    [[nodiscard]] std::uint64_t commit_word(std::uint64_t position) const {
        return view().commit_word(position);
    }
    [[nodiscard]] const shmbus::format::FrameHeader& header(std::uint64_t position) const {
        return view().header(position);
    }
    [[nodiscard]] std::uint64_t timestamp(std::uint64_t position) const {
        return view().timestamp_word(position);
    }
    [[nodiscard]] std::uint64_t tail() const { return view().records->tail.position; }
    [[nodiscard]] std::uint64_t tail_sequence() const { return view().records->tail.sequence; }
};

}  // namespace

TEST_CASE(
    "consecutive claims land back to back at 8-byte aligned positions with rising sequences") {
    Ring ring;
    shmbus::Publisher publisher(ring.topic);
    const std::uint32_t lengths[] = {5, 0, kMax, 8, 1, 31, 32, 7};
    std::uint64_t expected_position = 0;
    std::uint64_t sequence = 0;
    for (const std::uint32_t length : lengths) {
        CAPTURE(length);
        shmbus::Claim claim = publisher.try_claim(length);
        REQUIRE(claim);
        CHECK(claim.position() == expected_position);
        CHECK(claim.position() % 8 == 0);
        CHECK(claim.payload().size() == length);
        CHECK(reinterpret_cast<std::uintptr_t>(claim.payload().data()) ==
              reinterpret_cast<std::uintptr_t>(ring.view().ring) + expected_position +
                  kRecordHeaderSize);
        // Claimed, not committed: the header is written and stamped CLAIMED.
        CHECK(ring.commit_word(expected_position) ==
              stamp(expected_position, FrameState::kClaimed));
        CHECK(ring.header(expected_position).length == length);
        CHECK(ring.header(expected_position).sequence == sequence);
        CHECK(ring.header(expected_position).publisher == publisher.slot());
        CHECK(ring.header(expected_position).reserved == 0);
        CHECK(ring.timestamp(expected_position) != 0);
        for (std::byte& b : claim.payload())
            b = std::byte{0xab};
        REQUIRE(claim.commit() == Status::kOk);
        CHECK(ring.commit_word(expected_position) ==
              stamp(expected_position, FrameState::kCommitted));
        expected_position += frame_size(length);
        ++sequence;
        CHECK(ring.tail() == expected_position);
        CHECK(ring.tail_sequence() == sequence);
    }
    CHECK(frame_size(0) == 32);
    CHECK(frame_size(5) == 40);
    CHECK(frame_size(kMax) == 256);
}

TEST_CASE(
    "a subscriber reads each committed record with its position, next position and sequence") {
    Ring ring;
    shmbus::Publisher publisher(ring.topic);
    shmbus::Subscriber subscriber(ring.topic, {.start = shmbus::StartAt::earliest()});
    REQUIRE(publisher.try_offer(bytes_of("hello")) == Status::kOk);
    REQUIRE(publisher.try_offer({}) == Status::kOk);
    REQUIRE(publisher.try_offer(filled(kMax, 0x7e)) == Status::kOk);
    const auto received = shmbus::test::drain(subscriber);
    REQUIRE(received.size() == 3);
    CHECK(received[0].payload == bytes_of("hello"));
    CHECK(received[0].position == 0);
    CHECK(received[0].next_position == 40);
    CHECK(received[0].sequence == 0);
    CHECK(received[1].payload.empty());
    CHECK(received[1].position == 40);
    CHECK(received[1].next_position == 72);
    CHECK(received[1].sequence == 1);
    CHECK(received[2].payload == filled(kMax, 0x7e));
    CHECK(received[2].position == 72);
    CHECK(received[2].next_position == 72 + 256);
    CHECK(received[2].sequence == 2);
    CHECK(subscriber.position() == 72 + 256);
    CHECK(subscriber.consumed() == 3);
    CHECK(subscriber.lost() == 0);
    CHECK(subscriber.voided() == 0);
}

TEST_CASE("a topic without timestamps puts each payload right after the 24-byte header") {
    Ring ring({.capacity = kCapacity, .max_record_size = kMax, .timestamps = false});
    CHECK(ring.view().record_header_size == 24);
    CHECK(ring.view().frame_size(0) == 24);
    CHECK(ring.view().frame_size(64) == 88);
    shmbus::Publisher publisher(ring.topic);
    shmbus::Subscriber subscriber(ring.topic, {.start = shmbus::StartAt::earliest()});
    shmbus::Claim claim = publisher.try_claim(64);
    REQUIRE(claim);
    CHECK(reinterpret_cast<std::uintptr_t>(claim.payload().data()) ==
          reinterpret_cast<std::uintptr_t>(ring.view().ring) + 24);
    std::memset(claim.payload().data(), 0x5a, 64);
    REQUIRE(claim.commit() == Status::kOk);
    REQUIRE(publisher.try_offer(bytes_of("x")) == Status::kOk);
    CHECK(ring.tail() == 88 + 32);
    const auto received = shmbus::test::drain(subscriber);
    REQUIRE(received.size() == 2);
    CHECK(received[0].payload == filled(64, 0x5a));
    CHECK(received[0].next_position == 88);
    CHECK(received[0].timestamp_ns == 0);
    CHECK(received[1].payload == bytes_of("x"));
    CHECK(received[1].position == 88);
    CHECK(received[1].timestamp_ns == 0);
}

TEST_CASE("a record that does not fit the rest of the lap is preceded by a WRAP frame") {
    Ring ring;
    shmbus::Publisher publisher(ring.topic);
    shmbus::Subscriber subscriber(ring.topic, {.start = shmbus::StartAt::earliest()});
    // 800 bytes: three frames of 256 and one of 32. 224 bytes of the lap are left.
    for (int i = 0; i < 3; ++i)
        REQUIRE(publisher.try_offer(filled(kMax, 1)) == Status::kOk);
    REQUIRE(publisher.try_offer({}) == Status::kOk);
    REQUIRE(shmbus::test::drain(subscriber).size() == 4);
    REQUIRE(ring.tail() == 800);

    shmbus::Claim claim = publisher.try_claim(kMax);  // 256 bytes: 32 too many for this lap
    REQUIRE(claim);
    CHECK(claim.position() == kCapacity);
    CHECK(ring.commit_word(800) == stamp(800, FrameState::kWrap));
    CHECK(ring.header(kCapacity).sequence == 4);  // the WRAP took no sequence number
    REQUIRE(claim.commit() == Status::kOk);

    const auto received = shmbus::test::drain(subscriber);
    REQUIRE(received.size() == 1);
    CHECK(received[0].position == kCapacity);
    CHECK(received[0].sequence == 4);
    CHECK(subscriber.voided() == 0);
}

TEST_CASE("a WRAP frame fits in the last 8 bytes of a lap") {
    Ring ring;
    shmbus::Publisher publisher(ring.topic);
    shmbus::Subscriber subscriber(ring.topic, {.start = shmbus::StartAt::earliest()});
    // 3 * 256 + 248 = 1016: 8 bytes left, less than any record frame.
    for (int i = 0; i < 3; ++i)
        REQUIRE(publisher.try_offer(filled(kMax, 2)) == Status::kOk);
    REQUIRE(publisher.try_offer(filled(216, 3)) == Status::kOk);
    REQUIRE(ring.tail() == 1016);
    REQUIRE(shmbus::test::drain(subscriber).size() == 4);

    REQUIRE(publisher.try_offer({}) == Status::kOk);
    CHECK(ring.commit_word(1016) == stamp(1016, FrameState::kWrap));
    CHECK(ring.commit_word(kCapacity) == stamp(kCapacity, FrameState::kCommitted));
    CHECK(ring.tail() == kCapacity + 32);
    const auto received = shmbus::test::drain(subscriber);
    REQUIRE(received.size() == 1);
    CHECK(received[0].position == kCapacity);
    CHECK(received[0].payload.empty());
    CHECK(received[0].sequence == 4);
}

TEST_CASE("a record that exactly fills the rest of the lap needs no WRAP") {
    Ring ring;
    shmbus::Publisher publisher(ring.topic);
    for (int i = 0; i < 3; ++i)
        REQUIRE(publisher.try_offer(filled(kMax, 4)) == Status::kOk);
    shmbus::Claim claim = publisher.try_claim(kMax);
    REQUIRE(claim);
    CHECK(claim.position() == 768);
    REQUIRE(claim.commit() == Status::kOk);
    CHECK(ring.tail() == kCapacity);
    REQUIRE(publisher.try_offer({}) == Status::kOk);
    CHECK(ring.commit_word(kCapacity) == stamp(kCapacity, FrameState::kCommitted));
}

TEST_CASE("a record of the maximum size is accepted and one byte more is kTooLarge") {
    Ring ring;
    shmbus::Publisher publisher(ring.topic);
    CHECK(publisher.try_offer(filled(kMax, 9)) == Status::kOk);
    const std::uint64_t tail = ring.tail();
    CHECK(publisher.try_offer(filled(kMax + 1, 9)) == Status::kTooLarge);
    CHECK(publisher.offer(filled(kMax + 1, 9)) == Status::kTooLarge);
    const shmbus::Claim claim = publisher.try_claim(kMax + 1);
    CHECK_FALSE(claim);
    CHECK(claim.status() == Status::kTooLarge);
    CHECK(publisher.try_claim(std::size_t{1} << 40).status() == Status::kTooLarge);
    CHECK(ring.tail() == tail);  // nothing was claimed
}

TEST_CASE("a second claim while one is pending is kClaimPending and claims nothing") {
    Ring ring;
    shmbus::Publisher publisher(ring.topic);
    shmbus::Claim first = publisher.try_claim(10);
    REQUIRE(first);
    const std::uint64_t tail = ring.tail();
    CHECK(publisher.try_claim(10).status() == Status::kClaimPending);
    CHECK(publisher.claim(10).status() == Status::kClaimPending);
    CHECK(publisher.try_offer(bytes_of("x")) == Status::kClaimPending);
    CHECK(publisher.offer(bytes_of("x")) == Status::kClaimPending);
    CHECK(ring.tail() == tail);
    REQUIRE(first.commit() == Status::kOk);
    CHECK(first.commit() == Status::kNoClaim);  // committing twice
    CHECK(publisher.try_offer(bytes_of("y")) == Status::kOk);
}

TEST_CASE("an aborted claim becomes padding that subscribers skip, counted as voided, not lost") {
    Ring ring;
    shmbus::Publisher publisher(ring.topic);
    shmbus::Subscriber subscriber(ring.topic, {.start = shmbus::StartAt::earliest()});
    REQUIRE(publisher.try_offer(bytes_of("first")) == Status::kOk);  // 0..40, sequence 0
    std::uint64_t aborted_at = 0;
    {
        shmbus::Claim claim = publisher.try_claim(50);  // 40..128, sequence 1
        REQUIRE(claim);
        aborted_at = claim.position();
        claim.abort();
        CHECK_FALSE(claim);
        CHECK(claim.commit() == Status::kNoClaim);
    }
    CHECK(aborted_at == 40);
    CHECK(ring.commit_word(40) == stamp(40, FrameState::kPadding));
    // Padding counts the bytes after the 24-byte header, timestamps or not.
    CHECK(ring.header(40).length == frame_size(50) - shmbus::format::kFrameHeaderSize);
    CHECK(ring.view().records->aborted_claims == 1);

    REQUIRE(publisher.try_offer(bytes_of("third")) == Status::kOk);  // sequence 2
    const auto received = shmbus::test::drain(subscriber);
    REQUIRE(received.size() == 2);
    CHECK(received[0].payload == bytes_of("first"));
    CHECK(received[1].payload == bytes_of("third"));
    CHECK(received[1].position == 40 + frame_size(50));
    CHECK(received[1].sequence == 2);
    CHECK(subscriber.voided() == 1);
    CHECK(subscriber.lost() == 0);
    CHECK(subscriber.consumed() == 2);
}

TEST_CASE(
    "a claim whose length already reads as its abort's padding length is in flight, not "
    "corrupt") {
    // An abort stores the padding length (frame size - 24) before it stamps PADDING. For a
    // longest record on a topic with timestamps that is kMax + 8, more than any record may be,
    // and a reader that loaded CLAIMED just before the stamp may see it.
    Ring ring;
    shmbus::Publisher publisher(ring.topic);
    shmbus::Subscriber subscriber(ring.topic, {.start = shmbus::StartAt::earliest()});
    shmbus::Claim claim = publisher.try_claim(kMax);
    REQUIRE(claim);
    const auto padding_length =
        static_cast<std::uint32_t>(frame_size(kMax) - shmbus::format::kFrameHeaderSize);
    REQUIRE(padding_length > kMax);
    std::memcpy(&const_cast<shmbus::format::FrameHeader&>(ring.header(0)).length, &padding_length,
                sizeof padding_length);
    const shmbus::ring::FrameInfo seen = shmbus::ring::inspect_frame(ring.view(), 0);
    CHECK(seen.kind == shmbus::ring::FrameKind::kClaimed);
    CHECK(seen.next == 0);  // its extent is not known
    CHECK(shmbus::test::drain(subscriber).empty());
    CHECK(subscriber.corrupt() == 0);
    claim.abort();  // the same length, then the PADDING stamp
    REQUIRE(publisher.try_offer(bytes_of("after")) == Status::kOk);
    const auto received = shmbus::test::drain(subscriber);
    REQUIRE(received.size() == 1);
    CHECK(received[0].position == frame_size(kMax));
    CHECK(subscriber.voided() == 1);
    CHECK(subscriber.corrupt() == 0);
}

TEST_CASE("destroying a pending claim aborts it, and the publisher can claim again") {
    Ring ring;
    shmbus::Publisher publisher(ring.topic);
    shmbus::Subscriber subscriber(ring.topic, {.start = shmbus::StartAt::earliest()});
    { const shmbus::Claim dropped = publisher.try_claim(0); }
    CHECK(ring.commit_word(0) == stamp(0, FrameState::kPadding));
    CHECK(ring.header(0).length == frame_size(0) - shmbus::format::kFrameHeaderSize);
    REQUIRE(publisher.try_offer(bytes_of("after")) == Status::kOk);
    const auto received = shmbus::test::drain(subscriber);
    REQUIRE(received.size() == 1);
    CHECK(received[0].payload == bytes_of("after"));
    CHECK(subscriber.voided() == 1);
}

TEST_CASE("a moved claim is committed once, by its new owner") {
    Ring ring;
    shmbus::Publisher publisher(ring.topic);
    shmbus::Claim original = publisher.try_claim(4);
    REQUIRE(original);
    shmbus::Claim moved = std::move(original);
    CHECK_FALSE(original);  // NOLINT(bugprone-use-after-move): moved-from state is specified
    CHECK(original.commit() == Status::kNoClaim);
    std::memcpy(moved.payload().data(), "abcd", 4);
    CHECK(moved.commit() == Status::kOk);
    CHECK(ring.commit_word(0) == stamp(0, FrameState::kCommitted));
}

TEST_CASE("publishers in one process claim in turn, and each frame names its publisher's slot") {
    Ring ring;
    shmbus::Publisher a(ring.topic);
    shmbus::Publisher b(ring.topic);
    CHECK(a.slot() != b.slot());
    shmbus::Subscriber subscriber(ring.topic, {.start = shmbus::StartAt::earliest()});
    shmbus::Claim from_a = a.try_claim(3);
    shmbus::Claim from_b = b.try_claim(3);
    REQUIRE(from_a);
    REQUIRE(from_b);
    CHECK(from_b.position() == from_a.position() + frame_size(3));
    // b commits first; the subscriber still waits for a, the earlier frame.
    REQUIRE(from_b.commit() == Status::kOk);
    CHECK(shmbus::test::drain(subscriber).empty());
    REQUIRE(from_a.commit() == Status::kOk);
    const auto received = shmbus::test::drain(subscriber);
    REQUIRE(received.size() == 2);
    CHECK(received[0].publisher == a.slot());
    CHECK(received[1].publisher == b.slot());
    CHECK(received[0].sequence + 1 == received[1].sequence);
}
