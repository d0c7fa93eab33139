#include "publisher_crash.hpp"

#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>
#include <shmbus/detail/format/publisher_slot.hpp>

#include "crash_harness.hpp"
#include "support/bus_directory.hpp"
#include "support/skip.hpp"

namespace shmbus::test::crash {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kMaxRecord = 1024;
// Small: publishers lap it several times per crash and are held back by the dead claim.
constexpr std::uint64_t kSmallRing = 8 * 1024;
// Large: more than everything one crash publishes after its random start, so no publisher is
// ever held back and only the daemon can repair the dead claim.
constexpr std::uint64_t kLargeRing = 128 * 1024;
constexpr std::uint64_t kMaxHit = 25;  // records up to the one the armed publisher dies in
constexpr std::uint64_t kMaxHealthy = 40;
constexpr std::uint64_t kMaxBatch = 8;  // PublishPath::kBatch: records per offer_batch
static_assert(kLargeRing > (kMaxHit + kMaxHealthy) * (kMaxRecord + 32) + (kMaxRecord + 32),
              "the large ring must hold everything published after the random start");
// How soon after a death the subscriber must be past the dead claim: the daemon's
// unblock_timeout, which is also ample for a held-back publisher (it repairs on its next look).
constexpr auto kProgressBound = kUnblockTimeout;

// The frames of the claim that a stopped publisher in `slot` holds at `position`: consecutive
// CLAIMED frames that name it. A batch writes every header before any payload, so at every
// fault point after the headers they are all there.
std::uint64_t claimed_frames(const Topic& topic, std::uint64_t position, std::uint32_t slot) {
    const ring::TopicView& view = topic.view();
    const std::uint64_t tail = tail_position(topic);
    std::uint64_t frames = 0;
    while (position < tail && view.room_in_lap(position) >= format::kFrameHeaderSize &&
           frame_state(topic, position) == format::FrameState::kClaimed) {
        format::FrameHeader& header = view.header(position);
        // Relaxed: after the acquire load of the commit word in frame_state.
        const std::uint32_t length = atomics::load_relaxed(header.length);
        const std::uint16_t publisher =
            std::atomic_ref<std::uint16_t>(header.publisher).load(std::memory_order_relaxed);
        if (publisher != slot || length > view.max_record_size ||
            view.frame_size(length) > view.room_in_lap(position)) {
            break;
        }
        position += view.frame_size(length);
        ++frames;
    }
    return frames;
}

struct Sources {
    Ledger::Source victim;
    Ledger::Source healthy;
    Ledger::Source own;
};

// One record's claim died: its sequence is voided, its frame repaired once, and every other
// record arrives (block), or is delivered, lost or voided (overwrite).
void check_single_accounting(const Ledger& ledger, const Sources& sources,
                             const Subscriber& subscriber, const TopicStats& stats, Policy policy,
                             std::uint64_t hit, std::uint64_t healthy_count,
                             std::uint64_t own_count) {
    const std::uint64_t committed = (hit - 1) + healthy_count + own_count;
    CHECK(stats.tail_sequence == committed + 1);  // the dead claim took one sequence
    CHECK(stats.unblocked == 1);
    // The torn record, the armed publisher's record number hit-1, is never delivered.
    if (const auto last = ledger.last_counter(sources.victim)) CHECK(*last < hit - 1);
    if (policy == Policy::kBlock) {
        CHECK(ledger.delivered(sources.victim) == hit - 1);
        CHECK(ledger.delivered(sources.healthy) == healthy_count);
        CHECK(ledger.delivered(sources.own) == own_count);
        CHECK(subscriber.lost() == 0);
        CHECK(subscriber.voided() == 1);
    } else {
        CHECK(ledger.total_delivered() + subscriber.lost() + subscriber.voided() == committed + 1);
        CHECK(subscriber.voided() <= 1);
    }
}

struct DeadBatch {
    std::uint64_t batch = 0;              // records per offer_batch
    std::optional<std::uint64_t> frames;  // its frames, when counted while it was stopped
    bool headerless = false;              // it died before writing any header
    std::uint64_t healthy_count = 0;
    std::uint64_t own_count = 0;
};

// A batch claim died: what it voided is known from the sequences handed out and what arrived.
void check_batch_accounting(const Ledger& ledger, const Sources& sources,
                            const Subscriber& subscriber, const TopicStats& stats, Policy policy,
                            const DeadBatch& dead) {
    if (policy == Policy::kBlock) {
        // Nothing lost in a block topic, so the ledger's in-order check makes the armed
        // publisher's delivered records exactly its records 0 .. d-1.
        const std::uint64_t victim_delivered = ledger.delivered(sources.victim);
        if (const auto last = ledger.last_counter(sources.victim)) {
            CHECK(*last + 1 == victim_delivered);
        }
        CHECK(ledger.delivered(sources.healthy) == dead.healthy_count);
        CHECK(ledger.delivered(sources.own) == dead.own_count);
        CHECK(subscriber.lost() == 0);
        // Every other sequence belongs to the dead claim.
        CHECK(stats.tail_sequence ==
              victim_delivered + dead.healthy_count + dead.own_count + subscriber.voided());
    } else {
        CHECK(ledger.total_delivered() + subscriber.lost() + subscriber.voided() ==
              stats.tail_sequence);
    }
    CHECK(subscriber.voided() <= dead.batch);
    if (policy == Policy::kBlock) CHECK(subscriber.voided() >= 1);
    if (dead.frames && policy == Policy::kBlock) CHECK(subscriber.voided() == *dead.frames);
    // A headerless batch is one stretch of unknown frames, padded at once; otherwise each frame
    // is padded by itself. Once the first is padded, the others no longer hold publishers back
    // (ring/flow_control.hpp), so in an overwrite topic they may be lapped before any repair.
    if (dead.headerless) {
        CHECK(stats.unblocked == 1);
    } else {
        CHECK(stats.unblocked >= 1);
        CHECK(stats.unblocked <= dead.batch);
        if (dead.frames && policy == Policy::kBlock) CHECK(stats.unblocked == *dead.frames);
        if (dead.frames) CHECK(stats.unblocked <= *dead.frames);
    }
}

struct Run {
    std::string point;
    CrashAction action = CrashAction::kKill;
    PublishPath path = PublishPath::kSingle;
    BusDirectory bus;
    Rng rng;
    std::unique_ptr<Daemon> daemon;
    Timings by_daemon;
    Timings by_publisher;
    int block = 0;
    int overwrite = 0;

