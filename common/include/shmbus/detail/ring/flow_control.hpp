// How far publishers may write: the publish limit.
//
// A claim [p, p + size) is allowed only while p + size <= limit, where
//
//   limit = min(oldest claim still in flight, slowest live subscriber [block mode only])
//           + capacity
//
// The subscriber term is back-pressure: in block mode no publisher overwrites what a live
// subscriber has not read. The in-flight term holds in both modes and is what keeps the ring
// sound: a claim that is not finished is never lapped, so a publisher descheduled between claim
// and commit can never write into a later lap's records.
//
// The oldest claim in flight comes from the attached publishers' claim intents, not from walking
// frames: a publisher's intent names its current claim (a batch's first frame) and stays there
// until its next claim begins, so the oldest unfinished frame among the intents bounds every
// frame that some live publisher may still write. A batch commits its first frame last, so "the
// frame at the intent is finished" means the whole batch is. Cost: one mask word, one slot line
// per attached publisher, and one commit word per intent.
//
// A dead publisher's batch is the one exception: a repairer pads its first frame first, and from
// then on its other frames (still CLAIMED, never committed) no longer bound the limit. Where no
// subscriber holds publishers back (an overwrite topic, or a block topic with no subscriber),
// publishers may lap them before a repairer reaches them. Nothing is lost that was ever
// committed, and no live writer remains to write into the later lap; a subscriber waiting at
// such a frame finds itself lapped and counts the skipped sequences as lost, not voided.
//
// Publishers cache the limit in their own memory and recompute it only when a claim would pass
// it, so the shared lines below are read about once per lap, not once per record.
//
// The commit floor in the records header is the same bound found by walking frames. Repairers and
// the daemon walk it (off the hot path) to find a frame that a dead publisher left unfinished.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <limits>

#include "shmbus/detail/format/publisher_slot.hpp"
#include "shmbus/detail/ring/frame_inspect.hpp"
#include "shmbus/detail/ring/subscriber_watch.hpp"
#include "shmbus/detail/ring/tail.hpp"
#include "shmbus/detail/ring/topic_view.hpp"
#include "shmbus/detail/util/atomic.hpp"

