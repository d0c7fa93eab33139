// What a data-path call returns. The data path never throws; it says what happened here.
#pragma once

#include <cstdint>
#include <string_view>

namespace shmbus {

enum class Status : std::uint8_t {
    kOk,
    kBackPressured,    // block mode: the slowest subscriber would be overrun (try_ variants only)
    kTimedOut,         // a waiting call's timeout passed
    kTooLarge,         // the record is longer than the topic's max_record_size
    kEvicted,          // this subscriber was evicted for stalling publishers; re-attach to go on
    kForked,           // the handle belongs to the parent of this forked process
    kTopicLost,        // the topic's files were truncated under this process: re-open the topic
    kCorrupt,          // the topic's shared state holds an impossible value (see the log of stat)
    kClaimPending,     // this publisher already holds an uncommitted claim
    kNoClaim,          // commit or abort of a claim that is not pending
    kInvalidArgument,  // an argument the call cannot take (a batch claim of no records)
    kClosed,           // the handle was moved from: it holds no topic any more
};

[[nodiscard]] constexpr std::string_view to_string(Status status) noexcept {
    switch (status) {
        case Status::kOk:
            return "ok";
        case Status::kBackPressured:
            return "back-pressured";
        case Status::kTimedOut:
            return "timed out";
        case Status::kTooLarge:
            return "record too large";
        case Status::kEvicted:
            return "evicted";
        case Status::kForked:
            return "handle used in a forked child";
        case Status::kTopicLost:
            return "topic lost (its files were truncated)";
        case Status::kCorrupt:
            return "corrupt shared state";
        case Status::kClaimPending:
            return "a claim is already pending";
        case Status::kNoClaim:
            return "no pending claim";
        case Status::kInvalidArgument:
            return "invalid argument";
        case Status::kClosed:
            return "handle moved from or closed";
    }
    return "unknown";
}

}  // namespace shmbus
