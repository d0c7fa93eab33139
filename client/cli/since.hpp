// `--since`: a point in time, given as how long ago or as a UTC date and time.
#pragma once

#include <cstdint>
#include <string_view>

namespace shmbus::cli {

/// CLOCK_REALTIME nanoseconds for "10m", "2h", "30s", "7d" (that long before `now_ns`), or for
/// "2026-12-07T10:00:00Z" (seconds may have a fraction: "...T10:00:00.250Z"; an offset such as
/// "+01:00" instead of Z is accepted). Throws Failure (kUsage) naming the option otherwise.
[[nodiscard]] std::uint64_t parse_since(std::string_view option, std::string_view text,
                                        std::uint64_t now_ns);

}  // namespace shmbus::cli
