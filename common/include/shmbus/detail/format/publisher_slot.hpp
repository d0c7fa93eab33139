// A publisher's slot in the records file. One per attached publisher; the slot is owned by
// whoever holds the OFD write lock on its lock byte (format/lock_bytes.hpp), so a slot whose
// lock is free belongs to nobody, whatever its state word says.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-------------------------------+-------------------------------+
//   |  state (FREE 0, ACTIVE 1)     |  pid                          |  0
//   +-------------------------------+-------------------------------+
//   |  uid                          |  generation                   |  8
//   +-------------------------------+-------------------------------+
//   |                 claim intent: position being claimed (64)     | 16
//   +---------------------------------------------------------------+
//   |                 records published by this attachment (64)     | 24
//   +---------------------------------------------------------------+
//   |                 attached at, CLOCK_REALTIME ns (64)           | 32
//   +---------------------------------------------------------------+
//   |                 reserved (24 bytes)                           | 40
//   +---------------------------------------------------------------+ 64
//
// The claim intent is what lets a repairer tell a dead publisher's claim from a live one's.
// A publisher stores the tail position it is about to claim *before* its compare-and-swap on
// the tail, and moves it on only after the frame's header is written. So a frame whose header
// was never written belongs to a publisher whose intent still names that frame; if no live
// publisher's intent does, its owner is dead. See ring/unblocker.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace shmbus::format {

inline constexpr std::uint32_t kSlotFree = 0;
inline constexpr std::uint32_t kSlotActive = 1;
inline constexpr std::uint32_t kSlotEvicted = 2;  // subscribers only
inline constexpr std::uint64_t kNoIntent = ~std::uint64_t{0};
inline constexpr std::uint32_t kMaxPublishers = 512;

struct PublisherSlot {
    std::uint32_t state;  // atomic
    std::uint32_t pid;
    std::uint32_t uid;
    std::uint32_t generation;
    // atomic; the position of this publisher's current or last claim (a batch's first frame).
    // kNoIntent at attach, after a claim attempt that gave up, and after detach.
    std::uint64_t claim_intent;
    std::uint64_t published;  // atomic; written by the owner only
    std::uint64_t attached_ns;
    std::uint8_t reserved[24];
};

static_assert(std::is_standard_layout_v<PublisherSlot>);
static_assert(std::is_trivially_copyable_v<PublisherSlot>);
static_assert(sizeof(PublisherSlot) == 64);
static_assert(offsetof(PublisherSlot, claim_intent) == 16);
static_assert(offsetof(PublisherSlot, published) == 24);
static_assert(offsetof(PublisherSlot, attached_ns) == 32);

}  // namespace shmbus::format
