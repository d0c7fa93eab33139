#include "shmbus/sync/semaphore.hpp"

#include <boost/date_time/posix_time/posix_time_types.hpp>
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

Semaphore& at(std::uint8_t* storage) noexcept {
    return *std::launder(reinterpret_cast<Semaphore*>(storage));
}

}  // namespace

void semaphore_initialise(std::uint8_t* storage) noexcept {
    try {
        new (storage) Semaphore(0);
    } catch (...) {
        // sem_init with pshared=1 cannot fail on Linux for a valid address and count 0.
    }
}

void semaphore_post(std::uint8_t* storage) noexcept {
    try {
        at(storage).post();
    } catch (...) {
    }
}

bool semaphore_try_wait(std::uint8_t* storage) noexcept {
    try {
        return at(storage).try_wait();
    } catch (...) {
        return false;
    }
}

WaitOutcome semaphore_wait_for(std::uint8_t* storage, std::chrono::nanoseconds timeout) noexcept {
    try {
        const auto deadline =
            boost::posix_time::microsec_clock::universal_time() +
            boost::posix_time::microseconds(
                std::chrono::duration_cast<std::chrono::microseconds>(timeout).count() + 1);
        return at(storage).timed_wait(deadline) ? WaitOutcome::kPosted : WaitOutcome::kTimedOut;
    } catch (const boost::interprocess::interprocess_exception& error) {
        // Boost reports a signal that interrupted sem_timedwait as an exception.
        return error.get_native_error() == EINTR ? WaitOutcome::kInterrupted : WaitOutcome::kError;
    } catch (...) {
        return WaitOutcome::kError;
    }
}

}  // namespace shmbus::sync
