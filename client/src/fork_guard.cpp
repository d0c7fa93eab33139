#include "shmbus/detail/fork_guard.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <vector>

namespace shmbus::detail {

std::uint32_t g_fork_generation = 0;

namespace {

std::mutex& registry_mutex() {
    static std::mutex mutex;
    return mutex;
}

std::vector<int>& registry() {
    static std::vector<int> fds;
    return fds;
}

// Held across fork() so the child never inherits the registry mid-update.
void before_fork() { registry_mutex().lock(); }
void in_parent() { registry_mutex().unlock(); }
void in_child() {
    for (const int fd : registry()) ::close(fd);
    registry().clear();
    ++g_fork_generation;
    registry_mutex().unlock();
}

struct AtForkInstaller {
    AtForkInstaller() { ::pthread_atfork(before_fork, in_parent, in_child); }
};
const AtForkInstaller installer;

}  // namespace

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
