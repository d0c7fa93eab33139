// Finding the bus directory and opening topics in it, with messages that say what to do next.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "shmbus/topic.hpp"

namespace shmbus::cli {

struct BusDirectory {
    std::filesystem::path path;
    std::string_view source;  // where the path came from, for messages: "--dir", "SHMBUS_DIR", ...
};

/// --dir if given, else $SHMBUS_DIR, else shmbus::default_bus_directory().
[[nodiscard]] BusDirectory resolve_bus_directory(const std::optional<std::string>& dir_option);

/// Throws Failure unless `dir` is a directory this process can look into: kNotFound when it is
/// missing or not a directory, kPermission when it cannot be searched.
void require_bus_directory(const BusDirectory& dir);

/// Topic::open, after checking the name (kUsage); a missing topic's message suggests
/// `shmbus create`.
[[nodiscard]] Topic open_topic(const std::filesystem::path& dir, std::string_view name,
                               const OpenOptions& options);

}  // namespace shmbus::cli
