// Topic names. A name becomes a directory in the bus directory, so it must never be able to
// name anything else: no '/', no "." or "..", no leading '.' (the daemon's own files start with
// one), nothing outside [A-Za-z0-9._-], at most kMaxTopicName characters.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace shmbus {

inline constexpr std::size_t kMaxTopicName = 63;

/// Why `name` is not a valid topic name, or nullopt if it is.
[[nodiscard]] std::optional<std::string> topic_name_problem(std::string_view name);

/// Throws shmbus::Error (kInvalidArgument) naming the problem.
void require_valid_topic_name(std::string_view name);

}  // namespace shmbus
