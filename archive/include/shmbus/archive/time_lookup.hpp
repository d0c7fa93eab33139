// Finding the first record of an archive stamped at or after a time, through the segments'
// indexes: a binary search over segments, one over index points, and a scan of at most one
// index stride (docs/ARCHIVE.md, "Looking up a time").
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

namespace shmbus::archive {

/// The sequence of the first record (in sequence order, from the last index point stamped
/// before `time_ns`) whose timestamp is at or after `time_ns`; nullopt if every record is older
/// or the archive is empty. Throws shmbus::Error kNotFound if `dir` does not exist.
[[nodiscard]] std::optional<std::uint64_t> sequence_at_time(const std::filesystem::path& dir,
                                                            std::uint64_t time_ns);

}  // namespace shmbus::archive
