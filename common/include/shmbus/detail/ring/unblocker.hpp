// Repairing a frame that a dead publisher claimed and never committed.
//
// Subscribers cannot pass an uncommitted frame, and publishers cannot lap one, so a publisher
// killed between claim and commit would stall its topic for good. The repairer turns that frame
// into padding. It runs in the daemon on every supervision pass, and in a publisher that has been
// held back for a while, so a topic recovers even while the daemon is down.
//
// The stuck frame is always the one at the commit floor: the floor walk stops at the first
// frame that is not finished. Repairing there (and never at a position a subscriber reports)
// means the repairer only ever writes at a true frame boundary that publishers vouch for.
//
// Deciding the owner is dead. A publisher stores the position it is claiming in its slot before
// its claim, and keeps it there until it begins the next claim, which it cannot do before this
// frame is committed or aborted. So:
//
//   some live publisher's claim intent == P   ->  the owner may be alive: leave the frame alone
//   the frame is CLAIMED, names publisher k,  ->  the same (a batch: k's intent is the batch's
//   k is live and k's intent <= P                 first frame, and k writes every header of the
//                                                 batch before committing any of it)
//   otherwise                                 ->  the owner is dead (its slot lock was free)
//
// "Live" means the publisher slot's OFD lock is held. A publisher that lost the race for P and
// was descheduled before retrying makes the repairer wait one more pass; it never makes it
// wrong.
//
// How much to pad. If the header was written (state CLAIMED) its length is known. If the owner
// died between its claim and its header, the frame's end is the first of: the next position that
// carries a stamp for itself, a live publisher's intent beyond P (a live claim starts there), the
// tail, or the end of the lap. Every frame in between belongs to a dead publisher.
//
// Repairs are serialised by the repair lock (format/lock_bytes.hpp) so two repairers never
// write the same padding header; the padding itself lands with a compare-and-swap on the commit
// word, so a late commit can never be overwritten.
#pragma once

#include <cstdint>

#include "shmbus/detail/ring/topic_view.hpp"

namespace shmbus::ring {

enum class RepairOutcome : std::uint8_t {
    kNothingStuck,  // the commit floor reached the tail: every claimed frame is finished
    kRepaired,      // one dead claim became padding; call again to look for more
    kOwnerAlive,    // the frame at the floor belongs to a live publisher: not ours to touch
    kBusy,          // another repairer holds the repair lock
    kError,         // a lock probe failed; errno says why
};

struct RepairReport {
    RepairOutcome outcome = RepairOutcome::kNothingStuck;
    std::uint64_t position = 0;  // the stuck frame
    std::uint64_t bytes = 0;     // bytes turned into padding (kRepaired)
    std::uint32_t owner = 0;     // publisher slot named by the frame's header, if it had one
    bool had_header = false;
};

/// Repairs the frame at the commit floor if its owner is dead. `locks_fd` is a descriptor of the
/// topic's locks file that holds no slot lock itself (Topic::locks_fd): the repair lock and the
/// publishers' slot locks are there.
[[nodiscard]] RepairReport repair_at_floor(const TopicView& view, int locks_fd) noexcept;

}  // namespace shmbus::ring
