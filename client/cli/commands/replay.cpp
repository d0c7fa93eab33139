// shmbus replay DIR --to TOPIC: publish the records of an archive (docs/ARCHIVE.md) into a live
// topic, spaced as they were recorded, faster or slower, or at a fixed rate.
//
// Each record is due at an absolute CLOCK_MONOTONIC deadline: the moment the first record was
// out, plus the schedule's offset (replay_schedule.hpp), so sleeping late, publishing or waiting for
// room never accumulates: a record whose deadline has passed goes out at once.
#include <fmt/format.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "arguments.hpp"
#include "bus_directory.hpp"
#include "command.hpp"
#include "interruptible_offer.hpp"
#include "interrupts.hpp"
#include "replay_schedule.hpp"
#include "shmbus/archive/archive_reader.hpp"
#include "shmbus/publisher.hpp"

namespace shmbus::cli {
namespace {

constexpr std::int64_t kNsPerSecond = 1'000'000'000;
// A replay waiting for its next deadline looks for SIGINT and SIGTERM at least this often.
constexpr std::int64_t kSleepSliceNs = 100'000'000;

/// CLOCK_MONOTONIC now, in nanoseconds: the clock the deadlines are on (not the wall clock,
/// which may step while a replay runs).
std::int64_t monotonic_ns() noexcept {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::int64_t>(now.tv_sec) * kNsPerSecond + now.tv_nsec;
}

/// Sleeps until `deadline` (CLOCK_MONOTONIC ns; at once if it has passed). False if SIGINT or
/// SIGTERM asked the tool to stop first.
bool sleep_until(std::int64_t deadline) noexcept {
    for (;;) {
        if (interrupt_signal() != 0) return false;
        const std::int64_t now = monotonic_ns();
        if (now >= deadline) return true;
        // An absolute wake-up time: time lost before or in the call is not slept again. In
        // slices, so that a signal that came just before the call ends the wait soon after.
        const std::int64_t until = std::min(deadline, now + kSleepSliceNs);
        const timespec at{static_cast<time_t>(until / kNsPerSecond),
                          static_cast<long>(until % kNsPerSecond)};
        (void)::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr);  // EINTR: look
    }
}

/// What a replay did, for its summary line.
struct ReplayCounts {
    std::uint64_t records = 0;      // published
    std::uint64_t gaps = 0;         // gap entries passed over
    std::uint64_t gap_records = 0;  // the records they stand for
};

class Replay final : public Command {
  public:
    void define(CLI::App& app) override {
        app.add_option("DIR", archive_, "Archive directory, as shmbus record wrote it")
            ->required()
            ->type_name("");
        app.add_option("--to", topic_, "Topic to publish the records to")
            ->required()
            ->type_name("TOPIC");
        speed_option_ = app.add_option("--speed", speed_text_,
                                       "Play the recording's timing FACTOR times as fast (1, 2x, "
                                       "0.5x); 0 or max: no waiting (default: 1)")
                            ->type_name("FACTOR");
        rate_option_ = app.add_option("--rate", rate_text_,
                                      "Publish N records a second instead, whatever their "
                                      "timestamps; 0 or max: no waiting")
                           ->type_name("N/s");
        from_option_ =
            app.add_option("--from-sequence", from_text_,
                           "Start at the first record at or after sequence N of the archive")
                ->type_name("N");
        count_option_ =
            app.add_option("-n,--count", count_text_, "Stop after N records")->type_name("N");
    }

