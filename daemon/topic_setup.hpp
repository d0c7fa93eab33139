// What the daemon does to topics on disk besides supervising them: compare a topic's layout with
// what the configuration or a client asks for, apply the configured owner, group and modes, and
// turn a client's request into settings.
//
// The layout of an existing topic is never changed here: a file whose layout differs from the
// configuration keeps its records, and the difference is reported. Only an explicit reinit
// (reinit.hpp) replaces a topic.
#pragma once

#include <filesystem>
#include <shmbus/detail/control/message.hpp>
#include <shmbus/detail/ring/topic_view.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"

namespace shmbusd {

/// How an open topic's layout differs from `settings`, one phrase per parameter
/// ("capacity is 1 MiB in the file, 4 MiB in the configuration"). Empty if it matches.
[[nodiscard]] std::vector<std::string> layout_differences(const shmbus::ring::TopicView& view,
                                                          const TopicSettings& settings);

/// How an open topic's layout differs from the parameters `request` names. Empty if it matches.
[[nodiscard]] std::vector<std::string> request_differences(
    const shmbus::ring::TopicView& view, const shmbus::control::TopicRequest& request);

/// `settings` with every parameter `request` names put in.
[[nodiscard]] TopicSettings apply_request(TopicSettings settings,
                                          const shmbus::control::TopicRequest& request);

/// Gives topic `name`'s directory and files the owner, group and modes of `settings` where they
/// differ. Returns what could not be changed (empty when all is well).
[[nodiscard]] std::vector<std::string> enforce_access(const std::filesystem::path& dir,
                                                      std::string_view name,
                                                      const TopicSettings& settings);

/// "a, b and c".
[[nodiscard]] std::string join(const std::vector<std::string>& phrases);

}  // namespace shmbusd
