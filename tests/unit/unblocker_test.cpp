// The unblocker (ring::repair_at_floor): a publisher that died between claim and commit leaves
// a frame nobody will finish; repair turns it into padding once its owner is proven dead.
//
// The dead publishers are shmbus_test_peer processes stopped at a fault point (SHMBUS_FAULT)
// and then killed with SIGKILL, so they die exactly there.
#include <doctest/doctest.h>
#include <signal.h>

#include <cstdint>
#include <shmbus/detail/format/frame_header.hpp>
#include <shmbus/detail/ring/retention.hpp>
#include <shmbus/detail/ring/slots.hpp>
#include <shmbus/detail/ring/unblocker.hpp>
#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/records.hpp"
#include "support/skip.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::Status;
using shmbus::format::FrameState;
using shmbus::format::stamp;
using shmbus::ring::RepairOutcome;
using shmbus::test::Child;
using shmbus::test::frame_size;

constexpr std::uint64_t kCapacity = 4096;
constexpr std::uint32_t kMax = 256;

struct Fixture {
    shmbus::test::BusDirectory bus;
    shmbus::Topic topic;
    shmbus::Publisher publisher;  // slot 0
    shmbus::Subscriber subscriber;

    Fixture()
        : topic(
              shmbus::test::create_and_open(bus, {.capacity = kCapacity, .max_record_size = kMax})),
          publisher(topic),
          subscriber(topic, {.start = shmbus::StartAt::earliest()}) {}

    [[nodiscard]] const shmbus::ring::TopicView& view() const { return topic.view(); }
    [[nodiscard]] std::uint64_t tail() const { return view().records->tail.position; }
    [[nodiscard]] std::uint64_t unblocked() const { return view().records->unblocked_claims; }

    // Publishes, and lets the subscriber read, a lap and a bit of records of varied sizes, so
    // that the ring holds stale frames (stamped for the previous lap) everywhere.
    void go_round_once() {
        std::uint32_t length = 3;
        while (tail() < kCapacity + 300) {
            REQUIRE(publisher.try_offer(shmbus::test::filled(length, 0x11)) == Status::kOk);
            REQUIRE(shmbus::test::drain(subscriber).size() == 1);
            length = (length * 7 + 13) % kMax;
        }
    }

    // A publisher process that claims `length` bytes and dies at `fault` (SIGSTOP, then
    // SIGKILL). Returns its publisher slot.
    std::uint32_t dead_claim(const std::string& fault, std::uint32_t length) {
        Child peer = Child::spawn("publisher dying at " + fault,
                                  {shmbus::test::peer_program(), "claim", bus.path().string(), "t",
                                   std::to_string(length)},
                                  {"SHMBUS_FAULT=" + fault + ":stop"});
        const auto slot_line = peer.receive_line(shmbus::test::deadline_in(10s));
        REQUIRE_MESSAGE(slot_line, "the peer did not attach");
        REQUIRE(slot_line->rfind("slot ", 0) == 0);
        if (fault == "before_commit") {  // claimed and written; dies as it commits
            REQUIRE(peer.receive_line(shmbus::test::deadline_in(10s)).has_value());
            peer.send("commit");
        }
        REQUIRE_MESSAGE(peer.wait_stopped(shmbus::test::deadline_in(10s)),
                        "the peer did not stop at " << fault);
        const shmbus::test::ChildExit exit = peer.kill_and_reap();
        REQUIRE(exit.signal == SIGKILL);
        const auto slot = static_cast<std::uint32_t>(std::stoul(slot_line->substr(5)));
        CHECK_FALSE(shmbus::ring::publisher_alive(topic.locks_fd(), slot));
        return slot;
    }

    shmbus::ring::RepairReport repair() const {
        return shmbus::ring::repair_at_floor(view(), topic.locks_fd());
    }
};

}  // namespace

