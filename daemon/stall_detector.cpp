#include "stall_detector.hpp"

#include <shmbus/detail/format/frame_header.hpp>

namespace shmbusd {

std::vector<StallVerdict> StallDetector::observe(const RingSample& ring,
                                                 std::span<const SubscriberSample> active,
                                                 Clock::time_point now,
                                                 Clock::duration evict_after) {
    for (Watch& watch : watches_)
        watch.present = false;
    std::vector<StallVerdict> verdicts;
    for (const SubscriberSample& sample : active) {
        if (sample.slot >= watches_.size()) continue;
        Watch& watch = watches_[sample.slot];
        watch.present = true;
        const bool still = watch.seen && watch.generation == sample.generation &&
                           watch.position == sample.position;
        if (!still) {
            watch = Watch{true, true, sample.generation, sample.position, std::nullopt};
            continue;
        }
        // Positions come from shared memory: a position beyond the tail means nothing is behind.
        const std::uint64_t behind = ring.tail > sample.position ? ring.tail - sample.position : 0;
        const bool full = ring.capacity > ring.max_frame && behind > ring.capacity - ring.max_frame;
        const bool readable = sample.position < ring.commit_floor;
        if (!full || !readable) {
            watch.stalled_since.reset();
            continue;
        }
        if (!watch.stalled_since) {
            // The smallest frame any topic has: a record with no payload and no timestamp.
            const bool nothing_fits = behind + shmbus::format::kFrameHeaderSize > ring.capacity;
            if (ring.publisher_waiting || nothing_fits) watch.stalled_since = now;
            continue;
        }
        const Clock::duration stalled = now - *watch.stalled_since;
        if (stalled >= evict_after) {
            verdicts.push_back({sample.slot, sample.generation, sample.position, stalled});
        }
    }
    for (Watch& watch : watches_) {
        if (!watch.present) watch = Watch{};
    }
    return verdicts;
}

void StallDetector::reset() noexcept {
    for (Watch& watch : watches_)
        watch = Watch{};
}

std::optional<StallDetector::Clock::duration> StallDetector::stalled_for(
    std::uint32_t slot, Clock::time_point now) const {
    if (slot >= watches_.size() || !watches_[slot].stalled_since) return std::nullopt;
    return now - *watches_[slot].stalled_since;
}

}  // namespace shmbusd
