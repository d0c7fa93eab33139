// shmbus sub --from-sequence, --since and --archive, run as a user would: history from the ring,
// from an archive and then live, and the messages for starts that cannot be.
#include <doctest/doctest.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

#include "support/bus_directory.hpp"
#include "tool.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::test::BusDirectory;
using shmbus::test::cli::Clock;
using shmbus::test::cli::contains;
using shmbus::test::cli::lines;
using shmbus::test::cli::Process;
using shmbus::test::cli::run_tool;
using shmbus::test::cli::ToolResult;

std::vector<std::string> records(int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i <= to; ++i)
        out.push_back(std::to_string(i));
    return out;
}

/// Now on CLOCK_REALTIME as --since takes it: "2026-12-07T10:00:00.123456789Z".
std::string utc_now() {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    std::tm fields{};
    ::gmtime_r(&now.tv_sec, &fields);
    char text[64];
    const std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &fields);
    char fraction[16];
    std::snprintf(fraction, sizeof fraction, ".%09ldZ", now.tv_nsec);
    return std::string(text, length) + fraction;
}

/// Records topic `t` into `archive` until it holds `count` records: a recorder attached before
/// anything is published, so a block topic holds its publishers back for it.
struct Recording {
    Process recorder;
    Recording(const std::string& dir, const std::string& archive, int count)
        : recorder(Process::start_tool(
              {"--dir", dir, "record", "t", "-o", archive, "-n", std::to_string(count)})) {
        shmbus::test::cli::wait_for_live_subscribers(dir, "t", 1, Clock::now() + 10s);
    }
    void finish() {
        const auto ended = recorder.wait_until(Clock::now() + 30s);
        REQUIRE_MESSAGE(ended, "the recorder did not finish");
        CHECK_MESSAGE(ended->exited, recorder.error_output());
        CHECK_MESSAGE(ended->code == 0, recorder.error_output());
    }
};

}  // namespace

TEST_CASE("sub --from-sequence and --since start in the ring at a sequence and at a time") {
    BusDirectory bus;
    const std::string dir = bus.path().string();
    REQUIRE(run_tool({"--dir", dir, "create", "t"}).status() == 0);
    REQUIRE(run_tool({"--dir", dir, "pub", "t"}, {.input = lines(1, 5)}).status() == 0);
    const std::string boundary = utc_now();
    REQUIRE(run_tool({"--dir", dir, "pub", "t"}, {.input = lines(6, 8)}).status() == 0);

    // Sequences count from 0: the record with sequence 4 is the fifth line.
    const ToolResult from_sequence =
        run_tool({"--dir", dir, "sub", "t", "--from-sequence", "4", "--count", "4"});
    REQUIRE_MESSAGE(from_sequence.status() == 0, from_sequence.err);
    CHECK(from_sequence.out == lines(5, 8));

    const ToolResult since_time =
        run_tool({"--dir", dir, "sub", "t", "--since", boundary, "--count", "3"});
    REQUIRE_MESSAGE(since_time.status() == 0, since_time.err);
    CHECK(since_time.out == lines(6, 8));

    const ToolResult since_hour =
        run_tool({"--dir", dir, "sub", "t", "--since", "1h", "--count", "8", "--timeout", "5"});
    REQUIRE_MESSAGE(since_hour.status() == 0, since_hour.err);
    CHECK(since_hour.out == lines(1, 8));
}

