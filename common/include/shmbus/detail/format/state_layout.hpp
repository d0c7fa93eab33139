// The state file: everything a subscriber must be able to write. Every client of the topic maps
// it read-write; it holds no record bytes, so write access to it cannot change a record.
//
//   <bus dir>/<topic>/state
//
//   +---------------------------------------------------------------+ 0
//   | StateHeader                                         4096 bytes |
//   |   line 0     identity (pairs with the records file)             |
//   |   line 1     sleeping subscribers: bit mask, 8 words            |
//   |   line 2     blocked publishers: bit mask, 8 words              |
//   |   line 3     supervisor counters, incarnation                   |
//   |   line 4     attached subscribers (ACTIVE or EVICTED): 8 words  |
//   +---------------------------------------------------------------+ 4096
//   | SubscriberSlot[max_subscribers]                 128 bytes each |
//   +---------------------------------------------------------------+ publisher_waits_offset
//   | PublisherWait[max_publishers]                    64 bytes each |
//   +---------------------------------------------------------------+ file_size
//
// StateHeader line 0:
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +---------------------------------------------------------------+
//   |                 magic "SHMBUSST" (64 bits)                    |   0
//   +-------------------------------+-------------------------------+
//   |  format version               |  header size (4096)           |   8
//   +-------------------------------+-------------------------------+
//   |                 file size (64 bits)                           |  16
//   +---------------------------------------------------------------+
//   |                 topic id (128 bits; equals the records file's)|  24
//   +-------------------------------+-------------------------------+
//   |  max subscribers              |  max publishers               |  40
//   +-------------------------------+-------------------------------+
//   |                 subscriber slots offset (64 bits)             |  48
//   +---------------------------------------------------------------+
//   |                 publisher waits offset (64 bits)              |  56
//   +---------------------------------------------------------------+ 64
//
// Line 1 and line 2 are the two halves of the sleep/wake protocol (sync/wake_masks.hpp): a
// subscriber about to sleep sets its bit in line 1, and a publisher that has just committed
// reads line 1 and posts only the semaphores whose bits it finds. Line 2 is the same for
// publishers held back in block mode, read by subscribers after they advance. Line 4 names the
// slots a publisher must consider when it computes how far it may write, so it visits only the
// subscribers that exist rather than every slot.
//
// SubscriberSlot, 128 bytes on two cache lines:
//
//   line 0, written by the subscriber after each batch, read by publishers computing a limit
//   +---------------------------------------------------------------+
//   |                 position: next frame to read (64)             |   0
//   +-------------------------------+-------------------------------+
//   |  state (FREE, ACTIVE, EVICTED)|  reserved                     |   8
//   +-------------------------------+-------------------------------+
//   |                 records delivered (64)                        |  16
//   +---------------------------------------------------------------+
//   |                 records lost to overwrite (64)                |  24
//   +---------------------------------------------------------------+
//   |                 frames skipped as corrupt (64)                |  32
//   +---------------------------------------------------------------+
//   |                 reserved (24 bytes)                           |  40
//   +---------------------------------------------------------------+
//   line 1, written at attach
//   +-------------------------------+-------------------------------+
//   |  pid                          |  uid                          |  64
//   +-------------------------------+-------------------------------+
//   |  generation                   |  wake by (SEMAPHORE 0, FIFO 1)|  72
//   +-------------------------------+-------------------------------+
//   |                 attached at, CLOCK_REALTIME ns (64)           |  80
//   +---------------------------------------------------------------+
//   |                 reserved (8 bytes)                            |  88
//   +---------------------------------------------------------------+
//   |                 wake semaphore (32 bytes, process-shared)     |  96
//   +---------------------------------------------------------------+ 128
//
// "Wake by" says how a publisher that finds this slot's bit in the sleeping mask wakes it: by
// posting the semaphore above (Subscriber::wait), or by writing a byte into the slot's wake FIFO,
// <topic>/wake/<slot index> (Subscriber::wake_fd, for event loops; format/wake_fifo.hpp). The
// subscriber stores it before it sets its bit; the publisher loads it after it takes the bit.
//
// PublisherWait, 64 bytes: the semaphore a publisher held back in block mode sleeps on, at the
// index of its publisher slot, then padding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "shmbus/detail/format/records_header.hpp"

