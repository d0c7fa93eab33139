// The records file: the ring and what publishers share. Publishers map it read-write,
// subscribers read-only, so a subscriber-only process cannot change a record.
//
//   <bus dir>/<topic>/records
//
//   +---------------------------------------------------------------+ 0
//   | RecordsHeader                                       4096 bytes |
//   |   line 0..1  identity and layout parameters, fixed at creation |
//   |   line 2     tail {position, sequence}: the claim cell          |
//   |   line 3     commit floor                                       |
//   |   line 4     counters written off the hot path                  |
//   |   line 5     topic name                                         |
//   |   line 6     attached publishers: bit mask, 8 words             |
//   |   rest       zero                                               |
//   +---------------------------------------------------------------+ 4096
//   | PublisherSlot[max_publishers]                   64 bytes each  |
//   +---------------------------------------------------------------+ ring_offset (page aligned)
//   | ring: capacity bytes of frames (capacity is a power of two)    |
//   +---------------------------------------------------------------+ file_size
//
// RecordsHeader, cache line by cache line:
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +---------------------------------------------------------------+
//   |                 magic "SHMBUSRC" (64 bits)                    |   0
//   +-------------------------------+-------------------------------+
//   |  format version               |  header size (4096)           |   8
//   +-------------------------------+-------------------------------+
//   |                 file size (64 bits)                           |  16
//   +---------------------------------------------------------------+
//   |                 ring offset (64 bits)                         |  24
//   +---------------------------------------------------------------+
//   |                 capacity (64 bits, power of two)              |  32
//   +---------------------------------------------------------------+
//   |                 publisher slots offset (64 bits)              |  40
//   +-------------------------------+-------------------------------+
//   |  max record size              |  max publishers               |  48
//   +-------------------------------+-------------------------------+
//   |  max subscribers              |  policy (0 block, 1 overwrite)|  56
//   +-------------------------------+-------------------------------+ line 1
//   |  flags (see kKnownFlags)      |  reserved                     |  64
//   +-------------------------------+-------------------------------+
//   |                 created, CLOCK_REALTIME ns (64 bits)          |  72
//   +---------------------------------------------------------------+
//   |                 topic id (128 bits, random; pairs the files)  |  80
//   +---------------------------------------------------------------+
//   |                 reserved (32 bytes)                           |  96
//   +---------------------------------------------------------------+ line 2
//   |                 tail position (64 bits)                       | 128
//   +---------------------------------------------------------------+
//   |                 tail sequence (64 bits)                       | 136
//   +---------------------------------------------------------------+
//   |                 padding to 64 bytes                           |
//   +---------------------------------------------------------------+ line 3
//   |                 commit floor (64 bits)                        | 192
//   +---------------------------------------------------------------+
//   |                 padding to 64 bytes                           |
//   +---------------------------------------------------------------+ line 4
//   |                 aborted claims (64 bits)                      | 256
//   |                 unblocked claims (64 bits)                    | 264
//   |                 records published by departed publishers      | 272
//   |                 reserved (40 bytes)                           | 280
//   +---------------------------------------------------------------+ line 5
//   |                 topic name, NUL padded (64 bytes)             | 320
//   +---------------------------------------------------------------+ line 6
//   |                 attached publishers: 8 x 64-bit bit mask      | 384
//   +---------------------------------------------------------------+ 448 .. 4096 zero
//
// The tail is written by every publisher on every claim, so it has a line to itself; the
// parameters above it are read on every access and never written after creation, so they stay
// shared in every cache. The commit floor is walked forward by repairers and the daemon, off
// the hot path. The attached-publishers mask names the slots whose claim intents bound the
// publish limit (ring/flow_control.hpp); it changes only at attach and detach.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace shmbus::format {

inline constexpr std::uint64_t kRecordsMagic = 0x4352'5355'424D'4853ULL;  // "SHMBUSRC"
// Version 3: the publisher slot locks and the repair lock are in the topic's locks file, which
// only publishers can open (format/lock_bytes.hpp). Version 2: a record's timestamp word is
// present only on topics with kFlagTimestamps (format/frame_header.hpp); version 1 gave every
// record one. Any change a reader of an older version could misread bumps it; see
// docs/COMPATIBILITY.md.
inline constexpr std::uint32_t kFormatVersion = 3;
inline constexpr std::uint64_t kCacheLine = 64;
inline constexpr std::uint64_t kPageSize = 4096;
inline constexpr std::uint64_t kHeaderSize = 4096;
inline constexpr std::size_t kTopicNameField = 64;

