#include "shmbus/archive/time_lookup.hpp"

#include <algorithm>
#include <vector>

#include "shmbus/archive/archive_reader.hpp"
#include "shmbus/archive/segment_reader.hpp"

namespace shmbus::archive {
namespace {

/// The timestamp of a segment's first indexed entry, or nullopt if the segment cannot be read
/// or has no index (a damaged one: the search treats it as not before the time asked).
std::optional<std::uint64_t> first_indexed_time(const SegmentFile& segment) {
    try {
        const std::vector<IndexEntry> index = SegmentReader(segment.path).read_index(1);
        if (index.empty()) return std::nullopt;
        return index.front().timestamp_ns;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

/// The sequence to start scanning at: the last index point of `segment` stamped before
/// `time_ns`, or the segment's first sequence.
std::uint64_t scan_start(const SegmentFile& segment, std::uint64_t time_ns) {
    std::vector<IndexEntry> index;
    try {
        index = SegmentReader(segment.path).read_index();
    } catch (const std::exception&) {
        return segment.first_sequence;
    }
    // Index points are in sequence order; their timestamps are in order only as far as the
    // publishers' clocks agree, which a binary search takes as given.
    const auto after = std::partition_point(
        index.begin(), index.end(), [&](const IndexEntry& e) { return e.timestamp_ns < time_ns; });
    return after == index.begin() ? segment.first_sequence : std::prev(after)->sequence;
}

}  // namespace

std::optional<std::uint64_t> sequence_at_time(const std::filesystem::path& dir,
                                              std::uint64_t time_ns) {
    const std::vector<SegmentFile> segments = list_segments(dir);
    if (segments.empty()) return std::nullopt;
    // The last segment whose first entry is stamped before the time: the record wanted is in it
    // or after it. Segments whose index cannot be read count as not before.
    std::size_t low = 0;
    std::size_t high = segments.size();  // segments[high..] start at or after the time
    while (low < high) {
        const std::size_t middle = low + (high - low) / 2;
        const std::optional<std::uint64_t> first = first_indexed_time(segments[middle]);
        if (first && *first < time_ns) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    const std::uint64_t from =
        low == 0 ? segments.front().first_sequence : scan_start(segments[low - 1], time_ns);
    std::optional<std::uint64_t> found;
    read_archive(dir, from, [&](const ArchivedEntry& entry) {
        if (entry.kind != EntryKind::kRecord || entry.timestamp_ns < time_ns) return true;
        found = entry.sequence;
        return false;
    });
    return found;
}

}  // namespace shmbus::archive
