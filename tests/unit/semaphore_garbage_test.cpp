// The wake semaphores live in the state file, which every client may write: scribbled bytes
// there must cost a delayed wake-up at most, never a crash or a wait longer than its timeout.
#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <shmbus/detail/format/state_layout.hpp>
#include <shmbus/shmbus.hpp>

#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/records.hpp"

using namespace std::chrono_literals;

TEST_CASE("a publisher survives a scribbled semaphore of a sleeping subscriber") {
    shmbus::test::BusDirectory bus;
    shmbus::create_topic(bus.path(), "t", {.capacity = 4096, .max_record_size = 256});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    // What a hostile subscriber can do with its write access to the state file.
    topic.view().state->sleeping_subscribers[0] = 1;
    std::memset(topic.view().subscribers[0].semaphore, 0xa5, shmbus::format::kSemaphoreBytes);
    auto child = shmbus::test::Child::fork("publisher", [&](shmbus::test::ChildLink&) {
        shmbus::Publisher publisher(topic);
        return publisher.try_offer(shmbus::test::bytes_of("x")) == shmbus::Status::kOk ? 0 : 1;
    });
    const auto exit = child.wait_until(shmbus::test::deadline_in(10s));
    REQUIRE(exit);
    CHECK_MESSAGE(exit->ok(), exit->describe());
}

TEST_CASE("wait returns within its timeout whatever its semaphore holds") {
    shmbus::test::BusDirectory bus;
    shmbus::create_topic(bus.path(), "t", {.capacity = 4096, .max_record_size = 256});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    shmbus::Subscriber subscriber(topic);
    std::memset(topic.view().subscribers[subscriber.slot()].semaphore, 0x5a,
                shmbus::format::kSemaphoreBytes);
    const auto start = std::chrono::steady_clock::now();
    CHECK(subscriber.wait(50ms) == shmbus::Status::kTimedOut);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
}
