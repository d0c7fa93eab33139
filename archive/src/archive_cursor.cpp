#include "shmbus/archive/archive_cursor.hpp"

#include <algorithm>
#include <string>
#include <system_error>

#include "shmbus/error.hpp"

namespace shmbus::archive {
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
    const auto after =
        std::upper_bound(index.begin(), index.end(), offset,
                         [](std::uint64_t value, const IndexEntry& e) { return value < e.offset; });
    return after == index.end() ? 0 : after->offset;
}

/// A file too short for a segment header: a segment its writer has just created.
bool shorter_than_header(const std::filesystem::path& path) {
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    return !ec && size < kSegmentHeaderSize;
}

}  // namespace

ArchiveCursor::ArchiveCursor(std::filesystem::path dir, std::uint64_t from, bool follow)
    : dir_(std::move(dir)), from_(from), follow_(follow) {}

bool ArchiveCursor::open_next_segment() {
    const std::vector<SegmentFile> segments = list_segments(dir_);
    std::size_t i = 0;
    if (!current_first_) {
        // The segment holding `from`: the last that starts at or before it.
        for (std::size_t j = 0; j < segments.size(); ++j) {
            if (segments[j].first_sequence <= from_) i = j;
        }
    } else {
        while (i < segments.size() && segments[i].first_sequence <= *current_first_)
            ++i;
    }
    // A segment due since the last one read was removed: one the previous listing had, past
    // the current one, that this listing lacks, or one that goes before the open below.
    bool vanished = false;
    for (const SegmentFile& known : listed_) {
        const bool due = !current_first_ || known.first_sequence > *current_first_;
        const bool gone = std::none_of(segments.begin(), segments.end(), [&](const SegmentFile& s) {
            return s.first_sequence == known.first_sequence;
        });
        if (due && gone) {
            summary_.trimmed_segments.push_back(known.path);
            vanished = true;
        }
    }
    listed_ = segments;
    for (; i < segments.size(); ++i) {
        const SegmentFile& segment = segments[i];
        try {
            // Opened once and read through this descriptor to its end, even if retention
            // removes the file meanwhile.
            reader_.emplace(segment.path);
        } catch (const std::exception& error) {
            const auto* const failure = dynamic_cast<const Error*>(&error);
            if (failure && failure->code() == ErrorCode::kNotFound) {
                // Removed by retention since the listing: a trim, not damage.
                summary_.trimmed_segments.push_back(segment.path);
                vanished = true;
            } else if (follow_ && i + 1 == segments.size() && shorter_than_header(segment.path)) {
                return false;  // being created: its header comes next
            } else {
                summary_.damage.push_back({segment.path, 0, 0, error.what()});
            }
            current_first_ = segment.first_sequence;
            continue;
        }
        // Sequences due and not in the archive, because their segments were removed (or, at the
        // start, never recorded); not when an unreadable segment stands in between.
        const std::uint64_t due = std::max(from_, next_);
        if (segment.first_sequence > due &&
            (vanished || (!opened_any_ && summary_.damage.empty()))) {
            summary_.trimmed_to = segment.first_sequence;
        }
        opened_any_ = true;
        current_first_ = segment.first_sequence;
        index_ = reader_->read_index();
        offset_ = start_offset(index_, from_);
        return true;
    }
    return false;
}

bool ArchiveCursor::later_segment_exists() const {
    const std::vector<SegmentFile> segments = list_segments(dir_);
    return std::any_of(segments.begin(), segments.end(), [&](const SegmentFile& segment) {
        return segment.first_sequence > *current_first_;
    });
}

std::size_t ArchiveCursor::read(const std::function<bool(const ArchivedEntry&)>& handler,
                                std::size_t limit) {
    std::size_t delivered = 0;
    while (delivered < limit) {
        if (!reader_ && !open_next_segment()) return delivered;
        SegmentReader& reader = *reader_;
        ScannedEntry entry = reader.read(offset_);
        if (entry.status == EntryStatus::kEntry) {
            const std::string order =
                sequence_problem(entry, std::max(next_, reader.header().first_sequence),
                                 offset_ == kSegmentHeaderSize);
            if (!order.empty()) {
                entry.status = EntryStatus::kCorrupt;
                entry.problem = order;
            }
        }
        const std::uint64_t resume =
            entry.status == EntryStatus::kEntry ? 0 : next_index_point(index_, offset_);
        if (entry.status == EntryStatus::kEnd ||
            (entry.status == EntryStatus::kTorn && resume == 0)) {
            // The end of what is written. A recorder may be appending: look at the size again.
            if (follow_) {
                const std::uint64_t seen = reader.file_size();
                if (reader.refresh_size() != seen) continue;
            }
            // Final only once a later segment exists; a torn tail there is damage.
            if (!later_segment_exists()) return delivered;
            if (entry.status == EntryStatus::kTorn) {
                summary_.damage.push_back(
                    {reader.path(), offset_, reader.file_size() - offset_, entry.problem});
            }
            reader_.reset();
            continue;
        }
        if (entry.status != EntryStatus::kEntry) {
            summary_.damage.push_back({reader.path(), offset_,
                                       (resume ? resume : reader.file_size()) - offset_,
                                       entry.problem});
            if (resume == 0) {
                reader_.reset();
            } else {
                offset_ = resume;
            }
            continue;
        }
        offset_ += entry.size;
        next_ = sequence_after(entry);
        if (next_ <= from_) continue;
        ArchivedEntry out;
        out.kind = static_cast<EntryKind>(entry.header.kind);
        out.sequence = entry.header.sequence;
        out.timestamp_ns = entry.header.timestamp_ns;
        out.publisher = entry.header.publisher;
        if (out.kind == EntryKind::kGap) {
            out.gap_count = sequences_of(entry.header, entry.payload);
        } else {
            out.payload = entry.payload;
        }
        ++summary_.entries;
        ++delivered;
        if (!handler(out)) return delivered;
    }
    return delivered;
}

}  // namespace shmbus::archive