// Records carry a timestamp word after their header (format/frame_header.hpp).
inline constexpr std::uint32_t kFlagTimestamps = 1u << 0;
// Publishers commit with a full barrier (a seq_cst store), so a subscriber going to sleep needs
// no membarrier(2) to be sure it is seen (sync/asymmetric_fence.hpp). A reader that does not
// know the bit refuses the topic: it would commit without the barrier its sleepers rely on.
inline constexpr std::uint32_t kFlagFencedCommits = 1u << 1;
inline constexpr std::uint32_t kKnownFlags = kFlagTimestamps | kFlagFencedCommits;

enum class Policy : std::uint32_t {
    kBlock = 0,      // lossless: publishers wait for the slowest live subscriber
    kOverwrite = 1,  // publishers never wait for subscribers; lapped subscribers count losses
};

/// The claim cell. Publishers change both words at once with a 16-byte compare-and-swap, so a
/// record's sequence number is assigned in the same step as its position.
struct alignas(16) TailCell {
    std::uint64_t position;  // first byte not yet claimed
    std::uint64_t sequence;  // sequence number the next record will get
};
static_assert(sizeof(TailCell) == 16);

struct RecordsHeader {
    // line 0: identity and layout; written once, before the file is renamed into place
    std::uint64_t magic;
    std::uint32_t format_version;
    std::uint32_t header_size;
    std::uint64_t file_size;
    std::uint64_t ring_offset;
    std::uint64_t capacity;
    std::uint64_t publisher_slots_offset;
    std::uint32_t max_record_size;
    std::uint32_t max_publishers;
    std::uint32_t max_subscribers;
    std::uint32_t policy;
    // line 1
    std::uint32_t flags;
    std::uint32_t reserved0;
    std::uint64_t created_ns;
    std::uint8_t topic_id[16];
    std::uint8_t reserved_line1[32];
    // line 2: the claim cell (publishers, every claim)
    alignas(kCacheLine) TailCell tail;
    std::uint8_t pad_tail[kCacheLine - sizeof(TailCell)];
    // line 3: every frame below this position is committed or padding (publishers, rarely)
    alignas(kCacheLine) std::uint64_t commit_floor;
    std::uint8_t pad_floor[kCacheLine - sizeof(std::uint64_t)];
    // line 4: counters, written off the hot path
    alignas(kCacheLine) std::uint64_t aborted_claims;
    std::uint64_t unblocked_claims;
    std::uint64_t departed_published;
    std::uint8_t reserved1[kCacheLine - 3 * sizeof(std::uint64_t)];
    // line 5
    char name[kTopicNameField];
    // line 6: bit i set = publisher slot i is ACTIVE (set after the slot's state, cleared before)
    alignas(kCacheLine) std::uint64_t attached_publishers[8];
    std::uint8_t rest[kHeaderSize - 7 * kCacheLine];
};

static_assert(std::is_standard_layout_v<RecordsHeader>);
static_assert(std::is_trivially_copyable_v<RecordsHeader>);
static_assert(sizeof(RecordsHeader) == kHeaderSize);
static_assert(offsetof(RecordsHeader, file_size) == 16);
static_assert(offsetof(RecordsHeader, capacity) == 32);
static_assert(offsetof(RecordsHeader, max_record_size) == 48);
static_assert(offsetof(RecordsHeader, policy) == 60);
static_assert(offsetof(RecordsHeader, flags) == 64);
static_assert(offsetof(RecordsHeader, topic_id) == 80);
static_assert(offsetof(RecordsHeader, tail) == 2 * kCacheLine);
static_assert(offsetof(RecordsHeader, commit_floor) == 3 * kCacheLine);
static_assert(offsetof(RecordsHeader, aborted_claims) == 4 * kCacheLine);
static_assert(offsetof(RecordsHeader, unblocked_claims) == 4 * kCacheLine + 8);
static_assert(offsetof(RecordsHeader, departed_published) == 4 * kCacheLine + 16);
static_assert(offsetof(RecordsHeader, name) == 5 * kCacheLine);
static_assert(offsetof(RecordsHeader, attached_publishers) == 6 * kCacheLine);

}  // namespace shmbus::format
