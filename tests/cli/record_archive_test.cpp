// shmbus record and shmbus archive ls | verify, run as a user would: what they print, and the
// exit status for each kind of trouble.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <shmbus/shmbus.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/bus_directory.hpp"
#include "tool.hpp"

namespace {

using shmbus::test::BusDirectory;
using shmbus::test::cli::contains;
using shmbus::test::cli::lines;
using shmbus::test::cli::Process;
using shmbus::test::cli::run_tool;
using shmbus::test::cli::ToolResult;

std::string dir_of(const BusDirectory& bus) {
    return bus.path().string();
}

/// Flips one byte of a file at `offset`.
void flip(const std::filesystem::path& file, off_t offset) {
    const int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    unsigned char byte = 0;
    REQUIRE(::pread(fd, &byte, 1, offset) == 1);
    byte ^= 0x40;
    REQUIRE(::pwrite(fd, &byte, 1, offset) == 1);
    ::close(fd);
}

}  // namespace

TEST_CASE("record archives a topic, resumes without duplicates, and ls and verify describe it") {
    BusDirectory bus;
    const std::string dir = dir_of(bus);
    const std::string archive = (bus.path() / "archive").string();
    REQUIRE(run_tool({"--dir", dir, "create", "t"}).status() == 0);
    REQUIRE(run_tool({"--dir", dir, "pub", "t"}, {.input = lines(1, 300)}).status() == 0);

    const ToolResult first =
        run_tool({"--dir", dir, "record", "t", "-o", archive, "-n", "300", "--segment-size", "4K"});
    REQUIRE_MESSAGE(first.status() == 0, first.err);
    CHECK(contains(first.err, "recorded 300 records of 't' into " + archive));

    // Restarted: the 300 are still in the ring and are passed over, not archived again.
    REQUIRE(run_tool({"--dir", dir, "pub", "t"}, {.input = lines(301, 400)}).status() == 0);
    const ToolResult second = run_tool({"--dir", dir, "record", "t", "-o", archive, "-n", "100",
                                        "--segment-size", "4K", "--sync", "always"});
    REQUIRE_MESSAGE(second.status() == 0, second.err);
    CHECK(contains(second.err, "recorded 100 records"));

    const ToolResult ls = run_tool({"archive", "ls", archive});
    REQUIRE_MESSAGE(ls.status() == 0, ls.err);
    CHECK(ls.out.starts_with("SEGMENT"));
    CHECK(contains(ls.out, "00000000000000000000.seg  0 "));
    CHECK(contains(ls.out, " 399 "));  // the last sequence

    const ToolResult verify = run_tool({"archive", "verify", archive});
    REQUIRE_MESSAGE(verify.status() == 0, verify.err);
    CHECK_FALSE(contains(verify.out, "damaged"));
    std::uint64_t records = 0;
    for (const auto& item : std::filesystem::directory_iterator(archive)) {
        if (item.path().extension() == ".seg") ++records;
    }
    CHECK(records > 1);  // 4 KiB segments: several
}

TEST_CASE("archive verify exits 5 on a flipped byte and names the segment and the problem") {
    BusDirectory bus;
    const std::string dir = dir_of(bus);
    const std::string archive = (bus.path() / "archive").string();
    REQUIRE(run_tool({"--dir", dir, "create", "t"}).status() == 0);
    REQUIRE(run_tool({"--dir", dir, "pub", "t"}, {.input = lines(1, 50)}).status() == 0);
    REQUIRE(run_tool({"--dir", dir, "record", "t", "-o", archive, "-n", "50"}).status() == 0);
    flip(std::filesystem::path(archive) / "00000000000000000000.seg", 128 + 40 * 10 + 33);
    const ToolResult verify = run_tool({"archive", "verify", archive});
    CHECK(verify.status() == 5);
    CHECK(contains(verify.err, "00000000000000000000.seg: checksum mismatch at offset"));
    CHECK(contains(verify.out, "damaged region"));
}

TEST_CASE("record and archive refuse trouble with a message and the documented status") {
    BusDirectory bus;
    const std::string dir = dir_of(bus);
    const std::string archive = (bus.path() / "archive").string();
    REQUIRE(run_tool({"--dir", dir, "create", "t"}).status() == 0);
    REQUIRE(run_tool({"--dir", dir, "create", "u"}).status() == 0);

    const ToolResult no_archive = run_tool({"archive", "ls", archive});
    CHECK(no_archive.status() == 3);
    CHECK(contains(no_archive.err, "does not exist"));

    const ToolResult bad_sync =
        run_tool({"--dir", dir, "record", "t", "-o", archive, "--sync", "sometimes"});
    CHECK(bad_sync.status() == 2);
    CHECK(contains(bad_sync.err, "--sync: 'sometimes' is neither none nor always"));

    const ToolResult no_topic = run_tool({"--dir", dir, "record", "nope", "-o", archive});
    CHECK(no_topic.status() == 3);

    // A second recorder on one archive: busy. The first takes the archive's lock before it
    // attaches its subscriber, so once the topic shows a subscriber the lock is held.
    Process running = Process::start_tool({"--dir", dir, "record", "t", "-o", archive});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    const auto deadline = shmbus::test::cli::Clock::now() + std::chrono::seconds(10);
    while (shmbus::collect_stats(topic).subscribers.empty() &&
           shmbus::test::cli::Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // how often it looks
    }
    REQUIRE_FALSE(shmbus::collect_stats(topic).subscribers.empty());
    const ToolResult busy = run_tool({"--dir", dir, "record", "t", "-o", archive, "-n", "1"});
    CHECK(busy.status() == 7);
    CHECK(contains(busy.err, "is being recorded by another process"));
    running.signal(SIGINT);
    const auto stopped =
        running.wait_until(shmbus::test::cli::Clock::now() + std::chrono::seconds(10));
    REQUIRE(stopped);
    CHECK(stopped->code == 128 + SIGINT);  // a clean stop on SIGINT, as pub and sub

    // Another topic into the same archive: refused, the topic id differs.
    REQUIRE(run_tool({"--dir", dir, "pub", "t"}, {.input = "x\n"}).status() == 0);
    REQUIRE(run_tool({"--dir", dir, "record", "t", "-o", archive, "-n", "1"}).status() == 0);
    const ToolResult other = run_tool({"--dir", dir, "record", "u", "-o", archive, "-n", "1"});
    CHECK(other.status() == 2);
    CHECK(contains(other.err, "records topic 't' with id"));
}
