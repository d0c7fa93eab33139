#include "core/control_block.hpp"

#include <sys/mman.h>

#include <atomic>
#include <new>
#include <stdexcept>

#include "core/clock.hpp"
#include "core/futex.hpp"
#include "core/resources.hpp"

namespace shmbus::bench {
namespace {

constexpr std::chrono::milliseconds kNap(50);

std::uint32_t load(const std::uint32_t& word) noexcept {
    // Acquire: pairs with the release in arrive() and release(); what a process wrote before
    // arriving (its report of the setup phase) is visible to the driver.
    return std::atomic_ref<std::uint32_t>(const_cast<std::uint32_t&>(word))
        .load(std::memory_order_acquire);
}

}  // namespace

SharedControl::SharedControl() {
    void* memory = ::mmap(nullptr, sizeof(ControlBlock), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) throw std::runtime_error("cannot map the control block");
    block_ = new (memory) ControlBlock();
}

SharedControl::~SharedControl() {
    if (block_ != nullptr) ::munmap(block_, sizeof(ControlBlock));
}

void SharedControl::arrive(ProcessReport& report) noexcept {
    const ResourceUsage used = usage_of_self();
    report.cpu_at_arrival_ns = used.user_ns + used.system_ns;
    // Release: pairs with the driver's acquire load in wait_for_arrivals.
    std::atomic_ref<std::uint32_t>(block_->arrived).fetch_add(1, std::memory_order_release);
    futex_wake_all(&block_->arrived);
}

void SharedControl::await(Phase phase, std::chrono::nanoseconds timeout) const {
    const std::uint64_t deadline = monotonic_ns() + static_cast<std::uint64_t>(timeout.count());
    for (;;) {
        const std::uint32_t now = load(block_->phase);
        if (now == static_cast<std::uint32_t>(Phase::kAbort)) {
            throw std::runtime_error("the driver aborted the case");
        }
        if (now >= static_cast<std::uint32_t>(phase)) return;
        if (monotonic_ns() > deadline) throw std::runtime_error("timed out at the start line");
        futex_wait(&block_->phase, now, kNap);
    }
}

bool SharedControl::wait_for_arrivals(std::uint32_t count, std::chrono::nanoseconds timeout,
                                      const std::function<bool()>& all_alive) const {
    const std::uint64_t deadline = monotonic_ns() + static_cast<std::uint64_t>(timeout.count());
    for (;;) {
        const std::uint32_t arrived = load(block_->arrived);
        if (arrived >= count) return true;
        if (monotonic_ns() > deadline || !all_alive()) return false;
        futex_wait(&block_->arrived, arrived, kNap);
    }
}

void SharedControl::release(Phase phase) noexcept {
    // Release: pairs with the acquire load in await().
    std::atomic_ref<std::uint32_t>(block_->phase)
        .store(static_cast<std::uint32_t>(phase), std::memory_order_release);
    futex_wake_all(&block_->phase);
}

}  // namespace shmbus::bench