TEST_CASE(
    "a dead publisher's claim with its header written becomes padding, and subscribers move on") {
    if (!shmbus::test::fault_points_compiled())
        return shmbus::test::skip(shmbus::test::kNeedsFaultPoints);
    for (const std::string fault : {"after_header", "before_commit"}) {
        CAPTURE(fault);
        Fixture f;
        f.go_round_once();
        REQUIRE(f.publisher.try_offer(shmbus::test::bytes_of("before")) == Status::kOk);
        const std::uint64_t dead_at = f.tail();
        const std::uint32_t dead_slot = f.dead_claim(fault, 100);
        CHECK(f.tail() == dead_at + frame_size(100));
        CHECK(f.view().commit_word(dead_at) == stamp(dead_at, FrameState::kClaimed));
        CHECK(f.view().header(dead_at).publisher == dead_slot);
        REQUIRE(f.publisher.try_offer(shmbus::test::bytes_of("after")) == Status::kOk);

        // The subscriber stops at the dead frame.
        auto received = shmbus::test::drain(f.subscriber);
        REQUIRE(received.size() == 1);
        CHECK(received[0].payload == shmbus::test::bytes_of("before"));
        CHECK(f.subscriber.position() == dead_at);

        const shmbus::ring::RepairReport report = f.repair();
        CHECK(report.outcome == RepairOutcome::kRepaired);
        CHECK(report.position == dead_at);
        CHECK(report.had_header);
        CHECK(report.owner == dead_slot);
        CHECK(report.bytes == frame_size(100));
        CHECK(f.view().commit_word(dead_at) == stamp(dead_at, FrameState::kPadding));
        CHECK(f.view().header(dead_at).length ==
              frame_size(100) - shmbus::format::kFrameHeaderSize);
        CHECK(f.unblocked() == 1);

        received = shmbus::test::drain(f.subscriber);
        REQUIRE(received.size() == 1);
        CHECK(received[0].payload == shmbus::test::bytes_of("after"));
        CHECK(f.subscriber.voided() == 1);  // the dead claim's sequence number
        CHECK(f.subscriber.lost() == 0);

        CHECK(f.repair().outcome == RepairOutcome::kNothingStuck);
        CHECK(f.unblocked() == 1);
    }
}

TEST_CASE(
    "a dead publisher's claim whose header was never written becomes padding up to the next "
    "frame") {
    if (!shmbus::test::fault_points_compiled())
        return shmbus::test::skip(shmbus::test::kNeedsFaultPoints);
    Fixture f;
    f.go_round_once();
    REQUIRE(f.publisher.try_offer(shmbus::test::bytes_of("before")) == Status::kOk);
    const std::uint64_t dead_at = f.tail();
    (void)f.dead_claim("after_claim", 100);
    CHECK(f.tail() == dead_at + frame_size(100));
    // Only the claim intent and the tail say it exists: its commit word is the last lap's.
    CHECK(shmbus::format::state_at(f.view().commit_word(dead_at), dead_at) == FrameState::kNone);
    REQUIRE(f.publisher.try_offer(shmbus::test::bytes_of("after")) == Status::kOk);
    REQUIRE(shmbus::test::drain(f.subscriber).size() == 1);
    CHECK(f.subscriber.position() == dead_at);

    const shmbus::ring::RepairReport report = f.repair();
    CHECK(report.outcome == RepairOutcome::kRepaired);
    CHECK(report.position == dead_at);
    CHECK_FALSE(report.had_header);
    CHECK(report.bytes == frame_size(100));
    CHECK(f.unblocked() == 1);

    const auto received = shmbus::test::drain(f.subscriber);
    REQUIRE(received.size() == 1);
    CHECK(received[0].payload == shmbus::test::bytes_of("after"));
    CHECK(received[0].position == dead_at + frame_size(100));
    CHECK(f.subscriber.voided() == 1);
}

