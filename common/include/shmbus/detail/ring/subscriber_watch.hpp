// A publisher's own memory of the subscribers that hold it back (block topics).
//
// The publish limit of a block topic comes from the subscribers' slots in the state file
// (ring/flow_control.hpp, slowest_subscriber). Every client may write that file, so what a
// publisher reads there is untrusted: a slot may read FREE, or its attached bit may be clear,
// because the file was truncated and restored (format/state_restore.hpp) or because some client
// scribbled over it, while its subscriber lives on and reads in place. Believing such a slot
// would let the publisher overwrite what that subscriber has not read.
//
// So a publisher remembers, for every subscriber it has counted, the last position it saw. A
// subscriber it counted before, whose slot no longer says ACTIVE, is probed once through its
// slot lock (a system call, off the hot path: it happens once per detach or death):
//
//   lock free          detached or died: forgotten
//   slot EVICTED       evicted: forgotten (the daemon stopped waiting for it)
//   lock held          alive, its slot wiped: held to the position last seen, until the
//                      subscriber puts its slot back (at its next poll or sleep slice)
//
// A publisher that never saw a subscriber's position (it attached while the slot was wiped, or
// the subscriber attached after it and the wipe came before its next refresh) looks for it by
// its lock: at attach, and whenever the state file's incarnation changes, which every
// restoration of a truncated file does (format/state_restore.hpp). It probes every slot that
// does not say ACTIVE and attached, and holds to the oldest position a block subscriber can have
// (the tail less a lap) for each one alive, until that subscriber is back.
//
// The lock itself cannot be forged: a client of the state file can take a read lock on a
// subscriber's byte, but liveness is a write lock (format/lock_bytes.hpp). What remains forgeable
// is a live subscriber's position, moved forward by a hostile client between its owner's polls
// (docs/SECURITY.md, "Residual risks").
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "shmbus/detail/format/state_layout.hpp"
#include "shmbus/detail/ring/topic_view.hpp"

namespace shmbus::ring {

class SubscriberWatch {
  public:
    SubscriberWatch() = default;
    /// Probes every subscriber slot of `view` through `state_fd` (a state-file descriptor that
    /// holds no slot lock): a live subscriber whose slot does not say ACTIVE is held to until it
    /// does.
    SubscriberWatch(const TopicView& view, int state_fd);

    /// The lowest position among the subscribers that may hold publishers back, each clamped to
    /// `tail_position`, or kNoSubscriber (ring/flow_control.hpp). The slots it reads are the same
    /// as slowest_subscriber's; what they no longer say, it remembers.
    [[nodiscard]] std::uint64_t slowest(const TopicView& view,
                                        std::uint64_t tail_position) noexcept;

    /// Slots this publisher holds to although they do not say ACTIVE (for tests and stat).
    [[nodiscard]] std::uint32_t held_without_slot() const noexcept { return held_without_slot_; }

  private:
    static constexpr std::uint64_t kUnknownPosition = ~std::uint64_t{0};
    using SlotBits = std::array<std::uint64_t, format::kMaskWords>;

    /// Counts, at an unknown position, every live subscriber not in `seen` whose slot does not
    /// say ACTIVE and attached (one lock probe, a system call, per such slot).
    void probe_unseen(const TopicView& view, const SlotBits& seen) noexcept;

    [[nodiscard]] bool counted(std::uint32_t index) const noexcept {
        return (counted_[index / 64] >> (index % 64) & 1) != 0;
    }
    void count(std::uint32_t index, std::uint64_t position) noexcept {
        counted_[index / 64] |= std::uint64_t{1} << (index % 64);
        positions_[index] = position;
    }
    void forget(std::uint32_t index) noexcept {
        counted_[index / 64] &= ~(std::uint64_t{1} << (index % 64));
    }

    int state_fd_ = -1;
    std::vector<std::uint64_t> counted_;    // bit i: subscriber i holds this publisher back
    std::vector<std::uint64_t> positions_;  // where it was last seen, or kUnknownPosition
    std::uint64_t incarnation_ = 0;         // the state file's, when last looked at
    std::uint32_t held_without_slot_ = 0;
};

}  // namespace shmbus::ring
