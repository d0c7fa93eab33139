#include "counters.hpp"

namespace shmbus_bridge {

std::string describe(const OutboundCounters& c) {
    return "sent " + std::to_string(c.sent.load(std::memory_order_relaxed)) +
           ", skipped as the bridge's own " +
           std::to_string(c.own_skipped.load(std::memory_order_relaxed)) + ", send failed " +
           std::to_string(c.send_failed.load(std::memory_order_relaxed)) + ", lost in the ring " +
           std::to_string(c.ring_lost.load(std::memory_order_relaxed));
}

std::string describe(const InboundCounters& c) {
    return "received " + std::to_string(c.received.load(std::memory_order_relaxed)) +
           ", committed " + std::to_string(c.committed.load(std::memory_order_relaxed)) +
           ", refused oversized " + std::to_string(c.oversized.load(std::memory_order_relaxed)) +
           ", not committed " + std::to_string(c.not_committed.load(std::memory_order_relaxed));
}

bool LogLimiter::allow() noexcept {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
    std::int64_t last = last_ns_.load(std::memory_order_relaxed);
    if (last != std::numeric_limits<std::int64_t>::min() && now - last < 1'000'000'000)
        return false;
    return last_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed);
}

}  // namespace shmbus_bridge
