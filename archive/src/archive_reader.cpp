#include "shmbus/archive/archive_reader.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include "shmbus/archive/segment_reader.hpp"
#include "shmbus/error.hpp"

namespace shmbus::archive {

std::vector<SegmentFile> list_segments(const std::filesystem::path& dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
        throw Error(ErrorCode::kNotFound, "archive directory " + dir.string() + " does not exist");
    }
    std::vector<SegmentFile> segments;
    for (const auto& item : std::filesystem::directory_iterator(dir, ec)) {
        std::uint64_t first = 0;
        if (parse_segment_name(item.path().filename().string(), first)) {
            segments.push_back({first, item.path()});
        }
    }
    if (ec) throw system_error("listing archive directory " + dir.string(), ec.value());
    std::sort(segments.begin(), segments.end(), [](const SegmentFile& a, const SegmentFile& b) {
        return a.first_sequence < b.first_sequence;
    });
    return segments;
}

namespace {

/// The offset to start reading a segment at for sequence `from`: the last index point at or
/// before it.
std::uint64_t start_offset(const std::vector<IndexEntry>& index, std::uint64_t from) {
    const auto after = std::upper_bound(
        index.begin(), index.end(), from,
        [](std::uint64_t sequence, const IndexEntry& e) { return sequence < e.sequence; });
    return after == index.begin() ? kSegmentHeaderSize : std::prev(after)->offset;
}

/// The first index point past `offset`, or 0 if none.
std::uint64_t next_index_point(const std::vector<IndexEntry>& index, std::uint64_t offset) {
    for (const IndexEntry& e : index) {
        if (e.offset > offset) return e.offset;
    }
    return 0;
}

}  // namespace

ReadSummary read_archive(const std::filesystem::path& dir, std::uint64_t from,
                         const std::function<bool(const ArchivedEntry&)>& handler) {
    ReadSummary summary;
    const std::vector<SegmentFile> segments = list_segments(dir);
    // The segment holding `from`: the last that starts at or before it.
    std::size_t first = 0;
    for (std::size_t i = 0; i < segments.size(); ++i) {
        if (segments[i].first_sequence <= from) first = i;
    }
    std::uint64_t next = 0;  // what the next entry's sequence must be at least
    bool opened_any = false;
    bool vanished = false;  // a segment due since the last one read was removed
    for (std::size_t i = first; i < segments.size(); ++i) {
        std::optional<SegmentReader> opened;
        try {
            // Opened once and read through this descriptor to its end, even if retention
            // removes the file meanwhile.
            opened.emplace(segments[i].path);
        } catch (const Error& error) {
            if (error.code() == ErrorCode::kNotFound) {
                // Removed by retention since the listing: a trim, not damage.
                summary.trimmed_segments.push_back(segments[i].path);
                vanished = true;
            } else {
                summary.damage.push_back({segments[i].path, 0, 0, error.what()});
            }
            continue;
        } catch (const std::exception& error) {
            summary.damage.push_back({segments[i].path, 0, 0, error.what()});
            continue;
        }
        // Sequences due and not in the archive, because their segments were removed (or, at the
        // start, never recorded); not when an unreadable segment stands in between.
        const std::uint64_t due = std::max(from, next);
        if (segments[i].first_sequence > due &&
            (vanished || (!opened_any && summary.damage.empty()))) {
            summary.trimmed_to = segments[i].first_sequence;
        }
        opened_any = true;
        vanished = false;
        SegmentReader& reader = *opened;
        const std::vector<IndexEntry> index = reader.read_index();
        std::uint64_t offset = start_offset(index, from);
        for (;;) {
            ScannedEntry entry = reader.read(offset);
            if (entry.status == EntryStatus::kEnd) break;
            if (entry.status == EntryStatus::kEntry) {
                const std::string order =
                    sequence_problem(entry, std::max(next, reader.header().first_sequence),
                                     offset == kSegmentHeaderSize);
                if (!order.empty()) {
                    entry.status = EntryStatus::kCorrupt;
                    entry.problem = order;
                }
            }
            if (entry.status != EntryStatus::kEntry) {
                const bool last = i + 1 == segments.size();
                const std::uint64_t resume = next_index_point(index, offset);
                // The end of the segment being written, unless an index point lies past it.
                if (last && entry.status == EntryStatus::kTorn && resume == 0) break;
                summary.damage.push_back({segments[i].path, offset,
                                          (resume ? resume : reader.file_size()) - offset,
                                          entry.problem});
                if (resume == 0) break;
                offset = resume;
                continue;
            }
            offset += entry.size;
            next = sequence_after(entry);
            const std::uint64_t spans = sequences_of(entry.header, entry.payload);
            if (next <= from) continue;
            ArchivedEntry out;
            out.kind = static_cast<EntryKind>(entry.header.kind);
            out.sequence = entry.header.sequence;
            out.timestamp_ns = entry.header.timestamp_ns;
            out.publisher = entry.header.publisher;
            if (out.kind == EntryKind::kGap) {
                out.gap_count = spans;
            } else {
                out.payload = entry.payload;
            }
            ++summary.entries;
            if (!handler(out)) return summary;
        }
    }
    return summary;
}

}  // namespace shmbus::archive