namespace shmbus::format {

inline constexpr std::uint64_t kStateMagic = 0x5453'5355'424D'4853ULL;  // "SHMBUSST"
inline constexpr std::uint32_t kMaskWords = 8;
inline constexpr std::uint32_t kMaxSubscribers = kMaskWords * 64;  // 512
inline constexpr std::size_t kSemaphoreBytes = 32;
inline constexpr std::uint32_t kWakeBySemaphore = 0;
inline constexpr std::uint32_t kWakeByFifo = 1;

struct StateHeader {
    // line 0
    std::uint64_t magic;
    std::uint32_t format_version;
    std::uint32_t header_size;
    std::uint64_t file_size;
    std::uint8_t topic_id[16];
    std::uint32_t max_subscribers;
    std::uint32_t max_publishers;
    std::uint64_t subscriber_slots_offset;
    std::uint64_t publisher_waits_offset;
    // line 1: bit i set = subscriber slot i is asleep or about to sleep
    alignas(kCacheLine) std::uint64_t sleeping_subscribers[kMaskWords];
    // line 2: bit i set = publisher slot i is held back and asleep or about to sleep
    alignas(kCacheLine) std::uint64_t blocked_publishers[kMaskWords];
    // line 3: counters kept by the supervisor and by clients off the hot path
    alignas(kCacheLine) std::uint64_t evicted_subscribers;
    std::uint64_t reclaimed_slots;
    std::uint64_t departed_consumed;  // records delivered to subscribers that have detached
    std::uint64_t departed_lost;      // records those subscribers lost
    std::uint32_t supervisor_pid;     // pid of the daemon supervising the topic, 0 if none
    std::uint32_t reserved0;
    // Random and never zero: set at creation, and anew by every restoration of a truncated file
    // (format/state_restore.hpp). A publisher that sees it change looks again at every slot's
    // lock, for subscribers whose slots the truncation wiped (ring/subscriber_watch.hpp).
    std::uint64_t incarnation;
    std::uint8_t reserved1[kCacheLine - 6 * sizeof(std::uint64_t)];
    // line 4: bit i set = subscriber slot i is ACTIVE or EVICTED (set after the slot's state,
    // cleared before it)
    alignas(kCacheLine) std::uint64_t attached_subscribers[kMaskWords];
    std::uint8_t rest[kHeaderSize - 5 * kCacheLine];
};

static_assert(std::is_standard_layout_v<StateHeader>);
static_assert(std::is_trivially_copyable_v<StateHeader>);
static_assert(sizeof(StateHeader) == kHeaderSize);
static_assert(offsetof(StateHeader, topic_id) == 24);
static_assert(offsetof(StateHeader, max_subscribers) == 40);
static_assert(offsetof(StateHeader, subscriber_slots_offset) == 48);
static_assert(offsetof(StateHeader, publisher_waits_offset) == 56);
static_assert(offsetof(StateHeader, sleeping_subscribers) == kCacheLine);
static_assert(offsetof(StateHeader, blocked_publishers) == 2 * kCacheLine);
static_assert(offsetof(StateHeader, evicted_subscribers) == 3 * kCacheLine);
static_assert(offsetof(StateHeader, supervisor_pid) == 3 * kCacheLine + 32);
static_assert(offsetof(StateHeader, incarnation) == 3 * kCacheLine + 40);
static_assert(offsetof(StateHeader, attached_subscribers) == 4 * kCacheLine);

struct SubscriberSlot {
    // line 0
    std::uint64_t position;  // atomic; release-stored by the owner after each batch
    std::uint32_t state;     // atomic; kSlotFree / kSlotActive / kSlotEvicted
    std::uint32_t reserved0;
    std::uint64_t consumed;  // atomic; owner only
    std::uint64_t lost;      // atomic; owner only
    std::uint64_t corrupt;   // atomic; owner only
    std::uint8_t reserved1[24];
    // line 1
    std::uint32_t pid;
    std::uint32_t uid;
    std::uint32_t generation;
    std::uint32_t wake_by;  // atomic; kWakeBySemaphore / kWakeByFifo
    std::uint64_t attached_ns;
    std::uint64_t reserved3;
    alignas(kSemaphoreBytes) std::uint8_t semaphore[kSemaphoreBytes];
};

static_assert(std::is_standard_layout_v<SubscriberSlot>);
static_assert(std::is_trivially_copyable_v<SubscriberSlot>);
static_assert(sizeof(SubscriberSlot) == 2 * kCacheLine);
static_assert(offsetof(SubscriberSlot, state) == 8);
static_assert(offsetof(SubscriberSlot, consumed) == 16);
static_assert(offsetof(SubscriberSlot, lost) == 24);
static_assert(offsetof(SubscriberSlot, corrupt) == 32);
static_assert(offsetof(SubscriberSlot, pid) == 64);
static_assert(offsetof(SubscriberSlot, wake_by) == 76);
static_assert(offsetof(SubscriberSlot, attached_ns) == 80);
static_assert(offsetof(SubscriberSlot, semaphore) == 96);

struct PublisherWait {
    alignas(kSemaphoreBytes) std::uint8_t semaphore[kSemaphoreBytes];
    std::uint8_t reserved[kCacheLine - kSemaphoreBytes];
};

static_assert(std::is_trivially_copyable_v<PublisherWait>);
static_assert(sizeof(PublisherWait) == kCacheLine);

}  // namespace shmbus::format
