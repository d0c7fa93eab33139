// Batch claims: several frames claimed with one CAS, committed or aborted together.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <shmbus/detail/format/frame_header.hpp>
#include <shmbus/detail/ring/retention.hpp>
#include <shmbus/shmbus.hpp>
#include <span>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/payload.hpp"
#include "support/records.hpp"

namespace {

using shmbus::Status;
using shmbus::format::FrameState;
using shmbus::format::stamp;
using shmbus::test::frame_size;

constexpr std::uint64_t kCapacity = 1024;
constexpr std::uint32_t kMax = 224;

struct Fixture {
    shmbus::test::BusDirectory bus;
    shmbus::Topic topic;
    shmbus::Publisher publisher;

    explicit Fixture(shmbus::Policy policy = shmbus::Policy::kBlock)
        : topic(shmbus::test::create_and_open(
              bus, {.capacity = kCapacity, .max_record_size = kMax, .policy = policy})),
          publisher(topic) {}
    [[nodiscard]] std::uint64_t tail() const { return topic.view().records->tail.position; }
    [[nodiscard]] std::uint64_t word(std::uint64_t position) const {
        return topic.view().commit_word(position);
    }
};

}  // namespace

TEST_CASE("a batch claims consecutive frames with consecutive sequences in one step") {
    Fixture f;
    shmbus::Subscriber subscriber(f.topic, {.start = shmbus::StartAt::earliest()});
    const std::array<std::uint32_t, 4> lengths{5, 0, 100, 8};
    shmbus::BatchClaim batch = f.publisher.try_claim_batch(lengths);
    REQUIRE(batch);
    REQUIRE(batch.size() == 4);
    CHECK(f.tail() == 40 + 32 + 136 + 40);
    CHECK(f.topic.view().records->tail.sequence == 4);
    const std::uint64_t positions[] = {0, 40, 72, 208};
    for (std::size_t i = 0; i < 4; ++i) {
        CAPTURE(i);
        CHECK(batch.payload(i).size() == lengths[i]);
        CHECK(batch.payload(i).data() == f.topic.view().payload(positions[i]));
        CHECK(f.word(positions[i]) == stamp(positions[i], FrameState::kClaimed));
        CHECK(f.topic.view().header(positions[i]).sequence == i);
        for (std::byte& b : batch.payload(i))
            b = std::byte{static_cast<unsigned char>(i + 1)};
    }
    CHECK(batch.payload(4).empty());
    CHECK(f.publisher.try_offer({}) == Status::kClaimPending);
    REQUIRE(batch.commit() == Status::kOk);
    CHECK(batch.commit() == Status::kNoClaim);
    const auto received = shmbus::test::drain(subscriber);
    REQUIRE(received.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) {
        CHECK(received[i].position == positions[i]);
        CHECK(received[i].sequence == i);
        CHECK(received[i].payload ==
              shmbus::test::filled(lengths[i], static_cast<std::uint8_t>(i + 1)));
    }
}

TEST_CASE("a batch claims only the frames that fit before the end of the lap, then wraps") {
    Fixture f;
    for (int i = 0; i < 3; ++i)
        REQUIRE(f.publisher.try_offer(shmbus::test::filled(kMax, 1)) == Status::kOk);
    // 256 bytes left: two 100-byte records (136 each) do not both fit.
    const std::array<std::uint32_t, 3> lengths{100, 100, 100};
    shmbus::BatchClaim first = f.publisher.try_claim_batch(lengths);
    REQUIRE(first.size() == 1);
    REQUIRE(first.commit() == Status::kOk);
    shmbus::BatchClaim second = f.publisher.try_claim_batch(std::span(lengths).subspan(1));
    REQUIRE(second.size() == 2);
    CHECK(f.word(768 + 136) == stamp(768 + 136, FrameState::kWrap));
    CHECK(second.payload(0).data() == f.topic.view().payload(kCapacity));
    REQUIRE(second.commit() == Status::kOk);
}

TEST_CASE("a batch claims only the frames the publish limit allows") {
    Fixture f;
    shmbus::Subscriber subscriber(f.topic);
    for (int i = 0; i < 4; ++i)
        REQUIRE(f.publisher.try_offer(shmbus::test::filled(kMax, 1)) == Status::kOk);
    REQUIRE(shmbus::test::poll_some(subscriber, 1).size() == 1);
    // Tail 1024, the whole next lap free, but the subscriber at 256 allows up to 1280: 32 + 32
    // fit, 256 more do not.
    const std::array<std::uint32_t, 3> lengths{0, 0, kMax};
    {
        shmbus::BatchClaim batch = f.publisher.try_claim_batch(lengths);
        REQUIRE(batch);
        CHECK(batch.size() == 2);
        REQUIRE(batch.commit() == Status::kOk);
    }
    CHECK(f.tail() == kCapacity + 64);
    CHECK(f.publisher.try_claim_batch(std::span(lengths).subspan(2)).status() ==
          Status::kBackPressured);
}

