// Damage to a live topic, at random and in chosen places, while a publisher process writes and
// two subscriber processes read: the subscribers may report damage or skip records, but they
// never crash, never hang (every poll and wait returns promptly), and never hand out bytes
// outside the ring mapping. Run under ASan+UBSan, any stray access in the copy buffers shows too.
//
// The wake semaphores in the state file are left alone: glibc aborts a process that posts a
// scribbled sem_t, a separate problem (the semaphores live in a file every client may write).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <shmbus/detail/format/frame_header.hpp>
#include <shmbus/detail/format/geometry.hpp>
#include <shmbus/detail/format/publisher_slot.hpp>
#include <shmbus/detail/format/records_header.hpp>
#include <shmbus/detail/format/state_layout.hpp>
#include <shmbus/shmbus.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/payload.hpp"
#include "support/shared_block.hpp"
#include "support/topic_files.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::Status;
using shmbus::test::Child;
using shmbus::test::ChildLink;
using shmbus::test::Clock;
using shmbus::test::TestRandom;

constexpr std::uint64_t kCapacity = 16 * 1024;
constexpr std::uint32_t kMax = 512;
constexpr std::uint32_t kMaxPublishers = 2;
constexpr std::uint32_t kMaxSubscribers = 4;
constexpr auto kSlowestCall = 1s;  // a poll or wait slower than this counts as a hang

volatile std::uint64_t sink = 0;  // keeps the reads of damaged records

struct Shared {
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> delivered[2];
};

struct SubscriberReport {
    std::uint64_t delivered = 0;
    std::uint64_t intact = 0;
    std::uint64_t damaged = 0;
    std::uint64_t corrupt_polls = 0;
    std::uint64_t reattached = 0;
    std::int64_t slowest_poll_us = 0;
    std::int64_t slowest_wait_us = 0;
    std::string problem;

    [[nodiscard]] std::string line() const {
        char text[256];
        std::snprintf(text, sizeof text,
                      "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64
                      " %" PRId64,
                      delivered, intact, damaged, corrupt_polls, reattached, slowest_poll_us,
                      slowest_wait_us);
        return problem.empty() ? std::string(text) : "problem: " + problem;
    }
    static SubscriberReport parse(const std::string& line) {
        SubscriberReport report;
        if (std::sscanf(
                line.c_str(),
                "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNd64 " %" SCNd64,
                &report.delivered, &report.intact, &report.damaged, &report.corrupt_polls,
                &report.reattached, &report.slowest_poll_us, &report.slowest_wait_us) != 7) {
            report.problem = line;
        }
        return report;
    }
};

