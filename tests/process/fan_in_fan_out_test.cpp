// 4 publisher processes and 3 subscriber processes on one topic, 200,000 records of random
// sizes (0 bytes to the maximum) from each publisher.
//
//   block      every subscriber gets every record exactly once, in one common order, each
//              publisher's records in the order it sent them, every byte intact
//   overwrite  with one deliberately slow subscriber: received + lost == published, exactly,
//              for every subscriber, and no record is ever delivered torn
//
// SHMBUS_TEST_RECORDS sets the records per publisher (for quick runs while developing).
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/shared_block.hpp"
#include "support/topic_dump.hpp"
#include "support/traffic.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::test::Child;
using shmbus::test::ChildLink;
using shmbus::test::Clock;

constexpr std::uint32_t kPublishers = 4;
constexpr std::uint32_t kSubscribers = 3;
constexpr std::uint64_t kCapacity = 256 * 1024;
constexpr std::uint32_t kMaxRecord = 4096;
constexpr auto kDeadline = 420s;  // the whole test; ctest's own limit is longer

std::uint64_t records_per_publisher() {
    if (const char* text = std::getenv("SHMBUS_TEST_RECORDS"); text != nullptr && *text != '\0') {
        return std::strtoull(text, nullptr, 10);
    }
    return 200'000;
}

struct Progress {
    std::atomic<std::uint64_t> published[kPublishers];
    std::atomic<std::uint64_t> aborted[kPublishers];
    std::atomic<std::uint64_t> received[kSubscribers];
    std::atomic<bool> publishers_done{false};

    [[nodiscard]] std::string describe(std::uint64_t per_publisher) const {
        std::string text = "published";
        for (const auto& count : published)
            text += " " + std::to_string(count.load()) + "/" + std::to_string(per_publisher);
        text += "; received";
        for (const auto& count : received)
            text += " " + std::to_string(count.load());
        return text;
    }
};

struct Outcome {
    std::vector<shmbus::test::ReadResult> subscribers;
    std::uint64_t aborted = 0;
    std::uint64_t unblocked = 0;  // claims repaired as a dead publisher's: none die here
    double seconds = 0;
};

