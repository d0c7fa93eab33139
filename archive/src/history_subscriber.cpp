#include "shmbus/archive/history_subscriber.hpp"

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "shmbus/archive/archive_reader.hpp"
#include "shmbus/archive/segment_reader.hpp"
#include "shmbus/archive/time_lookup.hpp"
#include "shmbus/archive/writer_lock.hpp"
#include "shmbus/error.hpp"

namespace shmbus::archive {
namespace {

// How often a subscriber that went back to the archive looks for what the recorder adds.
constexpr std::chrono::nanoseconds kArchiveRetry = std::chrono::milliseconds(1);

/// Throws kIncompatible unless the archive's segments were recorded from `topic` (its id, which
/// a topic created again does not share). The first segment whose header reads decides.
void check_archive_topic(const std::vector<SegmentFile>& segments, const Topic& topic,
                         const std::filesystem::path& dir) {
    for (const SegmentFile& segment : segments) {
        std::optional<SegmentReader> reader;
        try {
            reader.emplace(segment.path);
        } catch (const std::exception&) {
            continue;  // damaged: the reader reports it when it gets there
        }
        if (std::memcmp(reader->header().topic_id, topic.view().records->topic_id,
                        sizeof reader->header().topic_id) != 0) {
            throw Error(ErrorCode::kIncompatible,
                        "archive " + dir.string() + " was recorded from another topic (or an " +
                            "earlier incarnation of this one) than '" + topic.name() + "'");
        }
        return;
    }
}

}  // namespace

HistorySubscriber::HistorySubscriber(const Topic& topic, std::filesystem::path archive_dir,
                                     StartAt start, SubscriberOptions live)
    : topic_(topic), dir_(std::move(archive_dir)), live_options_(live) {
    const std::vector<SegmentFile> segments = list_segments(dir_);
    check_archive_topic(segments, topic_, dir_);
    switch (start.kind()) {
        case StartAt::Kind::kSequence:
            next_ = start.saved_sequence();
            break;
        case StartAt::Kind::kEarliest:
            if (segments.empty()) {
                live_start_ = StartAt::earliest();
            } else {
                next_ = segments.front().first_sequence;
            }
            break;
        case StartAt::Kind::kTime: {
            const std::optional<std::uint64_t> sequence = sequence_at_time(dir_, start.time_ns());
            if (sequence) {
                next_ = *sequence;
            } else if (topic_.view().timestamps) {
                live_start_ = StartAt::time(start.time_ns());  // newer than all the archive holds
            } else {
                // Newer than the archive, and the ring cannot say when its records were
                // published: what is published from now on.
                live_start_ = StartAt::latest();
            }
            break;
        }
        default:
            throw Error(ErrorCode::kInvalidArgument,
                        "a history subscriber starts at a sequence, a time or the earliest "
                        "archived record");
    }
}

std::size_t HistorySubscriber::read_archive_records(
    std::size_t limit, bool& exhausted, const std::function<void(const Record&)>& deliver) {
    exhausted = true;
    if (live_start_ || limit == 0) {
        exhausted = live_start_.has_value();
        return 0;
    }
    if (!cursor_) cursor_.emplace(dir_, next_, true);
    std::size_t delivered = 0;
    cursor_->read([&](const ArchivedEntry& entry) {
        const std::uint64_t end =
            entry.kind == EntryKind::kGap ? entry.sequence + entry.gap_count : entry.sequence + 1;
        if (end <= next_) return true;
        if (entry.kind == EntryKind::kGap) {
            archive_lost_ += end - std::max(entry.sequence, next_);
            next_ = end;
            first_read_ = false;
            return true;
        }
        // Sequences skipped between records are aborted claims; before the first record read,
        // they are what the archive no longer holds (trimmed) or never recorded.
        if (first_read_ && entry.sequence > next_) archive_lost_ += entry.sequence - next_;
        first_read_ = false;
        Record record;
        record.payload = entry.payload;
        record.sequence = entry.sequence;
        record.timestamp_ns = entry.timestamp_ns;
        record.publisher = entry.publisher;
        next_ = entry.sequence + 1;
        ++delivered;
        deliver(record);
        if (delivered < limit) return true;
        exhausted = false;
        return false;
    });
    return delivered;
}

void HistorySubscriber::attach_live() {
    SubscriberOptions options = live_options_;
    options.start = live_start_ ? *live_start_ : StartAt::sequence(next_);
    live_.emplace(topic_, options);
    // A start the ring chose itself has nothing to check against the archive.
    joining_ = !live_start_.has_value();
    live_start_.reset();
}

bool HistorySubscriber::retreat_to_archive() {
    // A recorder at work extends the archive past what the ring lost: read it again. With none,
    // nothing will: the loss is final, and counted.
    return recording_active(dir_);
}

Status HistorySubscriber::wait(std::chrono::nanoseconds timeout) {
    if (live_) return live_->wait(timeout);
    if (found_in_archive_) return Status::kOk;
    const std::chrono::nanoseconds pause = std::min(timeout, kArchiveRetry);
    std::this_thread::sleep_for(pause);
    return pause < timeout ? Status::kOk : Status::kTimedOut;
}

std::uint64_t HistorySubscriber::next_sequence() const noexcept {
    return next_;
}

std::uint64_t HistorySubscriber::lost() const noexcept {
    return archive_lost_ + (live_ ? live_->lost() : 0);
}

}  // namespace shmbus::archive