TEST_CASE(
    "a dead batch whose first header was never written is padded up to its second frame, and "
    "that frame on its own") {
    if (!shmbus::test::fault_points_compiled())
        return shmbus::test::skip(shmbus::test::kNeedsFaultPoints);
    // A batch writes its first frame's header after the others' (ring/appender.hpp), so a
    // publisher killed in between leaves an unwritten first frame before CLAIMED ones. The test
    // makes that state from a headerless dead claim of 136 bytes: it stamps a second frame of
    // 96 bytes at offset 40, naming the dead publisher, as the batch would have.
    Fixture f;
    f.go_round_once();
    const std::uint64_t dead_at = f.tail();
    const std::uint32_t dead_slot = f.dead_claim("after_claim", 100);
    REQUIRE(frame_size(100) == 136);
    const std::uint64_t second = dead_at + frame_size(8);
    REQUIRE(frame_size(64) == dead_at + frame_size(100) - second);
    auto& header = const_cast<shmbus::format::FrameHeader&>(f.view().header(second));
    header.length = 64;
    header.publisher = static_cast<std::uint16_t>(dead_slot);
    header.sequence = f.view().records->tail.sequence - 1;
    header.commit = stamp(second, FrameState::kClaimed);
    REQUIRE(f.publisher.try_offer(shmbus::test::bytes_of("after")) == Status::kOk);
    CHECK(shmbus::test::drain(f.subscriber).empty());

    shmbus::ring::RepairReport report = f.repair();
    CHECK(report.outcome == RepairOutcome::kRepaired);
    CHECK(report.position == dead_at);
    CHECK_FALSE(report.had_header);
    CHECK(report.bytes == frame_size(8));  // up to the next frame's stamp, and no further
    report = f.repair();
    CHECK(report.outcome == RepairOutcome::kRepaired);
    CHECK(report.position == second);
    CHECK(report.had_header);
    CHECK(report.owner == dead_slot);
    CHECK(report.bytes == frame_size(64));
    CHECK(f.repair().outcome == RepairOutcome::kNothingStuck);
    CHECK(f.unblocked() == 2);

    const auto received = shmbus::test::drain(f.subscriber);
    REQUIRE(received.size() == 1);
    CHECK(received[0].payload == shmbus::test::bytes_of("after"));
    CHECK(received[0].position == dead_at + frame_size(100));
    CHECK(f.subscriber.voided() == 1);
    CHECK(f.subscriber.lost() == 0);
}

TEST_CASE("a headerless dead claim at the tail is padded to the tail, and publishing goes on") {
    if (!shmbus::test::fault_points_compiled())
        return shmbus::test::skip(shmbus::test::kNeedsFaultPoints);
    Fixture f;
    f.go_round_once();
    const std::uint64_t dead_at = f.tail();
    (void)f.dead_claim("after_claim", 40);
    const shmbus::ring::RepairReport report = f.repair();
    CHECK(report.outcome == RepairOutcome::kRepaired);
    CHECK(report.bytes == f.tail() - dead_at);
    CHECK(f.view().records->commit_floor == f.tail());
    REQUIRE(f.publisher.try_offer(shmbus::test::bytes_of("next")) == Status::kOk);
    const auto received = shmbus::test::drain(f.subscriber);
    REQUIRE(received.size() == 1);
    CHECK(received[0].payload == shmbus::test::bytes_of("next"));
}

TEST_CASE(
    "a commit floor left a lap behind stops at a headerless dead claim instead of jumping past "
    "it") {
    if (!shmbus::test::fault_points_compiled())
        return shmbus::test::skip(shmbus::test::kNeedsFaultPoints);
    Fixture f;
    f.go_round_once();  // nothing walks the commit floor here: it is still at 0, a lap behind
    REQUIRE(f.view().records->commit_floor + kCapacity < f.tail());
    REQUIRE(f.publisher.try_offer(shmbus::test::filled(100, 0x33)) == Status::kOk);
    REQUIRE(shmbus::test::drain(f.subscriber).size() == 1);
    const std::uint64_t dead_at = f.tail();
    (void)f.dead_claim("after_claim", 40);
    // Records behind the dead claim, as far as it lets publishers go: the tail ends less than a
    // small frame short of a lap past it, so the floor's jump to "a lap behind the tail" lands
    // inside the 100-byte record before the dead claim, where no frame starts.
    while (f.publisher.try_offer(shmbus::test::filled(8, 0x22)) == Status::kOk) {
    }
    REQUIRE(f.tail() > dead_at + kCapacity - frame_size(8));

    const shmbus::ring::RepairReport report = f.repair();
    CHECK(report.outcome == RepairOutcome::kRepaired);
    CHECK(report.position == dead_at);
    CHECK(f.unblocked() == 1);
    (void)shmbus::test::drain(f.subscriber);
    REQUIRE(f.publisher.try_offer(shmbus::test::bytes_of("next")) == Status::kOk);
}

