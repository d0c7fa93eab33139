// The crash the random crash tests first found, pinned down: a publisher dies right after its
// claim (no header, so no stamp at its frame) while the commit floor in the records header is
// more than a lap old. Publishers never walk the floor on their own path, so without a daemon
// it is usually that old. The floor walk then jumps to the oldest frame boundary in the ring,
// and must not jump over the dead claim: a floor past it would tell every repairer that nothing
// is stuck, and the topic would stall for good.
#include <doctest/doctest.h>
#include <signal.h>

#include <shmbus/detail/format/frame_header.hpp>
#include <shmbus/detail/ring/unblocker.hpp>
#include <shmbus/detail/util/atomic.hpp>
#include <shmbus/shmbus.hpp>

#include "crash_harness.hpp"
#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/records.hpp"
#include "support/skip.hpp"

using namespace shmbus::test;
using namespace std::chrono_literals;

TEST_CASE(
    "a publisher dead right after its claim is repaired even when the commit floor is a lap "
    "behind and the oldest boundary in the ring is its frame") {
    if (!shmbus::test::fault_points_compiled())
        return shmbus::test::skip(shmbus::test::kNeedsFaultPoints);
    constexpr std::uint64_t kCapacity = 4096;
    constexpr std::uint32_t kLength = 32;  // 64-byte frames: a lap holds 64, with no padding
    BusDirectory bus;
    const shmbus::Topic topic = create_and_open(
        bus, {.capacity = kCapacity, .max_record_size = 256, .policy = shmbus::Policy::kOverwrite});
    shmbus::Publisher publisher(topic);
    const auto offer = [&] { return publisher.try_offer(filled(kLength, 0x33)); };
    // Two laps: nobody walks the floor meanwhile.
    for (int i = 0; i < 128; ++i)
        REQUIRE(offer() == shmbus::Status::kOk);
    const std::uint64_t dead_at = crash::tail_position(topic);
    REQUIRE(shmbus::atomics::load_relaxed(topic.view().records->commit_floor) + kCapacity <
            dead_at);

    Child peer =
        Child::spawn("publisher dying after its claim",
                     {peer_program(), "claim", bus.path().string(), "t", std::to_string(kLength)},
                     {"SHMBUS_FAULT=after_claim:kill"});
    const auto exit = peer.wait_until(deadline_in(10s));
    REQUIRE(exit.has_value());
    REQUIRE(exit->signal == SIGKILL);
    REQUIRE(crash::tail_position(topic) == dead_at + 64);

    // Publish until held back by the dead claim: the tail stops a lap after it, so the oldest
    // position still in the ring is the dead claim's own.
    while (offer() == shmbus::Status::kOk) {
    }
    REQUIRE(crash::tail_position(topic) == dead_at + kCapacity);

    const shmbus::ring::RepairReport report =
        shmbus::ring::repair_at_floor(topic.view(), topic.locks_fd());
    CHECK(report.outcome == shmbus::ring::RepairOutcome::kRepaired);
    CHECK(report.position == dead_at);
    CHECK(report.bytes == 64);
    CHECK(offer() == shmbus::Status::kOk);
}
