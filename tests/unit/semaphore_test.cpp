// The wake semaphore on its own: a post before the sleep is not lost, a deadline is an instant
// on the monotonic clock, and a post from another thread ends a long sleep.
#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <shmbus/detail/sync/semaphore.hpp>
#include <thread>

namespace {

using namespace std::chrono_literals;
using shmbus::sync::WaitOutcome;
using Clock = std::chrono::steady_clock;

struct Storage {
    alignas(32) std::array<std::uint8_t, shmbus::sync::kSemaphoreStorage> bytes{};
    Storage() { shmbus::sync::semaphore_initialise(bytes.data()); }
    std::uint8_t* data() { return bytes.data(); }
};

}  // namespace

TEST_CASE("a post made before the wait is consumed by it without sleeping") {
    Storage semaphore;
    shmbus::sync::semaphore_post(semaphore.data());
    const auto start = Clock::now();
    CHECK(shmbus::sync::semaphore_wait_until(semaphore.data(), start + 10s) ==
          WaitOutcome::kPosted);
    CHECK(Clock::now() - start < 5s);
    // Consumed: the next wait has nothing to take.
    CHECK(shmbus::sync::semaphore_wait_until(semaphore.data(), Clock::now()) ==
          WaitOutcome::kTimedOut);
}

TEST_CASE("a deadline already past times out at once; a future one is waited for in full") {
    Storage semaphore;
    const auto start = Clock::now();
    CHECK(shmbus::sync::semaphore_wait_until(semaphore.data(), start - 1s) ==
          WaitOutcome::kTimedOut);
    CHECK(shmbus::sync::semaphore_wait_until(semaphore.data(), Clock::time_point{}) ==
          WaitOutcome::kTimedOut);
    CHECK(Clock::now() - start < 1s);

    const auto deadline = Clock::now() + 40ms;
    CHECK(shmbus::sync::semaphore_wait_until(semaphore.data(), deadline) == WaitOutcome::kTimedOut);
    const auto woke = Clock::now();
    CHECK(woke >= deadline);
    CHECK(woke < deadline + 1s);
}

TEST_CASE("a post from another thread ends a sleep long before its deadline") {
    Storage semaphore;
    std::thread poster([&semaphore] { shmbus::sync::semaphore_post(semaphore.data()); });
    const auto start = Clock::now();
    CHECK(shmbus::sync::semaphore_wait_until(semaphore.data(), start + 30s) ==
          WaitOutcome::kPosted);
    CHECK(Clock::now() - start < 10s);
    poster.join();
}

TEST_CASE("a scribbled semaphore is re-initialised by its owner's wait, which then works") {
    Storage semaphore;
    std::memset(semaphore.data(), 0xa5, shmbus::sync::kSemaphoreStorage);
    REQUIRE_FALSE(shmbus::sync::semaphore_well_formed(semaphore.data()));
    CHECK(shmbus::sync::semaphore_wait_until(semaphore.data(), Clock::now() + 5ms) ==
          WaitOutcome::kTimedOut);
    CHECK(shmbus::sync::semaphore_well_formed(semaphore.data()));
    shmbus::sync::semaphore_post(semaphore.data());
    CHECK(shmbus::sync::semaphore_wait_until(semaphore.data(), Clock::now() + 10s) ==
          WaitOutcome::kPosted);
}
