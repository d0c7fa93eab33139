#include "shmbus/archive/archive_inspect.hpp"

#include <algorithm>

#include "shmbus/archive/segment_reader.hpp"

namespace shmbus::archive {
namespace {

/// Whether every byte of the segment from `offset` to its end is zero.
bool zeros_from(SegmentReader& reader, std::uint64_t offset) {
    const std::uint64_t size = reader.file_size();
    for (std::uint64_t at = offset; at < size; at += kEntryHeaderSize) {
        const std::uint64_t length = std::min<std::uint64_t>(kEntryHeaderSize, size - at);
        if (!reader.all_zero(at, length)) return false;
    }
    return true;
}

SegmentReport inspect_segment(const SegmentFile& file, bool full, bool last) {
    SegmentReport report;
    report.path = file.path;
    report.first_sequence = file.first_sequence;
    report.next_sequence = file.first_sequence;
    SegmentReader reader(file.path);
    report.bytes = reader.file_size();
    const std::vector<IndexEntry> index = reader.read_index();
    if (!index.empty()) report.first_timestamp_ns = index.front().timestamp_ns;
    std::uint64_t offset = kSegmentHeaderSize;
    std::uint64_t next = file.first_sequence;
    if (!full && !index.empty()) {
        offset = index.back().offset;
        next = index.back().sequence;
    }
    std::vector<IndexEntry> expected;  // the index the segment should have (full scans)
    std::uint64_t next_index_at = 0;
    for (;;) {
        const ScannedEntry entry = reader.read(offset);
        if (entry.status == EntryStatus::kEnd) break;
        std::string problem = entry.problem;
        if (entry.status == EntryStatus::kEntry) {
            problem = sequence_problem(entry, next, offset == kSegmentHeaderSize);
        }
        if (!problem.empty()) {
            // What a crash leaves at the end of the segment being written: an entry the file
            // ends inside, or zeros where its blocks were allocated and never written.
            const bool index_beyond =
                std::any_of(index.begin(), index.end(),
                            [offset](const IndexEntry& e) { return e.offset > offset; });
            if (last && !index_beyond &&
                (entry.status == EntryStatus::kTorn || zeros_from(reader, offset))) {
                report.torn_tail = true;
                break;
            }
            // Go on at the next index point past the damage, if there is one.
            std::uint64_t resume = 0;
            for (const IndexEntry& e : index) {
                if (e.offset > offset) {
                    resume = e.offset;
                    next = e.sequence;
                    break;
                }
            }
            report.damage.push_back(
                {file.path, offset, (resume ? resume : reader.file_size()) - offset, problem});
            if (resume == 0) break;
            offset = resume;
            next_index_at = resume;
            continue;
        }
        if (report.first_timestamp_ns == 0) report.first_timestamp_ns = entry.header.timestamp_ns;
        report.last_timestamp_ns = entry.header.timestamp_ns;
        if (offset >= next_index_at) {
            expected.push_back({entry.header.sequence, offset, entry.header.timestamp_ns});
            next_index_at = (offset / kIndexStride + 1) * kIndexStride;
        }
        const std::uint64_t spans = sequences_of(entry.header, entry.payload);
        ++report.entries;
        if (entry.header.kind == static_cast<std::uint16_t>(EntryKind::kGap)) {
            ++report.gaps;
            report.gap_records += spans;
        } else {
            ++report.records;
        }
        next = sequence_after(entry);
        offset += entry.size;
    }
    report.next_sequence = next;
    if (full && report.damage.empty()) {
        // The index must be the one the segment implies: a prefix of it for the last segment,
        // whose index may lag its data by one flush.
        const bool prefix = index.size() <= expected.size() &&
                            std::equal(index.begin(), index.end(), expected.begin(),
                                       [](const IndexEntry& a, const IndexEntry& b) {
                                           return a.sequence == b.sequence &&
                                                  a.offset == b.offset &&
                                                  a.timestamp_ns == b.timestamp_ns;
                                       });
        if (!prefix || (!last && index.size() != expected.size())) {
            report.index_problem =
                "the index does not match the segment: " + std::to_string(index.size()) +
                " usable entries, where the segment's entries imply " +
                std::to_string(expected.size()) + (last ? " (or fewer)" : "");
        }
    }
    return report;
}

}  // namespace

bool ArchiveReport::clean() const noexcept {
    if (!problems.empty()) return false;
    for (const SegmentReport& s : segments) {
        if (!s.damage.empty() || !s.index_problem.empty() || !s.error.empty()) return false;
    }
    return true;
}

ArchiveReport inspect_archive(const std::filesystem::path& dir, bool full) {
    ArchiveReport report;
    const std::vector<SegmentFile> files = list_segments(dir);
    for (std::size_t i = 0; i < files.size(); ++i) {
        try {
            report.segments.push_back(inspect_segment(files[i], full, i + 1 == files.size()));
        } catch (const std::exception& error) {
            SegmentReport unreadable;
            unreadable.path = files[i].path;
            unreadable.first_sequence = files[i].first_sequence;
            unreadable.error = error.what();
            report.segments.push_back(std::move(unreadable));
        }
        if (i > 0) {
            const SegmentReport& before = report.segments[i - 1];
            if (before.error.empty() && files[i].first_sequence < before.next_sequence) {
                report.problems.push_back(files[i].path.filename().string() + " starts at " +
                                          std::to_string(files[i].first_sequence) + ", before " +
                                          before.path.filename().string() + " ends (" +
                                          std::to_string(before.next_sequence) + ")");
            }
        }
    }
    return report;
}

}  // namespace shmbus::archive
