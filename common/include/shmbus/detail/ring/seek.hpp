// Finding where a record lies in the ring by what it carries, for a subscriber that starts at a
// sequence number or a time (StartAt::sequence, StartAt::time).
//
// The ring has no index: a seek walks the frames from the oldest intact one, one header read
// per frame. That is at most capacity / 32 frames, once, when a subscriber attaches. Everything
// it reads is validated as a subscriber validates it (inspect_frame), and a walk that
// publishers lap starts again from the new oldest frame.
#pragma once

#include <cstdint>

#include "shmbus/detail/ring/frame_inspect.hpp"
#include "shmbus/detail/ring/retention.hpp"
#include "shmbus/detail/ring/tail.hpp"
#include "shmbus/detail/ring/topic_view.hpp"

namespace shmbus::ring {

struct SeekResult {
    std::uint64_t position = 0;  // where to start reading: a frame boundary
    // The record found there (match) or, when none matched, nothing (position is then where the
    // walk met a frame not committed yet: the tail, or a claim in flight).
    bool matched = false;
    RecordFields fields;
    // Whether a record before the match was seen and did not match: the ring holds what came
    // just before the target, so nothing between them was overwritten. False when the oldest
    // record the ring holds already matches: the target may be older than the ring.
    bool preceded = false;
};

/// Walks from the oldest intact frame to the first committed record for which `matches(fields)`
/// holds. Publishers lapping the walk restart it, at most `attempts` times; after that the
/// result is the oldest frame, unmatched, which a subscriber validates as it reads.
template <typename Predicate>
[[nodiscard]] SeekResult seek_record(const TopicView& view, Predicate&& matches,
                                     int attempts = 16) noexcept {
    const ReadLayout layout = read_layout(view);
    for (int attempt = 0; attempt < attempts; ++attempt) {
        const std::uint64_t tail = boundary_at_or_before(load_tail_position(view.records->tail));
        SeekResult result;
        std::uint64_t position = oldest_intact_position(view, tail);
        bool lapped = false;
        for (;;) {
            const FrameInfo frame = inspect_frame(view, position);
            if (frame.kind == FrameKind::kPadding || frame.kind == FrameKind::kWrap) {
                position = frame.next;
                continue;
            }
            if (frame.kind != FrameKind::kRecord) {
                // The tail, a claim in flight or a corrupt frame: a subscriber starts here and
                // deals with it as it deals with any frame.
                result.position = position;
                break;
            }
            const RecordFields fields =
                read_record_fields(layout, layout.ring + (position & layout.mask));
            // The fields are this record's only if no publisher reached it again meanwhile.
            if (load_tail_position(view.records->tail) > position + view.capacity) {
                lapped = true;
                break;
            }
            if (matches(fields)) {
                result.position = position;
                result.matched = true;
                result.fields = fields;
                break;
            }
            result.preceded = true;
            position = frame.next;
        }
        if (!lapped) return result;
    }
    SeekResult oldest;
    oldest.position =
        oldest_intact_position(view, boundary_at_or_before(load_tail_position(view.records->tail)));
    return oldest;
}

}  // namespace shmbus::ring
