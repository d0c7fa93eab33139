// Client slots: who is attached to a topic, and whether they are still alive.
//
// A slot belongs to whoever holds the OFD write lock on its lock byte (format/lock_bytes.hpp).
// Taking a slot is taking its lock; the state word in the slot only tells the others what the
// owner is doing. Every change to a slot's fields happens under its lock, by its owner or by a
// reclaimer that took the lock of a slot whose owner died, so no two processes ever write one
// slot at once.
//
//   attach     lock slot i (first i whose lock is free), reset its fields, state = ACTIVE
//   detach     state = FREE, then close the lock's descriptor (the kernel drops the lock)
//   death      the kernel drops the lock; the state word still says ACTIVE
//   reclaim    anyone: probe the lock; if free while the state is not FREE, take the lock,
//              fold the dead owner's counters into the topic's, state = FREE, release
//
// Subscriber slot locks are taken on the state file (subscribers may write it); publisher slot
// locks on the locks file, which only publishers and the daemon can open (format/lock_bytes.hpp).
// Each attached client holds its lock through a descriptor of its own, so two clients in one
// process are two owners, as they should be.
//
// Any client of the state file can take a read lock on a subscriber slot's byte. Liveness is a
// *write* lock, so such a read lock does not keep a dead owner alive; it does keep a reclaimer
// from the write lock, and then the slot is freed by compare-and-swap on its state instead (the
// read lock keeps any new owner out of it meanwhile). The squatter holds one slot, as if it had
// attached a subscriber.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>

#include "shmbus/detail/ring/topic_view.hpp"

namespace shmbus::ring {

/// Takes a free publisher slot, locking it through `lock_fd` (a locks-file descriptor opened for
/// writing for this publisher alone). Throws shmbus::Error (kNoSlot) if every slot is held.
[[nodiscard]] std::uint32_t attach_publisher_slot(const TopicView& view, int lock_fd);

/// Marks the slot free; the caller then closes `lock_fd`. Folds its published count into the
/// topic's departed total.
void detach_publisher_slot(const TopicView& view, std::uint32_t index) noexcept;

/// Takes a free subscriber slot, locking it through `lock_fd` (a state-file descriptor for this
/// subscriber alone), and sets it up at `position` as ACTIVE and attached. Throws shmbus::Error.
[[nodiscard]] std::uint32_t attach_subscriber_slot(const TopicView& view, int lock_fd,
                                                   std::uint64_t position);

void detach_subscriber_slot(const TopicView& view, std::uint32_t index) noexcept;

/// What a reclaimer found in a dead client's slot, for the log.
struct ReclaimedSlot {
    bool subscriber = false;
    std::uint32_t index = 0;
    std::uint32_t pid = 0;
    std::uint32_t uid = 0;
    std::uint64_t position = 0;  // subscribers: where it stopped
};

/// Frees the slots of dead subscribers (state not FREE, lock free). `state_fd` is a state-file
/// descriptor that holds no slot lock. Calls `on_reclaim` for each. Returns how many.
std::uint32_t reclaim_dead_subscribers(
    const TopicView& view, int state_fd,
    const std::function<void(const ReclaimedSlot&)>& on_reclaim = {});

/// The same for publisher slots, through a locks-file descriptor (Topic::locks_fd).
std::uint32_t reclaim_dead_publishers(
    const TopicView& view, int locks_fd,
    const std::function<void(const ReclaimedSlot&)>& on_reclaim = {});

/// Evicts an ACTIVE subscriber: publishers stop waiting for it, and its next poll reports
/// Status::kEvicted. Returns false if the slot was not ACTIVE.
bool evict_subscriber(const TopicView& view, std::uint32_t index) noexcept;

/// Is the owner of subscriber slot `index` alive (its lock held)? Probed through `state_fd`.
[[nodiscard]] bool subscriber_alive(int state_fd, std::uint32_t index) noexcept;

/// Is the owner of publisher slot `index` alive? Probed through `locks_fd`.
[[nodiscard]] bool publisher_alive(int locks_fd, std::uint32_t index) noexcept;

}  // namespace shmbus::ring
