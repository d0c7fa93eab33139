#include "shmbus/detail/ring/subscriber_watch.hpp"

#include <algorithm>
#include <array>
#include <bit>

#include "shmbus/detail/format/state_layout.hpp"
#include "shmbus/detail/ring/flow_control.hpp"
#include "shmbus/detail/ring/slots.hpp"
#include "shmbus/detail/sync/wake_masks.hpp"
#include "shmbus/detail/util/atomic.hpp"

namespace shmbus::ring {

SubscriberWatch::SubscriberWatch(const TopicView& view, int state_fd)
    : state_fd_(state_fd),
      counted_((view.max_subscribers + 63) / 64, 0),
      positions_(view.max_subscribers, kUnknownPosition) {
    // Acquire: pairs with nothing in particular; a restoration that lands after this load is
    // seen at the next refresh.
    incarnation_ = atomics::load_acquire(view.state->incarnation);
    probe_unseen(view, {});
}

void SubscriberWatch::probe_unseen(const TopicView& view, const SlotBits& seen) noexcept {
    for (std::uint32_t index = 0; index < view.max_subscribers; ++index) {
        if ((seen[index / 64] >> (index % 64) & 1) != 0 || counted(index)) continue;
        // Acquire: pairs with the release or seq_cst stores of the state.
        const std::uint32_t state = atomics::load_acquire(view.subscribers[index].state);
        if (state == format::kSlotEvicted) continue;
        const bool attached = sync::bit_is_set(view.state->attached_subscribers, index);
        if (state == format::kSlotActive && attached) continue;  // the next mask scan counts it
        // Not ACTIVE and attached, yet perhaps owned: a subscriber attaching right now, or one
        // whose slot was wiped or scribbled. Either says so again soon; until then its position
        // is unknown.
        if (subscriber_alive(state_fd_, index)) count(index, kUnknownPosition);
    }
}

std::uint64_t SubscriberWatch::slowest(const TopicView& view,
                                       std::uint64_t tail_position) noexcept {
    std::uint64_t slowest = kNoSubscriber;
    SlotBits seen{};
    // Acquire, before and after the slots are read: a restoration gives the file a new
    // incarnation after it extends it, so a scan that read wiped slots sees a change.
    const std::uint64_t incarnation_before = atomics::load_acquire(view.state->incarnation);
    // The mask load is seq_cst, as in slowest_subscriber: it pairs with the seq_cst fetch_or
    // that registers a subscriber.
    for_each_bit(view.state->attached_subscribers, view.max_subscribers, [&](std::uint32_t index) {
        const format::SubscriberSlot& slot = view.subscribers[index];
        // Acquire: pairs with the seq_cst store of ACTIVE at attach, or EVICTED by the daemon.
        const std::uint32_t state = atomics::load_acquire(slot.state);
        if (state == format::kSlotEvicted) {
            forget(index);
            return;
        }
        if (state != format::kSlotActive) return;
        // seq_cst: as in slowest_subscriber (the subscriber's seq_cst store of its position, and
        // the Dekker pair with a blocked publisher's bit).
        std::uint64_t position = atomics::load_seq_cst(slot.position);
        if (position > tail_position) position = tail_position;
        count(index, position);
        seen[index / 64] |= std::uint64_t{1} << (index % 64);
        slowest = std::min(slowest, position);
    });
    const std::uint64_t incarnation_after = atomics::load_acquire(view.state->incarnation);
    if (incarnation_before != incarnation_ || incarnation_after != incarnation_before) {
        // The state file was truncated and restored since we last looked: any subscriber whose
        // slot it wiped and which we had not yet counted is found by its lock.
        probe_unseen(view, seen);
        incarnation_ = incarnation_after;
    }
    held_without_slot_ = 0;
    for (std::uint32_t word = 0; word < counted_.size(); ++word) {
        std::uint64_t missing = counted_[word] & ~seen[word];
        while (missing != 0) {
            const std::uint32_t index =
                word * 64 + static_cast<std::uint32_t>(std::countr_zero(missing));
            missing &= missing - 1;
            // Counted before, not ACTIVE and attached now: detached, dead, evicted, or wiped.
            if (atomics::load_acquire(view.subscribers[index].state) == format::kSlotEvicted ||
                !subscriber_alive(state_fd_, index)) {
                forget(index);
                continue;
            }
            // Alive: hold to where it was last seen, or, never seen, to the oldest position a
            // block subscriber can have, until it puts its slot back.
            std::uint64_t position = positions_[index];
            if (position == kUnknownPosition) {
                position = tail_position > view.capacity ? tail_position - view.capacity : 0;
            }
            ++held_without_slot_;
            slowest = std::min(slowest, std::min(position, tail_position));
        }
    }
    return slowest;
}

}  // namespace shmbus::ring
