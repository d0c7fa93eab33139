// A subscriber that starts in a topic's past: it reads the topic's archive from a sequence or a
// time, then joins the live ring, with no gap and no duplicate at the switch (docs/ARCHIVE.md,
// "Joining the live ring").
//
//   shmbus::archive::HistorySubscriber history(topic, "/var/lib/shmbus/archive/prices",
//                                              shmbus::StartAt::time(yesterday_ns));
//   while (running) {
//       history.poll([](const shmbus::Record& record) { ... });
//       (void)history.wait(std::chrono::milliseconds(100));
//   }
//
// One position space: the archive and the ring number records by the same sequence. The
// subscriber keeps the next sequence it owes. While the archive holds it, it reads the
// archive. When the archive has nothing more, it attaches a ring Subscriber at exactly that
// sequence (StartAt::sequence). If publishers overwrote it meanwhile (the ring lapped during
// the switch), the ring subscriber reports the loss at its first record; that record is not
// delivered, the ring subscriber is dropped, and the archive, which the recorder has extended
// meanwhile, is read again. Only when no recorder holds the archive (nothing can extend it) is
// the loss accepted and counted in lost().
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <utility>

#include "shmbus/archive/archive_cursor.hpp"
#include "shmbus/status.hpp"
#include "shmbus/subscriber.hpp"
#include "shmbus/topic.hpp"

namespace shmbus::archive {

class HistorySubscriber {
  public:
    /// Starts at `start` in the archive in `archive_dir` of `topic`: StartAt::sequence(n),
    /// StartAt::time(t) (the archive's index finds it; records newer than the archive are looked
    /// for in the ring, which then needs timestamps), or StartAt::earliest() (the archive's
    /// first record). `live` configures the ring subscriber (its `start` is not used). Throws
    /// shmbus::Error: kInvalidArgument for another kind of start, kNotFound when the directory
    /// does not exist, kIncompatible when the archive is of another topic, and what a ring
    /// Subscriber's constructor throws.
    HistorySubscriber(const Topic& topic, std::filesystem::path archive_dir, StartAt start,
                      SubscriberOptions live = {});

    /// Hands up to `limit` records to `handler(const Record&)`, from the archive or the ring,
    /// each sequence at most once and in order, and returns without waiting. A record read from
    /// the archive has no ring position (Record::position and next_position are 0). A handler
    /// that throws: as for Subscriber::poll, the record counts as delivered.
    template <typename Handler>
    PollResult poll(Handler&& handler, std::size_t limit = Subscriber::kDefaultBatch);

    /// Live: Subscriber::wait. Before that: kOk at once when the last poll found records in the
    /// archive; otherwise it waits for the recorder to extend the archive, looking again every
    /// millisecond, up to `timeout`.
    [[nodiscard]] Status wait(std::chrono::nanoseconds timeout);

    /// Whether the subscriber reads the ring now. It never goes back to the archive after that.
    [[nodiscard]] bool live() const noexcept { return live_.has_value() && !joining_; }
    /// The sequence the next record should carry.
    [[nodiscard]] std::uint64_t next_sequence() const noexcept;
    [[nodiscard]] std::uint64_t consumed() const noexcept { return consumed_; }
    /// Records neither the archive nor the ring could give: the archive's gap entries, records
    /// trimmed away or never recorded before the start, and the ring's losses once live.
    [[nodiscard]] std::uint64_t lost() const noexcept;
    /// Records delivered from the archive.
    [[nodiscard]] std::uint64_t from_archive() const noexcept { return from_archive_; }
    /// Times the ring had moved past the next sequence when the subscriber tried to join it,
    /// and it went back to the archive.
    [[nodiscard]] std::uint64_t rejoins() const noexcept { return rejoins_; }

  private:
    /// Reads up to `limit` archive entries from next_, delivering records through `deliver`.
    /// Returns how many records it delivered; `exhausted` says whether the archive ended.
    std::size_t read_archive_records(std::size_t limit, bool& exhausted,
                                     const std::function<void(const Record&)>& deliver);
    /// Attaches the ring subscriber at next_ (or as the start asks, for a time past the archive).
    void attach_live();
    /// The joining ring subscriber's first record was `sequence`, and the ring had lost some
    /// records before it: true to go back to the archive, false to accept the loss.
    bool retreat_to_archive();

    Topic topic_;
    std::filesystem::path dir_;
    SubscriberOptions live_options_;
    std::optional<ArchiveCursor> cursor_;  // following the archive from next_
    std::optional<Subscriber> live_;
    std::optional<StartAt> live_start_;  // set: attach with this start instead of next_
    bool joining_ = false;               // live_ attached, its first record not checked yet
    bool found_in_archive_ = false;
    bool first_read_ = true;  // nothing delivered yet: a skip before the first record is lost
    std::uint64_t next_ = 0;
    std::uint64_t consumed_ = 0;
    std::uint64_t archive_lost_ = 0;
    std::uint64_t from_archive_ = 0;
    std::uint64_t rejoins_ = 0;
};

template <typename Handler>
PollResult HistorySubscriber::poll(Handler&& handler, std::size_t limit) {
    PollResult result;
    if (!live_) {
        bool exhausted = false;
        result.records = read_archive_records(limit, exhausted, [&](const Record& record) {
            ++consumed_;
            ++from_archive_;
            handler(record);
        });
        found_in_archive_ = result.records > 0;
        if (!exhausted) return result;
        attach_live();
        limit -= result.records;
        if (limit == 0) return result;
    }
    if (joining_) {
        // The first ring record decides: Subscriber::lost() counts, before the handler runs,
        // whatever the ring no longer held between next_ and it.
        bool retreat = false;
        const PollResult first = live_->poll(
            [&](const Record& record) {
                if (live_->lost() > 0 && retreat_to_archive()) {
                    retreat = true;
                    return;
                }
                joining_ = false;
                next_ = record.sequence + 1;
                ++consumed_;
                handler(record);
            },
            1);
        if (retreat) {
            live_.reset();
            joining_ = false;
            ++rejoins_;
            return result;
        }
        result.status = first.status;
        result.records += first.records;
        if (joining_ || first.status != Status::kOk) return result;
        limit -= first.records;
    }
    const PollResult rest = live_->poll(
        [&](const Record& record) {
            next_ = record.sequence + 1;
            ++consumed_;
            handler(record);
        },
        limit);
    result.records += rest.records;
    result.status = rest.status;
    return result;
}

}  // namespace shmbus::archive