TEST_CASE("sub --archive reads what the ring no longer holds from the archive, then goes live") {
    BusDirectory bus;
    const std::string dir = bus.path().string();
    const std::string archive = (bus.path() / "archive").string();
    // A 4 KiB ring holds a few dozen of these records: the rest are only in the archive.
    REQUIRE(run_tool({"--dir", dir, "create", "t", "--capacity", "4K", "--max-record", "256"})
                .status() == 0);
    {
        Recording recording(dir, archive, 600);
        REQUIRE(run_tool({"--dir", dir, "pub", "t"}, {.input = lines(1, 300)}).status() == 0);
        const std::string boundary = utc_now();
        REQUIRE(run_tool({"--dir", dir, "pub", "t"}, {.input = lines(301, 600)}).status() == 0);
        recording.finish();

        const ToolResult whole =
            run_tool({"--dir", dir, "sub", "t", "--archive", archive, "--count", "600"});
        REQUIRE_MESSAGE(whole.status() == 0, whole.err);
        CHECK(whole.out == lines(1, 600));

        const ToolResult from_sequence = run_tool({"--dir", dir, "sub", "t", "--archive", archive,
                                                   "--from-sequence", "99", "--count", "10"});
        REQUIRE_MESSAGE(from_sequence.status() == 0, from_sequence.err);
        CHECK(from_sequence.out == lines(100, 109));

        const ToolResult since = run_tool(
            {"--dir", dir, "sub", "t", "--archive", archive, "--since", boundary, "--count", "5"});
        REQUIRE_MESSAGE(since.status() == 0, since.err);
        CHECK(since.out == lines(301, 305));
    }

    // From the archive into live records: 590 .. 600 are archived, 601 .. 605 come later.
    Process reader = Process::start_tool({"--dir", dir, "sub", "t", "--archive", archive,
                                          "--from-sequence", "589", "--count", "16"});
    std::string out;
    while (out.size() < lines(590, 600).size()) {
        const auto more = reader.read_output(Clock::now() + 20s);
        REQUIRE_MESSAGE(more.has_value(), "no output; stderr: " << reader.error_output());
        REQUIRE_FALSE(more->empty());
        out += *more;
    }
    CHECK(out == lines(590, 600));
    // Live now: it holds the block topic's publishers back like any subscriber.
    shmbus::test::cli::wait_for_live_subscribers(dir, "t", 1, Clock::now() + 10s);
    REQUIRE(run_tool({"--dir", dir, "pub", "t"}, {.input = lines(601, 605)}).status() == 0);
    std::string rest;
    const auto ended = reader.finish(Clock::now() + 20s, rest);
    REQUIRE(ended);
    CHECK_MESSAGE(ended->code == 0, reader.error_output());
    CHECK(out + rest == lines(590, 605));
}

TEST_CASE("sub refuses history starts it cannot keep, with a message and status") {
    BusDirectory bus;
    const std::string dir = bus.path().string();
    REQUIRE(run_tool({"--dir", dir, "create", "t"}).status() == 0);
    shmbus::test::cli::publish(bus.path(), "t", records(1, 3));

    const ToolResult bad_since = run_tool({"--dir", dir, "sub", "t", "--since", "yesterday"});
    CHECK(bad_since.status() == 2);
    CHECK(contains(bad_since.err, "--since: 'yesterday' is neither a duration"));

    const ToolResult two_starts =
        run_tool({"--dir", dir, "sub", "t", "--since", "1m", "--from-sequence", "1"});
    CHECK(two_starts.status() == 2);
    CHECK(contains(two_starts.err, "give one"));

    const ToolResult glob = run_tool({"--dir", dir, "sub", "t*", "--from-sequence", "1"});
    CHECK(glob.status() == 2);
    CHECK(contains(glob.err, "--from-sequence: sequence numbers are a topic's own"));

    const ToolResult future = run_tool({"--dir", dir, "sub", "t", "--from-sequence", "100"});
    CHECK(future.status() == 2);
    CHECK(contains(future.err, "sequence 100 has not been published yet (the next is 3)"));

    const ToolResult no_archive =
        run_tool({"--dir", dir, "sub", "t", "--archive", (bus.path() / "nowhere").string()});
    CHECK(no_archive.status() == 3);
    CHECK(contains(no_archive.err, "does not exist"));

    REQUIRE(run_tool({"--dir", dir, "create", "plain", "--no-timestamps"}).status() == 0);
    const ToolResult untimed = run_tool({"--dir", dir, "sub", "plain", "--since", "1m"});
    CHECK(untimed.status() == 2);
    CHECK(contains(untimed.err, "has no timestamps"));
}
