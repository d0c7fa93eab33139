#include "shmbus/archive/recorder.hpp"

#include <algorithm>

#include "shmbus/detail/util/record_clock.hpp"

namespace shmbus::archive {
namespace {

// Poll in small batches and stop a step once this much waits to be written, or a new segment
// is due, so the buffer stays small whatever the records' size.
constexpr std::size_t kBatch = 256;
constexpr std::size_t kStepBytes = 1 << 20;

}  // namespace

Recorder::Recorder(const Topic& topic, ArchiveWriter& writer, StartAt start)
    : writer_(writer),
      subscriber_(topic, {.start = writer.next_sequence() ? StartAt::earliest() : start}),
      resuming_(writer.next_sequence().has_value()) {}

PollResult Recorder::step(std::size_t limit) {
    PollResult total;
    // The handler only appends to the writer's buffer, which cannot fail on I/O: a record
    // the subscriber hands over is in the buffer before poll counts it consumed.
    const auto archive = [&](const Record& record) {
        const std::optional<std::uint64_t> next = writer_.next_sequence();
        if (next && record.sequence < *next) {
            ++counts_.skipped;  // resuming: the archive has it
            // What the ring lapped while we skipped is older than what we still need.
            lost_seen_ = subscriber_.lost();
            return;
        }
        const std::uint64_t lost = subscriber_.lost();
        std::uint64_t missing = lost - lost_seen_;  // overwritten before we read them
        if (resuming_ && next && record.sequence > *next) {
            // The first record after a restart: what the ring no longer held.
            missing = record.sequence - *next;
        }
        resuming_ = false;
        lost_seen_ = lost;
        if (missing > 0 && next) {
            writer_.append_gap(*next, missing, util::realtime_ns());
            ++counts_.gaps;
            counts_.gap_records += missing;
        }
        // A topic without timestamps: the recorder's reading of the clock stands in, so that
        // lookups by time and replay's pacing work on every archive.
        const std::uint64_t timestamp =
            record.timestamp_ns != 0 ? record.timestamp_ns : util::realtime_ns();
        writer_.append_record(record.sequence, timestamp, record.publisher, record.payload);
        ++counts_.records;
    };
    while (total.records < limit && writer_.pending_bytes() < kStepBytes) {
        const PollResult result =
            subscriber_.poll(archive, std::min(kBatch, limit - total.records));
        total.records += result.records;
        total.status = result.status;
        if (result.status != Status::kOk || result.records == 0) break;
        // A segment to start: flush now, so segments end within a batch of their size.
        if (writer_.segment_pending()) break;
    }
    writer_.flush();
    return total;
}

}  // namespace shmbus::archive
