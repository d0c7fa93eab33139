#include "shmbus/detail/sync/asymmetric_fence.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace shmbus::sync {
namespace {

int membarrier(int command) noexcept {
    return static_cast<int>(::syscall(SYS_membarrier, command, 0u, 0));
}

}  // namespace

bool light_fence_usable() noexcept {
    // A function-local static: initialised once, thread-safely, on first use.
    static const bool usable = [] {
        const int supported = membarrier(MEMBARRIER_CMD_QUERY);
        if (supported < 0 || (supported & MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0 ||
            (supported & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0) {
            return false;
        }
        return membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
    }();
    return usable;
}

bool heavy_fence() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const bool done = membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0;
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return done;
}

}  // namespace shmbus::sync
