// shmbus archive ls | verify | trim DIR: what an archive holds, whether every entry is whole,
// and removing its oldest segments by size or age (docs/ARCHIVE.md).
#include <fmt/format.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <string>

#include "arguments.hpp"
#include "command.hpp"
#include "exit_status.hpp"
#include "shmbus/archive/archive_inspect.hpp"
#include "shmbus/archive/retention.hpp"
#include "shmbus/detail/util/record_clock.hpp"
#include "text_table.hpp"

namespace shmbus::cli {
namespace {

std::string utc(std::uint64_t ns) {
    if (ns == 0) return "-";
    const time_t seconds = static_cast<time_t>(ns / 1'000'000'000u);
    tm parts{};
    ::gmtime_r(&seconds, &parts);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
    return text;
}

std::string last_sequence(const archive::SegmentReport& segment) {
    return segment.next_sequence > segment.first_sequence
               ? std::to_string(segment.next_sequence - 1)
               : "-";
}

class Archive final : public Command {
  public:
    void define(CLI::App& app) override {
        app.require_subcommand(1);
        ls_ = app.add_subcommand("ls", "List the segments: sequences, size and time range");
        ls_->add_option("DIR", dir_, "Archive directory")->required();
        verify_ = app.add_subcommand(
            "verify",
            "Check every entry's checksum and order, and every index (exit 5 if any "
            "is wrong)");
        verify_->add_option("DIR", dir_, "Archive directory")->required();
        trim_ = app.add_subcommand(
            "trim",
            "Remove the oldest segments beyond a size or an age, never the last (safe beside "
            "a running recorder)");
        trim_->add_option("DIR", dir_, "Archive directory")->required();
        retain_bytes_option_ =
            trim_
                ->add_option("--retain-bytes", retain_bytes_text_,
                             "Remove the oldest segments until the archive is within SIZE")
                ->type_name("SIZE");
        retain_age_option_ =
            trim_
                ->add_option("--retain-age", retain_age_text_,
                             "Remove the oldest segments whose newest record is older than "
                             "DURATION (10m, 2h, 7d)")
                ->type_name("DURATION");
    }

    [[nodiscard]] bool needs_bus_directory() const override { return false; }

    ExitStatus run(const Context&) override {
        if (trim_->parsed()) return trim();
        const bool full = verify_->parsed();
        const archive::ArchiveReport report = archive::inspect_archive(dir_, full);
        TextTable table;
        if (full) {
            table.add({"SEGMENT", "FIRST", "LAST", "RECORDS", "GAPS", "MISSING", "BYTES", "STATE"});
        } else {
            table.add({"SEGMENT", "FIRST", "LAST", "BYTES", "FROM", "TO"});
        }
        for (const archive::SegmentReport& segment : report.segments) {
            const std::string name = segment.path.filename().string();
            if (!segment.error.empty()) {
                if (full) {
                    table.add({name, std::to_string(segment.first_sequence), "?", "?", "?", "?",
                               "?", "unreadable"});
                } else {
                    table.add({name, std::to_string(segment.first_sequence), "?", "?", "?", "?"});
                }
                fmt::print(stderr, "shmbus: {}\n", segment.error);
                continue;
            }
            if (!full) {
                table.add({name, std::to_string(segment.first_sequence), last_sequence(segment),
                           std::to_string(segment.bytes), utc(segment.first_timestamp_ns),
                           utc(segment.last_timestamp_ns)});
                continue;
            }
            std::string state = "ok";
            if (!segment.damage.empty()) {
                state = fmt::format("{} damaged region(s)", segment.damage.size());
            } else if (!segment.index_problem.empty()) {
                state = "index wrong";
            } else if (segment.torn_tail) {
                state = "torn tail";
            }
            table.add({name, std::to_string(segment.first_sequence), last_sequence(segment),
                       std::to_string(segment.records), std::to_string(segment.gaps),
                       std::to_string(segment.gap_records), std::to_string(segment.bytes), state});
            for (const archive::Damage& damage : segment.damage) {
                fmt::print(stderr, "shmbus: {}: {} at offset {}; {} bytes skipped\n", name,
                           damage.problem, damage.offset, damage.skipped_bytes);
            }
            if (!segment.index_problem.empty()) {
                fmt::print(stderr, "shmbus: {}: {}\n", name, segment.index_problem);
            }
            if (segment.torn_tail) {
                fmt::print(stderr,
                           "shmbus: {}: ends inside an entry (a recorder stopped mid-write; the "
                           "next recorder cuts it off)\n",
                           name);
            }
        }
        for (const std::string& problem : report.problems) {
            fmt::print(stderr, "shmbus: {}: {}\n", dir_, problem);
        }
        fmt::print("{}", table.render());
        if (report.segments.empty()) fmt::print(stderr, "shmbus: {} holds no segments\n", dir_);
        return full && !report.clean() ? ExitStatus::kBadFile : ExitStatus::kOk;
    }

  private:
    ExitStatus trim() {
        archive::RetentionPolicy policy;
        if (retain_bytes_option_->count() > 0) {
            policy.max_bytes = parse_size("--retain-bytes", retain_bytes_text_);
        }
        if (retain_age_option_->count() > 0) {
            policy.max_age = parse_duration("--retain-age", retain_age_text_);
        }
        if (!policy.limits()) {
            throw Failure(ExitStatus::kUsage,
                          "archive trim: give --retain-bytes SIZE, --retain-age DURATION or both");
        }
        const archive::RetentionResult result =
            archive::apply_retention(dir_, policy, util::realtime_ns());
        std::uint64_t bytes = 0;
        if (!result.removed.empty()) {
            TextTable table;
            table.add({"REMOVED", "FIRST", "BYTES", "WHY"});
            for (const archive::RemovedSegment& segment : result.removed) {
                table.add({segment.path.filename().string(), std::to_string(segment.first_sequence),
                           std::to_string(segment.bytes),
                           segment.reason == archive::RemovalReason::kAge ? "age" : "size"});
                bytes += segment.bytes;
            }
            fmt::print("{}", table.render());
        }
        for (const std::filesystem::path& orphan : result.orphan_indexes) {
            fmt::print(stderr, "shmbus: removed {}, an index left without its segment\n",
                       orphan.filename().string());
        }
        std::string left = "holds no segments";
        if (result.first_sequence_left) {
            left = fmt::format("starts at sequence {}, {} bytes", *result.first_sequence_left,
                               result.bytes_left);
        }
        fmt::print(stderr, "shmbus: removed {} segment(s), {} bytes; {} now {}\n",
                   result.removed.size(), bytes, dir_, left);
        return ExitStatus::kOk;
    }

    std::string dir_;
    std::string retain_bytes_text_;
    std::string retain_age_text_;
    CLI::App* ls_ = nullptr;
    CLI::App* verify_ = nullptr;
    CLI::App* trim_ = nullptr;
    CLI::Option* retain_bytes_option_ = nullptr;
    CLI::Option* retain_age_option_ = nullptr;
};

const CommandRegistration registration{"archive", "List, verify or trim an archive directory",
                                       make_command<Archive>};

}  // namespace
}  // namespace shmbus::cli
