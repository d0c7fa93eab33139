// shmbus record: archive a topic into a directory of segments (docs/ARCHIVE.md).
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>

#include "arguments.hpp"
#include "bus_directory.hpp"
#include "command.hpp"
#include "interrupts.hpp"
#include "shmbus/archive/archive_writer.hpp"
#include "shmbus/archive/progress_file.hpp"
#include "shmbus/archive/recorder.hpp"
#include "shmbus/detail/util/record_clock.hpp"

namespace shmbus::cli {
namespace {

using namespace std::chrono_literals;

class Record final : public Command {
  public:
    void define(CLI::App& app) override {
        app.add_option("TOPIC", topic_, "Topic to record")->required();
        app.add_option("-o,--output", output_, "Archive directory (created if missing)")
            ->required()
            ->type_name("DIR");
        app.add_option("--segment-size", segment_text_, "Start a new segment past this size")
            ->type_name("SIZE")
            ->default_str(segment_text_);
        app.add_option("--sync", sync_text_,
                       "none: written to the page cache (survives the recorder's crash); "
                       "always: fdatasync after each batch (survives a power loss)")
            ->type_name("none|always")
            ->default_str(sync_text_);
        app.add_option("--from", from_text_,
                       "Where an empty archive starts: earliest (what the ring holds) or "
                       "latest; an archive with records resumes after its last")
            ->type_name("earliest|latest")
            ->default_str(from_text_);
        retain_bytes_option_ =
            app.add_option("--retain-bytes", retain_bytes_text_,
                           "Keep the archive within this size: remove its oldest segments each "
                           "time a segment starts (never the one being written)")
                ->type_name("SIZE");
        retain_age_option_ =
            app.add_option("--retain-age", retain_age_text_,
                           "Remove segments whose newest record is older than this (10m, 2h, "
                           "7d) each time a segment starts")
                ->type_name("DURATION");
        count_option_ =
            app.add_option("-n,--count", count_text_, "Stop after N records")->type_name("N");
    }

    ExitStatus run(const Context& context) override {
        archive::WriterOptions options;
        options.segment_bytes = parse_size("--segment-size", segment_text_);
        if (retain_bytes_option_->count() > 0) {
            options.retention.max_bytes = parse_size("--retain-bytes", retain_bytes_text_);
        }
        if (retain_age_option_->count() > 0) {
            options.retention.max_age = parse_duration("--retain-age", retain_age_text_);
        }
        if (sync_text_ == "none") {
            options.sync = archive::SyncPolicy::kNone;
        } else if (sync_text_ == "always") {
            options.sync = archive::SyncPolicy::kEveryFlush;
        } else {
            throw Failure(ExitStatus::kUsage,
                          fmt::format("--sync: '{}' is neither none nor always", sync_text_));
        }
        if (from_text_ != "earliest" && from_text_ != "latest") {
            throw Failure(ExitStatus::kUsage,
                          fmt::format("--from: '{}' is neither earliest nor latest", from_text_));
        }
        std::uint64_t count = std::numeric_limits<std::uint64_t>::max();
        if (count_option_->count() > 0) count = parse_count("--count", count_text_);

        InterruptScope interrupts;
        const Topic topic =
            open_topic(context.bus_directory, topic_, {.access = Access::kSubscribe});
        archive::ArchiveWriter writer(
            output_, topic.name(),
            std::span<const std::uint8_t, 16>(topic.view().records->topic_id), options);
        if (writer.truncated_bytes() > 0) {
            fmt::print(stderr, "shmbus: {}: cut {} bytes off the last segment ({})\n", output_,
                       writer.truncated_bytes(), writer.truncation_reason());
        }
        archive::Recorder recorder(
            topic, writer, from_text_ == "latest" ? StartAt::latest() : StartAt::earliest());
        // DIR/.progress says how far the archive goes after each flush, for shmbusd's bookmark
        // (docs/ARCHIVE.md, "The progress file").
        archive::ProgressFile progress_file(writer.directory());
        archive::Progress progress;
        std::memcpy(progress.topic_id, topic.view().records->topic_id, sizeof progress.topic_id);
        progress.pid = static_cast<std::uint32_t>(::getpid());
        const auto report_progress = [&](int error) {
            progress.next_sequence = writer.next_sequence();
            progress.flushed_at_ns = util::realtime_ns();
            progress.last_error = error;
            progress_file.write(progress);
        };
        report_progress(0);
        std::uint64_t recorded = 0;
        while (recorded < count && interrupt_signal() == 0) {
            PollResult step;
            try {
                step = recorder.step(
                    static_cast<std::size_t>(std::min<std::uint64_t>(count - recorded, 4096)));
            } catch (const Error& error) {
                // Best effort: the flush's own error is the one to report, whatever this does.
                try {
                    report_progress(error.system_errno());
                } catch (const Error&) {
                }
                throw;
            }
            // Only when the archive grew: an idle recorder does not wake the daemon every 100 ms.
            if (writer.next_sequence() != progress.next_sequence) report_progress(0);
            recorded = recorder.counts().records;
            if (step.status == Status::kEvicted) {
                throw Failure(ExitStatus::kEvicted,
                              fmt::format("the recorder of '{}' was evicted for holding back "
                                          "its publishers; {} is complete up to there",
                                          topic_, output_));
            }
            if (step.records == 0) (void)recorder.subscriber().wait(100ms);
        }
        const archive::RecorderCounts& counts = recorder.counts();
        fmt::print(stderr, "shmbus: recorded {} records of '{}' into {}", counts.records, topic_,
                   output_);
        if (counts.gaps > 0) {
            fmt::print(stderr, " ({} gap(s), {} records missing)", counts.gaps, counts.gap_records);
        }
        if (writer.segments_removed() > 0) {
            fmt::print(stderr, "; removed {} old segment(s), {} bytes", writer.segments_removed(),
                       writer.bytes_removed());
        }
        fmt::print(stderr, "\n");
        if (const int signal = interrupt_signal(); signal != 0) throw Interrupted(signal);
        return ExitStatus::kOk;
    }

  private:
    std::string topic_;
    std::string output_;
    std::string segment_text_ = "64M";
    std::string sync_text_ = "none";
    std::string from_text_ = "earliest";
    std::string count_text_;
    std::string retain_bytes_text_;
    std::string retain_age_text_;
    CLI::Option* count_option_ = nullptr;
    CLI::Option* retain_bytes_option_ = nullptr;
    CLI::Option* retain_age_option_ = nullptr;
};

const CommandRegistration registration{"record", "Record a topic into an archive directory",
                                       make_command<Record>};

}  // namespace
}  // namespace shmbus::cli
