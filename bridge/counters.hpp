// What each route has done, counted from the threads that carry its messages and read when the
// bridge logs its summary. Relaxed atomics: each counter is a tally, never used to order memory.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

namespace shmbus_bridge {

struct OutboundCounters {
    std::atomic<std::uint64_t> sent{0};         // handed to libnats
    std::atomic<std::uint64_t> own_skipped{0};  // came from NATS through this bridge: not resent
    std::atomic<std::uint64_t> send_failed{0};  // libnats refused them (buffer full, too large)
    std::atomic<std::uint64_t> ring_lost{0};    // overwritten in the ring before we read them
};

struct InboundCounters {
    std::atomic<std::uint64_t> received{0};
    std::atomic<std::uint64_t> committed{0};
    std::atomic<std::uint64_t> oversized{0};      // larger than the topic's max record: refused
    std::atomic<std::uint64_t> not_committed{0};  // the topic stayed full, or refused the record
};

[[nodiscard]] std::string describe(const OutboundCounters& counters);
[[nodiscard]] std::string describe(const InboundCounters& counters);

/// Limits a repeating error to one log line a second, so that a flood of bad messages costs
/// the log a line a second, while the counters still count each one.
class LogLimiter {
  public:
    [[nodiscard]] bool allow() noexcept;

  private:
    std::atomic<std::int64_t> last_ns_{std::numeric_limits<std::int64_t>::min()};
};

}  // namespace shmbus_bridge
