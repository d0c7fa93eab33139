// Publisher and subscriber threads in one process on one topic: the invariants of the
// multi-process tests (every record once, one common order, per-publisher FIFO, intact bytes,
// exact loss accounting) with all the sharing visible to ThreadSanitizer. Sized to finish in
// seconds under TSan on two cores; SHMBUS_TEST_RECORDS overrides the records per publisher.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <shmbus/shmbus.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/sanitizers.hpp"
#include "support/topic_dump.hpp"
#include "support/traffic.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::test::Clock;

std::uint64_t records_per_publisher(std::uint64_t fallback) {
    if (const char* text = std::getenv("SHMBUS_TEST_RECORDS"); text != nullptr && *text != '\0') {
        return std::strtoull(text, nullptr, 10);
    }
    return fallback;
}

struct Run {
    std::vector<shmbus::test::ReadResult> results;
    std::vector<std::string> publisher_errors;
    std::uint64_t aborted = 0;
    double seconds = 0;
    std::uint64_t unblocked = 0;  // no publisher dies here: no claim may ever be repaired
    std::string topic_at_end;     // the shared state, if something failed
};

// `publishers` threads and `subscribers` threads; subscriber 0 is slow if asked. Subscribers
// attach (at the start of the topic) before any publisher starts.
Run run_threads(shmbus::Policy policy, std::uint32_t publishers, std::uint32_t subscribers,
                std::uint64_t per_publisher, bool slow_first, std::uint32_t abort_one_in,
                bool own_topic_per_thread) {
    constexpr std::uint32_t kMax = 1024;
    shmbus::test::BusDirectory bus;
    shmbus::create_topic(bus.path(), "t",
                         {.capacity = 32 * 1024,
                          .max_record_size = kMax,
                          .max_publishers = publishers,
                          .max_subscribers = subscribers,
                          .policy = policy});
    const shmbus::Topic shared = shmbus::Topic::open(bus.path(), "t");
    const auto deadline = shmbus::test::deadline_in(60s);
    const auto topic_for_thread = [&] {
        return own_topic_per_thread ? shmbus::Topic::open(bus.path(), "t") : shared;
    };

    std::vector<std::unique_ptr<shmbus::Subscriber>> readers;
    std::vector<shmbus::Topic> topics;
    for (std::uint32_t i = 0; i < subscribers; ++i) {
        topics.push_back(topic_for_thread());
        readers.push_back(std::make_unique<shmbus::Subscriber>(
            topics.back(), shmbus::SubscriberOptions{.start = shmbus::StartAt::earliest()}));
    }
    std::vector<std::unique_ptr<shmbus::Publisher>> writers;
    for (std::uint32_t i = 0; i < publishers; ++i) {
        topics.push_back(topic_for_thread());
        writers.push_back(std::make_unique<shmbus::Publisher>(topics.back()));
    }

    Run run;
    run.results.resize(subscribers);
    run.publisher_errors.resize(publishers);
    std::vector<std::atomic<std::uint64_t>> aborted(publishers);
    std::atomic<std::uint32_t> publishers_running{publishers};
    const auto started = Clock::now();
    std::vector<std::thread> threads;
    for (std::uint32_t i = 0; i < subscribers; ++i) {
        threads.emplace_back([&, i] {
            shmbus::test::ReadPlan plan;
            plan.total = per_publisher * publishers;
            plan.publishers = publishers;
            plan.max_record_size = kMax;
            plan.lossless = policy == shmbus::Policy::kBlock;
            const bool slow = slow_first && i == 0;
            plan.batch = slow ? 8 : 128;
            plan.pause = slow ? std::chrono::nanoseconds(1ms) : std::chrono::nanoseconds(0);
            plan.deadline = deadline;
            plan.publishers_done = [&] { return publishers_running.load() == 0; };
            run.results[i] = shmbus::test::read_records(*readers[i], plan);
        });
    }
    for (std::uint32_t i = 0; i < publishers; ++i) {
        threads.emplace_back([&, i] {
            shmbus::test::PublishPlan plan;
            plan.records = per_publisher;
            plan.max_record_size = kMax;
            plan.abort_one_in = abort_one_in;
            plan.deadline = deadline;
            plan.aborted = &aborted[i];
            run.publisher_errors[i] = shmbus::test::publish_records(*writers[i], plan);
            publishers_running.fetch_sub(1);
        });
    }
    for (auto& thread : threads)
        thread.join();
    bool failed = false;
    for (const auto& error : run.publisher_errors)
        failed = failed || !error.empty();
    for (const auto& result : run.results)
        failed = failed || !result.error.empty();
    run.unblocked = shared.view().records->unblocked_claims;
    if (failed || run.unblocked != 0)
        run.topic_at_end = shmbus::test::describe_topic(shared.view());
    run.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    for (const auto& count : aborted)
        run.aborted += count.load();
    return run;
}

void require_publishers_ok(const Run& run) {
    std::string problems;
    for (std::size_t i = 0; i < run.publisher_errors.size(); ++i) {
        if (!run.publisher_errors[i].empty()) problems += "\n  " + run.publisher_errors[i];
    }
    for (std::size_t i = 0; i < run.results.size(); ++i) {
        if (!run.results[i].error.empty()) {
            problems += "\n  subscriber " + std::to_string(i) + ": " + run.results[i].error;
        }
    }
    if (run.unblocked != 0) {
        problems += "\n  " + std::to_string(run.unblocked) +
                    " claims were repaired as if their publisher had died";
    }
    REQUIRE_MESSAGE(problems.empty(), problems << "\n  topic: " << run.topic_at_end);
}

#if defined(SHMBUS_TEST_TSAN)
constexpr std::uint64_t kDefaultRecords = 20'000;
#else
constexpr std::uint64_t kDefaultRecords = 40'000;
#endif

}  // namespace

TEST_CASE(
    "block: 3 publisher threads x 3 subscriber threads, every record once in one common order") {
    for (const bool own_topic : {false, true}) {
        CAPTURE(own_topic);
        const std::uint64_t per_publisher = records_per_publisher(kDefaultRecords);
        const Run run =
            run_threads(shmbus::Policy::kBlock, 3, 3, per_publisher, false, 50, own_topic);
        require_publishers_ok(run);
        MESSAGE("block, " << std::string(own_topic ? "a Topic per thread" : "one shared Topic")
                          << ": " << per_publisher * 3 << " records to 3 subscriber threads in "
                          << run.seconds << " s");
        for (const auto& result : run.results) {
            CHECK_MESSAGE(result.error.empty(), result.error);
            CHECK(result.received == per_publisher * 3);
            CHECK(result.lost == 0);
            CHECK(result.voided == run.aborted);
            CHECK(result.digest == run.results[0].digest);
        }
        CHECK(run.aborted > 0);
    }
}

TEST_CASE(
    "overwrite: 2 publisher threads, a slow and a fast subscriber thread, received plus lost "
    "equals published") {
    const std::uint64_t per_publisher = records_per_publisher(kDefaultRecords);
    const Run run = run_threads(shmbus::Policy::kOverwrite, 2, 2, per_publisher, true, 0, false);
    require_publishers_ok(run);
    MESSAGE("overwrite: slow subscriber received " << run.results[0].received << ", lost "
                                                   << run.results[0].lost << " in " << run.seconds
                                                   << " s");
    for (const auto& result : run.results) {
        CHECK_MESSAGE(result.error.empty(), result.error);
        CHECK(result.received + result.lost == per_publisher * 2);
        CHECK(result.voided == 0);
    }
    CHECK(run.results[0].lost > 0);
}