TEST_CASE("a batch claims at most 64 frames, and stops before a record that is too large") {
    Fixture f(shmbus::Policy::kOverwrite);
    std::vector<std::uint32_t> lengths(80, 0);
    {
        shmbus::BatchClaim batch = f.publisher.try_claim_batch(lengths);
        // 64 frames of 32 bytes would cross the end of the 1 KiB lap: 32 fit.
        CHECK(batch.size() == 32);
        REQUIRE(batch.commit() == Status::kOk);
    }
    std::vector<std::uint32_t> with_large{0, 0, kMax + 1, 0};
    {
        shmbus::BatchClaim batch = f.publisher.try_claim_batch(with_large);
        CHECK(batch.size() == 2);
        REQUIRE(batch.commit() == Status::kOk);
    }
    CHECK(f.publisher.try_claim_batch(std::span(with_large).subspan(2)).status() ==
          Status::kTooLarge);
    CHECK(f.publisher.try_claim_batch(std::span<const std::uint32_t>()).status() != Status::kOk);
}

TEST_CASE("an aborted batch leaves one padding frame per record, skipped and counted as voided") {
    Fixture f;
    shmbus::Subscriber subscriber(f.topic, {.start = shmbus::StartAt::earliest()});
    REQUIRE(f.publisher.try_offer(shmbus::test::bytes_of("before")) == Status::kOk);  // 0..40
    const std::array<std::uint32_t, 3> lengths{0, 20, 0};  // 40..72, 72..128, 128..160
    {
        shmbus::BatchClaim batch = f.publisher.try_claim_batch(lengths);
        REQUIRE(batch.size() == 3);
    }  // destroyed pending: aborted
    CHECK(f.word(40) == stamp(40, FrameState::kPadding));
    CHECK(f.word(72) == stamp(72, FrameState::kPadding));
    CHECK(f.topic.view().header(72).length == frame_size(20) - shmbus::format::kFrameHeaderSize);
    CHECK(f.word(128) == stamp(128, FrameState::kPadding));
    CHECK(f.topic.view().records->aborted_claims == 1);
    REQUIRE(f.publisher.try_offer(shmbus::test::bytes_of("after")) == Status::kOk);
    const auto received = shmbus::test::drain(subscriber);
    REQUIRE(received.size() == 2);
    CHECK(received[1].payload == shmbus::test::bytes_of("after"));
    CHECK(received[1].sequence == 4);
    CHECK(subscriber.voided() == 3);
    CHECK(subscriber.lost() == 0);
}

TEST_CASE(
    "a subscriber starting at earliest inside an aborted batch starts at one of its frames and "
    "reads on") {
    Fixture f(shmbus::Policy::kOverwrite);
    {
        const std::array<std::uint32_t, 4> lengths{0, 0, 0, 0};  // frames at 0, 32, 64, 96
        shmbus::BatchClaim batch = f.publisher.try_claim_batch(lengths);
        REQUIRE(batch.size() == 4);
        batch.abort();
    }
    // The rest of lap 0 (three 256-byte frames and one of 128), then 40 bytes of lap 1: the
    // oldest byte still intact is at 40, inside the aborted batch.
    for (int i = 0; i < 3; ++i)
        REQUIRE(f.publisher.try_offer(shmbus::test::filled(kMax, 1)) == Status::kOk);
    REQUIRE(f.publisher.try_offer(shmbus::test::filled(96, 2)) == Status::kOk);
    REQUIRE(f.publisher.try_offer(shmbus::test::filled(8, 3)) == Status::kOk);
    REQUIRE(f.tail() == kCapacity + 40);
    CHECK(shmbus::ring::oldest_intact_position(f.topic.view(), f.tail()) == 64);
    shmbus::Subscriber subscriber(f.topic, {.start = shmbus::StartAt::earliest()});
    CHECK(shmbus::test::drain(subscriber).size() == 5);
}

