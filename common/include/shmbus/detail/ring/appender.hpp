// The publisher's half of the ring protocol: claim, write, commit or abort.
//
//   claim    store the claim intent (the tail position about to be claimed) in the publisher's
//            slot, then compare-and-swap the tail {position, sequence} forward by the frame's
//            size and by one sequence number. Lock-free: a failed CAS means another publisher
//            claimed first, and the CAS hands back the new tail to retry from.
//   header   write length, publisher, sequence (and the timestamp word, on a topic with
//            timestamps), then release-store the commit word
//            as CLAIMED. From here a repairer knows the frame's length.
//   payload  the caller writes into the span it was given.
//   commit   release-store the commit word as COMMITTED; subscribers acquire-load it. It must
//            also come before the publisher's check for sleeping subscribers (the Dekker half of
//            sync/wake_masks.hpp): a compiler barrier where the process is registered for
//            sleepers' heavy fences (sync/asymmetric_fence.hpp), else a seq_cst store.
//   abort    release-store the commit word as PADDING of the frame's size.
//
// A record that would not fit before the end of the ring is preceded by a WRAP claim of the
// rest of the lap, which takes no sequence number.
//
// Batches: try_claim_batch claims consecutive frames for several records with one CAS (and
// sequence numbers S .. S+n-1), writes every header as CLAIMED before returning, and
// commit_batch stamps them COMMITTED, last frame first, then orders them before the wake check
// once (as commit does).
// Writing all headers first keeps repair sound: the commit floor cannot reach a frame of the
// batch before the first frame is committed, and by then every frame of the batch names its
// publisher and length.
//
// The first frame's line. A subscriber that has caught up spins on the commit word of the
// next frame, which is a batch's first frame, and each write the publisher makes to that line
// has to take it back from the spinning subscriber. So the first frame's header is written
// after the other frames' headers, and try_offer_batch copies its payload after theirs: the
// publisher's writes to that line come as late in each pass as they can. (In interleaved runs
// of the 64-byte stream this gained 2-4 % in this host's usual regime; see
// bench/report/analysis.md.) Until its header lands, the first frame reads as unwritten with
// this publisher's intent on it, which is what a frame claimed but not yet written always
// looks like: a repairer leaves it to its live owner, and pads a dead owner's frame up to the
// next frame's CLAIMED stamp (ring/unblocker.hpp).
//
// Nothing here blocks, allocates, throws or logs; waiting for the limit to move is the
// caller's business (client/src/publisher.cpp).
#pragma once

#include <array>
#include <atomic>
#include <concepts>
#include <cstdint>
#include <span>

#include "shmbus/detail/format/frame_header.hpp"
#include "shmbus/detail/format/publisher_slot.hpp"
#include "shmbus/detail/ring/flow_control.hpp"
#include "shmbus/detail/ring/tail.hpp"
#include "shmbus/detail/ring/topic_view.hpp"
#include "shmbus/detail/sync/asymmetric_fence.hpp"
#include "shmbus/detail/util/atomic.hpp"
#include "shmbus/detail/util/fault_injection.hpp"
#include "shmbus/detail/util/record_clock.hpp"

