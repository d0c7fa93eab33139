// The on-disk layout of an archive: segment files of checksummed entries, and a sparse index
// beside each (docs/ARCHIVE.md is the reference a third party writes a reader from).
//
// An archive is a directory of segments, each named by the sequence of its first entry, 20
// decimal digits, with its index beside it:
//
//   DIR/00000000000000000000.seg   00000000000000000000.idx
//   DIR/00000000000000041872.seg   00000000000000041872.idx    ...
//
// Segment: a 128-byte header, then entries back to back, each 8-byte aligned. All integers
// little-endian.
//
//    0                               32                              64 bits
//   +---------------------------------------------------------------+
//   |                 magic "SHMBUSAS" (64 bits)                    |   0
//   +-------------------------------+-------------------------------+
//   |  format version (1)           |  header size (128)            |   8
//   +-------------------------------+-------------------------------+
//   |                 topic id (128 bits, the records header's)     |  16
//   +---------------------------------------------------------------+
//   |                 first sequence (64 bits, = the file's name)   |  32
//   +---------------------------------------------------------------+
//   |                 created, CLOCK_REALTIME ns (64 bits)          |  40
//   +---------------------------------------------------------------+
//   |                 reserved, zero (16 bytes)                     |  48
//   +---------------------------------------------------------------+
//   |                 topic name, NUL padded (64 bytes)             |  64
//   +---------------------------------------------------------------+ 128: the first entry
//
// Entry: a 32-byte header and its payload, zero padded to a multiple of 8.
//
//   +-------------------------------+---------------+---------------+
//   |  payload length (32 bits)     |  kind (16)    |  publisher(16)|   0
//   +-------------------------------+---------------+---------------+
//   |                 sequence (64 bits)                            |   8
//   +---------------------------------------------------------------+
//   |                 timestamp, CLOCK_REALTIME ns (64 bits)        |  16
//   +---------------------------------------------------------------+
//   |                 checksum: XXH3-64 of bytes 0..23 and payload  |  24
//   +---------------------------------------------------------------+
//   |                 payload ... zero padding to 8                 |  32
//   +---------------------------------------------------------------+
//
// kind 1, a record: its sequence, timestamp (0 on a topic without timestamps) and publisher
// slot, as the ring carried them. kind 2, a gap: records the recorder could not read (the
// ring overwrote them, or the recorder started after they were gone); its sequence is the
// first one missing, its timestamp when the gap was noticed, its payload one u64, how many.
// Sequences only increase: an entry's sequence is at least the previous entry's plus what that
// one spans (1 for a record, its count for a gap), and the first entry's is the segment's name.
// They may also skip: an aborted claim takes a sequence number and holds no record.
//
// Index: a 32-byte header, then 24-byte entries, one for the first entry of the segment and
// one for the first entry at or after each kIndexStride bytes of segment. A lookup is a binary
// search of the index and a scan of at most kIndexStride bytes of segment.
//
//   header:  magic "SHMBUSAI" (64) | version (32) | header size 32 (32) | first sequence (64)
//            | reserved (64)
//   entry:   sequence (64) | offset of the entry in the segment (64) | timestamp (64)
//
// The index is derived from its segment and rebuilt from it when it is short or wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace shmbus::archive {

inline constexpr std::uint64_t kSegmentMagic = 0x5341'5355'424D'4853ULL;  // "SHMBUSAS"
inline constexpr std::uint64_t kIndexMagic = 0x4941'5355'424D'4853ULL;    // "SHMBUSAI"
inline constexpr std::uint32_t kArchiveVersion = 1;
inline constexpr std::uint32_t kSegmentHeaderSize = 128;
inline constexpr std::uint32_t kIndexHeaderSize = 32;
inline constexpr std::size_t kTopicNameField = 64;
inline constexpr std::uint64_t kEntryHeaderSize = 32;
inline constexpr std::uint64_t kEntryAlignment = 8;
/// The longest payload an entry may carry: the longest record a topic may have (2^30).
inline constexpr std::uint64_t kMaxEntryPayload = std::uint64_t{1} << 30;
inline constexpr std::uint64_t kIndexStride = 64 * 1024;

enum class EntryKind : std::uint16_t {
    kRecord = 1,
    kGap = 2,
};

struct SegmentHeader {
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t header_size;
    std::uint8_t topic_id[16];
    std::uint64_t first_sequence;
    std::uint64_t created_ns;
    std::uint8_t reserved[16];
    char topic_name[kTopicNameField];
};
static_assert(sizeof(SegmentHeader) == kSegmentHeaderSize);

struct EntryHeader {
    std::uint32_t length;
    std::uint16_t kind;
    std::uint16_t publisher;
    std::uint64_t sequence;
    std::uint64_t timestamp_ns;
    std::uint64_t checksum;
};
static_assert(sizeof(EntryHeader) == kEntryHeaderSize);

struct IndexHeader {
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t header_size;
    std::uint64_t first_sequence;
    std::uint64_t reserved;
};
static_assert(sizeof(IndexHeader) == kIndexHeaderSize);

struct IndexEntry {
    std::uint64_t sequence;
    std::uint64_t offset;
    std::uint64_t timestamp_ns;
};
static_assert(sizeof(IndexEntry) == 24);

/// Bytes an entry with `length` bytes of payload occupies, padding included.
[[nodiscard]] constexpr std::uint64_t entry_size(std::uint64_t length) noexcept {
    return kEntryHeaderSize + (length + kEntryAlignment - 1) / kEntryAlignment * kEntryAlignment;
}

/// The checksum of an entry: XXH3-64 over its first 24 header bytes, then its payload.
[[nodiscard]] std::uint64_t entry_checksum(const EntryHeader& header,
                                           std::span<const std::byte> payload) noexcept;

/// How many sequences an entry accounts for: 1 for a record, its count for a gap.
[[nodiscard]] std::uint64_t sequences_of(const EntryHeader& header,
                                         std::span<const std::byte> payload) noexcept;

/// "00000000000000041872.seg" / ".idx" for a first sequence.
[[nodiscard]] std::string segment_file_name(std::uint64_t first_sequence);
[[nodiscard]] std::string index_file_name(std::uint64_t first_sequence);

}  // namespace shmbus::archive
