// How far publishers may write: the publish limit.
//
// A claim [p, p + size) is allowed only while p + size <= limit, where
//
//   limit = min(commit floor, slowest live subscriber [block mode only]) + capacity
//
// The subscriber term is back-pressure: in block mode no publisher overwrites what a live
// subscriber has not read. The commit-floor term holds in both modes and is what keeps the ring
// sound: a claim that has not been committed yet is never lapped, so a publisher that is
// descheduled between claim and commit can never write into a later lap's records.
//
// Publishers cache the limit in their own memory and recompute it only when a claim would pass
// it, so the shared lines below are read about once per lap, not once per record.
#pragma once

#include <bit>
#include <cstdint>
#include <limits>

#include "shmbus/format/publisher_slot.hpp"
#include "shmbus/ring/frame_inspect.hpp"
#include "shmbus/ring/topic_view.hpp"
#include "shmbus/util/atomic.hpp"

namespace shmbus::ring {

inline constexpr std::uint64_t kNoSubscriber = std::numeric_limits<std::uint64_t>::max();

/// Moves the commit floor forward over committed records, padding and wraps, stopping at the
/// first frame that is not finished or at `tail_position`. Returns the floor afterwards. Any
/// publisher (or the daemon) may call it; concurrent walkers only ever raise the floor.
inline std::uint64_t advance_commit_floor(const TopicView& view,
                                          std::uint64_t tail_position) noexcept {
    // Acquire: pairs with raise_to_at_least in another walker, whose walk covered only
    // committed frames.
    std::uint64_t floor = atomics::load_acquire(view.records->commit_floor);
    std::uint64_t position = floor;
    if (position % format::kFrameAlignment != 0 || position > tail_position) return floor;
    while (position < tail_position) {
        const FrameInfo frame = inspect_frame(view, position);
        if (frame.kind != FrameKind::kRecord && frame.kind != FrameKind::kPadding &&
            frame.kind != FrameKind::kWrap) {
            break;
        }
        position = frame.next;
    }
    if (position > tail_position) position = tail_position;  // only a corrupt length gets here
    return atomics::raise_to_at_least(view.records->commit_floor, position);
}

/// The lowest position among live (ACTIVE) subscribers, each clamped to `tail_position`, or
/// kNoSubscriber. Visits only the slots whose bit is set in the attached-subscribers mask.
[[nodiscard]] inline std::uint64_t slowest_subscriber(const TopicView& view,
                                                      std::uint64_t tail_position) noexcept {
    std::uint64_t slowest = kNoSubscriber;
    const std::uint32_t words = (view.max_subscribers + 63) / 64;
    for (std::uint32_t w = 0; w < words; ++w) {
        // seq_cst: pairs with the seq_cst fetch_or that registers a subscriber. Either this load
        // sees the new subscriber, or the subscriber's seq_cst read of the tail that follows its
        // registration sees every claim this limit allows (see Subscriber's constructor).
        std::uint64_t bits = atomics::load_seq_cst(view.state->attached_subscribers[w]);
        while (bits != 0) {
            const std::uint32_t index = w * 64 + static_cast<std::uint32_t>(std::countr_zero(bits));
            bits &= bits - 1;
            if (index >= view.max_subscribers) break;
            const format::SubscriberSlot& slot = view.subscribers[index];
            if (atomics::load_acquire(slot.state) != format::kSlotActive) continue;
            // seq_cst (acquire at least): pairs with the subscriber's seq_cst store of its
            // position, made after it finished reading every frame below it, so overwriting below
            // it is safe. seq_cst also completes the Dekker pair with a blocked publisher's bit.
            std::uint64_t position = atomics::load_seq_cst(slot.position);
            if (position > tail_position) position = tail_position;
            if (position < slowest) slowest = position;
        }
    }
    return slowest;
}

/// The publish limit from scratch: walks the commit floor as far as `needed_end` requires and,
/// in block mode, visits the live subscribers.
[[nodiscard]] inline std::uint64_t compute_publish_limit(const TopicView& view,
                                                         std::uint64_t tail_position,
                                                         std::uint64_t needed_end) noexcept {
    std::uint64_t gate = atomics::load_acquire(view.records->commit_floor);
    if (gate + view.capacity < needed_end) gate = advance_commit_floor(view, tail_position);
    if (view.policy == format::Policy::kBlock) {
        const std::uint64_t slowest = slowest_subscriber(view, tail_position);
        if (slowest < gate) gate = slowest;
    }
    return gate + view.capacity;
}

}  // namespace shmbus::ring