TEST_CASE(
    "try_offer_batch publishes what fits now; offer_batch waits, and reports how far it got") {
    Fixture f;
    shmbus::Subscriber subscriber(f.topic, {.start = shmbus::StartAt::earliest()});
    std::vector<std::vector<std::byte>> storage;
    for (std::uint64_t i = 0; i < 40; ++i) {
        storage.emplace_back(shmbus::test::record_length(0, i, kMax));
        shmbus::test::fill_record(storage.back(), 0, i);
    }
    const std::vector<std::span<const std::byte>> records(storage.begin(), storage.end());
    std::size_t published = 0;
    REQUIRE(f.publisher.try_offer_batch(records, published) == Status::kOk);
    CHECK(published > 0);
    CHECK(published < records.size());  // a 1 KiB ring holds only some of them
    const std::size_t first = published;
    CHECK(f.publisher.offer_batch(std::span(records).subspan(first), published,
                                  std::chrono::milliseconds(30)) == Status::kTimedOut);
    CHECK(published == 0);

    shmbus::test::RecordChecker checker(kMax, 1, true);
    std::size_t delivered = 0;
    std::size_t offered = first;
    for (int round = 0; round < 1000 && delivered < records.size(); ++round) {
        for (const auto& got : shmbus::test::drain(subscriber)) {
            const auto problem = checker.accept(got.publisher, got.payload, 0);
            REQUIRE_MESSAGE(!problem, *problem);
            ++delivered;
        }
        if (offered < records.size()) {
            REQUIRE(f.publisher.try_offer_batch(std::span(records).subspan(offered), published) ==
                    Status::kOk);
            offered += published;
        }
    }
    CHECK(delivered == records.size());
    CHECK(subscriber.voided() == 0);
}

TEST_CASE(
    "in place and copied, subscribers hand a batch's records over with the same fields, "
    "timestamp and publisher included") {
    for (const bool timestamps : {true, false}) {
        CAPTURE(timestamps);
        shmbus::test::BusDirectory bus;
        shmbus::Topic topic = shmbus::test::create_and_open(
            bus, {.capacity = kCapacity, .max_record_size = kMax, .timestamps = timestamps});
        shmbus::Publisher other(topic);  // takes slot 0, so the batch's publisher is not 0
        shmbus::Publisher publisher(topic);
        REQUIRE(publisher.slot() != 0);
        shmbus::Subscriber in_place(topic, {.start = shmbus::StartAt::earliest()});
        shmbus::Subscriber copied(topic,
                                  {.start = shmbus::StartAt::earliest(), .zero_copy = false});
        const std::array<std::uint32_t, 5> lengths{9, 0, 64, 1, kMax};
        shmbus::BatchClaim batch = publisher.try_claim_batch(lengths);
        REQUIRE(batch.size() == lengths.size());
        for (std::size_t i = 0; i < lengths.size(); ++i) {
            for (std::byte& b : batch.payload(i))
                b = std::byte{static_cast<unsigned char>(0x40 + i)};
        }
        REQUIRE(batch.commit() == Status::kOk);

        const auto from_place = shmbus::test::drain(in_place);
        const auto from_copy = shmbus::test::drain(copied);
        REQUIRE(from_place.size() == lengths.size());
        REQUIRE(from_copy.size() == lengths.size());
        const std::uint64_t header_size = shmbus::format::record_header_size(timestamps);
        std::uint64_t position = 0;
        for (std::size_t i = 0; i < lengths.size(); ++i) {
            CAPTURE(i);
            const auto& got = from_place[i];
            CHECK(got.payload ==
                  shmbus::test::filled(lengths[i], static_cast<std::uint8_t>(0x40 + i)));
            CHECK(got.position == position);
            position += shmbus::format::frame_size(lengths[i], header_size);
            CHECK(got.next_position == position);
            CHECK(got.sequence == i);
            CHECK(got.publisher == publisher.slot());
            if (timestamps) {
                CHECK(got.timestamp_ns != 0);
                CHECK(got.timestamp_ns == topic.view().timestamp_word(got.position));
            } else {
                CHECK(got.timestamp_ns == 0);
            }
            CHECK(from_copy[i].payload == got.payload);
            CHECK(from_copy[i].position == got.position);
            CHECK(from_copy[i].next_position == got.next_position);
            CHECK(from_copy[i].sequence == got.sequence);
            CHECK(from_copy[i].timestamp_ns == got.timestamp_ns);
            CHECK(from_copy[i].publisher == got.publisher);
        }
        CHECK(in_place.next_sequence() == lengths.size());
        CHECK(in_place.consumed() == lengths.size());
        CHECK(in_place.voided() == 0);
    }
}
