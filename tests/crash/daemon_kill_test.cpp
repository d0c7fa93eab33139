// shmbusd killed with SIGKILL while clients publish and consume, over and over with random
// timing. Each round, on a fresh topic (block and overwrite in turn):
//
//   1. Two publisher processes send a random number of records of random lengths; the test's
//      subscriber reads them. After a random number of records the daemon gets SIGKILL.
//   2. The clients go on without it: both publishers finish and every record arrives.
//   3. Still without a daemon, a publisher dies at a random fault point, leaving a claim that
//      blocks the topic, and a subscriber is killed, leaving a dead slot.
//   4. A new shmbusd on the same directory takes over: it names itself the topic's supervisor,
//      repairs the dead claim (the subscriber gets past it) and reclaims both dead slots.
//   5. Nothing was lost: every committed record was delivered once, in order, byte for byte.
//
// The daemon started in one round is the one killed in the next.
#include <doctest/doctest.h>
#include <signal.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <shmbus/detail/format/publisher_slot.hpp>
#include <string>

#include "crash_harness.hpp"
#include "support/bus_directory.hpp"
#include "support/skip.hpp"

namespace shmbus::test::crash {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kMaxRecord = 512;
constexpr std::uint64_t kRing = 8 * 1024;
const char* const kPublisherPoints[] = {"after_claim", "after_header", "mid_payload",
                                        "before_commit"};

struct Run {
    BusDirectory bus;
    Rng rng;
    std::unique_ptr<Daemon> daemon;
    Timings takeover;

