#include "arguments.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include "exit_status.hpp"
#include "shmbus/detail/util/topic_name.hpp"

namespace shmbus::cli {
namespace {

// Longer than anyone waits, short enough that nanoseconds cannot overflow.
constexpr double kMaxSeconds = 1e9;

/// `text` with control and non-ASCII bytes written as \xNN, safe to print in a message.
std::string printable(std::string_view text) {
    std::string out;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte < 0x7f) {
            out += c;
        } else {
            out += fmt::format("\\x{:02x}", byte);
        }
    }
    return out;
}

[[noreturn]] void refuse(std::string_view option, std::string_view text,
                         std::string_view expected) {
    throw Failure(ExitStatus::kUsage,
                  fmt::format("{}: '{}' is not {}", option, printable(text), expected));
}

[[noreturn]] void too_large(std::string_view option, std::string_view text) {
    throw Failure(ExitStatus::kUsage, fmt::format("{}: '{}' is too large", option, text));
}

/// The leading digits of `text` as a number; `rest` gets what follows them.
bool parse_digits(std::string_view text, std::uint64_t& value, std::string_view& rest) {
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value);
    if (error != std::errc{} || stop == text.data()) return false;
    rest = std::string_view(stop, static_cast<std::size_t>(end - stop));
    return true;
}

bool is_suffix(std::string_view rest, char unit) {
    const char lower = static_cast<char>(unit - 'A' + 'a');
    if (rest.empty() || (rest[0] != unit && rest[0] != lower)) return false;
    rest.remove_prefix(1);
    return rest.empty() || rest == "iB" || rest == "B";
}

/// A positive finite decimal number with `suffix` after it or not; "0" and "max" are kAtOnce,
/// anything else is `kind` with that factor.
Pace parse_pace(std::string_view option, std::string_view text, std::string_view suffix,
                Pace::Kind kind, std::string_view expected) {
    if (text == "max") return {Pace::Kind::kAtOnce, 0};
    std::string_view number = text;
    if (number.ends_with(suffix)) number.remove_suffix(suffix.size());
    double value = 0;
    const char* end = number.data() + number.size();
    const auto [stop, error] = std::from_chars(number.data(), end, value, std::chars_format::fixed);
    if (number.empty() || error != std::errc{} || stop != end || !std::isfinite(value) ||
        value < 0) {
        refuse(option, text, expected);
    }
    if (value == 0) return {Pace::Kind::kAtOnce, 0};
    return {kind, value};
}

}  // namespace

std::uint64_t parse_size(std::string_view option, std::string_view text) {
    constexpr std::string_view kExpected = "a size (bytes, or a number with K, M, G or T)";
    std::uint64_t value = 0;
    std::string_view rest;
    if (!parse_digits(text, value, rest)) refuse(option, text, kExpected);
    if (rest.empty()) return value;
    int shift = 0;
    if (is_suffix(rest, 'K')) {
        shift = 10;
    } else if (is_suffix(rest, 'M')) {
        shift = 20;
    } else if (is_suffix(rest, 'G')) {
        shift = 30;
    } else if (is_suffix(rest, 'T')) {
        shift = 40;
    } else {
        refuse(option, text, kExpected);
    }
    if (value > (std::numeric_limits<std::uint64_t>::max() >> shift)) {
        too_large(option, text);
    }
    return value << shift;
}

std::uint64_t parse_count(std::string_view option, std::string_view text) {
    std::uint64_t value = 0;
    std::string_view rest;
    if (!parse_digits(text, value, rest) || !rest.empty()) {
        // from_chars also refuses numbers too large for 64 bits; say which it was.
        if (!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos) {
            too_large(option, text);
        }
        refuse(option, text, "a non-negative integer");
    }
    return value;
}

std::uint32_t parse_count32(std::string_view option, std::string_view text) {
    const std::uint64_t value = parse_count(option, text);
    if (value > std::numeric_limits<std::uint32_t>::max()) {
        too_large(option, text);
    }
    return static_cast<std::uint32_t>(value);
}

std::chrono::nanoseconds parse_seconds(std::string_view option, std::string_view text) {
    constexpr std::string_view kExpected = "a number of seconds (such as 1 or 0.5)";
    double seconds = 0;
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, seconds, std::chars_format::fixed);
    if (error != std::errc{} || stop != end || !std::isfinite(seconds) || seconds < 0) {
        refuse(option, text, kExpected);
    }
    if (seconds > kMaxSeconds) {
        throw Failure(ExitStatus::kUsage,
                      fmt::format("{}: '{}' seconds is too long (at most {:.0f})", option, text,
                                  kMaxSeconds));
    }
    return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(seconds * 1e9)));
}

std::chrono::seconds parse_duration(std::string_view option, std::string_view text) {
    constexpr std::string_view kExpected = "a duration (a number with s, m, h or d, such as 10m)";
    std::uint64_t value = 0;
    std::string_view rest;
    if (!parse_digits(text, value, rest)) refuse(option, text, kExpected);
    std::uint64_t unit = 1;
    if (rest == "m") {
        unit = 60;
    } else if (rest == "h") {
        unit = 3600;
    } else if (rest == "d") {
        unit = 86400;
    } else if (!rest.empty() && rest != "s") {
        refuse(option, text, kExpected);
    }
    // Seconds as an int64 count, and in nanoseconds too, without overflow: about 292 years.
    constexpr std::uint64_t kMax = std::numeric_limits<std::int64_t>::max() / 1'000'000'000;
    if (value > kMax / unit) too_large(option, text);
    return std::chrono::seconds(static_cast<std::int64_t>(value * unit));
}

Pace parse_speed(std::string_view option, std::string_view text) {
    return parse_pace(option, text, "x", Pace::Kind::kRecorded,
                      "a speed (such as 1, 2x or 0.5x; 0 or max: no waiting)");
}

Pace parse_rate(std::string_view option, std::string_view text) {
    return parse_pace(option, text, "/s", Pace::Kind::kRate,
                      "a rate in records per second (such as 100/s or 2.5; 0 or max: no waiting)");
}

StartAt parse_start(std::string_view option, std::string_view text) {
    if (text == "earliest") return StartAt::earliest();
    if (text == "latest") return StartAt::latest();
    std::uint64_t position = 0;
    std::string_view rest;
    if (!parse_digits(text, position, rest) || !rest.empty()) {
        refuse(option, text, "'earliest', 'latest' or a position (a non-negative integer)");
    }
    return StartAt::position(position);
}

Policy parse_policy(std::string_view option, std::string_view text) {
    if (text == "block") return Policy::kBlock;
    if (text == "overwrite") return Policy::kOverwrite;
    refuse(option, text, "a policy ('block' or 'overwrite')");
}

void require_topic_name(std::string_view name) {
    if (auto problem = topic_name_problem(name)) throw Failure(ExitStatus::kUsage, *problem);
}

}  // namespace shmbus::cli
