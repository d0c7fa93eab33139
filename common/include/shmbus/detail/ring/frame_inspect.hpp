// Looking at the frame at a position, with every field read from the mapping checked before it
// is used. Subscribers, the commit-floor walk and the unblocker all go through here, so this is
// the one place that decides what a frame is and where the next one starts.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "shmbus/detail/format/frame_header.hpp"
#include "shmbus/detail/ring/topic_view.hpp"
#include "shmbus/detail/util/atomic.hpp"

namespace shmbus::ring {

enum class FrameKind : std::uint8_t {
    kUnwritten,  // no stamp for this position: nothing claimed here yet, or the claimer died
                 // before writing the header, or the frame was overwritten by a later lap
    kClaimed,    // a publisher is writing it
    kRecord,     // a committed record
    kPadding,    // committed padding: skip it
    kWrap,       // skip to the next lap
    kCorrupt,    // stamped, but its length cannot be right
};

struct FrameInfo {
    FrameKind kind = FrameKind::kUnwritten;
    std::uint32_t length = 0;  // payload bytes (kRecord, kClaimed) or padding bytes (kPadding)
    // Position of the following frame (kRecord, kPadding, kWrap). For kClaimed, where the claim
    // will end if its length is one a record can have, and 0 if not (see classify_frame).
    std::uint64_t next = 0;
};

/// Whether a record or claim of `length` payload bytes can be one: within the topic's maximum
/// record size, and with its whole frame inside the `room` left in the lap.
[[nodiscard]] inline bool record_fits(const TopicView& view, std::uint32_t length,
                                      std::uint64_t room) noexcept {
    return length <= view.max_record_size && view.frame_size(length) <= room;
}

/// What the frame whose commit word reads `word` is, in full: every state, every bound. Out of
/// line, so that inspect_frame's common case stays small enough to inline into a poll loop.
[[nodiscard, gnu::noinline]] inline FrameInfo classify_frame(const TopicView& view,
                                                             std::uint64_t position,
                                                             std::uint64_t word) noexcept {
    using format::FrameState;
    FrameInfo info;
    const FrameState state = format::state_at(word, position);
    const std::uint64_t room = view.room_in_lap(position);
    switch (state) {
        case FrameState::kNone:
            info.kind = FrameKind::kUnwritten;
            return info;
        case FrameState::kWrap:
            info.kind = FrameKind::kWrap;
            info.next = position + room;
            return info;
        case FrameState::kClaimed:
        case FrameState::kCommitted:
        case FrameState::kPadding:
            break;
    }
    if (room < format::kFrameHeaderSize) {
        info.kind = FrameKind::kCorrupt;
        return info;
    }
    // Relaxed: ordered after the caller's acquire load of the commit word. The field is re-read
    // nowhere; the checked local copy is what every caller uses.
    const std::uint32_t length = atomics::load_relaxed(view.header(position).length);
    info.length = length;
    if (state == FrameState::kPadding) {
        // Padding may cover several dead claims, so it is bounded by the lap, not by the
        // maximum record size; it is a whole number of frame units.
        if (length % format::kFrameAlignment != 0 || length > room - format::kFrameHeaderSize) {
            info.kind = FrameKind::kCorrupt;
            return info;
        }
        info.kind = FrameKind::kPadding;
        info.next = position + format::kFrameHeaderSize + length;
        return info;
    }
    if (state == FrameState::kClaimed) {
        // A claim's length is not final. An abort, or a repair of a dead claim, stores the
        // padding length (which counts the timestamp word, the alignment slack, and for a repair
        // whole further frames) before it stamps PADDING, and a reader that loaded CLAIMED may
        // see that store. So a claim is never judged by its length: it is in flight either way,
        // and its extent is known only when the length could be a record's.
        info.kind = FrameKind::kClaimed;
        if (!record_fits(view, length, room)) {
            info.length = 0;
            return info;
        }
        info.next = position + view.frame_size(length);
        return info;
    }
    if (!record_fits(view, length, room)) {
        info.kind = FrameKind::kCorrupt;
        return info;
    }
    info.kind = FrameKind::kRecord;
    info.next = position + view.frame_size(length);
    return info;
}

/// The layout a reader walks the ring with, copied out of the view into locals: a subscriber's
/// run calls a handler between frames, and the compiler could not keep fields of the view in
/// registers across a call that may write memory.
struct ReadLayout {
    const std::byte* ring;
    std::uint64_t mask;
    std::uint64_t capacity;
    std::uint64_t max_length;
    std::uint64_t header_size;  // record_header_size: 24, or 32 with timestamps
    bool timestamps;
};

[[nodiscard, gnu::always_inline]] inline ReadLayout read_layout(const TopicView& view) noexcept {
    return {view.ring,      view.mask, view.capacity, view.max_record_size, view.record_header_size,
            view.timestamps};
}

/// A committed record's frame, as accept_record found it.
struct RecordFrame {
    const std::byte* frame = nullptr;  // its first byte, in the ring
    std::uint64_t length = 0;          // payload bytes
    std::uint64_t next = 0;            // position of the following frame
};

/// The one test of "this is a committed record a reader may deliver": `word`, the commit word
/// of the frame at `position` loaded with acquire, is its COMMITTED stamp, the frame has room
/// for a header before the end of the lap, and its length is one a record can have (within the
/// maximum record size, the whole frame inside the lap). Anything else is classify_frame's to
/// decode. Every reader goes through here: inspect_commit_word, and a subscriber's run of records.
[[nodiscard, gnu::always_inline]] inline bool accept_record(const ReadLayout& layout,
                                                            std::uint64_t position,
                                                            std::uint64_t word,
                                                            RecordFrame& out) noexcept {
    // One comparison of the whole word settles the state and that the frame is this position's.
    if (word != format::stamp(position, format::FrameState::kCommitted)) return false;
    const std::uint64_t offset = position & layout.mask;
    const std::uint64_t room = layout.capacity - offset;
    // A header needs room in the lap before its length can be read.
    if (room < format::kFrameHeaderSize) return false;
    const std::byte* const frame = layout.ring + offset;
    const auto& header = *reinterpret_cast<const format::FrameHeader*>(frame);
    // Relaxed: ordered after the caller's acquire load of the commit word.
    const std::uint64_t length = atomics::load_relaxed(header.length);
    const std::uint64_t size = format::frame_size(length, layout.header_size);
    if (length > layout.max_length || size > room) return false;
    out.frame = frame;
    out.length = length;
    out.next = position + size;
    return true;
}

/// The header fields of an accepted record besides its length.
struct RecordFields {
    std::uint64_t sequence = 0;
    std::uint64_t timestamp_ns = 0;  // 0 on a topic without timestamps
    std::uint16_t publisher = 0;
};

/// Reads them. Relaxed loads, ordered after the acquire load of the commit word that
/// accept_record checked: they are the values written before the commit.
[[nodiscard, gnu::always_inline]] inline RecordFields read_record_fields(
    const ReadLayout& layout, const std::byte* frame) noexcept {
    auto& header = *reinterpret_cast<const format::FrameHeader*>(frame);
    RecordFields fields;
    fields.sequence = atomics::load_relaxed(header.sequence);
    fields.timestamp_ns = layout.timestamps
                              ? atomics::load_relaxed(*reinterpret_cast<const std::uint64_t*>(
                                    frame + format::kFrameHeaderSize))
                              : 0;
    fields.publisher = std::atomic_ref<std::uint16_t>(const_cast<std::uint16_t&>(header.publisher))
                           .load(std::memory_order_relaxed);
    return fields;
}

/// What the frame at `position` (8-aligned) is, given `word`, its commit word as the caller
/// loaded it with acquire (inspect_frame, or a subscriber's run of records that stopped here).
[[nodiscard]] inline FrameInfo inspect_commit_word(const TopicView& view, std::uint64_t position,
                                                   std::uint64_t word) noexcept {
    // A committed record is what a reader meets almost every time; classify_frame decodes the
    // rest, a committed frame with an impossible length included.
    RecordFrame record;
    if (!accept_record(read_layout(view), position, word, record)) [[unlikely]] {
        return classify_frame(view, position, word);
    }
    FrameInfo info;
    info.kind = FrameKind::kRecord;
    info.length = static_cast<std::uint32_t>(record.length);  // <= max_record_size
    info.next = record.next;
    return info;
}

/// What the frame at `position` (8-aligned) is. The commit word is loaded with acquire: it pairs
/// with the release (or seq_cst) store that stamped the frame, so when this returns kRecord every
/// header field and payload byte written before the commit is visible.
[[nodiscard]] inline FrameInfo inspect_frame(const TopicView& view,
                                             std::uint64_t position) noexcept {
    return inspect_commit_word(view, position, atomics::load_acquire(view.commit_word(position)));
}

/// The first frame boundary in [from, limit): a position whose commit word is a stamp for
/// itself. Returns `limit` if there is none. `from` and `limit` are 8-aligned and within one lap
/// or at its end. Used to resynchronise after a lap or a corrupt frame; costs one load per
/// 8 bytes scanned, and the caller bounds the range.
[[nodiscard]] inline std::uint64_t find_boundary(const TopicView& view, std::uint64_t from,
                                                 std::uint64_t limit) noexcept {
    for (std::uint64_t p = from; p < limit; p += format::kFrameAlignment) {
        // Relaxed: a candidate is re-inspected with acquire before anything in it is used.
        const std::uint64_t word = atomics::load_relaxed(view.commit_word(p));
        if (format::state_at(word, p) != format::FrameState::kNone) return p;
    }
    return limit;
}

}  // namespace shmbus::ring
