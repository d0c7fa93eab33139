// Retention: deleting an archive's oldest segments, whole, to keep it within a size or an age
// (docs/ARCHIVE.md, *Retention*).
//
// Segments go oldest first and only as a prefix: the first segment that no limit removes stops
// the trim, so an archive never has a hole in the middle. The last segment, the one a writer
// appends to, is never removed. A segment's .seg goes before its .idx: a crash between the two
// leaves an index with no segment, which readers and the writer's recovery ignore (they list
// segments by their .seg), and which the next trim removes. No lock is taken: the writer only
// ever appends to the last segment, and a segment that is not the last never changes again, so
// removing one is safe beside a running writer and beside readers, which finish a segment they
// have opened (an unlinked file stays readable through its descriptor).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

namespace shmbus::archive {

struct RetentionPolicy {
    /// Bytes the archive may hold, its segments and their indexes together.
    std::optional<std::uint64_t> max_bytes{};
    /// How old a segment may be: its age is now less the newest timestamp among its entries.
    std::optional<std::chrono::seconds> max_age{};

    /// Whether the policy limits anything.
    [[nodiscard]] bool limits() const noexcept { return max_bytes || max_age; }
};

enum class RemovalReason {
    kBytes,  // the archive held more than max_bytes
    kAge,    // the segment's newest entry is older than max_age
};

struct RemovedSegment {
    std::filesystem::path path;        // the .seg
    std::uint64_t first_sequence = 0;  // it held the sequences from here up to the next segment's
    std::uint64_t bytes = 0;           // the segment and its index
    RemovalReason reason = RemovalReason::kBytes;
};

struct RetentionResult {
    std::vector<RemovedSegment> removed;
    /// Indexes left without their segment by a trim that stopped between the two, now removed.
    std::vector<std::filesystem::path> orphan_indexes;
    /// The archive's bytes (segments and indexes) once the trim is done.
    std::uint64_t bytes_left = 0;
    /// The first sequence the archive still holds segments from; nullopt when it has none.
    std::optional<std::uint64_t> first_sequence_left;
};

/// Removes the oldest segments of the archive in `dir` that `policy` does not allow, never the
/// last, and reports them. `now_ns` is CLOCK_REALTIME in ns. A segment removed meanwhile by
/// another trim is passed over. Throws shmbus::Error: kNotFound (no such directory), and the
/// system errors of listing the directory and removing files (kPermission, ...).
RetentionResult apply_retention(const std::filesystem::path& dir, const RetentionPolicy& policy,
                                std::uint64_t now_ns);

}  // namespace shmbus::archive
