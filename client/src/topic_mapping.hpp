// The shared state behind a Topic handle: descriptors, mappings and the validated view.
#pragma once

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <string>

#include "shmbus/detail/format/state_restore.hpp"
#include "shmbus/detail/ring/topic_view.hpp"
#include "shmbus/topic.hpp"

namespace shmbus::detail {

struct TopicMapping {
    TopicMapping() = default;
    TopicMapping(const TopicMapping&) = delete;
    TopicMapping& operator=(const TopicMapping&) = delete;
    ~TopicMapping();

    std::string name;
    std::filesystem::path directory;
    std::filesystem::path records_path;
    std::filesystem::path state_path;
    std::filesystem::path locks_path;
    Access access = Access::kSubscribe;
    int records_fd = -1;  // holds the shared init lock while the topic is open
    int state_fd = -1;
    int locks_fd = -1;  // publishers and admins only: the locks file, opened write-only
    void* records_map = nullptr;
    std::size_t records_size = 0;
    void* state_map = nullptr;
    std::size_t state_size = 0;
    ring::TopicView view{};
    /// Set by the SIGBUS guard when the records file was truncated under us, or the state file
    /// could not be restored (client/src/sigbus_guard.cpp).
    std::atomic<bool> lost{false};
    /// How the SIGBUS guard and its callers put a truncated state file back.
    format::StateRestore state_restore;
};

/// "topic 'NAME' in DIR": how messages name a topic.
[[nodiscard]] std::string describe(std::string_view name, const std::filesystem::path& dir);

}  // namespace shmbus::detail
