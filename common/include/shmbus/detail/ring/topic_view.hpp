// A process's view of one mapped topic: pointers into the two mappings, and private copies of
// the layout parameters taken when the headers were validated.
//
// Nothing on the data path reads a parameter back from the mapping. A writer with access to the
// file could change `capacity` in the header after we checked it; the copies here cannot change.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shmbus/detail/format/frame_header.hpp"
#include "shmbus/detail/format/geometry.hpp"
#include "shmbus/detail/format/publisher_slot.hpp"
#include "shmbus/detail/format/records_header.hpp"
#include "shmbus/detail/format/state_layout.hpp"

namespace shmbus::ring {

struct TopicView {
    // validated copies
    std::uint64_t capacity = 0;
    std::uint64_t mask = 0;  // capacity - 1
    std::uint32_t max_record_size = 0;
    std::uint32_t max_publishers = 0;
    std::uint32_t max_subscribers = 0;
    format::Policy policy = format::Policy::kBlock;
    bool timestamps = false;
    bool fenced_commits = false;  // kFlagFencedCommits: sleepers need no heavy fence
    std::uint64_t record_header_size = format::kFrameHeaderSize;  // record_header_size(timestamps)

    // into the records mapping (read-only for subscribers: writing through these faults)
    format::RecordsHeader* records = nullptr;
    format::PublisherSlot* publishers = nullptr;
    std::byte* ring = nullptr;

    // into the state mapping
    format::StateHeader* state = nullptr;
    format::SubscriberSlot* subscribers = nullptr;
    format::PublisherWait* publisher_waits = nullptr;

    [[nodiscard]] std::uint64_t offset_of(std::uint64_t position) const noexcept {
        return position & mask;
    }

    /// Bytes from `position` to the end of its lap. Frames never cross it.
    [[nodiscard]] std::uint64_t room_in_lap(std::uint64_t position) const noexcept {
        return capacity - offset_of(position);
    }

    /// The first byte of the frame at `position` (any 8-aligned position: always in bounds).
    [[nodiscard]] std::byte* frame_at(std::uint64_t position) const noexcept {
        return ring + offset_of(position);
    }

    /// The commit word of the frame at `position` (any 8-aligned position: always in bounds).
    [[nodiscard]] std::uint64_t& commit_word(std::uint64_t position) const noexcept {
        return *reinterpret_cast<std::uint64_t*>(ring + offset_of(position));
    }

    /// The header of the frame at `position`. Only when room_in_lap(position) >=
    /// kFrameHeaderSize: a WRAP frame in the last bytes of a lap has no room for one.
    [[nodiscard]] format::FrameHeader& header(std::uint64_t position) const noexcept {
        return *reinterpret_cast<format::FrameHeader*>(ring + offset_of(position));
    }

    /// The timestamp word of the record at `position`. Only on a topic with timestamps, and
    /// only once the record's whole frame is known to fit in the lap.
    [[nodiscard]] std::uint64_t& timestamp_word(std::uint64_t position) const noexcept {
        return *reinterpret_cast<std::uint64_t*>(ring + offset_of(position) +
                                                 format::kFrameHeaderSize);
    }

    [[nodiscard]] std::byte* payload(std::uint64_t position) const noexcept {
        return ring + offset_of(position) + record_header_size;
    }

    /// Bytes a record of `length` payload bytes occupies in this topic's ring.
    [[nodiscard]] std::uint64_t frame_size(std::uint64_t length) const noexcept {
        return format::frame_size(length, record_header_size);
    }
};

}  // namespace shmbus::ring
