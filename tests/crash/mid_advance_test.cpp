// Crash point mid_advance: a subscriber dies after its handler has taken records but before it
// publishes its new position, over and over with random timing.
//
// Each crash runs on a fresh topic (block and overwrite in turn) with two publisher processes,
// each sending a random number of records of random lengths:
//
//   1. A subscriber process reads them a random few at a time and reports every record it
//      takes, with the position after it, as an application would save it. It is armed to die
//      at mid_advance on a random poll (kill), or to stop there and be killed with SIGKILL a
//      moment later (stop then kill). Should the publishers finish first (a lapped overwrite
//      subscriber polls less), the test's own publisher feeds it records one at a time.
//   2. The test restarts a subscriber at the last position and sequence it saved
//      (StartAt::position). In the stop-then-kill crashes it does so while the dying one is
//      still stopped, holding the ring, so in a block topic nothing at all may be lost.
//   3. The dead subscriber's slot is released: reclaimed by shmbusd in half the crashes;
//      otherwise, in block topics, by a publisher it holds back (the test's own publisher keeps
//      publishing until one is held back); or taken over by the restarted subscriber, which may
//      reuse a dead subscriber's slot. Publishers are no longer held back: both finish.
//   4. Between them the two subscribers delivered every record once, in each publisher's
//      order, byte for byte, and what they did not deliver is exactly what they counted lost.
//
// In an overwrite topic without the daemon nothing reclaims the slot: no publisher waits for
// an overwrite subscriber, dead or alive, so the slot costs nothing but itself until shmbusd
// (or a publisher held back for another reason) reclaims it.
#include <doctest/doctest.h>
#include <signal.h>

#include <cstdio>
#include <optional>
#include <shmbus/detail/format/state_layout.hpp>
#include <shmbus/detail/util/atomic.hpp>
#include <string>
#include <vector>

#include "crash_harness.hpp"
#include "support/bus_directory.hpp"
#include "support/skip.hpp"

namespace shmbus::test::crash {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kMaxRecord = 256;
constexpr std::uint64_t kRing = 4 * 1024;
// Publishers held back by the dead subscriber look again at least every 50 ms; the daemon every
// check interval. Either is far inside this.
constexpr auto kReleaseBound = kUnblockTimeout;

struct Run {
    bool stop_first = false;
    BusDirectory bus;
    Rng rng;
    std::unique_ptr<Daemon> daemon;
    Timings by_daemon;
    Timings by_publisher;
    int restarted_lossless = 0;

