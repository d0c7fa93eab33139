// Recording a topic into an archive: a subscriber whose records become archive entries.
//
// The recorder reads like any subscriber, so on a block topic publishers wait for it as for
// any other (its eviction rules included) and it loses nothing while it runs; on an overwrite
// topic, what the ring overwrote before it could read becomes a gap entry with the exact count
// (Subscriber::lost). Restarted on an archive that holds records, it starts at the oldest
// record still in the ring and skips what the archive has; if the ring no longer holds the
// next sequence, a gap entry covers every sequence it never saw (some may have been aborted
// claims, which hold no record).
#pragma once

#include <cstdint>

#include "shmbus/archive/archive_writer.hpp"
#include "shmbus/subscriber.hpp"
#include "shmbus/topic.hpp"

namespace shmbus::archive {

struct RecorderCounts {
    std::uint64_t records = 0;      // records archived by this recorder
    std::uint64_t gaps = 0;         // gap entries written
    std::uint64_t gap_records = 0;  // records the gaps stand for
    std::uint64_t skipped = 0;      // records the archive held already (on resume)
};

class Recorder {
  public:
    /// Attaches a subscriber to `topic` for `writer`, which must be an archive of this topic.
    /// An empty archive starts at `start`; one with entries resumes after its last.
    Recorder(const Topic& topic, ArchiveWriter& writer, StartAt start = StartAt::earliest());

    /// Archives what the ring holds now, up to `limit` records, and flushes the writer.
    /// Returns the poll's status (kOk, kEvicted, ...) and how many records it archived.
    PollResult step(std::size_t limit = 4096);

    [[nodiscard]] Subscriber& subscriber() noexcept { return subscriber_; }
    [[nodiscard]] const RecorderCounts& counts() const noexcept { return counts_; }

  private:
    ArchiveWriter& writer_;
    Subscriber subscriber_;
    std::uint64_t lost_seen_ = 0;
    bool resuming_ = false;  // the archive had entries: the first record may follow a gap
    RecorderCounts counts_;
};

}  // namespace shmbus::archive
