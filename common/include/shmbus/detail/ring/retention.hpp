// What the ring still holds: the oldest frame that no publisher has overwritten.
#pragma once

#include <cstdint>

#include "shmbus/detail/ring/flow_control.hpp"
#include "shmbus/detail/ring/frame_inspect.hpp"
#include "shmbus/detail/ring/tail.hpp"
#include "shmbus/detail/ring/topic_view.hpp"
#include "shmbus/detail/util/atomic.hpp"

namespace shmbus::ring {

/// The position of the oldest frame that is intact while the tail is `tail_position`: the first
/// frame boundary at or after tail - capacity.
///
/// Everything from tail - capacity on is intact. The answer is the first self-stamped position
/// in [tail - capacity, bound), where the bound is the end of that lap or the tail (both always
/// boundaries: frames never cross a lap's end), the commit floor when it lies in that range
/// (a boundary publishers vouch for; the frames below it are finished), or the oldest claim an
/// attached publisher has in flight.
[[nodiscard]] inline std::uint64_t oldest_intact_position(const TopicView& view,
                                                          std::uint64_t tail_position) noexcept {
    // Every position derived below is then frame aligned, whatever the mapping held.
    tail_position = boundary_at_or_before(tail_position);
    if (tail_position <= view.capacity) return 0;  // nothing overwritten yet: position 0 starts it
    const std::uint64_t from = tail_position - view.capacity;
    // Acquire: pairs with raise_to_at_least in the floor walk; the frames below it are finished.
    const std::uint64_t floor = atomics::load_acquire(view.records->commit_floor);
    const std::uint64_t lap_end = from + view.room_in_lap(from);
    std::uint64_t limit = lap_end < tail_position ? lap_end : tail_position;
    // The floor bounds the search only while it is current; nobody walks it on the hot path, so
    // it may lag more than a lap behind, and then the scan alone decides.
    if (floor >= from && floor < limit && floor % format::kFrameAlignment == 0) limit = floor;
    // Nor past a claim still in flight: one whose header is not written yet carries no stamp,
    // and the scan would step over it. It is intact (no claim reaches past it + capacity), and
    // its publisher may yet commit it; a reader starting there waits for it or its repair.
    const std::uint64_t in_flight = in_flight_floor(view, tail_position);
    if (in_flight >= from && in_flight < limit) limit = in_flight;
    return find_boundary(view, from, limit);
}

}  // namespace shmbus::ring
