#include "shmbus/detail/sync/semaphore.hpp"

#include <linux/futex.h>
#include <semaphore.h>
#include <sys/syscall.h>
#include <unistd.h>

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

constexpr unsigned kWaiterShift = 32;  // glibc's SEM_NWAITERS_SHIFT
constexpr std::uint64_t kOneWaiter = std::uint64_t{1} << kWaiterShift;
constexpr std::uint64_t kCountMask = 0xffffffffu;

std::atomic_ref<std::uint64_t> data_of(std::uint8_t* storage) noexcept {
    return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(storage));
}

/// Sleeps on the count word while it reads 0, until `until` (CLOCK_MONOTONIC). 0 or an errno.
int futex_wait_zero(std::uint8_t* storage, const timespec& until) noexcept {
    // The count is the low half of the 64-bit word (little-endian). Not FUTEX_PRIVATE_FLAG: the
    // semaphore is process-shared, as glibc's sem_post for it wakes. FUTEX_WAIT_BITSET takes an
    // absolute deadline, on CLOCK_MONOTONIC without FUTEX_CLOCK_REALTIME.
    const long result = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(storage),
                                  FUTEX_WAIT_BITSET, 0u, &until, nullptr, FUTEX_BITSET_MATCH_ANY);
    return result == 0 ? 0 : errno;
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

// The wait is glibc's sem_clockwait for a 64-bit process-shared semaphore, step for step, so
// that it pairs with sem_post (Boost's post): announce a waiter in the high half of the word,
// take a post from the low half with a compare-and-swap, and sleep on the low half while it reads
// zero. It is written out here, not called, for one reason: glibc aborts the process when the
// futex call fails with EFAULT, and a state file truncated between the announcement and the call
// (by any client, subscribers included) makes it fail so. Here that is an error the caller
// handles: the next access to the file faults, and the SIGBUS guard restores it.
WaitOutcome semaphore_wait_until(std::uint8_t* storage,
                                 std::chrono::steady_clock::time_point deadline) noexcept {
    if (!semaphore_well_formed(storage)) semaphore_initialise(storage);
    const auto since_boot = std::max(deadline.time_since_epoch(), std::chrono::nanoseconds(0));
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_boot);
    const timespec until{.tv_sec = static_cast<time_t>(seconds.count()),
                         .tv_nsec = static_cast<long>((since_boot - seconds).count())};
    const auto data = data_of(storage);
    // Relaxed, as in glibc: the waiter count only tells posters to make the futex call; the
    // acquire compare-and-swap below is what pairs with the post's release.
    std::uint64_t word = data.fetch_add(kOneWaiter, std::memory_order_relaxed) + kOneWaiter;
    WaitOutcome outcome = WaitOutcome::kPosted;
    for (;;) {
        if ((word & kCountMask) != 0) {
            // Acquire: pairs with sem_post's release compare-and-swap of the count.
            if (data.compare_exchange_weak(word, word - 1 - kOneWaiter, std::memory_order_acquire,
                                           std::memory_order_relaxed)) {
                return WaitOutcome::kPosted;  // took a post, and our waiter mark with it
            }
            continue;
        }
        const int error = futex_wait_zero(storage, until);
        if (error == ETIMEDOUT) {
            outcome = WaitOutcome::kTimedOut;
            break;
        }
        if (error == EINTR) {
            outcome = WaitOutcome::kInterrupted;
            break;
        }
        if (error != 0 && error != EAGAIN) {
            outcome = WaitOutcome::kError;  // EFAULT: the page is gone (a truncated file)
            break;
        }
        word = data.load(std::memory_order_relaxed);
    }
    data.fetch_sub(kOneWaiter, std::memory_order_relaxed);
    return outcome;
}

}  // namespace shmbus::sync