namespace shmbus::ring {

enum class ClaimOutcome : std::uint8_t {
    kClaimed,
    kBackPressured,  // the claim would pass the publish limit
    kTooLarge,       // longer than the topic's maximum record size
    kCorrupt,        // the tail cell holds an impossible value
};

/// A claimed, uncommitted frame.
struct Claimed {
    std::uint64_t position = 0;
    std::uint64_t frame_size = 0;
    std::span<std::byte> payload;
};

inline constexpr std::uint32_t kMaxBatch = 64;

/// Consecutive claimed, uncommitted frames, all in one lap: frame i carries lengths[i] payload
/// bytes in frame_sizes[i] bytes, and starts where frame i-1 ends. Because a batch never crosses
/// the end of a lap, its frames are contiguous in memory too: each is found by adding sizes to
/// `first`, with no mask and no recomputed frame size.
struct ClaimedBatch {
    std::uint64_t position = 0;  // the first frame
    std::uint64_t end = 0;       // just past the last frame
    std::byte* first = nullptr;  // the first frame's first byte
    std::uint32_t count = 0;
    std::array<std::uint32_t, kMaxBatch> frame_sizes;  // [0, count) are set by the claim
};

class Appender {
  public:
    Appender() = default;
    /// `watch`: the publisher's memory of its subscribers (ring/subscriber_watch.hpp), or null
    /// to trust the slots alone (tests of the ring itself).
    Appender(const TopicView& view, std::uint32_t slot_index,
             SubscriberWatch* watch = nullptr) noexcept
        : view_(view),
          slot_(&view.publishers[slot_index]),
          watch_(watch),
          slot_index_(slot_index),
          // A topic with fenced commits promises its sleepers the full barrier on every commit.
          light_fence_(!view.fenced_commits && sync::light_fence_usable()) {
        expected_ = load_tail(view_.records->tail);
    }

    [[nodiscard]] const TopicView& view() const noexcept { return view_; }
    [[nodiscard]] std::uint32_t slot_index() const noexcept { return slot_index_; }

    /// Tries once to claim a frame for `length` payload bytes; never waits.
    [[nodiscard]] ClaimOutcome try_claim(std::uint32_t length, Claimed& out) noexcept {
        if (length > view_.max_record_size) return ClaimOutcome::kTooLarge;
        const std::uint64_t size = view_.frame_size(length);
        Tail tail = expected_;
        for (;;) {
            if (!claimable(tail.position)) return give_up(ClaimOutcome::kCorrupt);
            const std::uint64_t room = view_.room_in_lap(tail.position);
            const bool wraps = size > room;
            const std::uint64_t end = tail.position + (wraps ? room : size);
            if (end > limit_ && !refresh_limit(tail.position, end)) {
                return give_up(ClaimOutcome::kBackPressured);
            }
            announce_intent(tail.position);
            const Tail desired{end, wraps ? tail.sequence : tail.sequence + 1};
            if (!compare_exchange_tail(view_.records->tail, tail, desired)) continue;
            const std::uint64_t position = tail.position;
            expected_ = desired;
            tail = desired;
            if (wraps) {
                stamp_wrap(position);
                continue;
            }
            SHMBUS_FAULT_POINT(fault::Point::kAfterClaim);
            write_header(view_.frame_at(position), position, length, desired.sequence - 1,
                         header_fields());
            SHMBUS_FAULT_POINT(fault::Point::kAfterHeader);
            out.position = position;
            out.frame_size = size;
            out.payload = std::span<std::byte>(view_.payload(position), length);
            return ClaimOutcome::kClaimed;
        }
    }

    /// Tries once to claim frames for the first records of `lengths` (at most kMaxBatch) with
    /// one CAS; never waits. Claims the longest prefix that fits before both the end of the lap
    /// and the publish limit; `out.count` says how many (at least one when kClaimed).
    [[nodiscard]] ClaimOutcome try_claim_batch(const std::uint32_t* lengths, std::uint32_t count,
                                               ClaimedBatch& out) noexcept {
        return try_claim_batch([lengths](std::uint32_t i) noexcept { return lengths[i]; }, count,
                               out);
    }