    Run(std::string fault_point, CrashAction crash_action, PublishPath publish_path,
        std::uint64_t seed)
        : point(std::move(fault_point)), action(crash_action), path(publish_path), rng(seed) {}

    void crash_once(int index, Policy policy, bool daemon_repairs);
};

void Run::crash_once(int index, Policy policy, bool daemon_repairs) {
    const std::string name = "crash" + std::to_string(index);
    const std::uint64_t capacity = daemon_repairs ? kLargeRing : kSmallRing;
    create_topic(bus.path(), name,
                 {.capacity = capacity,
                  .max_record_size = kMaxRecord,
                  .max_publishers = 8,
                  .max_subscribers = 4,
                  .policy = policy,
                  .timestamps = rng.coin()});
    const Topic topic = Topic::open(bus.path(), name);
    if (daemon_repairs)
        REQUIRE_MESSAGE(supervised_by(topic, daemon->pid(), 5s), describe_daemon(*daemon));

    Subscriber subscriber(topic, {.start = StartAt::earliest()});
    Publisher own(topic);
    Ledger ledger(kMaxRecord);
    const std::uint32_t own_key = rng.key();
    const Ledger::Source own_source = ledger.expect(own.slot(), own_key);
    std::uint64_t own_count = 0;
    std::uint64_t lost_seen = 0;
    const auto poll = [&] {
        const PollResult result = subscriber.poll([&](const Record& record) {
            ledger.accept(record, subscriber.lost() - lost_seen);
            lost_seen = subscriber.lost();
        });
        REQUIRE_MESSAGE(result.status == Status::kOk, to_string(result.status));
        return result.records;
    };
    const auto poll_or_wait = [&](std::chrono::nanoseconds timeout) {
        if (poll() == 0) (void)subscriber.wait(timeout);
    };

    // 1. A random start in the ring.
    const std::uint64_t start = rng.between(0, capacity - 1);
    while (tail_position(topic) < start) {
        const Status status = offer_record(own, own_key, own_count, {});
        if (status == Status::kOk) {
            ++own_count;
        } else {
            REQUIRE(status == Status::kBackPressured);
            (void)poll();
        }
    }
    while (poll() > 0) {
    }

    // 2. The healthy publisher and the one that dies, in random order. On the batch path `hit`
    // counts claims (or records, for mid_payload) of up to `batch` records, so it is scaled down
    // to keep the records before the death within kMaxHit.
    const bool batched = path == PublishPath::kBatch;
    const std::uint64_t batch = batched ? rng.between(2, kMaxBatch) : 1;
    const std::uint64_t hit = rng.between(1, kMaxHit / batch);
    const std::uint64_t healthy_count = rng.between(5, kMaxHealthy);
    const bool stop_first = action == CrashAction::kStopThenKill;
    const std::string fault = fault_setting(point, stop_first ? "stop" : "kill", hit);
    CAPTURE(index);
    CAPTURE(policy_name(policy));
    CAPTURE(daemon_repairs);
    CAPTURE(fault);
    CAPTURE(start);
    CAPTURE(healthy_count);
    CAPTURE(batch);
    // The healthy one attaches first: nobody attaches after the armed one, so its slot, and
    // the claim intent in it that names the dead claim, stay as they are even once the daemon
    // has repaired the claim and reclaimed the slot. Which of the two runs first is up to the
    // scheduler.
    PeerPublisher healthy = spawn_publisher(bus.path(), name, rng.key(), healthy_count, {}, batch);
    const Ledger::Source healthy_source = ledger.expect(healthy.slot, healthy.key, healthy.count);
    PeerPublisher victim =
        spawn_publisher(bus.path(), name, rng.key(), (hit + 3) * batch, fault, batch);
    // Single path: its record number hit-1 is the one it dies writing, and the ledger takes none
    // from there on. Batch path: where its dead claim begins is known only from what arrives.
    const Ledger::Source victim_source =
        ledger.expect(victim.slot, victim.key, batched ? victim.count : hit - 1);

    // 3. The armed publisher reaches its fault point.
    const auto deadline = Clock::now() + 20s;
    for (;;) {
        poll_or_wait(1ms);
        if (stop_first) {
            if (victim.child.wait_stopped(Clock::now())) break;
            REQUIRE_MESSAGE(!victim.child.exit(), "the armed publisher ended instead of stopping: "
                                                      << victim.child.exit()->describe());
        } else if (const auto exit = victim.child.wait_until(Clock::now())) {
            REQUIRE_MESSAGE((!exit->exited && exit->signal == SIGKILL),
                            "the armed publisher " << exit->describe());
            break;
        }
        REQUIRE_MESSAGE(Clock::now() < deadline, "the armed publisher never reached " << point);
    }
    const std::uint64_t dead_at = claim_intent(topic, victim.slot);
    REQUIRE_MESSAGE(dead_at != format::kNoIntent, describe_floor(topic));
    CAPTURE(dead_at);
    // The dead claim's frames, counted while nobody may repair them.
    std::optional<std::uint64_t> dead_frames;
    if (batched && stop_first && point != "after_claim") {
        dead_frames = claimed_frames(topic, dead_at, victim.slot);
        CHECK(*dead_frames >= 1);
        CHECK(*dead_frames <= batch);
    }
    if (stop_first) {
        // Stopped is alive: its claim is nobody else's to repair, however long it takes.
        const auto hold_until = Clock::now() + std::chrono::milliseconds(rng.between(0, 30));
        while (Clock::now() < hold_until)
            poll_or_wait(1ms);
        CHECK(collect_stats(topic).unblocked == 0);
        const format::FrameState state = frame_state(topic, dead_at);
        CHECK((state == format::FrameState::kNone || state == format::FrameState::kClaimed));
        CHECK(subscriber.position() <= dead_at);
        const ChildExit exit = victim.child.kill_and_reap();
        REQUIRE(exit.signal == SIGKILL);
    }
    const auto died_at = Clock::now();
    // Whatever happens to the dead claim, it never becomes a record.
    CHECK(frame_state(topic, dead_at) != format::FrameState::kCommitted);

    // 4. Progress past the dead claim.
    while (subscriber.position() <= dead_at) {
        if (daemon_repairs) {
            poll_or_wait(1ms);
        } else {
            (void)poll();
            // Held back by the dead claim (once the ring is full up to it), this publisher
            // repairs it while it waits.
            const Status status = offer_record(own, own_key, own_count, 1ms);
            if (status == Status::kOk) {
                ++own_count;
            } else {
                REQUIRE_MESSAGE(status == Status::kTimedOut, to_string(status));
            }
        }
        REQUIRE_MESSAGE(Clock::now() < died_at + 10s,
                        "the subscriber is still held at the dead claim: "
                            << describe_floor(topic)
                            << (daemon_repairs ? "; " + describe_daemon(*daemon) : ""));
    }
    const Duration progress = Clock::now() - died_at;
    CHECK_MESSAGE(progress < kProgressBound,
                  "progress took " << milliseconds(progress) << " ms after the death");
    (daemon_repairs ? by_daemon : by_publisher).add(progress);

    // 5. Everything else arrives, and one more record from the test's publisher after it all,
    // which the subscriber can only count the dead claim's sequence against (voided) once it
    // sees.
    const auto finish_by = Clock::now() + 30s;
    for (;;) {
        poll_or_wait(2ms);
        if (const auto exit = healthy.child.wait_until(Clock::now())) {
            REQUIRE_MESSAGE(exit->ok(), "the healthy publisher " << exit->describe());
            const std::uint64_t tail = tail_position(topic);
            if (commit_floor(topic) == tail && subscriber.position() == tail) break;
        }
        REQUIRE_MESSAGE(Clock::now() < finish_by, "the healthy publisher did not finish");
    }
    REQUIRE(offer_record(own, own_key, own_count, 5s) == Status::kOk);
    ++own_count;
    while (subscriber.position() < tail_position(topic)) {
        poll_or_wait(2ms);
        REQUIRE_MESSAGE(Clock::now() < finish_by, "the last record never came");
    }

    CHECK_MESSAGE(ledger.error().empty(), ledger.error());
    const TopicStats stats = collect_stats(topic);
    CHECK(stats.aborted == 0);
    CHECK(subscriber.corrupt() == 0);
    const Sources sources{victim_source, healthy_source, own_source};
    if (batched) {
        check_batch_accounting(ledger, sources, subscriber, stats, policy,
                               {.batch = batch,
                                .frames = dead_frames,
                                .headerless = point == "after_claim",
                                .healthy_count = healthy_count,
                                .own_count = own_count});
    } else {
        check_single_accounting(ledger, sources, subscriber, stats, policy, hit, healthy_count,
                                own_count);
    }
    if (daemon_repairs) {
        CHECK_MESSAGE(
            log_has(daemon->log(), name, "unblocked", "position " + std::to_string(dead_at)),
            daemon->log());
        // The dead publisher's slot, freed on the pass after the repair.
        CHECK(eventually([&] { return collect_stats(topic).reclaimed >= 1; }, 5s));
    }
    (policy == Policy::kBlock ? block : overwrite) += 1;
}

}  // namespace

