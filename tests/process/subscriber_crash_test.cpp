// A subscriber killed with SIGKILL in a block topic: its slot still says ACTIVE at the position
// where it stopped, so publishers are held back one lap later. Once its slot is reclaimed (a
// held-back publisher does that itself), publishing resumes and the other subscribers lose
// nothing.
#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <cstdint>
#include <shmbus/detail/format/frame_header.hpp>
#include <shmbus/detail/util/atomic.hpp>
#include <shmbus/shmbus.hpp>
#include <string>
#include <thread>

#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/shared_block.hpp"
#include "support/traffic.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::test::Child;
using shmbus::test::ChildLink;
using shmbus::test::Clock;

constexpr std::uint32_t kPublishers = 2;
constexpr std::uint64_t kRecords = 40'000;  // per publisher
constexpr std::uint64_t kCapacity = 64 * 1024;
constexpr std::uint32_t kMaxRecord = 1024;

struct Progress {
    std::atomic<std::uint64_t> published[kPublishers];
    std::atomic<std::uint64_t> received;
};

}  // namespace

TEST_CASE(
    "publishers held back by a subscriber killed with SIGKILL resume once its slot is reclaimed") {
    shmbus::test::BusDirectory bus;
    shmbus::create_topic(bus.path(), "t",
                         {.capacity = kCapacity,
                          .max_record_size = kMaxRecord,
                          .max_publishers = 4,
                          .max_subscribers = 4});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    const shmbus::ring::TopicView& view = topic.view();
    shmbus::test::SharedBlock<Progress> progress;
    const auto deadline = shmbus::test::deadline_in(120s);
    const auto describe = [&] {
        return "published " + std::to_string(progress->published[0].load()) + " and " +
               std::to_string(progress->published[1].load()) + " of " + std::to_string(kRecords) +
               " each; the reader received " + std::to_string(progress->received.load());
    };

    Child reader = Child::fork("reader", [&](ChildLink& link) {
        const shmbus::Topic own = shmbus::Topic::open(bus.path(), "t");
        shmbus::Subscriber subscriber(own, {.start = shmbus::StartAt::earliest()});
        link.send("ready");
        shmbus::test::ReadPlan plan;
        plan.total = kRecords * kPublishers;
        plan.publishers = 4;
        plan.max_record_size = kMaxRecord;
        plan.deadline = deadline - 5s;
        plan.received = &progress->received;
        const auto result = shmbus::test::read_records(subscriber, plan);
        link.send(result.line());
        return result.error.empty() ? 0 : 1;
    });
    Child victim = Child::fork("victim", [&](ChildLink& link) {
        const shmbus::Topic own = shmbus::Topic::open(bus.path(), "t");
        shmbus::Subscriber subscriber(own, {.start = shmbus::StartAt::earliest()});
        link.send("ready");
        // Reads a little, then stops reading without detaching.
        std::uint64_t read = 0;
        while (read < 1000 && Clock::now() < deadline) {
            read += subscriber.poll([](const shmbus::Record&) {}).records;
            if (read < 1000) (void)subscriber.wait(50ms);
        }
        link.send("stalled " + std::to_string(subscriber.slot()));
        link.wait_for_parent();
        return 0;
    });
    REQUIRE(reader.receive_line(shmbus::test::deadline_in(30s)) ==
            std::optional<std::string>("ready"));
    REQUIRE(victim.receive_line(shmbus::test::deadline_in(30s)) ==
            std::optional<std::string>("ready"));

    shmbus::test::ChildGroup publishers;
    for (std::uint32_t i = 0; i < kPublishers; ++i) {
        publishers.add(Child::fork("publisher " + std::to_string(i), [&, i](ChildLink& link) {
            const shmbus::Topic own = shmbus::Topic::open(bus.path(), "t");
            shmbus::Publisher publisher(own);
            shmbus::test::PublishPlan plan;
            plan.records = kRecords;
            plan.max_record_size = kMaxRecord;
            plan.deadline = deadline - 5s;
            plan.published = &progress->published[i];
            const std::string error = shmbus::test::publish_records(publisher, plan);
            if (!error.empty()) link.send("error: " + error);
            return error.empty() ? 0 : 1;
        }));
    }

    const auto stalled = victim.receive_line(shmbus::test::deadline_in(60s));
    REQUIRE_MESSAGE(stalled, "the victim never read its first records; " << describe());
    const auto victim_slot = static_cast<std::uint32_t>(std::stoul(stalled->substr(8)));

    // Wait until the victim holds the publishers back: the tail a lap ahead of it, and both
    // publishers asleep waiting for room.
    const std::uint64_t victim_position =
        shmbus::atomics::load_acquire(view.subscribers[victim_slot].position);
    const auto held_by = shmbus::test::deadline_in(60s);
    for (;;) {
        const std::uint64_t tail = shmbus::atomics::load_acquire(view.records->tail.position);
        const bool lap_ahead = tail + view.frame_size(kMaxRecord) > victim_position + kCapacity;
        const bool asleep = shmbus::atomics::load_seq_cst(view.state->blocked_publishers[0]) == 3;
        if (lap_ahead && asleep) break;
        REQUIRE_MESSAGE(Clock::now() < held_by,
                        "the publishers were never held back by the victim; " << describe());
        REQUIRE_MESSAGE(publishers.children()[0].running(), "a publisher ended early");
        std::this_thread::sleep_for(1ms);
    }
    const std::uint64_t held_at = shmbus::atomics::load_acquire(view.records->tail.position);
    std::this_thread::sleep_for(100ms);
    CHECK(shmbus::atomics::load_acquire(view.records->tail.position) == held_at);
    CHECK(progress->published[0].load() + progress->published[1].load() < kRecords * kPublishers);

    const shmbus::test::ChildExit killed = victim.kill_and_reap();
    CHECK(killed.signal == SIGKILL);
    const auto killed_at = Clock::now();

    const std::string problems = publishers.wait_all(deadline, describe);
    REQUIRE_MESSAGE(problems.empty(), "publishers after the kill: " << problems);
    MESSAGE("publishers finished "
            << std::chrono::duration<double>(Clock::now() - killed_at).count()
            << " s after the kill");
    const auto reader_exit = reader.wait_until(deadline);
    REQUIRE_MESSAGE(reader_exit, "the reader did not finish; " << describe());
    const auto line = reader.receive_line(Clock::now());
    const auto result = shmbus::test::ReadResult::parse(line.value_or("error: no result line"));
    CHECK_MESSAGE(result.error.empty(), result.error);
    CHECK(result.received == kRecords * kPublishers);
    CHECK(view.state->reclaimed_slots == 1);
    CHECK(view.records->unblocked_claims == 0);  // no publisher died
    CHECK(view.subscribers[victim_slot].state == shmbus::format::kSlotFree);
}