    /// As above, with record i's payload length given by `length_of(i)` (any unsigned width):
    /// the caller's records are measured where the claim needs them, in the one pass over them.
    template <typename LengthOf>
    requires std::invocable<LengthOf&, std::uint32_t>
    [[nodiscard]] ClaimOutcome try_claim_batch(LengthOf&& length_of, std::uint32_t count,
                                               ClaimedBatch& out) noexcept {
        if (count == 0) return ClaimOutcome::kTooLarge;
        if (count > kMaxBatch) count = kMaxBatch;
        if (length_of(0) > view_.max_record_size) return ClaimOutcome::kTooLarge;
        Tail tail = expected_;
        for (;;) {
            if (!claimable(tail.position)) return give_up(ClaimOutcome::kCorrupt);
            const std::uint64_t room = view_.room_in_lap(tail.position);
            // The longest prefix that fits before the end of the lap. A record over the maximum
            // size ends it: the records before it are claimed, and the caller meets the error
            // on its next claim.
            // A local copy: the stores into out.frame_sizes could alias the view's field.
            const std::uint32_t max_record_size = view_.max_record_size;
            std::uint64_t size = 0;
            std::uint32_t fitting = 0;
            for (; fitting < count; ++fitting) {
                const std::uint64_t length = length_of(fitting);
                if (length > max_record_size) break;
                const std::uint64_t frame = view_.frame_size(static_cast<std::uint32_t>(length));
                if (size + frame > room) break;
                out.frame_sizes[fitting] = static_cast<std::uint32_t>(frame);  // <= 2^30 + 32
                size += frame;
            }
            if (fitting == 0) {  // not even the first record fits before the end of the lap
                const std::uint64_t end = tail.position + room;
                if (end > limit_ && !refresh_limit(tail.position, end)) {
                    return give_up(ClaimOutcome::kBackPressured);
                }
                announce_intent(tail.position);
                const Tail desired{end, tail.sequence};
                if (!compare_exchange_tail(view_.records->tail, tail, desired)) continue;
                expected_ = desired;
                stamp_wrap(tail.position);
                tail = desired;
                continue;
            }
            if (tail.position + size > limit_) {
                (void)refresh_limit(tail.position, tail.position + size);
                while (fitting > 0 && tail.position + size > limit_) {
                    --fitting;
                    size -= out.frame_sizes[fitting];
                }
                if (fitting == 0) return give_up(ClaimOutcome::kBackPressured);
            }
            announce_intent(tail.position);
            const Tail desired{tail.position + size, tail.sequence + fitting};
            if (!compare_exchange_tail(view_.records->tail, tail, desired)) continue;
            expected_ = desired;
            SHMBUS_FAULT_POINT(fault::Point::kAfterClaim);
            // In locals: the header stores below could alias this object's fields.
            const HeaderFields fields = header_fields();
            std::byte* const first = view_.frame_at(tail.position);
            // The first frame's header goes last (see "The first frame's line" above).
            std::uint64_t offset = out.frame_sizes[0];  // from the first frame
            for (std::uint32_t i = 1; i < fitting; ++i) {
                // Checked against the maximum record size above: fits 32 bits.
                write_header(first + offset, tail.position + offset,
                             static_cast<std::uint32_t>(length_of(i)), tail.sequence + i, fields);
                offset += out.frame_sizes[i];
            }
            write_header(first, tail.position, static_cast<std::uint32_t>(length_of(0)),
                         tail.sequence, fields);
            SHMBUS_FAULT_POINT(fault::Point::kAfterHeader);
            out.position = tail.position;
            out.end = desired.position;
            out.first = first;
            out.count = fitting;
            return ClaimOutcome::kClaimed;
        }
    }

    /// Makes every frame of a batch visible, in order, then fences once: after this a load of
    /// the sleeping-subscriber mask is ordered after all the commits (Dekker, as in commit()).
    void commit_batch(const ClaimedBatch& batch) noexcept {
        SHMBUS_FAULT_POINT(fault::Point::kBeforeCommit);
        // Last frame first: the first frame, where this publisher's claim intent points, is
        // finished only when the whole batch is (see ring/flow_control.hpp, in_flight_floor).
        std::uint64_t offset = batch.end - batch.position;  // from the first frame
        for (std::uint32_t i = batch.count; i-- > 0;) {
            offset -= batch.frame_sizes[i];
            // Release: pairs with the subscribers' acquire load in inspect_frame.
            atomics::store_release(
                commit_word_of(batch.first + offset),
                format::stamp(batch.position + offset, format::FrameState::kCommitted));
        }
        atomics::store_relaxed(slot_->published,
                               atomics::load_relaxed(slot_->published) + batch.count);
        // Orders the commit stores above before the caller's load of the sleeping-subscriber
        // mask (Dekker, sync/wake_masks.hpp): a full fence, or in a process registered for
        // sleepers' heavy fences a compiler barrier (sync/asymmetric_fence.hpp).
        order_before_wake_check();
    }