void run_publisher_crashes(const std::string& point, CrashAction action, int crashes,
                           PublishPath path) {
    if (!fault_points_compiled()) return skip(kNeedsFaultPoints);
    const std::string test_name = point +
                                  (action == CrashAction::kKill ? " kill" : " stop then kill") +
                                  (path == PublishPath::kBatch ? " (batches)" : "");
    Run run(point, action, path, test_seed(test_name.c_str()));
    const bool with_daemon = daemon_available();
    if (!with_daemon) {
        MESSAGE("this build has no shmbusd: every crash is repaired by a publisher");
    } else {
        run.daemon = start_daemon(run.bus.path());
    }
    for (int index = 0; index < crashes; ++index) {
        const Policy policy = index % 2 == 0 ? Policy::kBlock : Policy::kOverwrite;
        const bool daemon_repairs = with_daemon && (index / 2) % 2 == 1;
        run.crash_once(index, policy, daemon_repairs);
        remove_topic(run.bus.path(), "crash" + std::to_string(index));
    }
    std::printf("%s: %d block, %d overwrite; repaired by shmbusd: %s; by a publisher: %s\n",
                test_name.c_str(), run.block, run.overwrite, run.by_daemon.describe().c_str(),
                run.by_publisher.describe().c_str());
    std::fflush(stdout);
    if (run.daemon) CHECK(run.daemon->stop()->status == 0);
}

}  // namespace shmbus::test::crash
