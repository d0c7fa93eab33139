// Parsing option values. Each parser names the option and the offending text when it refuses,
// and throws Failure with ExitStatus::kUsage.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "replay_schedule.hpp"
#include "shmbus/subscriber.hpp"
#include "shmbus/topic.hpp"

namespace shmbus::cli {

/// A byte count: digits, optionally followed by K, M, G or T (powers of 1024; "KiB" and
/// lower case are accepted too). "64K" is 65536.
[[nodiscard]] std::uint64_t parse_size(std::string_view option, std::string_view text);

/// A non-negative decimal integer.
[[nodiscard]] std::uint64_t parse_count(std::string_view option, std::string_view text);

/// A non-negative decimal integer that fits 32 bits.
[[nodiscard]] std::uint32_t parse_count32(std::string_view option, std::string_view text);

/// A non-negative number of seconds, fractions allowed: "1", "0.25".
[[nodiscard]] std::chrono::nanoseconds parse_seconds(std::string_view option,
                                                     std::string_view text);

/// A non-negative whole duration: digits followed by s, m, h or d (seconds, minutes, hours,
/// days), or digits alone for seconds. "10m" is 600 s, "7d" 604800 s.
[[nodiscard]] std::chrono::seconds parse_duration(std::string_view option, std::string_view text);

/// A replay speed: a positive number, optionally followed by x ("2x", "0.5x", "1"); "0" or
/// "max": as fast as the topic takes records (Pace::Kind::kAtOnce).
[[nodiscard]] Pace parse_speed(std::string_view option, std::string_view text);

/// A replay rate in records per second: a positive number, optionally followed by "/s"
/// ("100/s", "2.5"); "0" or "max": as fast as the topic takes records.
[[nodiscard]] Pace parse_rate(std::string_view option, std::string_view text);

/// "earliest", "latest", or a position saved from an earlier subscriber.
[[nodiscard]] StartAt parse_start(std::string_view option, std::string_view text);

/// "block" or "overwrite".
[[nodiscard]] Policy parse_policy(std::string_view option, std::string_view text);

/// Throws Failure (kUsage) naming the problem if `name` is not a valid topic name.
void require_topic_name(std::string_view name);

}  // namespace shmbus::cli
