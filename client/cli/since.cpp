#include "since.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <ctime>
#include <string>

#include "arguments.hpp"
#include "exit_status.hpp"

namespace shmbus::cli {
namespace {

constexpr std::uint64_t kNanosPerSecond = 1'000'000'000;

[[noreturn]] void refuse(std::string_view option, std::string_view text) {
    throw Failure(ExitStatus::kUsage,
                  fmt::format("{}: '{}' is neither a duration (10m, 2h, 7d) nor a UTC time "
                              "(2026-12-07T10:00:00Z)",
                              option, text));
}

/// Reads exactly `digits` decimal digits at `text[at]`.
bool read_digits(std::string_view text, std::size_t& at, std::size_t digits, int& value) {
    if (at + digits > text.size()) return false;
    const char* begin = text.data() + at;
    const auto [stop, error] = std::from_chars(begin, begin + digits, value);
    if (error != std::errc{} || stop != begin + digits) return false;
    at += digits;
    return true;
}

bool expect(std::string_view text, std::size_t& at, char c) {
    if (at >= text.size() || text[at] != c) return false;
    ++at;
    return true;
}

/// "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" as nanoseconds since the epoch.
bool parse_utc(std::string_view text, std::uint64_t& out) {
    std::tm fields{};
    std::size_t at = 0;
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!read_digits(text, at, 4, year) || !expect(text, at, '-') ||
        !read_digits(text, at, 2, month) || !expect(text, at, '-') ||
        !read_digits(text, at, 2, day) || !(expect(text, at, 'T') || expect(text, at, ' ')) ||
        !read_digits(text, at, 2, hour) || !expect(text, at, ':') ||
        !read_digits(text, at, 2, minute) || !expect(text, at, ':') ||
        !read_digits(text, at, 2, second)) {
        return false;
    }
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
        second > 60) {
        return false;
    }
    std::uint64_t fraction_ns = 0;
    if (expect(text, at, '.')) {
        std::uint64_t scale = kNanosPerSecond / 10;
        const std::size_t first = at;
        while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]))) {
            fraction_ns += static_cast<std::uint64_t>(text[at] - '0') * scale;
            scale /= 10;
            ++at;
        }
        if (at == first) return false;
    }
    std::int64_t offset_seconds = 0;
    if (!expect(text, at, 'Z')) {
        if (at >= text.size() || (text[at] != '+' && text[at] != '-')) return false;
        const int sign = text[at] == '+' ? 1 : -1;
        ++at;
        int offset_hours = 0, offset_minutes = 0;
        if (!read_digits(text, at, 2, offset_hours) || !expect(text, at, ':') ||
            !read_digits(text, at, 2, offset_minutes) || offset_hours > 23 || offset_minutes > 59) {
            return false;
        }
        offset_seconds = sign * (offset_hours * 3600 + offset_minutes * 60);
    }
    if (at != text.size()) return false;
    fields.tm_year = year - 1900;
    fields.tm_mon = month - 1;
    fields.tm_mday = day;
    fields.tm_hour = hour;
    fields.tm_min = minute;
    fields.tm_sec = second;
    const std::int64_t seconds = static_cast<std::int64_t>(::timegm(&fields)) - offset_seconds;
    if (seconds < 0) return false;
    out = static_cast<std::uint64_t>(seconds) * kNanosPerSecond + fraction_ns;
    return true;
}

}  // namespace

std::uint64_t parse_since(std::string_view option, std::string_view text, std::uint64_t now_ns) {
    if (text.find('-') != std::string_view::npos && text.size() >= 19) {
        std::uint64_t time_ns = 0;
        if (!parse_utc(text, time_ns)) refuse(option, text);
        return time_ns;
    }
    if (text.empty() || !std::isdigit(static_cast<unsigned char>(text.front()))) {
        refuse(option, text);
    }
    const std::chrono::seconds ago = parse_duration(option, text);
    const std::uint64_t ago_ns = static_cast<std::uint64_t>(ago.count()) * kNanosPerSecond;
    return ago_ns >= now_ns ? 0 : now_ns - ago_ns;
}

}  // namespace shmbus::cli
