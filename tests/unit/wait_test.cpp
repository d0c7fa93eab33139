// Subscriber::wait: times out on an idle topic without burning CPU, and wakes promptly when
// another process commits while it sleeps.
#include <doctest/doctest.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <shmbus/detail/util/atomic.hpp>
#include <shmbus/shmbus.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/records.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::Status;
using shmbus::test::Clock;

std::chrono::nanoseconds thread_cpu_time() {
    timespec now{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

double ms(std::chrono::nanoseconds d) {
    return static_cast<double>(d.count()) / 1e6;
}

shmbus::Topic make_topic(const shmbus::test::BusDirectory& bus) {
    return shmbus::test::create_and_open(bus, {.capacity = 4096, .max_record_size = 256});
}

}  // namespace

TEST_CASE(
    "wait on an idle topic returns kTimedOut after its timeout, sleeping rather than spinning") {
    shmbus::test::BusDirectory bus;
    const shmbus::Topic topic = make_topic(bus);
    shmbus::Subscriber subscriber(topic);
    for (const auto timeout :
         {0ns, std::chrono::nanoseconds(1ms), std::chrono::nanoseconds(350ms)}) {
        CAPTURE(ms(timeout));
        const auto cpu_before = thread_cpu_time();
        const auto start = Clock::now();
        CHECK(subscriber.wait(timeout) == Status::kTimedOut);
        const auto elapsed = Clock::now() - start;
        const auto cpu = thread_cpu_time() - cpu_before;
        MESSAGE("wait(" << ms(timeout) << " ms) took " << ms(elapsed) << " ms, " << ms(cpu)
                        << " ms of CPU");
        CHECK(elapsed >= timeout);
        CHECK(elapsed < timeout + 1s);
        // The spin is 20 us and a sleeper wakes every 100 ms at most: a busy loop would cost
        // about as much CPU as wall time.
        CHECK(cpu < 30ms + timeout / 10);
    }
}

TEST_CASE(
    "wait returns kOk at once when a record is already there, and after a poll it waits again") {
    shmbus::test::BusDirectory bus;
    const shmbus::Topic topic = make_topic(bus);
    shmbus::Publisher publisher(topic);
    shmbus::Subscriber subscriber(topic);
    REQUIRE(publisher.try_offer(shmbus::test::bytes_of("x")) == Status::kOk);
    const auto start = Clock::now();
    CHECK(subscriber.wait(10s) == Status::kOk);
    CHECK(Clock::now() - start < 1s);
    CHECK(shmbus::test::drain(subscriber).size() == 1);
    CHECK(subscriber.wait(20ms) == Status::kTimedOut);
}

namespace {

/// A subscriber asleep in wait() and a publisher in another process that commits once it sees
/// the subscriber's sleeping bit. `fenced_commits`: the topic's publishers commit with a full
/// barrier and the sleeper makes no membarrier (sync/asymmetric_fence.hpp).
void woken_by_another_process(bool fenced_commits) {
    shmbus::test::BusDirectory bus;
    const shmbus::Topic topic = shmbus::test::create_and_open(
        bus, {.capacity = 4096, .max_record_size = 256, .fenced_commits = fenced_commits});
    REQUIRE(shmbus::collect_stats(topic).fenced_commits == fenced_commits);
    shmbus::Subscriber subscriber(topic);
    const std::uint32_t index = subscriber.slot();
    constexpr int kRounds = 12;
    // The publisher waits until the subscriber's sleeping bit is set (it is about to sleep or
    // asleep), then commits one record: the subscriber must be woken by the commit, not by its
    // own 100 ms safety timeout.
    shmbus::test::Child publisher_process =
        shmbus::test::Child::fork("publisher", [&](shmbus::test::ChildLink& link) {
            const shmbus::Topic own = shmbus::Topic::open(bus.path(), "t");
            shmbus::Publisher publisher(own);
            const std::uint64_t* sleeping = own.view().state->sleeping_subscribers;
            for (int round = 0; round < kRounds; ++round) {
                const auto deadline = shmbus::test::deadline_in(10s);
                while ((shmbus::atomics::load_seq_cst(sleeping[index / 64]) &
                        (std::uint64_t{1} << (index % 64))) == 0) {
                    if (Clock::now() > deadline) {
                        link.send("the subscriber never went to sleep");
                        return 1;
                    }
                    std::this_thread::sleep_for(50us);
                }
                if (publisher.try_offer(shmbus::test::bytes_of("wake")) != Status::kOk) return 2;
                if (!link.receive()) return 3;  // the subscriber read it
            }
            return 0;
        });
    std::vector<double> latencies;
    for (int round = 0; round < kRounds; ++round) {
        CAPTURE(round);
        const auto start = Clock::now();
        const Status status = subscriber.wait(5s);
        const auto elapsed = Clock::now() - start;
        REQUIRE(status == Status::kOk);
        CHECK(elapsed < 2s);
        latencies.push_back(ms(elapsed));
        REQUIRE(shmbus::test::drain(subscriber).size() == 1);
        publisher_process.send("next");
    }
    const auto exit = publisher_process.wait_until(shmbus::test::deadline_in(10s));
    REQUIRE_MESSAGE(exit, "the publisher process did not finish");
    CHECK_MESSAGE(exit->ok(), exit->describe()
                                  << " "
                                  << publisher_process.receive_line(Clock::now()).value_or(""));
    std::sort(latencies.begin(), latencies.end());
    const double median = latencies[latencies.size() / 2];
    MESSAGE("wake latency (ms, wait start to return): median " << median << ", max "
                                                               << latencies.back());
    // A lost wake-up would cost the 100 ms safety sleep in every round.
    CHECK(median < 50.0);
}

}  // namespace

TEST_CASE("wait returns kOk promptly when another process commits while it sleeps") {
    woken_by_another_process(false);
}

TEST_CASE("on a topic with fenced commits, wait is woken promptly without membarrier") {
    woken_by_another_process(true);
}

TEST_CASE("a blocked publisher is woken promptly when the subscriber holding it back polls") {
    shmbus::test::BusDirectory bus;
    const shmbus::Topic topic = make_topic(bus);
    shmbus::Subscriber subscriber(topic);
    shmbus::Publisher filler(topic);
    while (filler.try_offer(shmbus::test::filled(200, 1)) == Status::kOk) {
    }
    const std::uint32_t slot_of_next = filler.slot() + 1;
    shmbus::test::Child blocked =
        shmbus::test::Child::fork("blocked publisher", [&](shmbus::test::ChildLink& link) {
            const shmbus::Topic own = shmbus::Topic::open(bus.path(), "t");
            shmbus::Publisher publisher(own);
            if (publisher.slot() != slot_of_next) return 4;
            const auto start = Clock::now();
            const Status status = publisher.offer(shmbus::test::filled(200, 2), 5s);
            link.send(std::to_string(ms(Clock::now() - start)));
            return status == Status::kOk ? 0 : 1;
        });
    // Poll once the publisher has announced it is blocked.
    const std::uint64_t* blocked_mask = topic.view().state->blocked_publishers;
    const auto deadline = shmbus::test::deadline_in(10s);
    while ((shmbus::atomics::load_seq_cst(blocked_mask[0]) & (std::uint64_t{1} << slot_of_next)) ==
           0) {
        REQUIRE_MESSAGE(Clock::now() < deadline, "the publisher never blocked");
        std::this_thread::sleep_for(100us);
    }
    const auto polled_at = Clock::now();
    REQUIRE(shmbus::test::poll_some(subscriber, 1).size() == 1);
    const auto exit = blocked.wait_until(shmbus::test::deadline_in(10s));
    REQUIRE(exit);
    CHECK(exit->ok());
    const auto woke_after = Clock::now() - polled_at;
    MESSAGE("publisher published " << ms(woke_after) << " ms after the poll");
    CHECK(woke_after < 2s);
}

TEST_CASE("a held-back publisher's offer times out after its timeout, never before") {
    shmbus::test::BusDirectory bus;
    const shmbus::Topic topic = make_topic(bus);
    shmbus::Subscriber subscriber(topic);
    shmbus::Publisher publisher(topic);
    while (publisher.try_offer(shmbus::test::filled(200, 1)) == Status::kOk) {
    }
    // Long enough to span several of the publisher's doubling sleep slices.
    for (const auto timeout : {std::chrono::nanoseconds(1ms), std::chrono::nanoseconds(250ms)}) {
        CAPTURE(ms(timeout));
        const auto start = Clock::now();
        CHECK(publisher.offer(shmbus::test::filled(200, 2), timeout) == Status::kTimedOut);
        const auto elapsed = Clock::now() - start;
        CHECK(elapsed >= timeout);
        CHECK(elapsed < timeout + 1s);
    }
    // Room again: the next offer goes through at once.
    REQUIRE(shmbus::test::poll_some(subscriber, 1).size() == 1);
    CHECK(publisher.offer(shmbus::test::filled(200, 3), 1s) == Status::kOk);
}
