// The value types of shmbusd's configuration, parsed from text: sizes ("16MiB"), durations
// ("250ms"), file modes ("0660"), log levels, and users and groups by name or id.
//
// Each parser returns the value or a message that says what was expected; the config loader
// (config.cpp) adds where in which file the bad value was.
#pragma once

#include <spdlog/common.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace shmbusd {

/// A value, or why the text could not be one.
template <typename T>
using Parsed = std::variant<T, std::string>;

/// Bytes: digits, optionally followed by KiB, MiB, GiB or TiB ("1048576", "1MiB", "64 KiB").
[[nodiscard]] Parsed<std::uint64_t> parse_size(std::string_view text);

/// A duration: a number and a unit, ms, s, m or h ("250ms", "2s", "1.5s", "5m"). At least 1 ms.
[[nodiscard]] Parsed<std::chrono::milliseconds> parse_duration(std::string_view text);

/// A file mode: three or four octal digits ("0660", "640"), at most 0777.
[[nodiscard]] Parsed<mode_t> parse_mode(std::string_view text);

/// trace, debug, info, warn, error, critical or off.
[[nodiscard]] Parsed<spdlog::level::level_enum> parse_log_level(std::string_view text);

/// A user's id from its name, or nullopt if the user database has no such name.
[[nodiscard]] std::optional<uid_t> lookup_user(const std::string& name);
[[nodiscard]] std::optional<gid_t> lookup_group(const std::string& name);

/// "alice (uid 1000)" or "uid 1000" for a user the database does not know.
[[nodiscard]] std::string describe_user(uid_t uid);
[[nodiscard]] std::string describe_group(gid_t gid);

/// "250ms", "2s", "1.5s": a duration as a person would write it.
[[nodiscard]] std::string format_duration(std::chrono::milliseconds duration);

/// "1 MiB", "65536 bytes": a size as a person would read it.
[[nodiscard]] std::string format_size(std::uint64_t bytes);

/// "0660".
[[nodiscard]] std::string format_mode(mode_t mode);

}  // namespace shmbusd
