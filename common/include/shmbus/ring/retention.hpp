// What the ring still holds: the oldest frame that no publisher has overwritten.
#pragma once

#include <cstdint>

#include "shmbus/ring/frame_inspect.hpp"
#include "shmbus/ring/topic_view.hpp"
#include "shmbus/util/atomic.hpp"

namespace shmbus::ring {

/// The position of the oldest frame that is intact while the tail is `tail_position`: the first
/// frame boundary at or after tail - capacity.
///
/// Two positions bound the search. Everything from tail - capacity on is intact. The commit
/// floor is a boundary publishers vouch for, and it is never below tail - capacity (no claim
/// passes floor + capacity). So the answer is the first self-stamped position in
/// [tail - capacity, floor), or the floor itself; or the end of that lap, which is always a
/// boundary because frames never cross it.
[[nodiscard]] inline std::uint64_t oldest_intact_position(const TopicView& view,
                                                          std::uint64_t tail_position) noexcept {
    if (tail_position <= view.capacity) return 0;  // nothing overwritten yet: position 0 starts it
    const std::uint64_t from = tail_position - view.capacity;
    // Acquire: pairs with raise_to_at_least in the floor walk; the frames below it are finished.
    std::uint64_t floor = atomics::load_acquire(view.records->commit_floor);
    if (floor < from || floor > tail_position || floor % format::kFrameAlignment != 0) {
        floor = tail_position;  // an impossible floor: fall back to the tail, always a boundary
    }
    const std::uint64_t lap_end = from + view.room_in_lap(from);
    const std::uint64_t limit = floor < lap_end ? floor : lap_end;
    return find_boundary(view, from, limit);
}

}  // namespace shmbus::ring
