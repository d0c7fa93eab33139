// The frame: how one record (or one stretch of padding) sits in the ring.
//
// A frame starts at an absolute *position*: a byte count since the topic was created that only
// ever grows. Its bytes live at ring offset `position & (capacity - 1)`. Frames are aligned to
// 8 bytes and never straddle the end of the ring.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |          commit word = (position | state) ^ stamp key         |  0
//   |                          (64 bits)                            |
//   +---------------------------------------------------------------+
//   |                 payload length (bytes, 32 bits)               |  8
//   +-------------------------------+-------------------------------+
//   |  publisher slot (16 bits)     |  reserved, zero (16 bits)     | 12
//   +-------------------------------+-------------------------------+
//   |                 sequence (64 bits)                            | 16
//   |                                                               |
//   +---------------------------------------------------------------+
//   |  timestamp, CLOCK_REALTIME ns (64 bits): only in a record     | 24
//   |  of a topic created with timestamps                           |
//   +---------------------------------------------------------------+
//   |                 payload ... (length bytes)                   ...  24, or 32 with
//   +---------------------------------------------------------------+      timestamps
//   |                 zero to 7 bytes of alignment slack            |
//   +---------------------------------------------------------------+
//
// Every frame but WRAP starts with the 24-byte FrameHeader. A record of a topic created with
// timestamps (records header flag kFlagTimestamps) carries the timestamp word after it, so its
// payload starts at 32; without timestamps the payload follows the header at 24. The choice is
// fixed when the topic is created, so every frame of one topic has the same record header size
// (record_header_size). A 64-byte record is an 88-byte frame on a topic without timestamps:
// format version 1 put every payload at 32 and made it 96, a line and a half per record, and
// the subscriber's rate followed the bytes (docs/BENCHMARKS.md).
//
// The commit word is the whole protocol. Its low three bits are the frame state and the rest is
// the frame's own absolute position, so a word left over from an earlier lap of the ring can
// never be mistaken for the frame a reader expects at this lap: the positions differ. The word
// is XORed with kStampKey in its top 16 bits. Positions, lengths and sequence numbers start
// small, and without the key a header's length word at position 8 holding 10 would read as
// "position 8, COMMITTED" to a scan for frame boundaries; with it, a stamp for any position
// below 2^48 (256 TiB of traffic) has top bits no counter, length or timestamp has.
//
//   state     meaning                                   who writes it
//   -------   ---------------------------------------   ----------------------------------
//   0         never written (fresh, zeroed memory)      -
//   CLAIMED   header valid, payload being written       the publisher that claimed it
//   COMMITTED a complete record                         that publisher, with release order
//   PADDING   skip `length` bytes: an aborted claim,    the publisher (abort) or a repairer
//             or a dead publisher's claim               (unblock), by compare-and-swap
//   WRAP      skip to the start of the next lap          the publisher whose record would not
//                                                       fit before the end of the ring
//
// A WRAP frame needs only its commit word, so it fits in the last 8 bytes of a lap. Every other
// frame is at least kFrameHeaderSize bytes. A PADDING frame's length counts the bytes after its
// 24-byte header, on every topic: padding carries no timestamp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace shmbus::format {

inline constexpr std::uint64_t kFrameAlignment = 8;
inline constexpr std::uint64_t kFrameHeaderSize = 24;
inline constexpr std::uint64_t kTimestampSize = 8;
inline constexpr std::uint64_t kStateMask = kFrameAlignment - 1;
inline constexpr std::uint64_t kStampKey = std::uint64_t{0xC5A3} << 48;

enum class FrameState : std::uint64_t {
    kNone = 0,
    kClaimed = 1,
    kCommitted = 2,
    kPadding = 3,
    kWrap = 4,
};

struct FrameHeader {
    std::uint64_t commit;     // position | state; atomic, see file comment
    std::uint32_t length;     // payload bytes; for PADDING, frame bytes after this header
    std::uint16_t publisher;  // slot index of the publisher that claimed the frame
    std::uint16_t reserved;
    std::uint64_t sequence;  // topic-wide record number, assigned by the claim
};

static_assert(std::is_standard_layout_v<FrameHeader>);
static_assert(std::is_trivially_copyable_v<FrameHeader>);
static_assert(sizeof(FrameHeader) == kFrameHeaderSize);
static_assert(offsetof(FrameHeader, commit) == 0);
static_assert(offsetof(FrameHeader, length) == 8);
static_assert(offsetof(FrameHeader, publisher) == 12);
static_assert(offsetof(FrameHeader, sequence) == 16);
static_assert(alignof(FrameHeader) == kFrameAlignment);
static_assert((kStampKey & kStateMask) == 0, "the key must leave the state bits alone");

/// The commit word a frame at `position` carries in `state`.
[[nodiscard]] constexpr std::uint64_t stamp(std::uint64_t position, FrameState state) noexcept {
    return (position | static_cast<std::uint64_t>(state)) ^ kStampKey;
}

/// The state encoded in `word` if `word` is a stamp for exactly `position`, else kNone.
[[nodiscard]] constexpr FrameState state_at(std::uint64_t word, std::uint64_t position) noexcept {
    const std::uint64_t plain = word ^ kStampKey;
    if ((plain & ~kStateMask) != position) return FrameState::kNone;
    const std::uint64_t state = plain & kStateMask;
    return state <= static_cast<std::uint64_t>(FrameState::kWrap) ? static_cast<FrameState>(state)
                                                                  : FrameState::kNone;
}

[[nodiscard]] constexpr std::uint64_t align_frame(std::uint64_t bytes) noexcept {
    return (bytes + kFrameAlignment - 1) & ~(kFrameAlignment - 1);
}

/// Bytes from the start of a record's frame to its payload: the header, and the timestamp word
/// on a topic created with timestamps.
[[nodiscard]] constexpr std::uint64_t record_header_size(bool timestamps) noexcept {
    return kFrameHeaderSize + (timestamps ? kTimestampSize : 0);
}

/// Bytes a record frame carrying `payload` bytes occupies in the ring, on a topic whose records
/// have `header_size` bytes before the payload (record_header_size).
[[nodiscard]] constexpr std::uint64_t frame_size(std::uint64_t payload,
                                                 std::uint64_t header_size) noexcept {
    return align_frame(header_size + payload);
}

}  // namespace shmbus::format
