// SIGBUS from a truncated topic file.
//
// A topic's files are allocated in full at creation, so a full file system never raises SIGBUS.
// But any process with write access to a file can truncate it, and then every process that
// touches a page past the new end gets SIGBUS. Write access cannot be split from the right to
// truncate with file modes, so libshmbus contains the damage instead. Its handler recognises a
// fault inside one of its own mappings, and then:
//
//   state file    (every client may write it, subscribers included): extends and allocates the
//                 file again and rewrites its identity line (format/state_restore.hpp), and
//                 returns, so the faulting access runs again on a page of the file that now
//                 exists. The topic goes on; each client puts its own slot back.
//   records file  (only publishers may write it), or a state file that cannot be restored (a
//                 full file system): maps zero pages over that mapping (so the faulting load or
//                 store completes and the code around it runs to its next check), marks the
//                 topic lost, and bumps the handle epoch. Every handle of that topic then returns
//                 Status::kTopicLost; other topics and the rest of the process carry on.
//
// A SIGBUS anywhere else goes to the handler that was installed before ours, or to the default
// action.
#include "sigbus_guard.hpp"

#include <signal.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <mutex>

#include "shmbus/detail/format/state_restore.hpp"
#include "shmbus/detail/handle_guard.hpp"

namespace shmbus::detail {
namespace {

// Two mappings per topic: room for 4096 open topics in one process.
constexpr std::size_t kRanges = 8192;

struct Range {
    std::atomic<std::uintptr_t> begin{0};  // 0: free
    std::atomic<std::uintptr_t> end{0};
    std::atomic<std::atomic<bool>*> lost{nullptr};
    std::atomic<format::StateRestore*> restore{nullptr};  // state files only
    // SIGBUS faults in a row that found nothing to restore. One is a race with another restorer;
    // several mean restoring is not what this fault needs.
    std::atomic<std::uint32_t> unhelped{0};
};

constexpr std::uint32_t kMostUnhelpedFaults = 8;

/// Puts a truncated state file back, for the faulting access to run again. False: give up on it.
bool restore(Range& range) noexcept {
    format::StateRestore* state = range.restore.load(std::memory_order_relaxed);
    if (state == nullptr) return false;
    const bool needed = format::state_file_needs_restoring(*state);
    if (needed) {
        if (!format::restore_state_file(*state)) return false;
        state->restorations.fetch_add(1, std::memory_order_relaxed);
        range.unhelped.store(0, std::memory_order_relaxed);
        return true;
    }
    return range.unhelped.fetch_add(1, std::memory_order_relaxed) < kMostUnhelpedFaults;
}

Range g_ranges[kRanges];
struct sigaction g_previous {};
std::once_flag g_installed;
std::mutex g_writers;  // serialises guard/unguard; the handler never takes it

void on_sigbus(int signal, siginfo_t* info, void* context) {
    const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
    for (Range& range : g_ranges) {
        // Acquire: pairs with the release store of `begin` in guard_mapping, after which `end`
        // and `lost` are valid.
        const std::uintptr_t begin = range.begin.load(std::memory_order_acquire);
        if (begin == 0 || address < begin) continue;
        const std::uintptr_t end = range.end.load(std::memory_order_relaxed);
        if (address >= end) continue;
        // The system calls of a restore must not change the errno the interrupted code sees.
        const int saved_errno = errno;
        const bool restored = restore(range);
        errno = saved_errno;
        if (restored) return;  // the access runs again, on the file's own page
        void* zeros = ::mmap(reinterpret_cast<void*>(begin), end - begin, PROT_READ | PROT_WRITE,
                             MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (zeros == MAP_FAILED) break;
        if (std::atomic<bool>* lost = range.lost.load(std::memory_order_relaxed)) {
            // Release: pairs with mapping_lost's acquire load.
            lost->store(true, std::memory_order_release);
        }
        g_handle_epoch.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    // Not a shmbus mapping: as if this handler had never been installed.
    if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
        g_previous.sa_sigaction(signal, info, context);
        return;
    }
    if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN &&
        g_previous.sa_handler != nullptr) {
        g_previous.sa_handler(signal);
        return;
    }
    // Returning re-executes the faulting access, which now gets the default action.
    ::signal(SIGBUS, SIG_DFL);
}

void install() {
    struct sigaction action {};
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGBUS, &action, &g_previous);
}

}  // namespace

bool guard_mapping(void* base, std::size_t size, std::atomic<bool>* lost,
                   format::StateRestore* restore) noexcept {
    try {
        std::call_once(g_installed, install);
        std::lock_guard<std::mutex> guard(g_writers);
        for (Range& range : g_ranges) {
            if (range.begin.load(std::memory_order_relaxed) != 0) continue;
            range.end.store(reinterpret_cast<std::uintptr_t>(base) + size,
                            std::memory_order_relaxed);
            range.lost.store(lost, std::memory_order_relaxed);
            range.restore.store(restore, std::memory_order_relaxed);
            range.unhelped.store(0, std::memory_order_relaxed);
            // Release: the handler that sees `begin` sees `end` and `lost`.
            range.begin.store(reinterpret_cast<std::uintptr_t>(base), std::memory_order_release);
            return true;
        }
    } catch (...) {
    }
    return false;
}

void unguard_mapping(void* base) noexcept {
    try {
        std::lock_guard<std::mutex> guard(g_writers);
        for (Range& range : g_ranges) {
            if (range.begin.load(std::memory_order_relaxed) ==
                reinterpret_cast<std::uintptr_t>(base)) {
                range.begin.store(0, std::memory_order_release);
                range.lost.store(nullptr, std::memory_order_relaxed);
                range.restore.store(nullptr, std::memory_order_relaxed);
                return;
            }
        }
    } catch (...) {
    }
}

}  // namespace shmbus::detail
