// Recording configured in shmbusd's TOML: the daemon runs `shmbus record` per topic, restarts it
// when it dies, and on a block topic keeps a bookmark subscriber at the archive's flushed end,
// so that a recorder killed again and again still leaves every record in the archive exactly
// once, with no gap entry at all. A recorder that cannot write is reported with its reason,
// while the topic's publishers go on.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <shmbus/archive/progress_file.hpp>
#include <shmbus/archive/writer_lock.hpp>
#include <shmbus/shmbus.hpp>
#include <string>
#include <thread>
#include <vector>

#include "archive/archive_stream.hpp"
#include "daemon_harness.hpp"
#include "support/bus_directory.hpp"
#include "support/shared_block.hpp"
#include "support/skip.hpp"

using namespace shmbus::test;

namespace {

constexpr std::uint32_t kMaxRecord = 256;

/// The pid of an attached, live subscriber that is neither the daemon (its bookmark) nor one
/// of `dead`: the recorder the daemon started last.
std::optional<pid_t> live_recorder(const shmbus::Topic& topic, pid_t daemon,
                                   const std::set<pid_t>& dead) {
    for (const shmbus::SubscriberInfo& subscriber : shmbus::collect_stats(topic).subscribers) {
        const auto pid = static_cast<pid_t>(subscriber.pid);
        if (subscriber.alive && !subscriber.evicted && pid != daemon && !dead.contains(pid)) {
            return pid;
        }
    }
    return std::nullopt;
}

/// The sequence after the last entry the archive's recorder reported flushed, or 0.
std::uint64_t archived(const std::filesystem::path& archive) {
    const auto progress = shmbus::archive::read_progress(archive);
    return progress ? progress->next_sequence.value_or(0) : 0;
}

}  // namespace

TEST_CASE(
    "a recorder killed 20 times by SIGKILL while shmbusd supervises it leaves every record of a "
    "block topic in the archive exactly once, with no gap") {
    const auto cli = cli_path();
    if (!cli) return skip("the shmbus CLI is not built (SHMBUS_BUILD_DIR)");
    BusDirectory bus;
    BusDirectory archive_root;  // apart from the bus: the daemon lists the bus's entries
    const std::filesystem::path archive = archive_root.path() / "t";
    const auto config = bus.path() / ".shmbusd.toml";
    write_file(config, R"(
[supervision]
check_interval = "20ms"
unblock_timeout = "1s"
recorder_command = ")" + cli->string() +
                           R"("
[topics.t]
capacity = "64KiB"
max_record_size = 256
[topics.t.archive]
directory = ")" + archive.string() +
                           R"("
segment_size = "256KiB"
)");
    Daemon daemon({.dir = bus.path(), .config = config});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    std::set<pid_t> killed;
    REQUIRE_MESSAGE(eventually([&] { return live_recorder(topic, daemon.pid(), killed); }, 20s),
                    daemon.log());

    SharedBlock<StreamControl> control;
    Child publisher = start_stream_publisher(bus.path(), "t", kMaxRecord, *control);
    std::mt19937 random(20261207);
    std::uniform_int_distribution<long> pause_us(2'000, 40'000);
    for (int round = 0; round < 20; ++round) {
        CAPTURE(round);
        const timespec pause{0, pause_us(random) * 1000};
        ::nanosleep(&pause, nullptr);  // a random moment of the stream, not a synchronisation
        const std::optional<pid_t> recorder = live_recorder(topic, daemon.pid(), killed);
        REQUIRE(recorder);
        REQUIRE(::kill(*recorder, SIGKILL) == 0);
        killed.insert(*recorder);
        REQUIRE_MESSAGE(eventually([&] { return live_recorder(topic, daemon.pid(), killed); }, 20s),
                        "the daemon did not start a new recorder\n"
                            << daemon.log());
    }
    // Relaxed: a flag and a counter, read once the publisher is reaped.
    control->stop.store(true, std::memory_order_relaxed);
    const auto published = publisher.wait_until(deadline_in(60s));
    REQUIRE(published);
    CHECK_MESSAGE(published->ok(), "the publisher " << published->describe());
    const std::uint64_t records = control->published.load(std::memory_order_relaxed);
    REQUIRE_MESSAGE(eventually([&] { return archived(archive) >= records; }, 60s),
                    "the archive holds " << archived(archive) << " of " << records << "\n"
                                         << daemon.log());
    CHECK(daemon.stop()->status == 0);

    const ArchiveContents contents = read_stream_archive(archive, kMaxRecord);
    MESSAGE(records << " records published, the recorder killed 20 times: " << contents.records
                    << " records archived, " << contents.gaps << " gaps");
    CHECK_MESSAGE(contents.wrong.empty(), contents.wrong);
    CHECK(contents.gaps == 0);
    CHECK(contents.records == records);
    CHECK(contents.next == records);
    CHECK(records > 0);
    const std::string log = daemon.log();
    CHECK(log.find("was killed by signal 9") != std::string::npos);
    CHECK(log.find("bookmark was evicted") == std::string::npos);
}

