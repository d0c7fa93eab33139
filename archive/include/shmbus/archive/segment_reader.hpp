// Reading one archive segment: the only code that parses entries (docs/ARCHIVE.md). The
// recorder's recovery, the archive reader and `shmbus archive verify` all go through it.
//
// A segment is untrusted input: every length, offset and kind is checked against the file
// before use, and an entry counts only if its checksum holds. What the bytes at an offset are
// is one of: an entry; the clean end of the file; a torn tail (an entry that runs past the end
// of the file, as a crash mid-write leaves); or corruption (a bad kind, length or checksum).
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "shmbus/archive/segment_format.hpp"
#include "shmbus/detail/util/unique_fd.hpp"

namespace shmbus::archive {

enum class EntryStatus {
    kEntry,    // a whole entry whose checksum holds
    kEnd,      // the file ends exactly here
    kTorn,     // an entry starts here but the file ends inside it
    kCorrupt,  // the bytes here cannot be an entry
};

struct ScannedEntry {
    EntryStatus status = EntryStatus::kEnd;
    std::uint64_t offset = 0;            // where the entry starts
    std::uint64_t size = 0;              // entry_size(header.length), when kEntry
    EntryHeader header{};                // when kEntry
    std::span<const std::byte> payload;  // when kEntry; valid until the next read
    std::string problem;                 // when kTorn or kCorrupt: what is wrong
};

class SegmentReader {
  public:
    /// Opens a segment and checks its header. Throws shmbus::Error: kNotFound, kPermission,
    /// kFormat (not a segment, or a header that contradicts its name), kIncompatible (another
    /// archive version).
    explicit SegmentReader(std::filesystem::path path);

    [[nodiscard]] const SegmentHeader& header() const noexcept { return header_; }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    /// The file's size when last looked at (open, or refresh_size()).
    [[nodiscard]] std::uint64_t file_size() const noexcept { return file_size_; }
    /// Looks at the file's size again: a segment being recorded grows.
    std::uint64_t refresh_size();

    /// The entry at `offset`, which must be 8-aligned and at least the header's size (else
    /// kCorrupt).
    [[nodiscard]] ScannedEntry read(std::uint64_t offset);

    /// Whether bytes [offset, offset + length) of the file are all zero (false past its end).
    [[nodiscard]] bool all_zero(std::uint64_t offset, std::uint64_t length);

    /// The index beside the segment, checked: its header must name this segment, and its
    /// entries must increase in sequence and offset and point inside the file. Returns the
    /// good prefix (empty when there is no index, or it is unusable). At most `max_entries`
    /// of them are read.
    [[nodiscard]] std::vector<IndexEntry> read_index(
        std::size_t max_entries = std::numeric_limits<std::size_t>::max()) const;

  private:
    /// Makes bytes [offset, offset + length) of the file readable in the buffer; false if the
    /// file ends before.
    bool load(std::uint64_t offset, std::uint64_t length);

    std::filesystem::path path_;
    util::UniqueFd fd_;
    SegmentHeader header_{};
    std::uint64_t file_size_ = 0;
    std::vector<std::byte> buffer_;
    std::uint64_t buffer_offset_ = 0;  // file offset of buffer_[0]
    std::uint64_t buffer_length_ = 0;  // bytes of buffer_ that hold file data
};

/// Whether a whole entry may stand where the entry before it left off at `next`: its sequence
/// is at least `next` (exactly `next` for the first entry of a segment, whose name is that
/// sequence), and a gap counts at least one record without running past 2^64 - 1. "" if it
/// may, else why not.
[[nodiscard]] std::string sequence_problem(const ScannedEntry& entry, std::uint64_t next,
                                           bool first_in_segment);

/// The sequence after a whole entry: its own plus 1, or plus its count for a gap.
[[nodiscard]] std::uint64_t sequence_after(const ScannedEntry& entry) noexcept;

/// The first sequence a segment's file name says, or false if the name is not 20 digits and
/// ".seg".
[[nodiscard]] bool parse_segment_name(const std::string& name, std::uint64_t& first_sequence);

}  // namespace shmbus::archive
