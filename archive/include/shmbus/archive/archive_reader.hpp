// Reading an archive directory: its segments in order, and its entries from any sequence on
// (docs/ARCHIVE.md). Safe beside a recorder appending to the last segment: a reader sees the
// entries whole when it looks and ends at a torn tail rather than reading into it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "shmbus/archive/segment_format.hpp"

namespace shmbus::archive {

struct SegmentFile {
    std::uint64_t first_sequence = 0;
    std::filesystem::path path;
};

/// One entry as a reader sees it. payload is valid during the callback only.
struct ArchivedEntry {
    EntryKind kind = EntryKind::kRecord;
    std::uint64_t sequence = 0;      // a gap: the first sequence it lacks
    std::uint64_t timestamp_ns = 0;  // a gap: when the recorder noticed it
    std::uint16_t publisher = 0;
    std::uint64_t gap_count = 0;  // a gap: how many records it lacks
    std::span<const std::byte> payload;
};

/// Where a read met bytes that are not entries, and went on past them.
struct Damage {
    std::filesystem::path segment;
    std::uint64_t offset = 0;
    std::uint64_t skipped_bytes = 0;
    std::string problem;
};

struct ReadSummary {
    std::uint64_t entries = 0;
    std::vector<Damage> damage;
    /// Set when the archive no longer held the sequences the read was due to go on at (from
    /// `from`, or after the segment it had just finished), because their segments were removed
    /// or were never recorded: the sequence the read went on at, the first of the next segment
    /// it could open. The archive cannot tell a trimmed start from a recording that began
    /// later.
    std::optional<std::uint64_t> trimmed_to;
    /// Segments listed when the read began and removed (by retention) before it reached them.
    std::vector<std::filesystem::path> trimmed_segments;
};

/// The segments of the archive in `dir`, in order of first sequence. Throws shmbus::Error
/// kNotFound when `dir` does not exist.
[[nodiscard]] std::vector<SegmentFile> list_segments(const std::filesystem::path& dir);

/// Calls `handler` for each entry holding a sequence at or after `from`, in order, until the
/// archive ends or the handler returns false (an ArchiveCursor that does not follow). Damaged
/// bytes (a failed checksum, an impossible length) are skipped to the segment's next index
/// point, or its next segment, and reported in the summary; the entries around them are
/// delivered. When the segments that held `from`, or that followed the segment just read, are
/// gone, the read goes on at the next one and says so in `trimmed_to`.
ReadSummary read_archive(const std::filesystem::path& dir, std::uint64_t from,
                         const std::function<bool(const ArchivedEntry&)>& handler);

}  // namespace shmbus::archive