namespace shmbus::ring {

inline constexpr std::uint64_t kNoSubscriber = std::numeric_limits<std::uint64_t>::max();

/// Calls `visit(index)` for each set bit of a mask of 64-bit words, below `count`. seq_cst
/// loads: registration sets a bit with a seq_cst RMW (see the callers).
template <typename Visit>
inline void for_each_bit(const std::uint64_t* mask, std::uint32_t count, Visit&& visit) noexcept {
    const std::uint32_t words = (count + 63) / 64;
    for (std::uint32_t w = 0; w < words; ++w) {
        std::uint64_t bits = atomics::load_seq_cst(mask[w]);
        while (bits != 0) {
            const std::uint32_t index = w * 64 + static_cast<std::uint32_t>(std::countr_zero(bits));
            bits &= bits - 1;
            if (index >= count) return;
            visit(index);
        }
    }
}

/// The position of the oldest frame that an attached publisher has claimed and not finished,
/// or `tail_position` if there is none.
[[nodiscard]] inline std::uint64_t in_flight_floor(const TopicView& view,
                                                   std::uint64_t tail_position) noexcept {
    std::uint64_t floor = tail_position;
    // The tail now, for the lap test below: `tail_position` is the caller's cached tail, which
    // may be laps old for a publisher that has not claimed for a while. Acquire: pairs with the
    // claim CAS. A lap that lands after this load only makes the floor lower until the next call.
    const std::uint64_t current_tail = load_tail_position(view.records->tail);
    // The mask load is seq_cst; a publisher sets its bit (seq_cst) before its first claim, so a
    // claim that a limit computed after it must respect has an intent we see here.
    for_each_bit(view.records->attached_publishers, view.max_publishers, [&](std::uint32_t index) {
        // Acquire: pairs with the release store of the intent before the claim CAS, and with
        // nothing else needed: if the intent moved on, its previous claim is finished.
        const std::uint64_t intent = atomics::load_acquire(view.publishers[index].claim_intent);
        if (intent >= floor || intent % format::kFrameAlignment != 0) return;
        // An intent more than a lap behind the tail names a finished frame: no claim passes an
        // unfinished frame's position + capacity. Its commit word now belongs to a later lap, so
        // the test below would take it for unwritten (an idle publisher's last record).
        if (intent + view.capacity < current_tail) return;
        // Acquire: pairs with the commit (or abort, or repair) store that finished the frame.
        const std::uint64_t word = atomics::load_acquire(view.commit_word(intent));
        const format::FrameState state = format::state_at(word, intent);
        if (state == format::FrameState::kNone || state == format::FrameState::kClaimed) {
            floor = intent;
        }
    });
    return floor;
}

/// Moves the commit floor forward over committed records, padding and wraps, stopping at the
/// first frame that is not finished or at `tail_position`. Returns the floor afterwards. Any
/// process with write access may call it; concurrent walkers only ever raise the floor. A floor
/// left more than a lap behind (nobody walked it while publishers lapped it) first jumps to the
/// oldest frame boundary still in the ring.
inline std::uint64_t advance_commit_floor(const TopicView& view,
                                          std::uint64_t tail_position) noexcept {
    // Frame aligned, so that every position the walk derives from it is (ring/tail.hpp).
    tail_position = boundary_at_or_before(tail_position);
    // Acquire: pairs with raise_to_at_least in another walker, whose walk covered only
    // finished frames.
    const std::uint64_t floor = atomics::load_acquire(view.records->commit_floor);
    std::uint64_t position = floor;
    // No walk leaves the floor off a frame boundary or past the tail: such a floor was scribbled
    // by a process with write access to the records file. It is found again as if it had been
    // left a lap behind, and the bad value is replaced below.
    const bool scribbled = position % format::kFrameAlignment != 0 || position > tail_position;
    if (scribbled || position + view.capacity < tail_position) {
        const std::uint64_t from =
            tail_position > view.capacity ? tail_position - view.capacity : 0;
        const std::uint64_t lap_end = from + view.room_in_lap(from);
        std::uint64_t limit = lap_end < tail_position ? lap_end : tail_position;
        // Never scan past an unfinished claim: one whose publisher died before writing its
        // header carries no stamp, and the scan for the next stamped position would step over
        // it, leaving it behind the floor where no repairer looks. Its owner's intent still
        // names it (a dead publisher keeps its slot until the claim is repaired), and no claim
        // reaches past it + capacity, so it lies at or after `from`.
        const std::uint64_t in_flight = in_flight_floor(view, tail_position);
        if (in_flight >= from && in_flight < limit) limit = in_flight;
        position = find_boundary(view, from, limit);
    }
    while (position < tail_position) {
        const FrameInfo frame = inspect_frame(view, position);
        if (frame.kind != FrameKind::kRecord && frame.kind != FrameKind::kPadding &&
            frame.kind != FrameKind::kWrap) {
            break;
        }
        // Publishers may be lapping the frames this walk reads (it starts a lap behind the
        // tail). The length above counts only if no claim has reached this frame's bytes in the
        // next lap, else `next` may lie inside some other frame: the check a copying subscriber
        // makes. Acquire fence: pairs with the claim CAS (a full barrier), as in read_copied.
        std::atomic_thread_fence(std::memory_order_acquire);
        if (load_tail_position(view.records->tail) > position + view.capacity) break;
        position = frame.next;
    }
    if (position > tail_position) position = tail_position;  // only a corrupt length gets here
    if (scribbled) {
        // acq_rel, as in raise_to_at_least. Replaces exactly the bad value: if another walker
        // replaced it first, its floor is a real one and the raise below applies.
        std::uint64_t expected = floor;
        if (std::atomic_ref<std::uint64_t>(view.records->commit_floor)
                .compare_exchange_strong(expected, position, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
            return position;
        }
    }
    return atomics::raise_to_at_least(view.records->commit_floor, position);
}

/// The lowest position among live (ACTIVE) subscribers, each clamped to `tail_position`, or
/// kNoSubscriber. Visits only the slots whose bit is set in the attached-subscribers mask.
[[nodiscard]] inline std::uint64_t slowest_subscriber(const TopicView& view,
                                                      std::uint64_t tail_position) noexcept {
    std::uint64_t slowest = kNoSubscriber;
    // The mask load is seq_cst: it pairs with the seq_cst fetch_or that registers a subscriber.
    // Either this load sees the new subscriber, or the subscriber's seq_cst read of the tail
    // that follows its registration sees every claim this limit allows (see Subscriber's
    // constructor).
    for_each_bit(view.state->attached_subscribers, view.max_subscribers, [&](std::uint32_t index) {
        const format::SubscriberSlot& slot = view.subscribers[index];
        if (atomics::load_acquire(slot.state) != format::kSlotActive) return;
        // seq_cst (acquire at least): pairs with the subscriber's seq_cst store of its position,
        // made after it finished reading every frame below it, so overwriting below it is safe.
        // seq_cst also completes the Dekker pair with a blocked publisher's bit.
        std::uint64_t position = atomics::load_seq_cst(slot.position);
        if (position > tail_position) position = tail_position;
        if (position < slowest) slowest = position;
    });
    return slowest;
}

/// The publish limit from scratch. A publisher passes its SubscriberWatch, which also holds to
/// live subscribers whose slots no longer say so (ring/subscriber_watch.hpp); the daemon and
/// tools, which write nothing into the ring, read the slots alone.
[[nodiscard]] inline std::uint64_t compute_publish_limit(
    const TopicView& view, std::uint64_t tail_position, SubscriberWatch* watch = nullptr) noexcept {
    std::uint64_t gate = in_flight_floor(view, tail_position);
    if (view.policy == format::Policy::kBlock) {
        const std::uint64_t slowest = watch != nullptr ? watch->slowest(view, tail_position)
                                                       : slowest_subscriber(view, tail_position);
        if (slowest < gate) gate = slowest;
    }
    return gate + view.capacity;
}

}  // namespace shmbus::ring
