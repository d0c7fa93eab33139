// Reading an archive forward from a sequence and keeping the place: the one scan of an
// archive's entries (read_archive, the history subscriber and `shmbus replay` go through it).
//
// The segment being read stays open, so reading on costs no directory listing and no index
// lookup. At the end of a segment the cursor lists the directory once for the next one. A
// cursor that `follows` the archive treats the end of the last segment as "nothing more yet":
// a later read() sees what a recorder appended meanwhile, and the segments it starts.
//
// Safe beside a recorder and beside retention: a segment is opened once, when the read reaches
// it, and read to its end through that descriptor even if retention removes it meanwhile; a
// segment removed before the read reaches it is reported as trimmed, and the read goes on with
// the next one. Damaged bytes are skipped to the segment's next index point, or its next
// segment, and reported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <vector>

#include "shmbus/archive/archive_reader.hpp"
#include "shmbus/archive/segment_reader.hpp"

namespace shmbus::archive {

class ArchiveCursor {
  public:
    /// A cursor at the first entry of `dir` holding a sequence at or after `from`. Throws
    /// shmbus::Error kNotFound when `dir` does not exist (at the first read()).
    ArchiveCursor(std::filesystem::path dir, std::uint64_t from, bool follow);

    /// Hands entries to `handler`, in order, until `limit` of them, the handler returns false
    /// (that entry counts as handed over), or the archive ends (for now, when following).
    /// Returns how many it handed over.
    std::size_t read(const std::function<bool(const ArchivedEntry&)>& handler,
                     std::size_t limit = std::numeric_limits<std::size_t>::max());

    /// What the reads so far met: entries, damage skipped, trims.
    [[nodiscard]] const ReadSummary& summary() const noexcept { return summary_; }

  private:
    /// Opens the segment after the current one (the one holding `from_` at first). False if
    /// there is none (yet).
    bool open_next_segment();
    /// Whether the open segment is finished: a later segment exists. Only then is its end, or
    /// a torn tail, final.
    bool later_segment_exists() const;

    std::filesystem::path dir_;
    std::uint64_t from_;
    bool follow_;
    std::uint64_t next_ = 0;  // what the next entry's sequence must be at least
    std::optional<SegmentReader> reader_;
    std::vector<IndexEntry> index_;
    std::uint64_t offset_ = 0;
    std::optional<std::uint64_t> current_first_;  // the open (or last skipped) segment's name
    std::vector<SegmentFile> listed_;             // the directory as last listed
    bool opened_any_ = false;
    ReadSummary summary_;
};

}  // namespace shmbus::archive
