// Deciding when a subscriber of a block topic "has stalled publishers for longer than N
// seconds", from what the daemon sees at each check. Pure bookkeeping: the supervisor feeds it
// samples and acts on its verdicts; nothing here touches shared memory.
//
// A subscriber S, at position p, is stalling its topic's publishers when all of these hold:
//
//   full       tail - p > capacity - frame_size(max_record_size): the ring is full behind S,
//              since a publisher could not claim a maximum-size record without overwriting
//              what S has not read
//   readable   p < commit floor: S has finished records in front of it and is not reading
//              them. (A subscriber waiting at the floor waits for a publisher, not the reverse:
//              a dead publisher's claim there is the unblocker's business.)
//   still      S's position and slot generation are what they were at the previous check
//
// The stall begins at the first check where those hold and a publisher is seen waiting: a
// publisher's bit in the blocked-publishers mask is set (claim/offer waiting for room), or the
// ring is so full that not even an empty record fits (so a publisher using try_claim or
// try_offer, which announces nothing, is refused too). Once begun, the stall lasts as long as
// S stays still and the ring stays full behind it, whether or not a publisher is seen waiting
// at every check: a publisher that waits with a timeout and retries is still being stalled.
// S is evicted when the stall has lasted evict_after. Any movement of S, or a new subscriber in
// the slot, starts over.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace shmbusd {

/// One attached (ACTIVE) subscriber as seen at one check.
struct SubscriberSample {
    std::uint32_t slot = 0;
    std::uint32_t generation = 0;
    std::uint64_t position = 0;
};

/// The topic as seen at the same check.
struct RingSample {
    std::uint64_t tail = 0;
    std::uint64_t commit_floor = 0;
    std::uint64_t capacity = 0;
    std::uint64_t max_frame = 0;     // frame_size(max_record_size)
    bool publisher_waiting = false;  // a bit of the blocked-publishers mask is set
};

struct StallVerdict {
    std::uint32_t slot = 0;
    std::uint32_t generation = 0;
    std::uint64_t position = 0;
    std::chrono::steady_clock::duration stalled_for{};
};

class StallDetector {
  public:
    using Clock = std::chrono::steady_clock;

    explicit StallDetector(std::uint32_t max_subscribers) : watches_(max_subscribers) {}

    /// Records a check at `now` of `ring` and its ACTIVE subscribers, and returns those that
    /// have stalled publishers for at least `evict_after`.
    [[nodiscard]] std::vector<StallVerdict> observe(const RingSample& ring,
                                                    std::span<const SubscriberSample> active,
                                                    Clock::time_point now,
                                                    Clock::duration evict_after);

    /// Forgets every subscriber: the next observe() starts from scratch. For a topic whose
    /// policy stopped evicting, so a stall is never timed across a spell of "wait".
    void reset() noexcept;

    /// How long the subscriber in `slot` has been stalling publishers, if it is.
    [[nodiscard]] std::optional<Clock::duration> stalled_for(std::uint32_t slot,
                                                             Clock::time_point now) const;

  private:
    struct Watch {
        bool seen = false;
        bool present = false;  // in the latest sample
        std::uint32_t generation = 0;
        std::uint64_t position = 0;
        std::optional<Clock::time_point> stalled_since;
    };
    std::vector<Watch> watches_;
};

}  // namespace shmbusd
