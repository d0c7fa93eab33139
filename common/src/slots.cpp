#include "shmbus/detail/ring/slots.hpp"

#include <time.h>
#include <unistd.h>

#include <mutex>
#include <string>

#include "shmbus/detail/format/frame_header.hpp"
#include "shmbus/detail/format/lock_bytes.hpp"
#include "shmbus/detail/format/publisher_slot.hpp"
#include "shmbus/detail/ring/tail.hpp"
#include "shmbus/detail/sync/ofd_lock.hpp"
#include "shmbus/detail/sync/semaphore.hpp"
#include "shmbus/detail/sync/wake_masks.hpp"
#include "shmbus/detail/util/atomic.hpp"
#include "shmbus/detail/util/record_clock.hpp"
#include "shmbus/error.hpp"

namespace shmbus::ring {
namespace {

// A reclaimer locks a dead slot through a shared descriptor; OFD locks do not exclude threads
// that share one, so reclaimers in one process also take this.
std::mutex& reclaim_mutex() {
    static std::mutex mutex;
    return mutex;
}

bool probe_alive(int fd, std::uint32_t index) noexcept {
    // Is a *write* lock held on the slot's byte? Asking whether a read lock could be had tells
    // exactly that: read locks never conflict with one. An owner holds a write lock, and a read
    // lock is all that another client of the state file can take on a byte it does not own
    // (format/lock_bytes.hpp). An error probing counts as alive: never reclaim what we cannot
    // prove dead.
    return sync::probe_byte(fd, format::slot_lock_byte(index), sync::LockKind::kRead) !=
           sync::Probe::kFree;
}

void fold_subscriber_counters(const TopicView& view, format::SubscriberSlot& slot) noexcept {
    atomics::fetch_add_relaxed(view.state->departed_consumed, atomics::load_relaxed(slot.consumed));
    atomics::fetch_add_relaxed(view.state->departed_lost, atomics::load_relaxed(slot.lost));
}

// Does this (dead) publisher's slot still name a claim that is not finished? Its claim intent is
// what keeps other publishers from lapping that frame (ring/flow_control.hpp, in_flight_floor),
// and what lets a repairer pad it safely; so the slot stays attached, intent and all, until a
// repairer has turned the frame into padding. Errs towards "unfinished": that only delays the
// reclaim to a later pass.
bool claim_unfinished(const TopicView& view, const format::PublisherSlot& slot) noexcept {
    // Acquire: pairs with the release store of the intent before the claim.
    const std::uint64_t intent = atomics::load_acquire(slot.claim_intent);
    if (intent == format::kNoIntent || intent % format::kFrameAlignment != 0) return false;
    const std::uint64_t tail = ring::load_tail_position(view.records->tail);
    if (intent >= tail || intent + view.capacity < tail) return false;
    // Acquire: pairs with the store that finished the frame.
    const std::uint64_t word = atomics::load_acquire(view.commit_word(intent));
    const format::FrameState state = format::state_at(word, intent);
    return state == format::FrameState::kNone || state == format::FrameState::kClaimed;
}

void clear_subscriber(const TopicView& view, std::uint32_t index) noexcept {
    format::SubscriberSlot& slot = view.subscribers[index];
    // Clear the attached bit before the state, so a publisher that still sees the bit sees a
    // state it can judge (see slowest_subscriber).
    sync::clear_bit(view.state->attached_subscribers, index);
    sync::clear_bit(view.state->sleeping_subscribers, index);
    atomics::store_release(slot.state, format::kSlotFree);
}

bool reclaim_squatted_subscriber(const TopicView& view, std::uint32_t index,
                                 const std::function<void(const ReclaimedSlot&)>& on_reclaim) {
    format::SubscriberSlot& slot = view.subscribers[index];
    std::uint32_t state = atomics::load_acquire(slot.state);
    if (state == format::kSlotFree) return false;
    const ReclaimedSlot info{true, index, slot.pid, slot.uid, atomics::load_relaxed(slot.position)};
    // acq_rel: whoever wins frees the slot once; publishers that load FREE stop counting it.
    if (!atomics::compare_exchange_acq_rel(slot.state, state, format::kSlotFree)) return false;
    sync::clear_bit(view.state->attached_subscribers, index);
    sync::clear_bit(view.state->sleeping_subscribers, index);
    fold_subscriber_counters(view, slot);
    atomics::store_relaxed(slot.consumed, std::uint64_t{0});
    atomics::store_relaxed(slot.lost, std::uint64_t{0});
    atomics::fetch_add_relaxed(view.state->reclaimed_slots, std::uint64_t{1});
    if (on_reclaim) on_reclaim(info);
    return true;
}

}  // namespace

std::uint32_t attach_publisher_slot(const TopicView& view, int lock_fd) {
    for (std::uint32_t index = 0; index < view.max_publishers; ++index) {
        const auto result =
            sync::try_lock_byte(lock_fd, format::slot_lock_byte(index), sync::LockKind::kWrite);
        if (result == sync::LockResult::kConflict) continue;
        if (result == sync::LockResult::kError) {
            throw system_error("locking publisher slot " + std::to_string(index));
        }
        format::PublisherSlot& slot = view.publishers[index];
        if (atomics::load_acquire(slot.state) != format::kSlotFree &&
            claim_unfinished(view, slot)) {
            // Its dead owner's last claim awaits repair; taking the slot would drop the intent
            // that protects it. Another slot, or this one after the repair.
            sync::unlock_byte(lock_fd, format::slot_lock_byte(index));
            continue;
        }
        if (atomics::load_acquire(slot.state) != format::kSlotFree) {
            // The previous owner died without detaching; its records still count.
            atomics::fetch_add_relaxed(view.records->departed_published,
                                       atomics::load_relaxed(slot.published));
        }
        atomics::store_release(slot.claim_intent, format::kNoIntent);
        atomics::store_relaxed(slot.published, std::uint64_t{0});
        slot.pid = static_cast<std::uint32_t>(::getpid());
        slot.uid = static_cast<std::uint32_t>(::geteuid());
        slot.generation += 1;
        slot.attached_ns = util::realtime_ns();
        sync::semaphore_initialise(view.publisher_waits[index].semaphore);
        sync::clear_bit(view.state->blocked_publishers, index);
        // seq_cst, state then mask bit: a publisher computing its limit after this sees our
        // claim intents (in_flight_floor loads the mask seq_cst).
        atomics::store_seq_cst(slot.state, format::kSlotActive);
        sync::set_bit(view.records->attached_publishers, index);
        return index;
    }
    throw Error(ErrorCode::kNoSlot, "all " + std::to_string(view.max_publishers) +
                                        " publisher slots are taken (max_publishers)");
}

void detach_publisher_slot(const TopicView& view, std::uint32_t index) noexcept {
    format::PublisherSlot& slot = view.publishers[index];
    atomics::fetch_add_relaxed(view.records->departed_published,
                               atomics::load_relaxed(slot.published));
    atomics::store_relaxed(slot.published, std::uint64_t{0});
    atomics::store_release(slot.claim_intent, format::kNoIntent);
    sync::clear_bit(view.state->blocked_publishers, index);
    sync::clear_bit(view.records->attached_publishers, index);
    atomics::store_release(slot.state, format::kSlotFree);
}

std::uint32_t attach_subscriber_slot(const TopicView& view, int lock_fd, std::uint64_t position) {
    for (std::uint32_t index = 0; index < view.max_subscribers; ++index) {
        const auto result =
            sync::try_lock_byte(lock_fd, format::slot_lock_byte(index), sync::LockKind::kWrite);
        if (result == sync::LockResult::kConflict) continue;
        if (result == sync::LockResult::kError) {
            throw system_error("locking subscriber slot " + std::to_string(index));
        }
        format::SubscriberSlot& slot = view.subscribers[index];
        if (atomics::load_acquire(slot.state) != format::kSlotFree) {
            fold_subscriber_counters(view, slot);
            clear_subscriber(view, index);
        }
        atomics::store_relaxed(slot.consumed, std::uint64_t{0});
        atomics::store_relaxed(slot.lost, std::uint64_t{0});
        atomics::store_relaxed(slot.corrupt, std::uint64_t{0});
        slot.pid = static_cast<std::uint32_t>(::getpid());
        slot.uid = static_cast<std::uint32_t>(::geteuid());
        slot.generation += 1;
        slot.attached_ns = util::realtime_ns();
        sync::semaphore_initialise(slot.semaphore);
        atomics::store_relaxed(slot.position, position);
        // seq_cst, state then mask bit: a publisher that computes its limit after this sees the
        // subscriber (slowest_subscriber loads the mask seq_cst). See Subscriber's attach for
        // why the position is safe from publishers whose limit predates it.
        atomics::store_seq_cst(slot.state, format::kSlotActive);
        sync::set_bit(view.state->attached_subscribers, index);
        return index;
    }
    throw Error(ErrorCode::kNoSlot, "all " + std::to_string(view.max_subscribers) +
                                        " subscriber slots are taken (max_subscribers)");
}

void detach_subscriber_slot(const TopicView& view, std::uint32_t index) noexcept {
    format::SubscriberSlot& slot = view.subscribers[index];
    fold_subscriber_counters(view, slot);
    atomics::store_relaxed(slot.consumed, std::uint64_t{0});
    atomics::store_relaxed(slot.lost, std::uint64_t{0});
    clear_subscriber(view, index);
}

std::uint32_t reclaim_dead_subscribers(
    const TopicView& view, int state_fd,
    const std::function<void(const ReclaimedSlot&)>& on_reclaim) {
    std::lock_guard<std::mutex> guard(reclaim_mutex());
    std::uint32_t reclaimed = 0;
    for (std::uint32_t index = 0; index < view.max_subscribers; ++index) {
        format::SubscriberSlot& slot = view.subscribers[index];
        if (atomics::load_acquire(slot.state) == format::kSlotFree) continue;
        const auto locked =
            sync::try_lock_byte(state_fd, format::slot_lock_byte(index), sync::LockKind::kWrite);
        if (locked == sync::LockResult::kConflict && !probe_alive(state_fd, index)) {
            // No owner, but somebody holds a read lock on the byte: a client squatting on a dead
            // subscriber's slot. That lock keeps everyone from the slot, including a new owner,
            // so the slot can be freed without it; the compare-and-swap settles a race with a
            // reclaimer in another process.
            if (reclaim_squatted_subscriber(view, index, on_reclaim)) ++reclaimed;
            continue;
        }
        if (locked != sync::LockResult::kAcquired) {
            continue;  // alive (or a probe error: never reclaim what we cannot prove dead)
        }
        if (atomics::load_acquire(slot.state) != format::kSlotFree) {
            ReclaimedSlot info{true, index, slot.pid, slot.uid,
                               atomics::load_relaxed(slot.position)};
            fold_subscriber_counters(view, slot);
            atomics::store_relaxed(slot.consumed, std::uint64_t{0});
            atomics::store_relaxed(slot.lost, std::uint64_t{0});
            clear_subscriber(view, index);
            atomics::fetch_add_relaxed(view.state->reclaimed_slots, std::uint64_t{1});
            ++reclaimed;
            if (on_reclaim) on_reclaim(info);
        }
        sync::unlock_byte(state_fd, format::slot_lock_byte(index));
    }
    return reclaimed;
}

std::uint32_t reclaim_dead_publishers(const TopicView& view, int locks_fd,
                                      const std::function<void(const ReclaimedSlot&)>& on_reclaim) {
    std::lock_guard<std::mutex> guard(reclaim_mutex());
    std::uint32_t reclaimed = 0;
    for (std::uint32_t index = 0; index < view.max_publishers; ++index) {
        format::PublisherSlot& slot = view.publishers[index];
        if (atomics::load_acquire(slot.state) == format::kSlotFree) continue;
        if (sync::try_lock_byte(locks_fd, format::slot_lock_byte(index), sync::LockKind::kWrite) !=
            sync::LockResult::kAcquired) {
            continue;
        }
        if (atomics::load_acquire(slot.state) != format::kSlotFree &&
            !claim_unfinished(view, slot)) {
            ReclaimedSlot info{false, index, slot.pid, slot.uid, 0};
            atomics::fetch_add_relaxed(view.records->departed_published,
                                       atomics::load_relaxed(slot.published));
            atomics::store_relaxed(slot.published, std::uint64_t{0});
            sync::clear_bit(view.state->blocked_publishers, index);
            sync::clear_bit(view.records->attached_publishers, index);
            atomics::store_release(slot.state, format::kSlotFree);
            atomics::fetch_add_relaxed(view.state->reclaimed_slots, std::uint64_t{1});
            ++reclaimed;
            if (on_reclaim) on_reclaim(info);
        }
        sync::unlock_byte(locks_fd, format::slot_lock_byte(index));
    }
    return reclaimed;
}

bool evict_subscriber(const TopicView& view, std::uint32_t index) noexcept {
    if (index >= view.max_subscribers) return false;
    std::uint32_t expected = format::kSlotActive;
    // acq_rel: publishers that load EVICTED stop counting the slot in their limit.
    if (!atomics::compare_exchange_acq_rel(view.subscribers[index].state, expected,
                                           format::kSlotEvicted)) {
        return false;
    }
    atomics::fetch_add_relaxed(view.state->evicted_subscribers, std::uint64_t{1});
    return true;
}

bool subscriber_alive(int state_fd, std::uint32_t index) noexcept {
    return probe_alive(state_fd, index);
}

bool publisher_alive(int locks_fd, std::uint32_t index) noexcept {
    return probe_alive(locks_fd, index);
}

}  // namespace shmbus::ring