TEST_CASE(
    "a recorder that cannot write is reported with its reason and restarted, while an overwrite "
    "topic's publishers go on") {
    const auto cli = cli_path();
    if (!cli) return skip("the shmbus CLI is not built (SHMBUS_BUILD_DIR)");
    rlimit limit{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &limit) == 0);
    constexpr rlim_t kFileLimit = 1 << 20;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < kFileLimit) {
        return skip("RLIMIT_FSIZE is already below 1 MiB");
    }
    BusDirectory bus;
    BusDirectory archive_root;
    const std::filesystem::path archive = archive_root.path() / "ticks";
    const auto config = bus.path() / ".shmbusd.toml";
    write_file(config, R"(
[supervision]
check_interval = "20ms"
unblock_timeout = "1s"
recorder_command = ")" + cli->string() +
                           R"("
[topics.ticks]
capacity = "64KiB"
max_record_size = "1KiB"
policy = "overwrite"
[topics.ticks.archive]
directory = ")" + archive.string() +
                           R"("
segment_size = "4MiB"
)");
    // The daemon, and the recorders it starts, inherit a 1 MiB limit on file sizes: the first
    // segment cannot grow past it, as on a full disk. SIGXFSZ ignored, so the write fails with
    // EFBIG instead of killing the recorder; both are restored for the test once it started.
    const auto previous = std::signal(SIGXFSZ, SIG_IGN);
    rlimit tight = limit;
    tight.rlim_cur = kFileLimit;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &tight) == 0);
    std::optional<Daemon> daemon;
    try {
        daemon.emplace(Daemon::Options{.dir = bus.path(), .config = config});
    } catch (...) {
        (void)::setrlimit(RLIMIT_FSIZE, &limit);
        throw;
    }
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
    (void)std::signal(SIGXFSZ, previous);

    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "ticks");
    REQUIRE_MESSAGE(eventually([&] { return live_recorder(topic, daemon->pid(), {}); }, 20s),
                    daemon->log());
    shmbus::Publisher publisher(topic);
    const std::vector<std::byte> record(1000, std::byte{7});
    // 3 MiB: three times what the recorder may write. An overwrite publisher never waits.
    for (int i = 0; i < 3000; ++i) {
        REQUIRE(publisher.try_offer(record) == shmbus::Status::kOk);
        if (i % 100 == 0) {
            // Pacing, so the recorder reads some of it before the ring laps it.
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }
    REQUIRE_MESSAGE(daemon->wait_for_log("recorder for topic 'ticks' (pid", 30s), daemon->log());
    CHECK_MESSAGE(daemon->wait_for_log("exited 6: ", 5s), daemon->log());
    CHECK_MESSAGE(daemon->wait_for_log("File too large", 5s), daemon->log());
    // It was started again (and fails again, each time later); publishers are not held back.
    CHECK(daemon->wait_for_log("starting it again in", 5s));
    for (int i = 0; i < 1000; ++i) {
        REQUIRE(publisher.try_offer(record) == shmbus::Status::kOk);
    }
    CHECK(shmbus::collect_stats(topic).tail_sequence == 4000);
    CHECK(daemon->stop()->status == 0);
}

TEST_CASE(
    "with no recorder running, the bookmark of an evict topic is evicted after evict_after like "
    "any subscriber, and not attached again until a recorder starts") {
    BusDirectory bus;
    BusDirectory archive_root;
    const auto config = bus.path() / ".shmbusd.toml";
    write_file(config, R"(
[supervision]
check_interval = "50ms"
unblock_timeout = "1s"
recorder_command = "/nonexistent/shmbus"
[topics.t]
capacity = "8KiB"
max_record_size = "1KiB"
slow_subscriber = "evict"
evict_after = "1s"
[topics.t.archive]
directory = ")" + (archive_root.path() / "t").string() +
                           R"("
)");
    Daemon daemon({.dir = bus.path(), .config = config});
    REQUIRE_MESSAGE(daemon.wait_for_log("cannot start the recorder for topic 't'"), daemon.log());
    CHECK(daemon.wait_for_log("No such file or directory"));
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    shmbus::Publisher publisher(topic);
    // 200 records of 100 bytes, three rings' worth: the bookmark holds them back until evicted.
    const std::string record(100, 'r');
    const auto started = SteadyClock::now();
    for (int i = 0; i < 200; ++i) {
        REQUIRE_MESSAGE(
            publisher.offer(std::as_bytes(std::span(record)), 15s) == shmbus::Status::kOk,
            "record " << i << "\n"
                      << daemon.log());
    }
    CHECK(SteadyClock::now() - started >= 1s);  // never before evict_after
    CHECK(daemon.wait_for_log("the recording bookmark was evicted"));
    CHECK(shmbus::collect_stats(topic).evicted == 1);
    // No new bookmark while no recorder starts: publishers are not held back again.
    for (int i = 0; i < 200; ++i) {
        REQUIRE(publisher.offer(std::as_bytes(std::span(record)), 2s) == shmbus::Status::kOk);
    }
    CHECK(shmbus::collect_stats(topic).evicted == 1);
    CHECK(daemon.stop()->status == 0);
}