std::int64_t micros(Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

// Reads until told to stop, checking what every record handed over could reach.
int read_under_damage(const std::filesystem::path& dir, bool zero_copy, Shared& shared,
                      std::size_t index, ChildLink& link) {
    const shmbus::Topic topic =
        shmbus::Topic::open(dir, "t", {.access = shmbus::Access::kSubscribe});
    const std::byte* ring_begin = topic.view().ring;
    const std::byte* ring_end = ring_begin + kCapacity;
    auto subscriber = std::make_unique<shmbus::Subscriber>(
        topic,
        shmbus::SubscriberOptions{.start = shmbus::StartAt::latest(), .zero_copy = zero_copy});
    link.send("ready");
    SubscriberReport report;
    const auto handle = [&](const shmbus::Record& record) {
        ++report.delivered;
        if (record.payload.size() > kMax) {
            report.problem = "a record of " + std::to_string(record.payload.size()) + " bytes";
        }
        const std::byte* data = record.payload.data();
        const bool in_ring = data >= ring_begin && data < ring_end;
        if (in_ring && data + record.payload.size() > ring_end) {
            report.problem = "a record reaching past the end of the ring";
        }
        if (record.next_position <= record.position ||
            record.next_position - record.position > kCapacity) {
            report.problem = "next position " + std::to_string(record.next_position) +
                             " after a record at " + std::to_string(record.position);
        }
        // Every byte is read: under ASan a span reaching into freed or foreign heap shows here,
        // and a span past the mapping faults.
        const auto counter = shmbus::test::carried_counter(record.payload);
        if (counter && !shmbus::test::check_record(record.payload, 0, *counter, kMax)) {
            ++report.intact;
        } else {
            std::uint64_t sum = 0;
            for (const std::byte b : record.payload)
                sum += static_cast<std::uint64_t>(b);
            sink = sink + sum;
            if (counter) ++report.damaged;  // a record too short to carry its counter may be fine
        }
    };
    while (!shared.stop.load() && report.problem.empty()) {
        const auto start = Clock::now();
        const shmbus::PollResult result = subscriber->poll(handle, 64);
        report.slowest_poll_us = std::max(report.slowest_poll_us, micros(Clock::now() - start));
        shared.delivered[index].store(report.delivered, std::memory_order_relaxed);
        if (result.status == Status::kCorrupt) ++report.corrupt_polls;
        if (result.status == Status::kEvicted) {
            // Its slot state was scribbled over: attach afresh, as an application would.
            subscriber.reset();
            subscriber = std::make_unique<shmbus::Subscriber>(
                topic, shmbus::SubscriberOptions{.start = shmbus::StartAt::latest(),
                                                 .zero_copy = zero_copy});
            ++report.reattached;
            continue;
        }
        if (result.records == 0) {
            const auto wait_start = Clock::now();
            (void)subscriber->wait(5ms);
            report.slowest_wait_us =
                std::max(report.slowest_wait_us, micros(Clock::now() - wait_start));
        }
    }
    link.send(report.line());
    return report.problem.empty() ? 0 : 1;
}

// Publishes until told to stop; every failure is expected here, only crashes and hangs are not.
int publish_under_damage(const std::filesystem::path& dir, Shared& shared, ChildLink& link) {
    const shmbus::Topic topic = shmbus::Topic::open(dir, "t");
    shmbus::Publisher publisher(topic);
    link.send("ready");
    std::vector<std::byte> record(kMax);
    std::uint64_t counter = 0;
    std::uint64_t refused = 0;
    while (!shared.stop.load()) {
        const std::uint32_t length = shmbus::test::record_length(0, counter, kMax);
        const std::span<std::byte> bytes(record.data(), length);
        shmbus::test::fill_record(bytes, 0, counter);
        const Status status = publisher.offer(bytes, 5ms);
        if (status == Status::kOk) {
            ++counter;
        } else {
            ++refused;
            // Refused at once (kCorrupt): do not spin on a core the subscribers need.
            if (status != Status::kTimedOut) std::this_thread::sleep_for(100us);
        }
    }
    link.send(std::to_string(counter) + " " + std::to_string(refused));
    return 0;
}

// One act of damage to the live files.
void damage(const shmbus::test::MappedFile& records, const shmbus::test::MappedFile& state,
            const shmbus::format::Geometry& geometry, TestRandom& random) {
    const std::uint64_t ring = geometry.ring_offset;
    const auto tail = records.peek<std::uint64_t>(offsetof(shmbus::format::RecordsHeader, tail));
    // Where a recent frame's header may be: 8-aligned, with room for a header before the end.
    const std::uint64_t near_tail =
        ring +
        std::min<std::uint64_t>((tail - random.below(kCapacity / 2)) & (kCapacity - 1) & ~7ull,
                                kCapacity - shmbus::format::kFrameHeaderSize);
    switch (random.below(16)) {
        case 0:
        case 1:
        case 2:  // a random byte anywhere in the ring
            records.poke<std::uint8_t>(ring + random.below(kCapacity),
                                       static_cast<std::uint8_t>(random.next()));
            break;
        case 3:
        case 4:  // a random word at a random aligned place in the ring
            records.poke<std::uint64_t>(ring + (random.below(kCapacity) & ~7ull), random.next());
            break;
        case 5:
        case 6: {  // the length of a frame near the tail
            const std::uint32_t lengths[] = {
                0xFFFFFFFFu, kMax + 1, 8, 0, 1 << 20, static_cast<std::uint32_t>(random.next())};
            records.poke<std::uint32_t>(near_tail + 8, lengths[random.below(6)]);
            break;
        }
        case 7: {  // the commit word of a frame near the tail: a plausible stamp
            const std::uint64_t position = (tail - random.below(kCapacity / 2)) & ~7ull;
            records.poke<std::uint64_t>(ring + (position & (kCapacity - 1)),
                                        position | (1 + random.below(4)));
            break;
        }
        case 8:  // a sequence number
            records.poke<std::uint64_t>(near_tail + 16, random.below(1000));
            break;
        case 9: {  // the commit floor or a counter in the header
            const std::size_t fields[] = {
                offsetof(shmbus::format::RecordsHeader, commit_floor),
                offsetof(shmbus::format::RecordsHeader, aborted_claims),
                offsetof(shmbus::format::RecordsHeader, unblocked_claims)};
            records.poke<std::uint64_t>(fields[random.below(3)], random.next() & ~7ull);
            break;
        }
        case 10:  // the tail itself, rarely, moved a little ahead (an unaligned tail, which
                  // stops publishing for good, is a targeted test of its own)
            if (random.below(8) == 0) {
                records.poke<std::uint64_t>(offsetof(shmbus::format::RecordsHeader, tail),
                                            tail + 8 * (1 + random.below(64)));
            }
            break;
        case 11: {  // a publisher slot's claim intent or state
            const std::size_t slot =
                geometry.publisher_slots_offset +
                random.below(kMaxPublishers) * sizeof(shmbus::format::PublisherSlot);
            if (random.below(2) == 0) {
                records.poke<std::uint64_t>(slot + 16, (tail - random.below(kCapacity)) & ~7ull);
            } else {
                records.poke<std::uint32_t>(slot, static_cast<std::uint32_t>(random.below(4)));
            }
            break;
        }
        case 12: {  // a subscriber slot's position, state or counters
            const std::size_t slot =
                geometry.subscriber_slots_offset +
                random.below(kMaxSubscribers) * sizeof(shmbus::format::SubscriberSlot);
            const std::size_t fields[] = {0, 8, 16, 24, 32};
            const std::size_t field = fields[random.below(5)];
            if (field == 8) {
                if (random.below(4) == 0)
                    state.poke<std::uint32_t>(slot + 8,
                                              static_cast<std::uint32_t>(random.below(5)));
            } else {
                state.poke<std::uint64_t>(slot + field, random.next());
            }
            break;
        }
        case 13: {  // the wake and attach masks
            const std::size_t masks[] = {
                offsetof(shmbus::format::StateHeader, sleeping_subscribers),
                offsetof(shmbus::format::StateHeader, blocked_publishers),
                offsetof(shmbus::format::StateHeader, attached_subscribers)};
            state.poke<std::uint64_t>(masks[random.below(3)], random.next());
            break;
        }
        default:  // a burst of random bytes in one place of the ring
        {
            const std::uint64_t at = random.below(kCapacity - 64);
            for (int i = 0; i < 64; ++i) {
                records.poke<std::uint8_t>(ring + at + static_cast<std::uint64_t>(i),
                                           static_cast<std::uint8_t>(random.next()));
            }
            break;
        }
    }
}

void damage_while_in_use(shmbus::Policy policy, std::uint64_t seed) {
    shmbus::test::BusDirectory bus;
    const shmbus::TopicOptions options{.capacity = kCapacity,
                                       .max_record_size = kMax,
                                       .max_publishers = kMaxPublishers,
                                       .max_subscribers = kMaxSubscribers,
                                       .policy = policy};
    shmbus::create_topic(bus.path(), "t", options);
    const auto geometry = shmbus::format::compute_geometry({.capacity = kCapacity,
                                                            .max_record_size = kMax,
                                                            .max_publishers = kMaxPublishers,
                                                            .max_subscribers = kMaxSubscribers,
                                                            .policy = policy});
    shmbus::test::SharedBlock<Shared> shared;
    const auto deadline = shmbus::test::deadline_in(60s);

    shmbus::test::ChildGroup subscribers;
    subscribers.add(Child::fork("subscriber in place", [&](ChildLink& link) {
        return read_under_damage(bus.path(), true, *shared, 0, link);
    }));
    subscribers.add(Child::fork("copying subscriber", [&](ChildLink& link) {
        return read_under_damage(bus.path(), false, *shared, 1, link);
    }));
    for (auto& child : subscribers.children()) {
        REQUIRE(child.receive_line(shmbus::test::deadline_in(10s)) ==
                std::optional<std::string>("ready"));
    }
    Child publisher = Child::fork("publisher", [&](ChildLink& link) {
        return publish_under_damage(bus.path(), *shared, link);
    });
    REQUIRE(publisher.receive_line(shmbus::test::deadline_in(10s)) ==
            std::optional<std::string>("ready"));

    // Undamaged first: both subscribers must be reading.
    const auto warm = shmbus::test::deadline_in(20s);
    while (shared->delivered[0].load() < 100 || shared->delivered[1].load() < 100) {
        REQUIRE_MESSAGE(Clock::now() < warm, "the subscribers did not start reading");
        std::this_thread::sleep_for(1ms);
    }

    const auto paths = shmbus::test::topic_paths(bus.path(), "t");
    const shmbus::test::MappedFile records(paths.records);
    const shmbus::test::MappedFile state(paths.state);
    TestRandom random(seed);
    const auto damage_for =
        std::chrono::milliseconds(std::getenv("SHMBUS_TEST_DAMAGE_MS") != nullptr
                                      ? std::atol(std::getenv("SHMBUS_TEST_DAMAGE_MS"))
                                      : 2000);
    const auto stop_at = Clock::now() + damage_for;
    std::uint64_t acts = 0;
    while (Clock::now() < stop_at) {
        damage(records, state, geometry, random);
        ++acts;
        if (acts % 4 == 0) std::this_thread::sleep_for(500us);
        REQUIRE_MESSAGE(
            publisher.running(),
            "the publisher ended: "
                << (publisher.wait_until(Clock::now()) ? publisher.exit()->describe() : ""));
        for (auto& child : subscribers.children()) {
            REQUIRE_MESSAGE(
                !child.wait_until(Clock::now()),
                child.name() << " ended while the topic was damaged: " << child.exit()->describe());
        }
    }
    shared->stop = true;

    const auto describe = [&] {
        return "delivered " + std::to_string(shared->delivered[0].load()) + " and " +
               std::to_string(shared->delivered[1].load());
    };
    const auto publisher_exit = publisher.wait_until(deadline);
    CHECK_MESSAGE(publisher_exit, "the publisher hung (SIGKILLed at the deadline)");
    if (publisher_exit)
        CHECK_MESSAGE(publisher_exit->ok(), "publisher " << publisher_exit->describe());
    const std::string problems = subscribers.wait_all(deadline, describe);
    CHECK_MESSAGE(problems.empty(), problems);
    const auto published = publisher.receive_line(Clock::now());
    MESSAGE(acts << " acts of damage; publisher published/refused: " << published.value_or("?"));
    for (auto& child : subscribers.children()) {
        const auto line = child.receive_line(Clock::now());
        REQUIRE_MESSAGE(line, child.name() << " sent no report");
        const SubscriberReport report = SubscriberReport::parse(*line);
        CAPTURE(child.name());
        CHECK_MESSAGE(report.problem.empty(), report.problem);
        MESSAGE(child.name() << ": delivered " << report.delivered << " (" << report.intact
                             << " intact, " << report.damaged << " damaged), "
                             << report.corrupt_polls << " polls reporting corruption, re-attached "
                             << report.reattached << " times; slowest poll "
                             << report.slowest_poll_us << " us, slowest wait(5 ms) "
                             << report.slowest_wait_us << " us");
        CHECK(report.slowest_poll_us < micros(kSlowestCall));
        CHECK(report.slowest_wait_us < micros(kSlowestCall));
    }
}

}  // namespace

TEST_CASE(
    "a block topic damaged while in use never makes its subscribers crash, hang or read outside "
    "the ring") {
    damage_while_in_use(shmbus::Policy::kBlock, 0x5eed0001);
}

TEST_CASE(
    "an overwrite topic damaged while in use never makes its subscribers crash, hang or read "
    "outside the ring") {
    damage_while_in_use(shmbus::Policy::kOverwrite, 0x5eed0002);
}
