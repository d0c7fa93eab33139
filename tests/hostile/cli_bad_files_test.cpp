// The shmbus tool facing damaged topic files and exhausted limits: each gets the exit status
// docs/CLI.md gives it and one line naming the problem, and nothing else on the bus is touched.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <shmbus/detail/format/lock_bytes.hpp>
#include <shmbus/detail/format/records_header.hpp>
#include <shmbus/detail/sync/ofd_lock.hpp>
#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

#include "small_tmpfs.hpp"
#include "support/bus_directory.hpp"
#include "support/skip.hpp"
#include "support/topic_files.hpp"
#include "tool.hpp"

namespace shmbus::test::cli {
namespace {

constexpr int kNotFound = 3;
constexpr int kBadFile = 5;
constexpr int kNoSpace = 6;
constexpr int kBusy = 7;

const TopicOptions kSmall{.capacity = 64 * 1024, .max_record_size = 1024};

void check_refused(const ToolResult& result, int status, const std::string& message) {
    CHECK_MESSAGE(result.status() == status, "status " << result.status() << ": " << result.err);
    CHECK_MESSAGE(result.err.find(message) != std::string::npos,
                  "stderr lacks '" << message << "': " << result.err);
    CHECK(result.err.starts_with("shmbus: "));
}

}  // namespace

TEST_CASE(
    "a truncated records file is refused with status 5 naming the file; a truncated state file "
    "is put back") {
    BusDirectory bus;
    const std::string dir = bus.path().string();
    for (const char* name : {"short-records", "short-state", "empty-records", "long-records"}) {
        create_topic(bus.path(), name, kSmall);
    }
    shmbus::test::resize_file(topic_paths(bus.path(), "short-records").records, 8192);
    shmbus::test::resize_file(topic_paths(bus.path(), "short-state").state, 100);
    shmbus::test::resize_file(topic_paths(bus.path(), "empty-records").records, 0);
    shmbus::test::resize_file(topic_paths(bus.path(), "long-records").records, 1 << 20);
    create_topic(bus.path(), "good", kSmall);

    for (const char* command : {"stat", "sub"}) {
        CAPTURE(command);
        check_refused(run_tool({command, "--dir", dir, "short-records"}), kBadFile,
                      topic_paths(bus.path(), "short-records").records.string());
        check_refused(run_tool({command, "--dir", dir, "empty-records"}), kBadFile, "truncated");
        check_refused(run_tool({command, "--dir", dir, "long-records"}), kBadFile,
                      topic_paths(bus.path(), "long-records").records.string());
    }
    check_refused(run_tool({"pub", "--dir", dir, "short-records", "x"}), kBadFile, "short-records");
    // A state file cut short is rebuilt from the records file by whoever opens it first.
    CHECK(run_tool({"stat", "--dir", dir, "short-state"}).status() == 0);
    CHECK(std::filesystem::file_size(topic_paths(bus.path(), "short-state").state) > 100);
    CHECK(run_tool({"pub", "--dir", dir, "short-state", "fine"}).status() == 0);
    const ToolResult read =
        run_tool({"sub", "--dir", dir, "short-state", "--from", "earliest", "--count", "1"});
    CHECK(read.out == "fine\n");
    // The good topic is untouched and usable.
    CHECK(run_tool({"pub", "--dir", dir, "good", "fine"}).status() == 0);
}

TEST_CASE("a topic of another format version is refused with status 5 naming both versions") {
    BusDirectory bus;
    create_topic(bus.path(), "future", kSmall);
    const std::uint32_t future = format::kFormatVersion + 1;
    overwrite_file_value(topic_paths(bus.path(), "future").records,
                         offsetof(format::RecordsHeader, format_version), future);
    const ToolResult stat = run_tool({"stat", "--dir", bus.path().string(), "future"});
    check_refused(stat, kBadFile, "version " + std::to_string(future));
    CHECK_MESSAGE(stat.err.find(std::to_string(format::kFormatVersion)) != std::string::npos,
                  stat.err);
}

TEST_CASE("a topic whose files are missing or not regular files is refused, naming which") {
    BusDirectory bus;
    const std::string dir = bus.path().string();
    create_topic(bus.path(), "no-state", kSmall);
    std::filesystem::remove(topic_paths(bus.path(), "no-state").state);
    check_refused(run_tool({"stat", "--dir", dir, "no-state"}), kNotFound,
                  "(no " + topic_paths(bus.path(), "no-state").state.string() + ")");

    create_topic(bus.path(), "fifo", kSmall);
    const auto state = topic_paths(bus.path(), "fifo").state;
    std::filesystem::remove(state);
    REQUIRE(::mkfifo(state.c_str(), 0600) == 0);
    // Opened O_RDWR, a FIFO never blocks; it is refused as not a regular file.
    check_refused(run_tool({"stat", "--dir", dir, "fifo"}), kBadFile, "is not a regular file");

    create_topic(bus.path(), "linked", kSmall);
    const auto records = topic_paths(bus.path(), "linked").records;
    std::filesystem::rename(records, bus.path() / "elsewhere");
    std::filesystem::create_symlink(bus.path() / "elsewhere", records);
    // Opened with O_NOFOLLOW: a symbolic link in a topic is never followed.
    check_refused(run_tool({"stat", "--dir", dir, "linked"}), kBadFile,
                  "topic 'linked' in " + dir + ": records file " + records.string() +
                      " is a symbolic link; shmbus never follows one inside a topic");
}

TEST_CASE("a topic being initialised is refused with status 7, and opens once that is over") {
    BusDirectory bus;
    create_topic(bus.path(), "t", kSmall);
    // What a reinit holds while it rewrites the files: the init byte's exclusive lock.
    const int initialiser = ::open(topic_paths(bus.path(), "t").records.c_str(), O_RDWR);
    REQUIRE(initialiser >= 0);
    REQUIRE(sync::try_lock_byte(initialiser, format::kInitLockByte, sync::LockKind::kWrite) ==
            sync::LockResult::kAcquired);
    try {
        (void)Topic::open(bus.path(), "t");
        FAIL("a topic being initialised was opened");
    } catch (const Error& error) {
        CHECK(error.code() == ErrorCode::kBusy);
    }
    check_refused(run_tool({"sub", "--dir", bus.path().string(), "t"}), kBusy,
                  "topic 't' in " + bus.path().string() + " is being initialised; try again");
    ::close(initialiser);
    CHECK(run_tool({"pub", "--dir", bus.path().string(), "t", "now"}).status() == 0);
}

TEST_CASE("with every subscriber slot taken, sub exits with status 7 and the others read on") {
    BusDirectory bus;
    const std::string dir = bus.path().string();
    create_topic(bus.path(), "t",
                 {.capacity = 64 * 1024, .max_record_size = 1024, .max_subscribers = 1});
    Process first = Process::start_tool({"sub", "--dir", dir, "t", "--count", "1"});
    wait_for_live_subscribers(bus.path(), "t", 1, Clock::now() + 10s);
    check_refused(run_tool({"sub", "--dir", dir, "t", "--timeout", "1"}), kBusy,
                  "subscriber slots are taken");
    REQUIRE(run_tool({"pub", "--dir", dir, "t", "for the first"}).status() == 0);
    std::string out;
    const auto exit = first.finish(Clock::now() + 10s, out);
    REQUIRE(exit);
    CHECK(exit->exited);
    CHECK(exit->code == 0);
    CHECK(out == "for the first\n");
}

TEST_CASE("with every publisher slot taken, pub exits with status 7") {
    BusDirectory bus;
    create_topic(bus.path(), "t",
                 {.capacity = 64 * 1024, .max_record_size = 1024, .max_publishers = 1});
    const Topic topic = Topic::open(bus.path(), "t");
    Publisher holder(topic);
    check_refused(run_tool({"pub", "--dir", bus.path().string(), "t", "x"}), kBusy,
                  "publisher slots are taken");
    CHECK(holder.try_offer(std::as_bytes(std::span("still mine", 10))) == Status::kOk);
}

TEST_CASE("create on a full file system exits with status 6 and leaves no topic behind") {
    if (::geteuid() != 0) {
        shmbus::test::skip("mounting a small tmpfs needs root");
        return;
    }
    BusDirectory base;
    SmallTmpfs tmpfs(base.path() / "bus", "size=1m");
    if (!tmpfs.mounted()) {
        shmbus::test::skip(std::string("cannot mount a tmpfs here (") + tmpfs.error() + ")");
        return;
    }
    const std::string dir = tmpfs.path().string();
    const ToolResult result = run_tool({"create", "--dir", dir, "big", "--capacity", "4M"});
    check_refused(result, kNoSpace, "no space for");
    CHECK_MESSAGE(result.err.find("free space or lower the topic's capacity") != std::string::npos,
                  result.err);
    CHECK(list_topics(tmpfs.path()).empty());
    CHECK(std::filesystem::is_empty(tmpfs.path()));
}

}  // namespace shmbus::test::cli