    explicit Run(std::uint64_t seed) : rng(seed) {}
    void round(int index, Policy policy);
};

void Run::round(int index, Policy policy) {
    const std::string name = "round" + std::to_string(index);
    create_topic(bus.path(), name,
                 {.capacity = kRing,
                  .max_record_size = kMaxRecord,
                  .max_publishers = 4,
                  .max_subscribers = 4,
                  .policy = policy});
    const Topic topic = Topic::open(bus.path(), name);
    REQUIRE_MESSAGE(supervised_by(topic, daemon->pid(), 5s), describe_daemon(*daemon));

    Subscriber subscriber(topic, {.start = StartAt::earliest()});
    Ledger ledger(kMaxRecord);
    std::uint64_t lost_seen = 0;
    const auto poll = [&] {
        const PollResult result = subscriber.poll([&](const Record& record) {
            ledger.accept(record, subscriber.lost() - lost_seen);
            lost_seen = subscriber.lost();
        });
        REQUIRE_MESSAGE(result.status == Status::kOk, to_string(result.status));
        if (result.records == 0) (void)subscriber.wait(2ms);
    };

    // 1. Traffic, and SIGKILL for the daemon in the middle of it.
    const std::uint64_t count1 = rng.between(20, 60);
    const std::uint64_t count2 = rng.between(20, 60);
    const std::uint64_t kill_after = rng.between(0, (count1 + count2) / 2);
    CAPTURE(index);
    CAPTURE(policy_name(policy));
    CAPTURE(kill_after);
    PeerPublisher first = spawn_publisher(bus.path(), name, rng.key(), count1);
    PeerPublisher second = spawn_publisher(bus.path(), name, rng.key(), count2);
    const Ledger::Source first_source = ledger.expect(first.slot, first.key, first.count);
    const Ledger::Source second_source = ledger.expect(second.slot, second.key, second.count);
    const auto finish_by = Clock::now() + 30s;
    while (ledger.total_delivered() + subscriber.lost() < kill_after) {
        poll();
        REQUIRE_MESSAGE(Clock::now() < finish_by, "the records before the kill never came");
    }
    daemon->program().signal(SIGKILL);
    const auto ended = daemon->program().wait_for_exit(5s);
    REQUIRE(ended.has_value());
    CHECK(ended->status == -SIGKILL);

    // 2. The clients carry on.
    bool first_done = false;
    bool second_done = false;
    for (;;) {
        poll();
        for (auto* peer : {&first, &second}) {
            if (const auto exit = peer->child.wait_until(Clock::now())) {
                REQUIRE_MESSAGE(exit->ok(), peer->child.name() << " " << exit->describe());
                (peer == &first ? first_done : second_done) = true;
            }
        }
        if (first_done && second_done) {
            const std::uint64_t tail = tail_position(topic);
            if (commit_floor(topic) == tail && subscriber.position() == tail) break;
        }
        REQUIRE_MESSAGE(Clock::now() < finish_by, "the clients stalled without the daemon");
    }
    if (policy == Policy::kBlock) {
        CHECK(ledger.delivered(first_source) == count1);
        CHECK(ledger.delivered(second_source) == count2);
    }

    // 3. A dead claim and a dead subscriber, with no daemon to see them.
    const std::string point = kPublisherPoints[rng.between(0, 3)];
    const std::uint64_t hit = rng.between(1, 3);
    const std::string fault = fault_setting(point, "kill", hit);
    CAPTURE(fault);
    PeerPublisher victim = spawn_publisher(bus.path(), name, rng.key(), hit, fault);
    const Ledger::Source victim_source = ledger.expect(victim.slot, victim.key, hit - 1);
    const auto exit = victim.child.wait_until(Clock::now() + 20s);
    REQUIRE(exit.has_value());
    REQUIRE_MESSAGE((!exit->exited && exit->signal == SIGKILL), exit->describe());
    const std::uint64_t dead_at = claim_intent(topic, victim.slot);
    REQUIRE(dead_at != format::kNoIntent);
    PeerSubscriber dead_subscriber = spawn_subscriber(bus.path(), name, 4);
    REQUIRE(dead_subscriber.child.kill_and_reap().signal == SIGKILL);
    poll();
    CHECK(subscriber.position() <= dead_at);  // held at the dead claim

    // 4. A new daemon takes over.
    const auto restarted_at = Clock::now();
    daemon = start_daemon(bus.path());
    REQUIRE_MESSAGE(supervised_by(topic, daemon->pid(), 5s), describe_daemon(*daemon));
    while (subscriber.position() <= dead_at) {
        poll();
        REQUIRE_MESSAGE(Clock::now() < restarted_at + 10s,
                        "the new daemon did not repair the dead claim: "
                            << describe_floor(topic) << "; " << describe_daemon(*daemon));
    }
    takeover.add(Clock::now() - restarted_at);
    CHECK(daemon->wait_for_log(
        "topic '" + name + "': reclaimed subscriber slot " + std::to_string(dead_subscriber.slot),
        5s));
    CHECK(daemon->wait_for_log(
        "topic '" + name + "': reclaimed publisher slot " + std::to_string(victim.slot), 5s));
    CHECK(log_has(daemon->log(), name, "unblocked", "position " + std::to_string(dead_at)));

    // The topic works on under the new daemon.
    Publisher own(topic);
    const std::uint32_t own_key = rng.key();
    const Ledger::Source own_source = ledger.expect(own.slot(), own_key);
    REQUIRE(offer_record(own, own_key, 0, 5s) == Status::kOk);
    while (ledger.delivered(own_source) == 0) {
        poll();
        REQUIRE_MESSAGE(Clock::now() < restarted_at + 10s, "the last record never came");
    }

    // 5. Nothing lost.
    CHECK_MESSAGE(ledger.error().empty(), ledger.error());
    const std::uint64_t committed = count1 + count2 + (hit - 1) + 1;
    const TopicStats stats = collect_stats(topic);
    CHECK(stats.tail_sequence == committed + 1);
    CHECK(stats.unblocked == 1);
    CHECK(stats.supervisor_pid == static_cast<std::uint32_t>(daemon->pid()));
    if (policy == Policy::kBlock) {
        CHECK(ledger.delivered(victim_source) == hit - 1);
        CHECK(subscriber.lost() == 0);
        CHECK(subscriber.voided() == 1);
        CHECK(ledger.total_delivered() == committed);
    } else {
        CHECK(ledger.total_delivered() + subscriber.lost() + subscriber.voided() == committed + 1);
    }
}

}  // namespace
}  // namespace shmbus::test::crash

TEST_CASE(
    "clients keep publishing and consuming through a SIGKILL of shmbusd, and a daemon started "
    "afterwards takes over supervision with nothing lost") {
    using namespace shmbus::test::crash;
    if (!shmbus::test::fault_points_compiled()) {
        return shmbus::test::skip(shmbus::test::kNeedsFaultPoints);
    }
    if (!daemon_available()) return shmbus::test::skip("this build has no shmbusd");
    Run run(test_seed("shmbusd SIGKILL"));
    run.daemon = start_daemon(run.bus.path());
    constexpr int kRounds = 20;
    for (int index = 0; index < kRounds; ++index) {
        run.round(index, index % 2 == 0 ? shmbus::Policy::kBlock : shmbus::Policy::kOverwrite);
        shmbus::remove_topic(run.bus.path(), "round" + std::to_string(index));
    }
    std::printf(
        "shmbusd SIGKILL: %d rounds; from a new daemon's start to its repair of the dead "
        "claim: longest %.1f ms, mean %.1f ms\n",
        kRounds, milliseconds(run.takeover.longest), milliseconds(run.takeover.total) / kRounds);
    std::fflush(stdout);
    CHECK(run.daemon->stop()->status == 0);
}
