// Reading and claiming the tail cell {position, sequence} (format/records_header.hpp).
//
// A claim changes both words with one 16-byte compare-and-swap (cmpxchg16b on x86-64, a
// load/store-exclusive pair or CASP on AArch64), so a record's sequence number is fixed in the
// same atomic step as its position. That is what lets a lapped subscriber count exactly how
// many records it lost: sequence numbers follow positions with no gaps and no reordering.
//
// Readers never need the pair. They load the position alone with a 64-bit atomic load, which
// works on the read-only mapping subscribers have (a 16-byte load would have to be a
// compare-and-swap, which writes). Mixing a 16-byte RMW with 8-byte loads of one half is outside
// the C++ object model but is single-copy atomic on every target shmbus supports; the build
// requires -mcx16 on x86-64 so the CAS is inlined, never a libatomic lock.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>

#include "shmbus/detail/format/frame_header.hpp"
#include "shmbus/detail/format/records_header.hpp"
#include "shmbus/detail/util/atomic.hpp"

namespace shmbus::ring {

namespace detail {
// The tail cell as one 16-byte word. __extension__: __int128 is a GNU type, and may_alias lets
// it view the TailCell struct.
__extension__ typedef unsigned __int128 TailWord __attribute__((may_alias));
}  // namespace detail

struct Tail {
    std::uint64_t position;
    std::uint64_t sequence;
};

/// The highest tail position shmbus believes. Positions count bytes ever claimed: at 10 GB/s a
/// topic reaches 2^62 in 14 years. A tail beyond it was scribbled by a process with write
/// access to the records file, and believing it would let `position + capacity` (capacity is at
/// most 2^40) wrap around in every "has this been lapped?" test, so readers see it as this bound
/// and publishers refuse to claim there (Appender reports kCorrupt).
inline constexpr std::uint64_t kMaxTailPosition = std::uint64_t{1} << 62;

/// A tail position read from the mapping, held to kMaxTailPosition.
[[nodiscard]] constexpr std::uint64_t believable_tail(std::uint64_t position) noexcept {
    return position > kMaxTailPosition ? kMaxTailPosition : position;
}

/// The tail position alone, held to kMaxTailPosition. Acquire: pairs with the claim CAS, so the
/// claim intent a publisher stored before its CAS is visible after this load.
[[nodiscard]] inline std::uint64_t load_tail_position(const format::TailCell& cell) noexcept {
    return believable_tail(atomics::load_acquire(cell.position));
}

/// `position`, a tail position read from the mapping, as a frame boundary a reader may stand on.
/// Claims move the tail by whole frames, so it is always a multiple of kFrameAlignment; one that
/// is not was scribbled by a process with write access to the records file. Publishers refuse to
/// claim at it (Appender::try_claim reports kCorrupt); a reader rounds it down, because a commit
/// word loaded at an unaligned position is a misaligned atomic, and near the end of the lap it
/// reaches past the end of the ring.
[[nodiscard]] constexpr std::uint64_t boundary_at_or_before(std::uint64_t position) noexcept {
    return position & ~(format::kFrameAlignment - 1);
}

/// A consistent {position, sequence} pair, read without writing: position, sequence, position
/// again, until both position reads agree. Every claim raises the position, so an unchanged
/// position means no claim landed between the reads and the sequence belongs to it. The
/// position is held to kMaxTailPosition; a publisher's CAS from a held one fails and hands it
/// the real value, which it refuses.
[[nodiscard]] inline Tail load_tail(const format::TailCell& cell) noexcept {
    for (;;) {
        const std::uint64_t before = atomics::load_acquire(cell.position);
        const std::uint64_t sequence = atomics::load_acquire(cell.sequence);
        const std::uint64_t after = atomics::load_acquire(cell.position);
        if (before == after) return Tail{believable_tail(before), sequence};
    }
}

/// Claim: replace `expected` with `desired` if the cell still holds `expected`. On failure
/// `expected` receives the cell's current value. A full barrier either way (the CAS instruction
/// is locked): it orders the claim intent stored before it, and pairs with load_tail_position.
[[nodiscard]] inline bool compare_exchange_tail(format::TailCell& cell, Tail& expected,
                                                Tail desired) noexcept {
    using Wide = detail::TailWord;
    auto* word = reinterpret_cast<Wide*>(&cell);
    const Wide old_value =
        (static_cast<Wide>(expected.sequence) << 64) | static_cast<Wide>(expected.position);
    const Wide new_value =
        (static_cast<Wide>(desired.sequence) << 64) | static_cast<Wide>(desired.position);
    const Wide seen = __sync_val_compare_and_swap(word, old_value, new_value);
    if (seen == old_value) return true;
    expected.position = static_cast<std::uint64_t>(seen);
    expected.sequence = static_cast<std::uint64_t>(seen >> 64);
    return false;
}

static_assert(sizeof(detail::TailWord) == sizeof(format::TailCell));
static_assert(std::endian::native == std::endian::little,
              "the tail cell packs position in the low half of a 16-byte word");

}  // namespace shmbus::ring
