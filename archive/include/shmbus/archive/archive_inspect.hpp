// What `shmbus archive ls` and `shmbus archive verify` report: each segment's range and, for
// verify, every entry checked (docs/ARCHIVE.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "shmbus/archive/archive_reader.hpp"

namespace shmbus::archive {

struct SegmentReport {
    std::filesystem::path path;
    std::uint64_t first_sequence = 0;  // the header's
    std::uint64_t next_sequence = 0;   // after its last entry (= first_sequence if empty)
    std::uint64_t bytes = 0;
    std::uint64_t first_timestamp_ns = 0;
    std::uint64_t last_timestamp_ns = 0;
    // Counted by a full scan only:
    std::uint64_t entries = 0;
    std::uint64_t records = 0;
    std::uint64_t gaps = 0;
    std::uint64_t gap_records = 0;
    std::vector<Damage> damage;
    bool torn_tail = false;     // the file ends inside an entry (a recorder died mid-write)
    std::string index_problem;  // the index does not match the segment ("" if it does)
    std::string error;          // the segment could not be read at all
};

struct ArchiveReport {
    std::vector<SegmentReport> segments;
    std::vector<std::string> problems;  // between segments: overlapping sequences
    /// No damage, no index problem, no unreadable segment, no overlap. A torn tail of the last
    /// segment is what a recorder that died leaves, and does not count.
    [[nodiscard]] bool clean() const noexcept;
};

/// `full`: read every entry and check it, and the index (verify); otherwise read from the last
/// index point on (ls), so the counts cover only that part.
[[nodiscard]] ArchiveReport inspect_archive(const std::filesystem::path& dir, bool full);

}  // namespace shmbus::archive
