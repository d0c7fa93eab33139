// shmbus archive ls | verify DIR: what an archive holds, and whether every entry is whole
// (docs/ARCHIVE.md).
#include <fmt/format.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <string>

#include "command.hpp"
#include "shmbus/archive/archive_inspect.hpp"
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
    }

    [[nodiscard]] bool needs_bus_directory() const override { return false; }

    ExitStatus run(const Context&) override {
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
    std::string dir_;
    CLI::App* ls_ = nullptr;
    CLI::App* verify_ = nullptr;
};

const CommandRegistration registration{"archive", "List or verify an archive directory",
                                       make_command<Archive>};

}  // namespace
}  // namespace shmbus::cli
