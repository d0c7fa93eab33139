#include "shmbus/detail/ring/unblocker.hpp"

#include <atomic>
#include <mutex>

#include "shmbus/detail/format/lock_bytes.hpp"
#include "shmbus/detail/format/publisher_slot.hpp"
#include "shmbus/detail/ring/flow_control.hpp"
#include "shmbus/detail/ring/frame_inspect.hpp"
#include "shmbus/detail/ring/tail.hpp"
#include "shmbus/detail/sync/ofd_lock.hpp"
#include "shmbus/detail/util/atomic.hpp"

namespace shmbus::ring {
namespace {

// OFD locks exclude other open file descriptions, not other threads using the same one.
std::mutex& in_process_repair_mutex() {
    static std::mutex mutex;
    return mutex;
}

class RepairLock {
  public:
    explicit RepairLock(int fd) : fd_(fd), guard_(in_process_repair_mutex(), std::try_to_lock) {
        if (!guard_.owns_lock()) return;
        const auto result =
            sync::try_lock_byte(fd_, format::kRepairLockByte, sync::LockKind::kWrite);
        held_ = result == sync::LockResult::kAcquired;
    }
    ~RepairLock() {
        if (held_) sync::unlock_byte(fd_, format::kRepairLockByte);
    }
    RepairLock(const RepairLock&) = delete;
    RepairLock& operator=(const RepairLock&) = delete;
    [[nodiscard]] bool held() const noexcept { return held_; }

  private:
    int fd_;
    std::unique_lock<std::mutex> guard_;
    bool held_ = false;
};

// True once a claim has reached `position`'s bytes in the next lap. The acquire fence pairs
// with the claim CAS (a full barrier): if a load before it saw bytes of a later lap, the tail
// loaded after it includes that lap's claim.
bool lapped(const TopicView& view, std::uint64_t position) noexcept {
    std::atomic_thread_fence(std::memory_order_acquire);
    return load_tail_position(view.records->tail) > position + view.capacity;
}

}  // namespace

RepairReport repair_at_floor(const TopicView& view, int locks_fd) noexcept {
    RepairReport report;
    std::uint64_t tail = boundary_at_or_before(load_tail_position(view.records->tail));
    std::uint64_t floor = advance_commit_floor(view, tail);
    // A floor that is not a frame boundary was scribbled (the walk leaves it as it is): no
    // frame starts there, and a commit word there is unaligned and may straddle the end of
    // the ring. Nothing to repair.
    if (floor >= tail || floor % format::kFrameAlignment != 0) return report;

    RepairLock lock(locks_fd);
    if (!lock.held()) {
        report.outcome = RepairOutcome::kBusy;
        return report;
    }
    // Another repairer may have finished while we waited for the lock.
    tail = boundary_at_or_before(load_tail_position(view.records->tail));
    floor = advance_commit_floor(view, tail);
    report.position = floor;
    if (floor >= tail || floor % format::kFrameAlignment != 0) return report;

    const std::uint64_t position = floor;
    const FrameInfo frame = inspect_frame(view, position);
    if (frame.kind == FrameKind::kRecord || frame.kind == FrameKind::kPadding ||
        frame.kind == FrameKind::kWrap) {
        return report;  // finished after our walk; the next call walks past it
    }
    // A frame that a later lap has reached is gone, not stuck: its bytes are that lap's (the
    // walk stops at such a frame when it is lapped under it). Padding there would overwrite a
    // live record.
    if (lapped(view, position)) return report;

    // A CLAIMED frame names its publisher. It is that publisher's while it is alive and its
    // intent has not moved past the frame: a batch's intent is the batch's first frame, and it
    // moves on only when the publisher starts its next claim, after finishing the whole batch.
    std::uint32_t named_owner = view.max_publishers;
    if (frame.kind == FrameKind::kClaimed) {
        named_owner = std::atomic_ref<std::uint16_t>(view.header(position).publisher)
                          .load(std::memory_order_relaxed);
    }

    // Which publishers are alive, and where are they claiming?
    std::uint64_t end = tail;
    const std::uint64_t lap_end = position + view.room_in_lap(position);
    if (lap_end < end) end = lap_end;
    for (std::uint32_t slot = 0; slot < view.max_publishers; ++slot) {
        // Liveness is a write lock, as everywhere (format/lock_bytes.hpp): ask for a read lock.
        const auto probe =
            sync::probe_byte(locks_fd, format::slot_lock_byte(slot), sync::LockKind::kRead);
        if (probe == sync::Probe::kError) {
            report.outcome = RepairOutcome::kError;
            return report;
        }
        if (probe == sync::Probe::kFree) continue;
        // Acquire: pairs with the release store of the intent in Appender::try_claim, so if the
        // intent has moved past `position`, that publisher's commit of `position` is visible and
        // inspect_frame above would have seen it.
        const std::uint64_t intent = atomics::load_acquire(view.publishers[slot].claim_intent);
        if (intent == position || (slot == named_owner && intent <= position)) {
            report.outcome = RepairOutcome::kOwnerAlive;
            return report;
        }
        if (intent > position && intent < end) end = intent;
    }
    // The intents were read after the frame. An owner that finished the frame and began its
    // next claim in between is not among them, so look at the frame again (the acquire loads
    // of the intents make such a finish visible), and at the tail: once the frame is finished,
    // publishers may lap it at any moment.
    const FrameInfo again = inspect_frame(view, position);
    if (again.kind != frame.kind || again.length != frame.length) return report;
    if (lapped(view, position)) return report;

    std::uint64_t padding_end = end;
    if (frame.kind == FrameKind::kClaimed && frame.next != 0 && frame.next <= end) {
        padding_end = frame.next;
        report.had_header = true;
        report.owner = std::atomic_ref<std::uint16_t>(view.header(position).publisher)
                           .load(std::memory_order_relaxed);
    } else if (position + format::kFrameHeaderSize < end) {
        // No usable header: the next frame that vouches for itself ends the dead claims.
        padding_end = find_boundary(view, position + format::kFrameHeaderSize, end);
    }

    std::uint64_t& commit = view.commit_word(position);
    std::uint64_t seen = atomics::load_relaxed(commit);
    if (format::state_at(seen, position) == format::FrameState::kCommitted ||
        format::state_at(seen, position) == format::FrameState::kPadding ||
        format::state_at(seen, position) == format::FrameState::kWrap) {
        return report;
    }
    // `seen` may already be a later lap's word (for position + capacity, which state_at does
    // not recognise as this frame's): only a tail read after it tells.
    if (lapped(view, position)) return report;
    std::uint64_t replacement = 0;
    if (padding_end == lap_end || lap_end - position < format::kFrameHeaderSize) {
        padding_end = lap_end;
        replacement = format::stamp(position, format::FrameState::kWrap);
    } else {
        // Relaxed: the CAS below has release order and publishes it with the stamp.
        atomics::store_relaxed(
            view.header(position).length,
            static_cast<std::uint32_t>(padding_end - position - format::kFrameHeaderSize));
        replacement = format::stamp(position, format::FrameState::kPadding);
    }
    // acq_rel: release publishes the padding length with the stamp; the CAS fails, harmlessly,
    // if anything stamped the frame since we looked.
    if (!atomics::compare_exchange_acq_rel(commit, seen, replacement)) return report;
    atomics::fetch_add_relaxed(view.records->unblocked_claims, std::uint64_t{1});
    advance_commit_floor(view, tail);
    report.outcome = RepairOutcome::kRepaired;
    report.bytes = padding_end - position;
    return report;
}

}  // namespace shmbus::ring
