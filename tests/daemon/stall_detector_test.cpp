#include "stall_detector.hpp"

#include <doctest/doctest.h>

#include <shmbus/detail/format/frame_header.hpp>
#include <vector>

using shmbusd::RingSample;
using shmbusd::StallDetector;
using shmbusd::SubscriberSample;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kCapacity = 8192;
constexpr std::uint64_t kMaxFrame = 1056;  // frame_size(1024)

/// A ring whose tail is `behind` bytes past a subscriber at position 1000.
RingSample ring_behind(std::uint64_t behind, bool waiting) {
    RingSample ring;
    ring.tail = 1000 + behind;
    ring.commit_floor = ring.tail;
    ring.capacity = kCapacity;
    ring.max_frame = kMaxFrame;
    ring.publisher_waiting = waiting;
    return ring;
}

const std::vector<SubscriberSample> kStuck{{3, 7, 1000}};

}  // namespace

TEST_CASE(
    "a still subscriber with the ring full behind it and a waiting publisher is evicted after "
    "evict_after") {
    StallDetector detector(8);
    const auto t0 = StallDetector::Clock::now();
    const RingSample full = ring_behind(kCapacity - 100, true);
    CHECK(detector.observe(full, kStuck, t0, 1s).empty());          // first sight: not yet still
    CHECK(detector.observe(full, kStuck, t0 + 100ms, 1s).empty());  // the stall begins here
    CHECK(detector.observe(full, kStuck, t0 + 1000ms, 1s).empty());
    const auto verdicts = detector.observe(full, kStuck, t0 + 1100ms, 1s);
    REQUIRE(verdicts.size() == 1);
    CHECK(verdicts[0].slot == 3);
    CHECK(verdicts[0].generation == 7);
    CHECK(verdicts[0].position == 1000);
    CHECK(verdicts[0].stalled_for == 1000ms);
}

TEST_CASE("a full ring with no publisher waiting is no stall until nothing at all fits") {
    StallDetector detector(8);
    const auto t0 = StallDetector::Clock::now();
    // A maximum-size record does not fit, a small one would: nobody is being held back yet.
    const RingSample full_ish = ring_behind(kCapacity - 200, false);
    for (int i = 0; i < 50; ++i) {
        CHECK(detector.observe(full_ish, kStuck, t0 + i * 100ms, 1s).empty());
    }
    CHECK_FALSE(detector.stalled_for(3, t0 + 5s).has_value());
    // Not even an empty record fits: every publisher is held back, announced or not.
    const RingSample brim = ring_behind(kCapacity - 8, false);
    CHECK(detector.observe(brim, kStuck, t0 + 6s, 1s).empty());
    CHECK(detector.observe(brim, kStuck, t0 + 7s, 1s).size() == 1);
}

TEST_CASE(
    "once begun, a stall lasts while the subscriber stays still even if no publisher is seen "
    "waiting") {
    StallDetector detector(8);
    const auto t0 = StallDetector::Clock::now();
    CHECK(detector.observe(ring_behind(kCapacity - 100, true), kStuck, t0, 1s).empty());
    CHECK(detector.observe(ring_behind(kCapacity - 100, true), kStuck, t0 + 100ms, 1s).empty());
    CHECK(detector.observe(ring_behind(kCapacity - 100, false), kStuck, t0 + 600ms, 1s).empty());
    CHECK(detector.observe(ring_behind(kCapacity - 100, false), kStuck, t0 + 1200ms, 1s).size() ==
          1);
}

TEST_CASE("a subscriber that moves, or a new subscriber in the slot, starts over") {
    StallDetector detector(8);
    const auto t0 = StallDetector::Clock::now();
    const RingSample full = ring_behind(kCapacity - 100, true);
    CHECK(detector.observe(full, kStuck, t0, 1s).empty());
    CHECK(detector.observe(full, kStuck, t0 + 100ms, 1s).empty());
    // It read one record: the clock starts again.
    RingSample moved = full;
    moved.tail += 32;
    const std::vector<SubscriberSample> advanced{{3, 7, 1032}};
    CHECK(detector.observe(moved, advanced, t0 + 900ms, 1s).empty());
    CHECK(detector.observe(moved, advanced, t0 + 1500ms, 1s).empty());
    // Another subscriber in the same slot at the same position is someone else.
    const std::vector<SubscriberSample> replaced{{3, 8, 1032}};
    CHECK(detector.observe(moved, replaced, t0 + 2000ms, 1s).empty());
    CHECK(detector.observe(moved, replaced, t0 + 2500ms, 1s).empty());
    CHECK(detector.observe(moved, replaced, t0 + 3600ms, 1s).size() == 1);
}

TEST_CASE("a subscriber waiting at the commit floor is not the one stalling publishers") {
    StallDetector detector(8);
    const auto t0 = StallDetector::Clock::now();
    RingSample stuck_claim = ring_behind(kCapacity - 100, true);
    stuck_claim.commit_floor = 1000;  // a claim at its position is unfinished
    for (int i = 0; i < 30; ++i) {
        CHECK(detector.observe(stuck_claim, kStuck, t0 + i * 100ms, 1s).empty());
    }
}

TEST_CASE("hostile positions beyond the tail or the slot range are ignored") {
    StallDetector detector(4);
    const auto t0 = StallDetector::Clock::now();
    const std::vector<SubscriberSample> odd{{2, 1, 999'999'999}, {17, 1, 0}};
    for (int i = 0; i < 30; ++i) {
        CHECK(detector.observe(ring_behind(kCapacity - 8, true), odd, t0 + i * 100ms, 1s).empty());
    }
}

TEST_CASE("after a reset, a stall is timed from scratch") {
    StallDetector detector(8);
    const auto t0 = StallDetector::Clock::now();
    const RingSample full = ring_behind(kCapacity - 100, true);
    CHECK(detector.observe(full, kStuck, t0, 1s).empty());
    CHECK(detector.observe(full, kStuck, t0 + 100ms, 1s).empty());
    detector.reset();  // the topic's policy said "wait" for a while
    CHECK(detector.observe(full, kStuck, t0 + 5s, 1s).empty());
    CHECK(detector.observe(full, kStuck, t0 + 5100ms, 1s).empty());
    CHECK(detector.observe(full, kStuck, t0 + 6000ms, 1s).empty());
    CHECK(detector.observe(full, kStuck, t0 + 6100ms, 1s).size() == 1);
}
