// shmbus archive trim and shmbus record --retain-bytes | --retain-age, run as a user would:
// which segments go, what is printed, and the exit status for bad arguments.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "support/bus_directory.hpp"
#include "tool.hpp"

namespace {

using shmbus::test::BusDirectory;
using shmbus::test::cli::contains;
using shmbus::test::cli::lines;
using shmbus::test::cli::run_tool;
using shmbus::test::cli::ToolResult;

/// The first sequences of the archive's segments (their 20-digit names), in order.
std::vector<std::uint64_t> segment_firsts(const std::filesystem::path& archive) {
    std::vector<std::uint64_t> firsts;
    for (const auto& item : std::filesystem::directory_iterator(archive)) {
        const std::string name = item.path().filename().string();
        if (name.size() == 24 && name.ends_with(".seg")) {
            firsts.push_back(std::stoull(name.substr(0, 20)));
        }
    }
    std::sort(firsts.begin(), firsts.end());
    return firsts;
}

/// A topic 't' with records 0 .. 2999, recorded into `archive` in 4 KiB segments (a segment
/// ends within one read batch past its size: about a dozen segments).
void record_3000(const BusDirectory& bus, const std::filesystem::path& archive) {
    const std::string dir = bus.path().string();
    REQUIRE(run_tool({"--dir", dir, "create", "t"}).status() == 0);
    REQUIRE(run_tool({"--dir", dir, "pub", "t"}, {.input = lines(1, 3000)}).status() == 0);
    const ToolResult record = run_tool({"--dir", dir, "record", "t", "-o", archive.string(), "-n",
                                        "3000", "--segment-size", "4K"});
    REQUIRE_MESSAGE(record.status() == 0, record.err);
}

}  // namespace

TEST_CASE("archive trim removes the oldest segments beyond a size, and says which") {
    BusDirectory bus;
    const std::filesystem::path archive = bus.path() / "archive";
    record_3000(bus, archive);
    const std::vector<std::uint64_t> before = segment_firsts(archive);
    REQUIRE(before.size() >= 4);

    const ToolResult trim = run_tool({"archive", "trim", archive.string(), "--retain-bytes", "8K"});
    REQUIRE_MESSAGE(trim.status() == 0, trim.err);
    const std::vector<std::uint64_t> after = segment_firsts(archive);
    REQUIRE_FALSE(after.empty());
    CHECK(after.size() < before.size());
    CHECK(after.back() == before.back());
    // The oldest went, and what is left is the newest part, whole.
    CHECK(after.front() == before[before.size() - after.size()]);
    CHECK(trim.out.starts_with("REMOVED"));
    CHECK(contains(trim.out, "00000000000000000000.seg  0 "));
    CHECK(contains(trim.out, " size"));
    CHECK(contains(trim.err,
                   "removed " + std::to_string(before.size() - after.size()) + " segment(s)"));
    CHECK(contains(trim.err, "now starts at sequence " + std::to_string(after.front())));

    const ToolResult verify = run_tool({"archive", "verify", archive.string()});
    CHECK_MESSAGE(verify.status() == 0, verify.err);
}

TEST_CASE("archive trim by age keeps recent segments, and removes all but the last at age 0") {
    BusDirectory bus;
    const std::filesystem::path archive = bus.path() / "archive";
    record_3000(bus, archive);
    const std::vector<std::uint64_t> before = segment_firsts(archive);
    REQUIRE(before.size() >= 2);

    const ToolResult recent = run_tool({"archive", "trim", archive.string(), "--retain-age", "1d"});
    REQUIRE_MESSAGE(recent.status() == 0, recent.err);
    CHECK(contains(recent.err, "removed 0 segment(s)"));
    CHECK(segment_firsts(archive) == before);

    const ToolResult all = run_tool({"archive", "trim", archive.string(), "--retain-age", "0s"});
    REQUIRE_MESSAGE(all.status() == 0, all.err);
    CHECK(contains(all.out, " age"));
    CHECK(segment_firsts(archive) == std::vector<std::uint64_t>{before.back()});
}

TEST_CASE("archive trim refuses a missing limit, a bad value and a missing directory") {
    BusDirectory bus;
    const std::filesystem::path archive = bus.path() / "archive";
    record_3000(bus, archive);
    const std::vector<std::uint64_t> before = segment_firsts(archive);

    const ToolResult none = run_tool({"archive", "trim", archive.string()});
    CHECK(none.status() == 2);
    CHECK(contains(none.err, "--retain-bytes SIZE, --retain-age DURATION or both"));

    const ToolResult bad_age =
        run_tool({"archive", "trim", archive.string(), "--retain-age", "a week"});
    CHECK(bad_age.status() == 2);
    CHECK(contains(bad_age.err, "--retain-age: 'a week' is not a duration"));

    const ToolResult bad_size =
        run_tool({"archive", "trim", archive.string(), "--retain-bytes", "lots"});
    CHECK(bad_size.status() == 2);
    CHECK(contains(bad_size.err, "--retain-bytes: 'lots' is not a size"));

    // Nothing was removed by the refused runs.
    CHECK(segment_firsts(archive) == before);

    const ToolResult missing =
        run_tool({"archive", "trim", (bus.path() / "nowhere").string(), "--retain-bytes", "1M"});
    CHECK(missing.status() == 3);
    CHECK(contains(missing.err, "nowhere"));
}

TEST_CASE("record --retain-bytes keeps the archive within the size as it records") {
    BusDirectory bus;
    const std::string dir = bus.path().string();
    const std::filesystem::path archive = bus.path() / "archive";
    REQUIRE(run_tool({"--dir", dir, "create", "t"}).status() == 0);
    REQUIRE(run_tool({"--dir", dir, "pub", "t"}, {.input = lines(1, 3000)}).status() == 0);
    const ToolResult record = run_tool({"--dir", dir, "record", "t", "-o", archive.string(), "-n",
                                        "3000", "--segment-size", "4K", "--retain-bytes", "8K"});
    REQUIRE_MESSAGE(record.status() == 0, record.err);
    CHECK(contains(record.err, "old segment(s)"));
    const std::vector<std::uint64_t> left = segment_firsts(archive);
    REQUIRE_FALSE(left.empty());
    // At each new segment, the closed ones beyond 8K went: at most one closed segment (each
    // is over 4K) stays beside the one written last.
    CHECK(left.front() > 0);
    CHECK(left.size() <= 2);
    // What is left ends with the last record, and is whole.
    const ToolResult verify = run_tool({"archive", "verify", archive.string()});
    CHECK_MESSAGE(verify.status() == 0, verify.err);
    CHECK(contains(verify.out, " 2999 "));

    const ToolResult bad = run_tool(
        {"--dir", dir, "record", "t", "-o", archive.string(), "-n", "1", "--retain-age", "7 days"});
    CHECK(bad.status() == 2);
    CHECK(contains(bad.err, "--retain-age: '7 days' is not a duration"));
}