    /// Turns every frame of a batch into padding of its own size, last frame first: the first
    /// frame, where the intent points, is finished only when the whole batch is (as in
    /// commit_batch). Padding each frame, rather than covering the batch with one, leaves no
    /// CLAIMED stamp inside padding for a boundary scan (find_boundary) to take for a frame.
    void abort_batch(const ClaimedBatch& batch) noexcept {
        std::uint64_t position = batch.end;
        for (std::uint32_t i = batch.count; i-- > 0;) {
            position -= batch.frame_sizes[i];
            pad(position, batch.frame_sizes[i]);
        }
        atomics::fetch_add_relaxed(view_.records->aborted_claims, std::uint64_t{1});
    }

    /// Makes a claimed frame visible to subscribers.
    void commit(const Claimed& claim) noexcept {
        SHMBUS_FAULT_POINT(fault::Point::kBeforeCommit);
        const std::uint64_t committed =
            format::stamp(claim.position, format::FrameState::kCommitted);
        // Release at least: pairs with the subscribers' acquire load in inspect_frame, making
        // header and payload visible with the stamp. And ordered before the load of the
        // sleeping-subscriber mask that follows (Dekker, sync/wake_masks.hpp), so a subscriber
        // that went to sleep is always seen: a seq_cst store, or, in a process registered for
        // sleepers' heavy fences, a release store and a compiler barrier.
        if (light_fence_) [[likely]] {
            atomics::store_release(view_.commit_word(claim.position), committed);
            sync::light_fence();
        } else {
            atomics::store_seq_cst(view_.commit_word(claim.position), committed);
        }
        // Relaxed: only this publisher writes its counter; readers (stat) need no ordering.
        atomics::store_relaxed(slot_->published, atomics::load_relaxed(slot_->published) + 1);
    }

    /// Turns a claimed frame into padding of the same size; subscribers skip it.
    void abort(const Claimed& claim) noexcept {
        pad(claim.position, claim.frame_size);
        atomics::fetch_add_relaxed(view_.records->aborted_claims, std::uint64_t{1});
    }

    /// Recomputes the cached limit; true if a claim ending at `needed_end` now fits.
    bool refresh_limit(std::uint64_t tail_position, std::uint64_t needed_end) noexcept {
        limit_ = compute_publish_limit(view_, tail_position, watch_);
        return needed_end <= limit_;
    }

  private:
    /// Could a claim start at this tail? Claims move the tail by whole frames from 0, and never
    /// past kMaxTailPosition (ring/tail.hpp); any other value was scribbled.
    [[nodiscard]] static constexpr bool claimable(std::uint64_t position) noexcept {
        return position % format::kFrameAlignment == 0 && position < kMaxTailPosition;
    }

    [[nodiscard]] static std::uint64_t& commit_word_of(std::byte* frame) noexcept {
        return *reinterpret_cast<std::uint64_t*>(frame);
    }

    void order_before_wake_check() noexcept {
        if (light_fence_) [[likely]] {
            sync::light_fence();
        } else {
            std::atomic_thread_fence(std::memory_order_seq_cst);
        }
    }

    void pad(std::uint64_t position, std::uint64_t frame_size) noexcept {
        format::FrameHeader& header = view_.header(position);
        atomics::store_relaxed(header.length,
                               static_cast<std::uint32_t>(frame_size - format::kFrameHeaderSize));
        // Release: orders the padding length before the stamp that makes readers use it.
        atomics::store_release(view_.commit_word(position),
                               format::stamp(position, format::FrameState::kPadding));
    }

