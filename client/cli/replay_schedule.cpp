#include "replay_schedule.hpp"

#include <algorithm>

namespace shmbus::cli {
namespace {

/// `ns` as an offset, capped at kMaxOffset (a tiny speed or rate can make it anything).
std::chrono::nanoseconds capped(long double ns) noexcept {
    const auto max = static_cast<long double>(ReplaySchedule::kMaxOffset.count());
    if (!(ns < max)) return ReplaySchedule::kMaxOffset;  // NaN too
    return std::chrono::nanoseconds(static_cast<std::int64_t>(std::max(ns, 0.0L)));
}

}  // namespace

std::chrono::nanoseconds ReplaySchedule::next(std::uint64_t timestamp_ns) noexcept {
    const std::uint64_t index = records_++;
    switch (pace_.kind) {
        case Pace::Kind::kAtOnce:
            return std::chrono::nanoseconds(0);
        case Pace::Kind::kRate:
            return capped(static_cast<long double>(index) * 1e9L /
                          static_cast<long double>(pace_.factor));
        case Pace::Kind::kRecorded:
            break;
    }
    if (index == 0) {
        first_ns_ = timestamp_ns;
        latest_ns_ = timestamp_ns;
    }
    latest_ns_ = std::max(latest_ns_, timestamp_ns);
    return capped(static_cast<long double>(latest_ns_ - first_ns_) /
                  static_cast<long double>(pace_.factor));
}

}  // namespace shmbus::cli
