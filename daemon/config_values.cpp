#include "config_values.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

namespace shmbusd {
namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && text.front() == ' ')
        text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ')
        text.remove_suffix(1);
    return text;
}

/// Splits "64 KiB" into "64" and "KiB".
std::pair<std::string_view, std::string_view> number_and_unit(std::string_view text) {
    std::size_t split = 0;
    while (split < text.size() &&
           ((text[split] >= '0' && text[split] <= '9') || text[split] == '.')) {
        ++split;
    }
    return {text.substr(0, split), trim(text.substr(split))};
}

std::size_t lookup_buffer_size() {
    const long suggested = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    return suggested > 0 ? static_cast<std::size_t>(suggested) : 16384;
}

}  // namespace

Parsed<std::uint64_t> parse_size(std::string_view text) {
    const std::string problem = "'" + std::string(text) +
                                "' is not a size: write a number of bytes, or a number followed "
                                "by KiB, MiB, GiB or TiB (\"16MiB\")";
    const auto [digits, unit] = number_and_unit(trim(text));
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || error != std::errc{} || end != digits.data() + digits.size()) {
        return problem;
    }
    unsigned shift = 0;
    if (unit.empty()) {
        shift = 0;
    } else if (unit == "KiB") {
        shift = 10;
    } else if (unit == "MiB") {
        shift = 20;
    } else if (unit == "GiB") {
        shift = 30;
    } else if (unit == "TiB") {
        shift = 40;
    } else {
        return problem;
    }
    if (shift != 0 && value > (std::numeric_limits<std::uint64_t>::max() >> shift)) {
        return "'" + std::string(text) + "' is too large";
    }
    return value << shift;
}

Parsed<std::chrono::milliseconds> parse_duration(std::string_view text) {
    const std::string problem = "'" + std::string(text) +
                                "' is not a duration: write a number followed by ms, s, m or h "
                                "(\"250ms\", \"2s\", \"1.5s\")";
    const auto [digits, unit] = number_and_unit(trim(text));
    double value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || error != std::errc{} || end != digits.data() + digits.size()) {
        return problem;
    }
    double milliseconds = 0;
    if (unit == "ms") {
        milliseconds = value;
    } else if (unit == "s") {
        milliseconds = value * 1e3;
    } else if (unit == "m") {
        milliseconds = value * 60e3;
    } else if (unit == "h") {
        milliseconds = value * 3600e3;
    } else {
        return problem;
    }
    if (milliseconds < 1) return "'" + std::string(text) + "' is shorter than 1ms";
    if (milliseconds > 7 * 24 * 3600e3) return "'" + std::string(text) + "' is longer than a week";
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(milliseconds)));
}

Parsed<mode_t> parse_mode(std::string_view text) {
    const std::string problem = "'" + std::string(text) +
                                "' is not a file mode: write three or four octal digits, such as "
                                "\"0660\"";
    if (text.size() < 3 || text.size() > 4) return problem;
    unsigned value = 0;
    for (const char c : text) {
        if (c < '0' || c > '7') return problem;
        value = value * 8 + static_cast<unsigned>(c - '0');
    }
    if (value > 0777) {
        return "mode '" + std::string(text) +
               "' sets setuid, setgid or sticky bits, which topic files never carry";
    }
    return static_cast<mode_t>(value);
}

Parsed<spdlog::level::level_enum> parse_log_level(std::string_view text) {
    static constexpr std::array<std::pair<std::string_view, spdlog::level::level_enum>, 7> kLevels{{
        {"trace", spdlog::level::trace},
        {"debug", spdlog::level::debug},
        {"info", spdlog::level::info},
        {"warn", spdlog::level::warn},
        {"error", spdlog::level::err},
        {"critical", spdlog::level::critical},
        {"off", spdlog::level::off},
    }};
    for (const auto& [name, level] : kLevels) {
        if (name == text) return level;
    }
    return "'" + std::string(text) +
           "' is not a log level: trace, debug, info, warn, error, critical or off";
}

std::optional<uid_t> lookup_user(const std::string& name) {
    std::vector<char> buffer(lookup_buffer_size());
    passwd entry{};
    passwd* found = nullptr;
    if (::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 ||
        found == nullptr) {
        return std::nullopt;
    }
    return found->pw_uid;
}

std::optional<gid_t> lookup_group(const std::string& name) {
    std::vector<char> buffer(lookup_buffer_size());
    group entry{};
    group* found = nullptr;
    if (::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 ||
        found == nullptr) {
        return std::nullopt;
    }
    return found->gr_gid;
}

std::string describe_user(uid_t uid) {
    std::vector<char> buffer(lookup_buffer_size());
    passwd entry{};
    passwd* found = nullptr;
    if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
        return std::string(found->pw_name) + " (uid " + std::to_string(uid) + ")";
    }
    return "uid " + std::to_string(uid);
}

std::string describe_group(gid_t gid) {
    std::vector<char> buffer(lookup_buffer_size());
    group entry{};
    group* found = nullptr;
    if (::getgrgid_r(gid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
        return std::string(found->gr_name) + " (gid " + std::to_string(gid) + ")";
    }
    return "gid " + std::to_string(gid);
}

std::string format_duration(std::chrono::milliseconds duration) {
    const auto ms = duration.count();
    if (ms < 1000) return std::to_string(ms) + "ms";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    char text[32];
    std::snprintf(text, sizeof text, "%.3gs", static_cast<double>(ms) / 1000.0);
    return text;
}

std::string format_size(std::uint64_t bytes) {
    static constexpr std::array<std::string_view, 4> kUnits{"TiB", "GiB", "MiB", "KiB"};
    for (std::size_t i = 0; i < kUnits.size(); ++i) {
        const unsigned shift = static_cast<unsigned>(40 - 10 * i);
        if (bytes != 0 && bytes % (std::uint64_t{1} << shift) == 0) {
            return std::to_string(bytes >> shift) + " " + std::string(kUnits[i]);
        }
    }
    return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
}

std::string format_mode(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

}  // namespace shmbusd