TEST_CASE(
    "a reload restarts a recorder whose settings changed and stops one no longer configured") {
    const auto cli = cli_path();
    if (!cli) return skip("the shmbus CLI is not built (SHMBUS_BUILD_DIR)");
    BusDirectory bus;
    BusDirectory archive_root;
    const auto config = bus.path() / ".shmbusd.toml";
    const auto configuration = [&](const std::string& archive_table) {
        return R"(
[supervision]
check_interval = "20ms"
unblock_timeout = "1s"
recorder_command = ")" +
               cli->string() + R"("
[topics.t]
capacity = "64KiB"
max_record_size = 256
)" + archive_table;
    };
    const std::string directory = (archive_root.path() / "t").string();
    write_file(config, configuration("[topics.t.archive]\ndirectory = \"" + directory + "\"\n"));
    Daemon daemon({.dir = bus.path(), .config = config});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    std::set<pid_t> old;
    REQUIRE_MESSAGE(eventually([&] { return live_recorder(topic, daemon.pid(), old); }, 20s),
                    daemon.log());
    const pid_t first = *live_recorder(topic, daemon.pid(), old);
    old.insert(first);

    // The same settings: the recorder runs on.
    daemon.program().signal(SIGHUP);
    REQUIRE(daemon.wait_for_log("reloaded"));
    CHECK(live_recorder(topic, daemon.pid(), {}) == first);

    write_file(config, configuration("[topics.t.archive]\ndirectory = \"" + directory +
                                     "\"\nsegment_size = \"1MiB\"\n"));
    daemon.program().signal(SIGHUP);
    CHECK(daemon.wait_for_log("stopped the recorder for topic 't' (pid " + std::to_string(first) +
                              ")"));
    REQUIRE_MESSAGE(eventually([&] { return live_recorder(topic, daemon.pid(), old); }, 20s),
                    daemon.log());
    const pid_t second = *live_recorder(topic, daemon.pid(), old);
    old.insert(second);

    write_file(config, configuration(""));
    daemon.program().signal(SIGHUP);
    CHECK(daemon.wait_for_log("stopped the recorder for topic 't' (pid " + std::to_string(second) +
                              ")"));
    // Neither a recorder nor the bookmark stays attached.
    CHECK_MESSAGE(eventually(
                      [&] {
                          for (const auto& subscriber : shmbus::collect_stats(topic).subscribers) {
                              if (subscriber.alive) return false;
                          }
                          return true;
                      },
                      10s),
                  daemon.log());
    CHECK(daemon.stop()->status == 0);
}

TEST_CASE("a recorder ends with a daemon that is killed, leaving the archive to the next one") {
    const auto cli = cli_path();
    if (!cli) return skip("the shmbus CLI is not built (SHMBUS_BUILD_DIR)");
    BusDirectory bus;
    BusDirectory archive_root;
    const auto archive = archive_root.path() / "t";
    const auto config = bus.path() / ".shmbusd.toml";
    write_file(config, R"(
[supervision]
check_interval = "20ms"
unblock_timeout = "1s"
recorder_command = ")" + cli->string() +
                           R"("
[topics.t.archive]
directory = ")" + archive.string() +
                           R"("
)");
    Daemon daemon({.dir = bus.path(), .config = config});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    REQUIRE_MESSAGE(eventually([&] { return live_recorder(topic, daemon.pid(), {}); }, 20s),
                    daemon.log());
    const pid_t recorder = *live_recorder(topic, daemon.pid(), {});
    daemon.program().signal(SIGKILL);
    REQUIRE(daemon.program().wait_for_exit(10s));
    // Its parent-death signal: SIGTERM, and it lets go of the archive (a zombie counts as gone).
    const auto gone = [recorder] {
        std::string stat = read_file("/proc/" + std::to_string(recorder) + "/stat");
        const auto close = stat.rfind(')');
        return stat.empty() || close == std::string::npos || stat.substr(close + 2, 1) == "Z";
    };
    CHECK(eventually(gone, 10s));
    CHECK(eventually([&] { return !shmbus::archive::recording_active(archive); }, 10s));
}
