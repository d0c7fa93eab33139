// The shared state behind a Topic handle: descriptors, mappings and the validated view.
#pragma once

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <string>

#include "shmbus/ring/topic_view.hpp"
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
    Access access = Access::kSubscribe;
    int records_fd = -1;  // holds the shared init lock while the topic is open
    int state_fd = -1;
    void* records_map = nullptr;
    std::size_t records_size = 0;
    void* state_map = nullptr;
    std::size_t state_size = 0;
    ring::TopicView view{};
    /// Set by the SIGBUS guard when a file was truncated under us (client/src/sigbus_guard.cpp).
    std::atomic<bool> lost{false};
};

/// "topic 'NAME' in DIR": how messages name a topic.
[[nodiscard]] std::string describe(std::string_view name, const std::filesystem::path& dir);

}  // namespace shmbus::detail