    Run(bool stop, std::uint64_t seed) : stop_first(stop), rng(seed) {}
    void crash_once(int index, Policy policy, bool with_daemon);
};

std::uint64_t reclaimed_slots(const Topic& topic) {
    // Relaxed: a counter, polled.
    return atomics::load_relaxed(topic.view().state->reclaimed_slots);
}

// Whether subscriber slot `slot` no longer belongs to process `pid`: reclaimed (by shmbusd or a
// held-back publisher), or taken over by a new subscriber, which may reuse a dead one's slot.
bool slot_released(const Topic& topic, std::uint32_t slot, pid_t pid) {
    format::SubscriberSlot& subscriber = topic.view().subscribers[slot];
    // Acquire: pairs with the release store of FREE, and of ACTIVE after the new owner's pid.
    return atomics::load_acquire(subscriber.state) == format::kSlotFree ||
           atomics::load_relaxed(subscriber.pid) != static_cast<std::uint32_t>(pid);
}

void Run::crash_once(int index, Policy policy, bool with_daemon) {
    const std::string name = "advance" + std::to_string(index);
    create_topic(bus.path(), name,
                 {.capacity = kRing,
                  .max_record_size = kMaxRecord,
                  .max_publishers = 4,
                  .max_subscribers = 4,
                  .policy = policy,
                  .timestamps = rng.coin()});
    const Topic topic = Topic::open(bus.path(), name);
    if (with_daemon)
        REQUIRE_MESSAGE(supervised_by(topic, daemon->pid(), 5s), describe_daemon(*daemon));

    // The test's own publisher, first, so its slot is fixed: it feeds the subscriber if the
    // others finish before the fault strikes, and later publishes until held back.
    Publisher own(topic);
    const std::uint32_t own_key = rng.key();
    std::uint64_t own_count = 0;
    Ledger ledger(kMaxRecord);
    const Ledger::Source own_source = ledger.expect(own.slot(), own_key);
    const auto publish_own = [&](std::chrono::nanoseconds timeout) {
        const Status status = offer_record(own, own_key, own_count, timeout);
        if (status == Status::kOk) {
            ++own_count;
        } else {
            REQUIRE_MESSAGE((status == Status::kTimedOut || status == Status::kBackPressured),
                            to_string(status));
        }
    };

    const std::uint64_t hit = rng.between(1, 12);
    const std::uint64_t batch = rng.between(1, 4);
    const std::string fault = fault_setting("mid_advance", stop_first ? "stop" : "kill", hit);
    CAPTURE(index);
    CAPTURE(policy_name(policy));
    CAPTURE(with_daemon);
    CAPTURE(fault);
    CAPTURE(batch);
    PeerSubscriber dying = spawn_subscriber(bus.path(), name, batch, fault);
    const std::uint64_t count1 = rng.between(30, 80);
    const std::uint64_t count2 = rng.between(30, 80);
    PeerPublisher first = spawn_publisher(bus.path(), name, rng.key(), count1);
    PeerPublisher second = spawn_publisher(bus.path(), name, rng.key(), count2);
    const Ledger::Source first_source = ledger.expect(first.slot, first.key, first.count);
    const Ledger::Source second_source = ledger.expect(second.slot, second.key, second.count);

    // 1. The subscriber process reads until the fault point strikes.
    std::vector<PeerRecord> taken;
    const auto take = [&](const std::optional<std::string>& line) {
        if (!line) return false;
        const auto record = parse_peer_record(*line);
        REQUIRE_MESSAGE(record.has_value(), "unexpected line from the subscriber: " << *line);
        taken.push_back(*record);
        return true;
    };
    bool first_done = false;
    bool second_done = false;
    const auto check_publishers = [&] {
        for (auto* peer : {&first, &second}) {
            if (const auto exit = peer->child.wait_until(Clock::now())) {
                REQUIRE_MESSAGE(exit->ok(), peer->child.name() << " " << exit->describe());
                (peer == &first ? first_done : second_done) = true;
            }
        }
    };
    const auto deadline = Clock::now() + 20s;
    for (;;) {
        (void)take(dying.child.receive_line(Clock::now() + 2ms));
        check_publishers();
        // Lapped in an overwrite topic, it may have polled too few times when the others are
        // done: more records, one at a time.
        if (first_done && second_done) publish_own({});
        // Waiting a little for the fault each time round paces the feeding, and leaves a
        // dying subscriber the processor it needs to finish dying.
        if (stop_first) {
            if (dying.child.wait_stopped(Clock::now() + 1ms)) break;
            REQUIRE_MESSAGE(!dying.child.exit(), "the subscriber ended instead of stopping: "
                                                     << dying.child.exit()->describe());
        } else if (const auto exit = dying.child.wait_until(Clock::now() + 1ms)) {
            REQUIRE_MESSAGE((!exit->exited && exit->signal == SIGKILL),
                            "the subscriber " << exit->describe());
            break;
        }
        REQUIRE_MESSAGE(Clock::now() < deadline, "the subscriber never reached mid_advance");
    }
    auto died_at = Clock::now();
    const std::uint64_t fed = own_count;
    CAPTURE(fed);
    // Every line it wrote before the fault: to the end of the pipe if it is dead; what is in the
    // pipe if it is stopped (it writes nothing more).
    while (take(dying.child.receive_line(Clock::now() + (stop_first ? 20ms : 5s)))) {
    }
    std::uint64_t lost_before = 0;
    for (const PeerRecord& record : taken) {
        ledger.accept(record.publisher, record.length, record.checksum, record.lost - lost_before);
        lost_before = record.lost;
    }
    const std::uint64_t lost_by_dying = lost_before;
    if (policy == Policy::kBlock) CHECK(lost_by_dying == 0);

    // 2. A new subscriber at the saved position.
    std::uint64_t saved_position = 0;
    std::uint64_t saved_sequence = 0;
    if (!taken.empty()) {
        saved_position = taken.back().next_position;
        saved_sequence = taken.back().sequence + 1;
    }
    CAPTURE(saved_position);
    Subscriber restarted(topic, {.start = StartAt::position(saved_position, saved_sequence)});
    if (stop_first) {
        // Stopped is alive: its slot is its own, whoever looks.
        CHECK_FALSE(slot_released(topic, dying.slot, dying.child.pid()));
        REQUIRE(dying.child.kill_and_reap().signal == SIGKILL);
        died_at = Clock::now();
    }

    // 3. The slot is released; both publishers finish; the restarted subscriber reads on.
    const bool expect_release = with_daemon || policy == Policy::kBlock;
    std::optional<Duration> released_after;
    std::uint64_t lost_seen = 0;
    const auto finish_by = Clock::now() + 30s;
    for (;;) {
        const PollResult result = restarted.poll([&](const Record& record) {
            ledger.accept(record, restarted.lost() - lost_seen);
            lost_seen = restarted.lost();
        });
        REQUIRE_MESSAGE(result.status == Status::kOk, to_string(result.status));
        if (!released_after && slot_released(topic, dying.slot, dying.child.pid())) {
            released_after = Clock::now() - died_at;
        }
        if (!released_after && !with_daemon && policy == Policy::kBlock) {
            // Publish until held back by the dead subscriber: the publisher reclaims its slot.
            publish_own(1ms);
        } else if (result.records == 0) {
            (void)restarted.wait(2ms);
        }
        check_publishers();
        if (first_done && second_done && (released_after || !expect_release)) {
            const std::uint64_t tail = tail_position(topic);
            if (commit_floor(topic) == tail && restarted.position() == tail) break;
        }
        REQUIRE_MESSAGE(Clock::now() < finish_by,
                        "not finished: publishers done "
                            << first_done << second_done << ", dead slot released "
                            << bool(released_after) << "; " << describe_floor(topic)
                            << (with_daemon ? "\n" + describe_daemon(*daemon) : std::string()));
    }

    // 4. Every record accounted for, exactly.
    CHECK_MESSAGE(ledger.error().empty(), ledger.error());
    const std::uint64_t delivered = ledger.delivered(first_source) +
                                    ledger.delivered(second_source) + ledger.delivered(own_source);
    CHECK(delivered + lost_by_dying + restarted.lost() == count1 + count2 + own_count);
    CHECK(restarted.voided() == 0);
    CHECK(restarted.corrupt() == 0);
    if (policy == Policy::kBlock && stop_first) CHECK(restarted.lost() == 0);
    if (restarted.lost() + lost_by_dying == 0) ++restarted_lossless;
    if (expect_release) {
        REQUIRE(released_after.has_value());
        CHECK_MESSAGE(*released_after < kReleaseBound, "the slot was released "
                                                           << milliseconds(*released_after)
                                                           << " ms after the death");
        (with_daemon ? by_daemon : by_publisher).add(*released_after);
        // Reclaimed, or taken over by the restarted subscriber.
        const std::uint64_t reclaimed = reclaimed_slots(topic);
        CHECK((reclaimed == 1 || (reclaimed == 0 && restarted.slot() == dying.slot)));
    }
    if (with_daemon && policy == Policy::kOverwrite && restarted.slot() != dying.slot) {
        // Nobody else reclaims in an overwrite topic.
        CHECK(eventually(
            [&] {
                return log_has(daemon->log(), name, "reclaimed subscriber slot",
                               "slot " + std::to_string(dying.slot));
            },
            5s));
    }
}

void run_subscriber_crashes(bool stop_first, int crashes) {
    if (!fault_points_compiled()) return skip(kNeedsFaultPoints);
    const char* test_name = stop_first ? "mid_advance stop then kill" : "mid_advance kill";
    Run run(stop_first, test_seed(test_name));
    const bool with_daemon = daemon_available();
    if (!with_daemon) {
        MESSAGE("this build has no shmbusd: only publishers reclaim dead subscribers");
    } else {
        run.daemon = start_daemon(run.bus.path());
    }
    for (int index = 0; index < crashes; ++index) {
        const Policy policy = index % 2 == 0 ? Policy::kBlock : Policy::kOverwrite;
        run.crash_once(index, policy, with_daemon && (index / 2) % 2 == 1);
        remove_topic(run.bus.path(), "advance" + std::to_string(index));
    }
    std::printf(
        "%s: %d of %d restarts lost nothing; from the death to the slot's release, with "
        "shmbusd: %s; without: %s\n",
        test_name, run.restarted_lossless, crashes, run.by_daemon.describe().c_str(),
        run.by_publisher.describe().c_str());
    std::fflush(stdout);
    if (run.daemon) CHECK(run.daemon->stop()->status == 0);
}

}  // namespace
}  // namespace shmbus::test::crash

TEST_CASE(
    "a subscriber killed mid-advance stops holding back publishers once its slot is reclaimed, "
    "and one restarted at its saved position gets everything after it or counts it lost") {
    shmbus::test::crash::run_subscriber_crashes(false, 20);
}

TEST_CASE(
    "a subscriber stopped mid-advance and then killed with SIGKILL keeps its slot while stopped, "
    "and one restarted at its saved position meanwhile loses nothing in a block topic") {
    shmbus::test::crash::run_subscriber_crashes(true, 20);
}