    void announce_intent(std::uint64_t position) noexcept {
        // Release: a repairer that acquire-loads this intent also sees everything this
        // publisher did to its previous frames (committed or aborted), so it never mistakes
        // them for abandoned ones. The claim CAS that follows is a full barrier, so a repairer
        // that sees the claim in the tail also sees this intent.
        atomics::store_release(slot_->claim_intent, position);
    }

    void stamp_wrap(std::uint64_t position) noexcept {
        // Release: a reader that sees WRAP needs nothing else from this frame, but the
        // repairer and the floor walk must see it only after the claim.
        atomics::store_release(view_.commit_word(position),
                               format::stamp(position, format::FrameState::kWrap));
    }

    ClaimOutcome give_up(ClaimOutcome outcome) noexcept {
        // An intent left behind by a claim that never happened would make a repairer wait for
        // this publisher forever. Release, like every intent store (see try_claim).
        atomics::store_release(slot_->claim_intent, format::kNoIntent);
        return outcome;
    }

    /// What every header this publisher writes in one claim has in common.
    struct HeaderFields {
        std::uint16_t publisher;     // this publisher's slot index
        bool timestamps;             // the topic carries a timestamp word after each header
        std::uint64_t timestamp_ns;  // the claim's time, when it does
    };

    [[nodiscard]] HeaderFields header_fields() noexcept {
        return {static_cast<std::uint16_t>(slot_index_), view_.timestamps, timestamp()};
    }

    /// Writes the header of the frame at `position`, whose first byte is `frame`
    /// (view_.frame_at(position), passed in so that a batch can walk its frames by address).
    /// Static, with the common fields passed by value: a batch writes its headers in a loop, and
    /// reading them from members would reload them after every header store that could alias
    /// them. Always inlined: with three call sites the compiler would otherwise make it a call,
    /// which costs the single-record path 7 instructions per record.
    [[gnu::always_inline]] static void write_header(std::byte* frame, std::uint64_t position,
                                                    std::uint32_t length, std::uint64_t sequence,
                                                    HeaderFields fields) noexcept {
        auto& header = *reinterpret_cast<format::FrameHeader*>(frame);
        // Relaxed stores: readers load these only after an acquire load of the commit word, and
        // the release store of CLAIMED below orders them before it.
        atomics::store_relaxed(header.length, length);
        std::atomic_ref<std::uint16_t>(header.publisher)
            .store(fields.publisher, std::memory_order_relaxed);
        std::atomic_ref<std::uint16_t>(header.reserved).store(0, std::memory_order_relaxed);
        atomics::store_relaxed(header.sequence, sequence);
        if (fields.timestamps) {
            auto& word = *reinterpret_cast<std::uint64_t*>(frame + format::kFrameHeaderSize);
            atomics::store_relaxed(word, fields.timestamp_ns);
        }
        // Release: a repairer that acquire-loads CLAIMED reads the length above.
        atomics::store_release(header.commit,
                               format::stamp(position, format::FrameState::kClaimed));
    }

    [[nodiscard]] std::uint64_t timestamp() noexcept {
        if (!view_.timestamps) return 0;
        return clock_.now();  // util/record_clock.hpp: no serialising clock read per record
    }

    TopicView view_{};
    format::PublisherSlot* slot_ = nullptr;
    SubscriberWatch* watch_ = nullptr;
    std::uint32_t slot_index_ = 0;
    bool light_fence_ = false;  // this process is registered for sleepers' heavy fences
    util::RecordClock clock_;   // the publication time of this publisher's records
    Tail expected_{};           // last tail this publisher saw; the CAS corrects it when stale
    std::uint64_t limit_ = 0;   // cached publish limit; 0 forces a refresh on first claim
};

}  // namespace shmbus::ring