TEST_CASE(
    "a subscriber starting at the oldest intact record stops at a headerless claim still in "
    "flight instead of jumping past it") {
    if (!shmbus::test::fault_points_compiled())
        return shmbus::test::skip(shmbus::test::kNeedsFaultPoints);
    Fixture f;
    f.go_round_once();
    REQUIRE(f.publisher.try_offer(shmbus::test::filled(100, 0x33)) == Status::kOk);
    REQUIRE(shmbus::test::drain(f.subscriber).size() == 1);
    const std::uint64_t dead_at = f.tail();
    (void)f.dead_claim("after_claim", 40);
    // As above: the tail stops less than a small frame short of a lap past the dead claim, so
    // "a lap behind the tail" lies inside the 100-byte record before it, where no frame starts,
    // and the first stamped position after that is past the dead claim.
    while (f.publisher.try_offer(shmbus::test::filled(8, 0x22)) == Status::kOk) {
    }
    REQUIRE(f.tail() > dead_at + kCapacity - frame_size(8));
    // Nothing has repaired the claim: its owner's intent still names it.
    CHECK(shmbus::ring::oldest_intact_position(f.view(), f.tail()) == dead_at);
    shmbus::Subscriber late(f.topic, {.start = shmbus::StartAt::earliest()});
    CHECK(late.position() == dead_at);
}

TEST_CASE("a live publisher's pending claim is left alone") {
    Fixture f;
    shmbus::Publisher other(f.topic);
    shmbus::Claim pending = other.try_claim(10);
    REQUIRE(pending);
    REQUIRE(f.publisher.try_offer(shmbus::test::bytes_of("after")) == Status::kOk);
    const shmbus::ring::RepairReport report = f.repair();
    CHECK(report.outcome == RepairOutcome::kOwnerAlive);
    CHECK(report.position == pending.position());
    CHECK(f.view().commit_word(pending.position()) ==
          stamp(pending.position(), FrameState::kClaimed));
    CHECK(f.unblocked() == 0);
    REQUIRE(pending.commit() == Status::kOk);
    CHECK(shmbus::test::drain(f.subscriber).size() == 2);
    CHECK(f.subscriber.voided() == 0);
}

TEST_CASE("two dead claims in a row are repaired one by one and counted exactly") {
    if (!shmbus::test::fault_points_compiled())
        return shmbus::test::skip(shmbus::test::kNeedsFaultPoints);
    Fixture f;
    f.go_round_once();
    const std::uint64_t first = f.tail();
    (void)f.dead_claim("after_header", 20);
    const std::uint64_t second = f.tail();
    (void)f.dead_claim("after_claim", 60);
    REQUIRE(f.publisher.try_offer(shmbus::test::bytes_of("after")) == Status::kOk);

    shmbus::ring::RepairReport report = f.repair();
    CHECK(report.outcome == RepairOutcome::kRepaired);
    CHECK(report.position == first);
    CHECK(report.had_header);
    report = f.repair();
    CHECK(report.outcome == RepairOutcome::kRepaired);
    CHECK(report.position == second);
    CHECK_FALSE(report.had_header);
    CHECK(report.bytes == frame_size(60));
    CHECK(f.repair().outcome == RepairOutcome::kNothingStuck);
    CHECK(f.unblocked() == 2);
    const auto received = shmbus::test::drain(f.subscriber);
    REQUIRE_FALSE(received.empty());
    CHECK(received.back().payload == shmbus::test::bytes_of("after"));
    CHECK(f.subscriber.voided() == 2);
}

