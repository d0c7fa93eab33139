#include "shmbus/archive/retention.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <string>

#include "shmbus/archive/archive_reader.hpp"
#include "shmbus/archive/segment_reader.hpp"
#include "shmbus/error.hpp"

namespace shmbus::archive {
namespace {

/// The size of the file at `path`; 0 if it is not there.
std::uint64_t size_of(const std::filesystem::path& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return 0;
    return static_cast<std::uint64_t>(st.st_size);
}

std::filesystem::path index_beside(const SegmentFile& segment) {
    return segment.path.parent_path() / index_file_name(segment.first_sequence);
}

enum class Age { kExpired, kYoung, kGone };

/// Whether every entry of segment `i` is older than `cutoff_ns`: its newest timestamp is
/// below it. The index's timestamps are a lower bound of the newest, and often answer without
/// reading the segment; otherwise the segment is read through read_archive, up to the next
/// segment's first sequence. A segment with no readable entry is as old as its header's
/// creation time, and one whose header cannot be read as its file's modification time.
Age age_of(const std::filesystem::path& dir, const std::vector<SegmentFile>& segments,
           std::size_t i, std::uint64_t cutoff_ns) {
    const SegmentFile& segment = segments[i];
    std::uint64_t created_ns = 0;
    try {
        SegmentReader reader(segment.path);
        created_ns = reader.header().created_ns;
        for (const IndexEntry& point : reader.read_index()) {
            if (point.timestamp_ns >= cutoff_ns) return Age::kYoung;
        }
    } catch (const Error& error) {
        if (error.code() == ErrorCode::kNotFound) return Age::kGone;
        struct stat st {};
        if (::lstat(segment.path.c_str(), &st) != 0) return Age::kGone;
        const std::uint64_t modified_ns =
            static_cast<std::uint64_t>(st.st_mtim.tv_sec) * 1'000'000'000u +
            static_cast<std::uint64_t>(st.st_mtim.tv_nsec);
        return modified_ns < cutoff_ns ? Age::kExpired : Age::kYoung;
    }
    const std::uint64_t bound = segments[i + 1].first_sequence;  // i is never the last
    bool any = false;
    bool young = false;
    (void)read_archive(dir, segment.first_sequence, [&](const ArchivedEntry& entry) {
        if (entry.sequence >= bound) return false;
        any = true;
        young = entry.timestamp_ns >= cutoff_ns;
        return !young;
    });
    if (young) return Age::kYoung;
    if (!any) return created_ns < cutoff_ns ? Age::kExpired : Age::kYoung;
    return Age::kExpired;
}

/// Removes `path`; false if it was not there (another trim got to it first).
bool remove_file(const std::filesystem::path& path) {
    if (::unlink(path.c_str()) == 0) return true;
    if (errno == ENOENT) return false;
    throw system_error("removing archive file " + path.string());
}

/// The sequence an index file's name says, or false if the name is not 20 digits and ".idx".
bool parse_index_name(const std::string& name, std::uint64_t& first_sequence) {
    if (name.size() != 24 || !name.ends_with(".idx")) return false;
    return parse_segment_name(name.substr(0, 20) + ".seg", first_sequence);
}

}  // namespace

RetentionResult apply_retention(const std::filesystem::path& dir, const RetentionPolicy& policy,
                                std::uint64_t now_ns) {
    RetentionResult result;
    const std::vector<SegmentFile> segments = list_segments(dir);
    std::uint64_t total = 0;
    for (const SegmentFile& segment : segments) {
        total += size_of(segment.path) + size_of(index_beside(segment));
    }
    std::uint64_t cutoff_ns = 0;  // entries below it are too old
    if (policy.max_age) {
        const auto age_ns =
            static_cast<std::uint64_t>(std::chrono::nanoseconds(*policy.max_age).count());
        cutoff_ns = now_ns > age_ns ? now_ns - age_ns : 0;
    }
    std::size_t kept = 0;  // the first segment that stays
    for (; kept + 1 < segments.size(); ++kept) {
        const SegmentFile& segment = segments[kept];
        const std::uint64_t bytes = size_of(segment.path) + size_of(index_beside(segment));
        RemovalReason reason = RemovalReason::kBytes;
        if (!(policy.max_bytes && total > *policy.max_bytes)) {
            if (!policy.max_age) break;
            const Age age = age_of(dir, segments, kept, cutoff_ns);
            if (age == Age::kYoung) break;
            reason = RemovalReason::kAge;
        }
        // The segment first, then its index: see the header's comment.
        const bool removed = remove_file(segment.path);
        remove_file(index_beside(segment));
        total -= std::min(total, bytes);
        if (removed)
            result.removed.push_back({segment.path, segment.first_sequence, bytes, reason});
    }
    if (kept < segments.size()) {
        result.first_sequence_left = segments[kept].first_sequence;
        // Indexes whose segment is gone, from a trim that stopped between the two. Only below
        // the last segment: a writer creates a segment before its index, and only past it.
        std::set<std::uint64_t> firsts;
        for (const SegmentFile& segment : segments)
            firsts.insert(segment.first_sequence);
        std::vector<std::filesystem::path> orphans;
        std::error_code ec;
        for (const auto& item : std::filesystem::directory_iterator(dir, ec)) {
            std::uint64_t first = 0;
            if (parse_index_name(item.path().filename().string(), first) &&
                first < segments.back().first_sequence && !firsts.contains(first)) {
                orphans.push_back(item.path());
            }
        }
        if (ec) throw system_error("listing archive directory " + dir.string(), ec.value());
        for (const std::filesystem::path& orphan : orphans) {
            if (remove_file(orphan)) result.orphan_indexes.push_back(orphan);
        }
    }
    result.bytes_left = total;
    return result;
}

}  // namespace shmbus::archive
