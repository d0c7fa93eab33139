// Durable topics: a bus directory on a disk, what survives SIGKILL of every process, and the two
// ways records reach the file beneath the mapping (docs/RELIABILITY.md, "Durable topics"):
// Publisher::flush() and the daemon's sync = "interval".
//
// "On the file" is checked in two steps, because a direct read alone proves nothing: Linux
// writes a range's dirty pages back before it reads it with O_DIRECT (support/page_cache.hpp).
// So each check first asks cachestat(2) that no page of the records file is dirty or under
// write-back, and then reads the file with O_DIRECT and finds the payloads there.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>

#include <cstdlib>
#include <shmbus/detail/util/unique_fd.hpp>
#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

#include "daemon_harness.hpp"
#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/page_cache.hpp"
#include "support/records.hpp"
#include "support/skip.hpp"
#include "support/topic_files.hpp"

using namespace shmbus::test;

namespace {

constexpr int kRecords = 2000;

/// "durable record 000042;": of one width, so that no payload is a prefix of another and
/// finding it in the file finds that record.
std::string payload(int i) {
    std::string number = std::to_string(i);
    return "durable record " + std::string(6 - number.size(), '0') + number + ";";
}

/// A directory on a disk to hold the test's bus directories: under the build tree, else
/// /var/tmp. nullopt (and the reason in `why`) if both are on a tmpfs.
std::optional<std::filesystem::path> disk_directory(std::string& why) {
    std::vector<std::filesystem::path> candidates;
    if (const char* build = std::getenv("SHMBUS_BUILD_DIR"); build != nullptr && *build != '\0') {
        candidates.emplace_back(std::filesystem::path(build) / "durable-topics");
    }
    candidates.emplace_back("/var/tmp");
    for (const auto& candidate : candidates) {
        std::error_code ignored;
        std::filesystem::create_directories(candidate, ignored);
        if (!std::filesystem::is_directory(candidate)) continue;
        if (!on_tmpfs(candidate)) return candidate;
        why += candidate.string() + " is on a tmpfs; ";
    }
    why += "a durable topic needs a bus directory on a disk";
    return std::nullopt;
}

/// Every record of `name` from the earliest, as text.
std::vector<std::string> read_from_earliest(const std::filesystem::path& dir,
                                            const std::string& name) {
    const shmbus::Topic topic =
        shmbus::Topic::open(dir, name, {.access = shmbus::Access::kSubscribe});
    shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
    std::vector<std::string> texts;
    for (const Received& record : drain(subscriber)) {
        texts.emplace_back(reinterpret_cast<const char*>(record.payload.data()),
                           record.payload.size());
    }
    return texts;
}

std::vector<std::string> expected_records(int count) {
    std::vector<std::string> texts;
    for (int i = 0; i < count; ++i)
        texts.push_back(payload(i));
    return texts;
}

void publish(shmbus::Publisher& publisher, int count) {
    for (int i = 0; i < count; ++i) {
        const std::string text = payload(i);
        REQUIRE(publisher.offer(std::as_bytes(std::span(text)), std::chrono::seconds(5)) ==
                shmbus::Status::kOk);
    }
}

/// The payloads of `count` records that the records file, read with O_DIRECT, does not hold.
std::vector<std::string> missing_from_file(const std::filesystem::path& records, int count) {
    const auto bytes = read_direct(records, std::filesystem::file_size(records));
    REQUIRE(bytes.has_value());
    std::vector<std::string> missing;
    for (int i = 0; i < count; ++i) {
        if (bytes->find(payload(i)) == std::string::npos) missing.push_back(payload(i));
    }
    return missing;
}

/// Dirty or under write-back pages of the records file.
std::uint64_t unwritten_pages(const std::filesystem::path& records) {
    shmbus::util::UniqueFd fd(::open(records.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(fd);
    const auto pages = cached_pages(fd.get(), 0, std::filesystem::file_size(records));
    REQUIRE(pages.has_value());
    return pages->dirty + pages->writeback;
}

/// Skips (and returns false) where the checks of "on the file" cannot be made.
bool can_see_the_file(const std::filesystem::path& dir) {
    const auto probe = dir / "probe";
    write_file(probe, "probe");
    shmbus::util::UniqueFd fd(::open(probe.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(fd);
    if (!cached_pages(fd.get(), 0, 4096)) {
        skip("the kernel has no cachestat(2) (Linux 6.5), to tell written pages from dirty ones");
        return false;
    }
    if (!read_direct(probe, 4096)) {
        skip("the file system of " + dir.string() + " refuses O_DIRECT");
        return false;
    }
    return true;
}

}  // namespace

TEST_CASE(
    "committed records of a topic on a disk survive SIGKILL of the publisher, a subscriber and "
    "shmbusd, and are all read back from the earliest after a restart") {
    std::string why;
    const auto parent = disk_directory(why);
    if (!parent) return skip(why);
    BusDirectory bus(*parent);
    const auto config = bus.path() / ".shmbusd.toml";
    write_file(config, "[topics.durable]\ncapacity = \"256KiB\"\nmax_record_size = \"1KiB\"\n");

    std::optional<Daemon> daemon;
    daemon.emplace(Daemon::Options{.dir = bus.path(), .config = config});
    REQUIRE_MESSAGE(daemon->wait_for_log("supervising topic 'durable'"), daemon->log());
    const auto dir = bus.path();
    Child subscriber = Child::fork("subscriber", [&](ChildLink& link) {
        const shmbus::Topic topic =
            shmbus::Topic::open(dir, "durable", {.access = shmbus::Access::kSubscribe});
        shmbus::Subscriber reader(topic, {.start = shmbus::StartAt::earliest()});
        link.send("attached");
        link.wait_for_parent();  // killed here
        return 0;
    });
    REQUIRE(subscriber.receive_line(deadline_in(10s)) == "attached");
    Child publisher = Child::fork("publisher", [&](ChildLink& link) {
        const shmbus::Topic topic = shmbus::Topic::open(dir, "durable");
        shmbus::Publisher writer(topic);
        for (int i = 0; i < kRecords; ++i) {
            const std::string text = payload(i);
            if (writer.offer(std::as_bytes(std::span(text)), std::chrono::seconds(5)) !=
                shmbus::Status::kOk) {
                return 1;
            }
        }
        link.send("published");
        link.wait_for_parent();  // killed here, attached, without detaching
        return 0;
    });
    REQUIRE(publisher.receive_line(deadline_in(20s)) == "published");

    // Every process at once, none of them warned.
    daemon->program().signal(SIGKILL);
    CHECK(publisher.kill_and_reap().signal == SIGKILL);
    CHECK(subscriber.kill_and_reap().signal == SIGKILL);
    const auto ended = daemon->program().wait_for_exit(10s);
    REQUIRE(ended.has_value());
    CHECK(ended->status == -SIGKILL);
    daemon.reset();

    Daemon restarted({.dir = bus.path(), .config = config});
    REQUIRE_MESSAGE(restarted.wait_for_log("supervising topic 'durable'"), restarted.log());
    // The topic was kept, not created again, and the dead clients' slots were freed.
    CHECK(restarted.log().find("created topic") == std::string::npos);
    CHECK_MESSAGE(restarted.wait_for_log("reclaimed publisher slot"), restarted.log());
    CHECK_MESSAGE(restarted.wait_for_log("reclaimed subscriber slot"), restarted.log());
    CHECK(read_from_earliest(bus.path(), "durable") == expected_records(kRecords));
    CHECK(restarted.stop()->status == 0);
}

TEST_CASE("when Publisher::flush returns, the committed records are on the file") {
    std::string why;
    const auto parent = disk_directory(why);
    if (!parent) return skip(why);
    BusDirectory bus(*parent);
    if (!can_see_the_file(bus.path())) return;
    shmbus::create_topic(bus.path(), "flushed", {.capacity = 256 * 1024, .max_record_size = 1024});
    const auto records = topic_paths(bus.path(), "flushed").records;
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "flushed");
    shmbus::Publisher publisher(topic);
    publish(publisher, kRecords);
    // Written through the mapping only: the pages are dirty until someone writes them back (the
    // kernel on its own would after dirty_expire_centisecs, 30 s by default).
    CHECK_MESSAGE(unwritten_pages(records) > 0,
                  "the kernel wrote the records back on its own before the flush, so this run "
                  "shows nothing about flush (memory pressure?)");

    publisher.flush();
    CHECK(unwritten_pages(records) == 0);
    CHECK(missing_from_file(records, kRecords).empty());
    CHECK(read_from_earliest(bus.path(), "flushed") == expected_records(kRecords));
}

TEST_CASE("with sync = \"interval\" shmbusd writes the records back without any flush") {
    std::string why;
    const auto parent = disk_directory(why);
    if (!parent) return skip(why);
    BusDirectory bus(*parent);
    if (!can_see_the_file(bus.path())) return;
    const auto config = bus.path() / ".shmbusd.toml";
    write_file(config,
               "[supervision]\ncheck_interval = \"50ms\"\n"
               "[defaults]\ncapacity = \"256KiB\"\nmax_record_size = \"1KiB\"\n"
               "[topics.synced]\nsync = \"interval\"\nsync_interval = \"100ms\"\n"
               "[topics.unsynced]\n");
    Daemon daemon({.dir = bus.path(), .config = config});
    REQUIRE_MESSAGE(daemon.wait_for_log("records written back every 100ms"), daemon.log());
    REQUIRE_MESSAGE(daemon.wait_for_log("supervising topic 'unsynced'"), daemon.log());

    const auto synced = topic_paths(bus.path(), "synced").records;
    const auto unsynced = topic_paths(bus.path(), "unsynced").records;
    {
        const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "synced");
        const shmbus::Topic control = shmbus::Topic::open(bus.path(), "unsynced");
        shmbus::Publisher publisher(topic);
        shmbus::Publisher control_publisher(control);
        publish(publisher, kRecords);
        publish(control_publisher, kRecords);
    }
    // A generous deadline, still well below the 30 s after which the kernel writes dirty pages
    // back on its own; a few check intervals are enough.
    CHECK_MESSAGE(eventually([&] { return unwritten_pages(synced) == 0; }, 10s),
                  "the records of the sync = \"interval\" topic were still not written back");
    // The same records in a topic without the policy are still only in memory: it was the
    // daemon, not the kernel, that wrote the other one back.
    CHECK_MESSAGE(unwritten_pages(unsynced) > 0,
                  "the kernel wrote the control topic back on its own (memory pressure?)");
    CHECK(missing_from_file(synced, kRecords).empty());
    CHECK(daemon.stop()->status == 0);
}