TEST_CASE(
    "adjacent dead claims without headers become one padding frame, one repair, two voided "
    "sequences") {
    if (!shmbus::test::fault_points_compiled())
        return shmbus::test::skip(shmbus::test::kNeedsFaultPoints);
    Fixture f;
    f.go_round_once();
    const std::uint64_t first = f.tail();
    (void)f.dead_claim("after_claim", 20);
    (void)f.dead_claim("after_claim", 60);
    REQUIRE(f.publisher.try_offer(shmbus::test::bytes_of("after")) == Status::kOk);
    const shmbus::ring::RepairReport report = f.repair();
    CHECK(report.outcome == RepairOutcome::kRepaired);
    CHECK(report.position == first);
    // Nothing tells where the first dead claim ended, so the padding covers both.
    CHECK(report.bytes == frame_size(20) + frame_size(60));
    CHECK(f.repair().outcome == RepairOutcome::kNothingStuck);
    CHECK(f.unblocked() == 1);
    const auto received = shmbus::test::drain(f.subscriber);
    REQUIRE(received.size() == 1);
    CHECK(f.subscriber.voided() == 2);
}

TEST_CASE("a publisher held back by a dead claim repairs it itself and goes on") {
    if (!shmbus::test::fault_points_compiled())
        return shmbus::test::skip(shmbus::test::kNeedsFaultPoints);
    shmbus::test::BusDirectory bus;
    shmbus::create_topic(bus.path(), "t", {.capacity = kCapacity, .max_record_size = kMax});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    shmbus::Publisher publisher(topic);
    Child peer = Child::spawn(
        "dead publisher", {shmbus::test::peer_program(), "claim", bus.path().string(), "t", "100"},
        {"SHMBUS_FAULT=after_header:stop"});
    REQUIRE(peer.wait_stopped(shmbus::test::deadline_in(10s)));
    (void)peer.kill_and_reap();
    // No subscriber: only the dead claim holds publishers back, one lap after it.
    int published = 0;
    while (publisher.try_offer(shmbus::test::filled(kMax, 1)) == Status::kOk) {
        REQUIRE(++published < 100);
    }
    CHECK(publisher.try_offer(shmbus::test::filled(kMax, 1)) == Status::kBackPressured);
    CHECK(publisher.offer(shmbus::test::filled(kMax, 1), 5s) == Status::kOk);
    CHECK(topic.view().records->unblocked_claims == 1);
    for (int i = 0; i < 40; ++i)
        CHECK(publisher.offer(shmbus::test::filled(kMax, 1), 5s) == Status::kOk);
}

TEST_CASE("a dead publisher's slot is reclaimed and its records stay counted") {
    Fixture f;
    REQUIRE(f.publisher.try_offer(shmbus::test::bytes_of("x")) == Status::kOk);
    Child peer =
        Child::spawn("publisher that dies after publishing",
                     {shmbus::test::peer_program(), "claim", f.bus.path().string(), "t", "8"}, {});
    REQUIRE(peer.receive_line(shmbus::test::deadline_in(10s)) ==
            std::optional<std::string>("slot 1"));
    REQUIRE(peer.receive_line(shmbus::test::deadline_in(10s)).has_value());  // "claimed P"
    peer.send("commit");
    REQUIRE(peer.receive_line(shmbus::test::deadline_in(10s)) ==
            std::optional<std::string>("committed"));
    (void)peer.kill_and_reap();
    std::vector<shmbus::ring::ReclaimedSlot> reclaimed;
    CHECK(shmbus::ring::reclaim_dead_publishers(
              f.view(), f.topic.locks_fd(),
              [&](const shmbus::ring::ReclaimedSlot& slot) { reclaimed.push_back(slot); }) == 1);
    REQUIRE(reclaimed.size() == 1);
    CHECK(reclaimed[0].index == 1);
    CHECK(reclaimed[0].pid == static_cast<std::uint32_t>(peer.pid()));
    CHECK(f.view().records->departed_published == 1);
    CHECK(shmbus::ring::reclaim_dead_publishers(f.view(), f.topic.locks_fd()) == 0);
    // The slot is free for the next publisher.
    shmbus::Publisher next(f.topic);
    CHECK(next.slot() == 1);
}