// Runs the whole scenario; a FAIL names what went wrong in which process.
Outcome run(shmbus::Policy policy, bool one_slow_subscriber, std::uint32_t abort_one_in) {
    shmbus::test::BusDirectory bus;
    shmbus::create_topic(bus.path(), "t",
                         {.capacity = kCapacity,
                          .max_record_size = kMaxRecord,
                          .max_publishers = kPublishers,
                          .max_subscribers = kSubscribers,
                          .policy = policy});
    const std::uint64_t per_publisher = records_per_publisher();
    const std::uint64_t total = per_publisher * kPublishers;
    const bool lossless = policy == shmbus::Policy::kBlock;
    shmbus::test::SharedBlock<Progress> progress;
    const auto deadline = shmbus::test::deadline_in(kDeadline);
    const auto started = Clock::now();

    // Subscribers first, all at the start of the topic, so that none can miss a record.
    shmbus::test::ChildGroup subscribers;
    for (std::uint32_t i = 0; i < kSubscribers; ++i) {
        const bool slow = one_slow_subscriber && i == 0;
        subscribers.add(Child::fork(
            std::string(slow ? "slow " : "") + "subscriber " + std::to_string(i),
            [&, i, slow](ChildLink& link) {
                const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
                shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
                link.send("ready");
                shmbus::test::ReadPlan plan;
                plan.total = total;
                plan.publishers = kPublishers;
                plan.max_record_size = kMaxRecord;
                plan.lossless = lossless;
                plan.batch = slow ? 16 : 256;
                plan.pause = slow ? std::chrono::nanoseconds(2ms) : std::chrono::nanoseconds(0);
                plan.deadline = deadline - 5s;
                plan.publishers_done = [&] { return progress->publishers_done.load(); };
                plan.received = &progress->received[i];
                const shmbus::test::ReadResult result =
                    shmbus::test::read_records(subscriber, plan);
                link.send(result.line());
                return result.error.empty() ? 0 : 1;
            }));
    }
    for (auto& child : subscribers.children()) {
        const auto line = child.receive_line(shmbus::test::deadline_in(30s));
        REQUIRE_MESSAGE(line == std::optional<std::string>("ready"), child.name()
                                                                         << " did not attach");
    }

    shmbus::test::ChildGroup publishers;
    for (std::uint32_t i = 0; i < kPublishers; ++i) {
        publishers.add(Child::fork("publisher " + std::to_string(i), [&, i](ChildLink& link) {
            const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
            shmbus::Publisher publisher(topic);
            link.send("ready");
            if (!link.receive()) return 2;  // "go"
            shmbus::test::PublishPlan plan;
            plan.records = per_publisher;
            plan.max_record_size = kMaxRecord;
            plan.abort_one_in = abort_one_in;
            plan.deadline = deadline - 5s;
            plan.published = &progress->published[i];
            plan.aborted = &progress->aborted[i];
            const std::string error = shmbus::test::publish_records(publisher, plan);
            link.send(error.empty() ? "done" : "error: " + error);
            return error.empty() ? 0 : 1;
        }));
    }
    for (auto& child : publishers.children()) {
        REQUIRE_MESSAGE(child.receive_line(shmbus::test::deadline_in(30s)) ==
                            std::optional<std::string>("ready"),
                        child.name() << " did not attach");
    }
    for (auto& child : publishers.children())
        child.send("go");

    const auto describe = [&] { return progress->describe(per_publisher); };
    std::string problems = publishers.wait_all(deadline, describe);
    for (auto& child : publishers.children()) {
        const auto line = child.receive_line(Clock::now());
        if (line && *line != "done") problems += "\n  " + child.name() + ": " + *line;
    }
    REQUIRE_MESSAGE(problems.empty(), "publishers: " << problems);
    progress->publishers_done = true;

    problems = subscribers.wait_all(deadline, describe);
    Outcome outcome;
    for (auto& child : subscribers.children()) {
        const auto line = child.receive_line(Clock::now());
        outcome.subscribers.push_back(
            shmbus::test::ReadResult::parse(line.value_or("error: no result line")));
        if (!outcome.subscribers.back().error.empty()) {
            problems += "\n  " + child.name() + ": " + outcome.subscribers.back().error;
        }
    }
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    REQUIRE_MESSAGE(
        problems.empty(),
        "subscribers: " << problems << "\n  topic: " << shmbus::test::describe_topic(topic.view()));
    for (const auto& count : progress->aborted)
        outcome.aborted += count.load();
    outcome.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    outcome.unblocked = topic.view().records->unblocked_claims;
    return outcome;
}

}  // namespace

TEST_CASE(
    "block: 4 publisher processes x 3 subscriber processes, every record exactly once in one "
    "common order") {
    const Outcome outcome = run(shmbus::Policy::kBlock, false, 64);
    const std::uint64_t total = records_per_publisher() * kPublishers;
    MESSAGE("block: " << total << " records to each of " << kSubscribers << " subscribers in "
                      << outcome.seconds << " s; " << outcome.aborted << " claims aborted");
    for (std::size_t i = 0; i < outcome.subscribers.size(); ++i) {
        CAPTURE(i);
        const auto& result = outcome.subscribers[i];
        CHECK(result.received == total);
        CHECK(result.lost == 0);
        CHECK(result.corrupt == 0);
        // Every aborted claim took a sequence number: exactly those are the gaps.
        CHECK(result.voided == outcome.aborted);
        CHECK(result.digest == outcome.subscribers[0].digest);
    }
    CHECK(outcome.aborted > 0);
    CHECK(outcome.unblocked == 0);
}

TEST_CASE(
    "overwrite: with one slow subscriber, received plus lost equals published for every "
    "subscriber") {
    const Outcome outcome = run(shmbus::Policy::kOverwrite, true, 0);
    const std::uint64_t total = records_per_publisher() * kPublishers;
    MESSAGE("overwrite: " << total << " records in " << outcome.seconds
                          << " s; slow subscriber received " << outcome.subscribers[0].received
                          << ", lost " << outcome.subscribers[0].lost << "; others lost "
                          << outcome.subscribers[1].lost << " and " << outcome.subscribers[2].lost);
    for (const auto& result : outcome.subscribers) {
        CHECK(result.received + result.lost == total);
        CHECK(result.voided == 0);
        CHECK(result.corrupt == 0);
    }
    CHECK(outcome.unblocked == 0);
    // The slow subscriber was lapped, so the loss accounting was exercised.
    CHECK(outcome.subscribers[0].lost > 0);
    CHECK(outcome.subscribers[0].received > 0);
}
