#include "shmbus/detail/handle_guard.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "topic_mapping.hpp"

namespace shmbus::detail {

std::atomic<std::uint32_t> g_handle_epoch{0};

namespace {

std::uint32_t g_fork_generation = 0;

std::mutex& registry_mutex() {
    static std::mutex mutex;
    return mutex;
}

std::vector<int>& registry() {
    static std::vector<int> fds;
    return fds;
}

// Held across fork() so the child never inherits the registry mid-update.
void before_fork() {
    registry_mutex().lock();
}
void in_parent() {
    registry_mutex().unlock();
}
void in_child() {
    for (const int fd : registry())
        ::close(fd);
    registry().clear();
    ++g_fork_generation;
    g_handle_epoch.fetch_add(1, std::memory_order_relaxed);
    registry_mutex().unlock();
}

struct AtForkInstaller {
    AtForkInstaller() { ::pthread_atfork(before_fork, in_parent, in_child); }
};
const AtForkInstaller installer;

}  // namespace

std::uint32_t fork_generation() noexcept {
    return g_fork_generation;
}

bool mapping_lost(const TopicMapping& mapping) noexcept {
    // Acquire: pairs with the SIGBUS handler's release store.
    return mapping.lost.load(std::memory_order_acquire);
}

void register_lock_fd(int fd) {
    std::lock_guard<std::mutex> guard(registry_mutex());
    registry().push_back(fd);
}

void unregister_lock_fd(int fd) noexcept {
    std::lock_guard<std::mutex> guard(registry_mutex());
    auto& fds = registry();
    fds.erase(std::remove(fds.begin(), fds.end(), fd), fds.end());
}

}  // namespace shmbus::detail