    ExitStatus run(const Context& context) override {
        if (speed_option_->count() > 0 && rate_option_->count() > 0) {
            throw Failure(ExitStatus::kUsage,
                          "--speed and --rate exclude each other: give one of them");
        }
        const Pace pace = rate_option_->count() > 0 ? parse_rate("--rate", rate_text_)
                                                    : parse_speed("--speed", speed_text_);
        std::uint64_t from = 0;
        if (from_option_->count() > 0) from = parse_count("--from-sequence", from_text_);
        std::uint64_t count = std::numeric_limits<std::uint64_t>::max();
        if (count_option_->count() > 0) count = parse_count("--count", count_text_);
        // A missing archive is reported before the topic is opened (kNotFound).
        if (archive::list_segments(archive_).empty()) {
            fmt::print(stderr, "shmbus: {} holds no segments\n", archive_);
        }

        InterruptScope interrupts;
        const Topic topic = open_topic(context.bus_directory, topic_, {.access = Access::kPublish});
        Publisher publisher(topic);
        ReplaySchedule schedule(pace);
        std::optional<std::int64_t> start;  // when the first record was out
        ReplayCounts counts;
        archive::ReadSummary summary;
        if (count > 0) {
            summary =
                archive::read_archive(archive_, from, [&](const archive::ArchivedEntry& entry) {
                    if (entry.kind == archive::EntryKind::kGap) {
                        ++counts.gaps;
                        counts.gap_records += entry.gap_count;
                        return true;
                    }
                    check_fits(topic, entry, counts);
                    const std::chrono::nanoseconds offset = schedule.next(entry.timestamp_ns);
                    if (start && !sleep_until(*start + offset.count())) return false;
                    publish(publisher, entry);
                    // The schedule starts once the first record is out: the first publication
                    // (the first wake-up of a subscriber, say) may cost more than the others.
                    if (!start) start = monotonic_ns();
                    ++counts.records;
                    return counts.records < count && interrupt_signal() == 0;
                });
        }
        report(summary, counts);
        if (const int signal = interrupt_signal(); signal != 0) throw Interrupted(signal);
        return ExitStatus::kOk;
    }

  private:
    /// Refuses a record the topic cannot carry, before anything of it is published.
    void check_fits(const Topic& topic, const archive::ArchivedEntry& entry,
                    const ReplayCounts& counts) const {
        if (entry.payload.size() <= topic.max_record_size()) return;
        throw Failure(ExitStatus::kUsage,
                      fmt::format("record {} of {} is {} bytes, too long: topic '{}' takes "
                                  "records of at most {} bytes ({} records replayed before it)",
                                  entry.sequence, archive_, entry.payload.size(), topic_,
                                  topic.max_record_size(), counts.records));
    }

    /// Publishes one record, waiting for room as long as it takes (a signal stops the wait).
    void publish(Publisher& publisher, const archive::ArchivedEntry& entry) const {
        const Status status = offer_interruptibly(publisher, entry.payload, std::nullopt);
        if (status != Status::kOk) {
            throw Failure(exit_status_for(status),
                          fmt::format("publishing record {} of {} to topic '{}': {}",
                                      entry.sequence, archive_, topic_, to_string(status)));
        }
    }

    /// The damage the archive reader passed over, one line each, then the summary line.
    void report(const archive::ReadSummary& summary, const ReplayCounts& counts) const {
        std::uint64_t damaged_bytes = 0;
        std::uint64_t unreadable = 0;
        for (const archive::Damage& damage : summary.damage) {
            const std::string name = damage.segment.filename().string();
            if (damage.skipped_bytes == 0) {  // the segment could not be opened at all
                ++unreadable;
                fmt::print(stderr, "shmbus: {}: {}; segment skipped\n", name, damage.problem);
                continue;
            }
            damaged_bytes += damage.skipped_bytes;
            fmt::print(stderr, "shmbus: {}: {} at offset {}; {} bytes skipped\n", name,
                       damage.problem, damage.offset, damage.skipped_bytes);
        }
        fmt::print(stderr,
                   "shmbus: replayed {} records of {} into '{}'; skipped {} gap(s) ({} records "
                   "missing) and {} damaged bytes",
                   counts.records, archive_, topic_, counts.gaps, counts.gap_records,
                   damaged_bytes);
        if (unreadable > 0) fmt::print(stderr, " and {} unreadable segment(s)", unreadable);
        fmt::print(stderr, "\n");
    }

    std::string archive_;
    std::string topic_;
    std::string speed_text_ = "1";
    std::string rate_text_;
    std::string from_text_;
    std::string count_text_;
    CLI::Option* speed_option_ = nullptr;
    CLI::Option* rate_option_ = nullptr;
    CLI::Option* from_option_ = nullptr;
    CLI::Option* count_option_ = nullptr;
};

const CommandRegistration registration{"replay", "Publish an archive's records into a topic",
                                       make_command<Replay>};

}  // namespace
}  // namespace shmbus::cli
