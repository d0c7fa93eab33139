#include "shmbus/archive/archive_reader.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include "shmbus/archive/archive_cursor.hpp"
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

ReadSummary read_archive(const std::filesystem::path& dir, std::uint64_t from,
                         const std::function<bool(const ArchivedEntry&)>& handler) {
    ArchiveCursor cursor(dir, from, false);
    (void)cursor.read(handler);
    return cursor.summary();
}

}  // namespace shmbus::archive
