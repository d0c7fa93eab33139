#include "shmbus/sync/semaphore.hpp"

#include <semaphore.h>

#include <algorithm>
#include <atomic>
#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/sync/interprocess_semaphore.hpp>
#include <cerrno>
#include <new>

namespace shmbus::sync {
namespace {

using Semaphore = boost::interprocess::interprocess_semaphore;

static_assert(sizeof(Semaphore) <= kSemaphoreStorage,
              "the semaphore must fit the 32-byte field in the state file layout");
static_assert(alignof(Semaphore) <= kSemaphoreStorage);
#if defined(BOOST_INTERPROCESS_FORCE_GENERIC_EMULATION) || \
    !defined(BOOST_INTERPROCESS_POSIX_PROCESS_SHARED) ||   \
    !defined(BOOST_INTERPROCESS_POSIX_UNNAMED_SEMAPHORES)
#error "interprocess_semaphore must be Boost's POSIX one (a sem_t) for sem_clockwait to share it"
#endif
static_assert(sizeof(Semaphore) == sizeof(sem_t), "Boost's POSIX semaphore is exactly a sem_t");
// sem_clockwait takes CLOCK_MONOTONIC deadlines, which are what libstdc++'s steady_clock reads.
static_assert(std::chrono::steady_clock::is_steady);

#if !defined(__GLIBC__) || __WORDSIZE != 64
#error "semaphore_well_formed knows the layout of glibc's 64-bit sem_t only"
#endif
static_assert(sizeof(sem_t) == kSemaphoreStorage, "glibc's sem_t is 32 bytes on 64-bit targets");

// glibc 2.36, 64-bit: { uint64_t data (count in the low 32 bits, waiters in the high 32);
// int private; int pad; }, and the rest unused. sem_init(pshared = 1) sets `private` to 128,
// glibc's "shared" futex flag (checked by the semaphore test on every build).
constexpr std::size_t kPrivateOffset = 8;
constexpr std::uint32_t kSharedFlag = 128;
constexpr std::uint64_t kMaxCount = 0x7fffffff;  // SEM_VALUE_MAX
// More stale posts than a handful means somebody scribbled the count: re-initialise.
constexpr int kMaxStalePosts = 16;

Semaphore& at(std::uint8_t* storage) noexcept {
    return *std::launder(reinterpret_cast<Semaphore*>(storage));
}

// The same bytes as glibc sees them, for the wait (see the header on why not Boost's timed_wait).
sem_t* native(std::uint8_t* storage) noexcept {
    return std::launder(reinterpret_cast<sem_t*>(storage));
}

}  // namespace

bool semaphore_well_formed(const std::uint8_t* storage) noexcept {
    // Relaxed atomic loads: other processes may be changing these words right now.
    auto& data = *reinterpret_cast<std::uint64_t*>(const_cast<std::uint8_t*>(storage));
    auto& private_flag =
        *reinterpret_cast<std::uint32_t*>(const_cast<std::uint8_t*>(storage) + kPrivateOffset);
    const std::uint64_t word = std::atomic_ref<std::uint64_t>(data).load(std::memory_order_relaxed);
    const std::uint32_t flag =
        std::atomic_ref<std::uint32_t>(private_flag).load(std::memory_order_relaxed);
    return flag == kSharedFlag && (word & 0xffffffffu) <= kMaxCount;
}

void semaphore_initialise(std::uint8_t* storage) noexcept {
    try {
        new (storage) Semaphore(0);
    } catch (...) {
        // sem_init with pshared=1 cannot fail on Linux for a valid address and count 0.
    }
}

void semaphore_post(std::uint8_t* storage) noexcept {
    if (!semaphore_well_formed(storage)) return;  // its owner repairs it before it sleeps
    try {
        at(storage).post();
    } catch (...) {
    }
}

void semaphore_drain(std::uint8_t* storage) noexcept {
    if (!semaphore_well_formed(storage)) {
        semaphore_initialise(storage);
        return;
    }
    try {
        for (int stale = 0; stale < kMaxStalePosts; ++stale) {
            if (!at(storage).try_wait()) return;
        }
    } catch (...) {
    }
    semaphore_initialise(storage);
}

WaitOutcome semaphore_wait_until(std::uint8_t* storage,
                                 std::chrono::steady_clock::time_point deadline) noexcept {
    if (!semaphore_well_formed(storage)) semaphore_initialise(storage);
    const auto since_boot = std::max(deadline.time_since_epoch(), std::chrono::nanoseconds(0));
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_boot);
    const timespec until{.tv_sec = static_cast<time_t>(seconds.count()),
                         .tv_nsec = static_cast<long>((since_boot - seconds).count())};
    if (::sem_clockwait(native(storage), CLOCK_MONOTONIC, &until) == 0) return WaitOutcome::kPosted;
    switch (errno) {
        case ETIMEDOUT:
            return WaitOutcome::kTimedOut;
        case EINTR:
            return WaitOutcome::kInterrupted;
        default:
            return WaitOutcome::kError;
    }
}

}  // namespace shmbus::sync
