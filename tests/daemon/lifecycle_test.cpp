// The daemon as systemd and an operator see it: readiness, the watchdog, reload, stop, one
// daemon per directory, files it must never touch, and the explicit reinit.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

#include "daemon_harness.hpp"
#include "support/bus_directory.hpp"

using namespace shmbus::test;

namespace {

/// The test's end of $NOTIFY_SOCKET: a datagram socket that collects what shmbusd tells systemd.
class NotifySocket {
  public:
    explicit NotifySocket(std::filesystem::path path) : path_(std::move(path)) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        REQUIRE(path_.string().size() < sizeof address.sun_path);
        std::strcpy(address.sun_path, path_.c_str());
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        const timeval slice{0, 50'000};
        REQUIRE(::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &slice, sizeof slice) == 0);
    }
    ~NotifySocket() { ::close(fd_); }

    /// Waits up to `timeout` for a datagram containing the line `line`; returns the datagrams
    /// received before it (and it) in `seen`.
    bool wait_for(const std::string& line, SteadyClock::duration timeout) {
        const auto deadline = SteadyClock::now() + timeout;
        while (SteadyClock::now() < deadline) {
            char buffer[4096];
            const ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
            if (got <= 0) continue;  // the receive timeout: look at the deadline again
            const std::string message(buffer, static_cast<std::size_t>(got));
            seen.push_back(message);
            if (("\n" + message + "\n").find("\n" + line + "\n") != std::string::npos) return true;
        }
        return false;
    }

    [[nodiscard]] std::string env() const { return "NOTIFY_SOCKET=" + path_.string(); }
    std::vector<std::string> seen;

  private:
    std::filesystem::path path_;
    int fd_ = -1;
};

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE(
    "shmbusd tells systemd it is ready, pings the watchdog, reloads on SIGHUP and exits 0 on "
    "SIGTERM") {
    BusDirectory bus;
    const auto config = bus.path() / ".shmbusd.toml";
    write_file(config, "[topics.first]\ncapacity = \"64KiB\"\nmax_record_size = \"1KiB\"\n");
    NotifySocket notify(bus.path() / ".notify");
    Daemon daemon({.dir = bus.path(),
                   .config = config,
                   .environment = {notify.env(), "WATCHDOG_USEC=200000"},
                   .wait_until_ready = false});

    REQUIRE_MESSAGE(notify.wait_for("READY=1", 20s), daemon.log());
    CHECK(contains(notify.seen.front() + notify.seen.back(), "STATUS=1 topic, 0 publishers"));
    CHECK_NOTHROW((void)shmbus::Topic::open(bus.path(), "first"));

    // WatchdogSec=200ms: a ping every 100 ms. Ten pings in well under the time systemd allows.
    const auto watched_from = SteadyClock::now();
    for (int ping = 0; ping < 10; ++ping)
        REQUIRE_MESSAGE(notify.wait_for("WATCHDOG=1", 2s), daemon.log());
    const auto ten_pings = SteadyClock::now() - watched_from;
    CHECK(ten_pings >= 800ms);  // not a burst: one per half-period
    CHECK(ten_pings < 5s);

    // An edited configuration, then SIGHUP: the new topic appears, the old one keeps its data.
    {
        const shmbus::Topic first = shmbus::Topic::open(bus.path(), "first");
        shmbus::Publisher publisher(first);
        const std::string record = "kept across the reload";
        REQUIRE(publisher.try_offer(std::as_bytes(std::span(record))) == shmbus::Status::kOk);
    }
    write_file(config,
               "[topics.first]\ncapacity = \"64KiB\"\nmax_record_size = \"1KiB\"\n"
               "[topics.second]\ncapacity = \"128KiB\"\nmax_record_size = \"1KiB\"\n");
    notify.seen.clear();
    daemon.program().signal(SIGHUP);
    REQUIRE_MESSAGE(notify.wait_for("READY=1", 10s), daemon.log());
    CHECK(contains(notify.seen.front(), "RELOADING=1"));
    const shmbus::Topic second = shmbus::Topic::open(bus.path(), "second");
    CHECK(second.capacity() == 128 * 1024);
    {
        const shmbus::Topic first = shmbus::Topic::open(bus.path(), "first");
        shmbus::Subscriber subscriber(first, {.start = shmbus::StartAt::earliest()});
        std::vector<std::string> records;
        (void)subscriber.poll([&](const shmbus::Record& r) {
            records.emplace_back(reinterpret_cast<const char*>(r.payload.data()), r.payload.size());
        });
        CHECK(records == std::vector<std::string>{"kept across the reload"});
    }

    // A broken edit is refused and the daemon runs on with what it had.
    write_file(config, "[topics.third\n");
    daemon.program().signal(SIGHUP);
    CHECK(daemon.wait_for_log("the configuration was not reloaded"));
    CHECK(daemon.wait_for_log(".shmbusd.toml:1:"));

    notify.seen.clear();
    const auto ended = daemon.stop();
    REQUIRE(ended.has_value());
    CHECK(ended->status == 0);
    CHECK(notify.wait_for("STOPPING=1", 2s));
    CHECK_FALSE(std::filesystem::exists(bus.path() / ".shmbusd.sock"));
    // It let go of its topics: no supervisor is named any more.
    CHECK(shmbus::collect_stats(shmbus::Topic::open(bus.path(), "first")).supervisor_pid == 0);
}

TEST_CASE("a second daemon on the same directory exits non-zero naming the first") {
    BusDirectory bus;
    Daemon first({.dir = bus.path()});
    Program second(shmbusd_path(), {.arguments = {"--dir", bus.path().string()},
                                    .log = bus.path() / ".second.log"});
    const auto ended = second.wait_for_exit(10s);
    REQUIRE(ended.has_value());
    CHECK(ended->status == 1);
    CHECK(contains(second.output(),
                   "another shmbusd (pid " + std::to_string(first.pid()) + ") already supervises"));
    // The first is unharmed.
    CHECK(first.program().wait_for_exit(0s) == std::nullopt);
    CHECK(first.stop()->status == 0);
}

TEST_CASE("shmbusd starts in a fresh relative directory with no configuration at all") {
    BusDirectory bus;
    const auto previous = std::filesystem::current_path();
    std::filesystem::current_path(bus.path());
    Program daemon(shmbusd_path(), {.arguments = {"--dir", "./run"}, .log = bus.path() / ".log"});
    std::filesystem::current_path(previous);
    REQUIRE_MESSAGE(daemon.wait_for_output("ready:", 20s), daemon.output());
    CHECK(std::filesystem::is_directory(bus.path() / "run"));
    // Its own user may create topics through it.
    CHECK(shmbus::ensure_topic(bus.path() / "run", "hello", {.capacity = 4 << 20}));
    CHECK_FALSE(shmbus::ensure_topic(bus.path() / "run", "hello", {.capacity = 4 << 20}));
    daemon.signal(SIGTERM);
    CHECK(daemon.wait_for_exit(10s)->status == 0);
}

TEST_CASE(
    "a bad configuration or option exits 2 with the reason; --version and --check-config answer") {
    BusDirectory bus;
    const auto config = bus.path() / "bad.toml";
    write_file(config, "[defaults]\ncapacity = \"lots\"\n");
    Run run = run_program(shmbusd_path(), {"--config", config.string(), "--check-config"});
    CHECK(run.status == 2);
    CHECK(contains(run.output, "bad.toml:2:12: [defaults].capacity: 'lots' is not a size"));

    run = run_program(shmbusd_path(), {"--config", (bus.path() / "missing.toml").string()});
    CHECK(run.status != 0);
    CHECK(contains(run.output, "missing.toml"));

    run = run_program(shmbusd_path(), {"--frobnicate"});
    CHECK(run.status == 2);

    write_file(config, "[topics.orders]\npolicy = \"overwrite\"\nslow_subscriber = \"evict\"\n");
    run = run_program(shmbusd_path(), {"--config", config.string(), "--check-config"});
    CHECK(run.status == 0);
    CHECK(contains(run.output, "configuration OK"));
    CHECK(contains(run.output, "warning"));

    run = run_program(shmbusd_path(), {"--version"});
    CHECK(run.status == 0);
    CHECK(contains(run.output, std::string("shmbusd ") + shmbus::kVersion));
}

TEST_CASE("a corrupt or incompatible topic is reported by file and left byte for byte as it was") {
    BusDirectory bus;
    shmbus::create_topic(bus.path(), "healthy", {.capacity = 4096, .max_record_size = 256});
    shmbus::create_topic(bus.path(), "future", {.capacity = 4096, .max_record_size = 256});
    // A format version from the future: a valid file this build must not read.
    {
        auto bytes = read_file(bus.path() / "future" / "records");
        bytes[8] = 99;
        write_file(bus.path() / "future" / "records", bytes);
    }
    std::filesystem::create_directory(bus.path() / "garbage");
    write_file(bus.path() / "garbage" / "records", std::string(8192, 'x'));
    write_file(bus.path() / "garbage" / "state", std::string(8192, 'y'));
    const std::string future_before = read_file(bus.path() / "future" / "records");

    Daemon daemon({.dir = bus.path()});
    CHECK(daemon.wait_for_log("cannot supervise topic 'garbage'"));
    CHECK(daemon.wait_for_log((bus.path() / "garbage" / "records").string()));
    CHECK(daemon.wait_for_log("cannot supervise topic 'future'"));
    CHECK(daemon.wait_for_log("version"));
    CHECK(contains(daemon.log(), "supervising topic 'healthy'"));
    CHECK(daemon.stop()->status == 0);

    // Reported once, not at every check; and never rewritten.
    const std::string log = daemon.log();
    CHECK(log.find("cannot supervise topic 'garbage'") ==
          log.rfind("cannot supervise topic 'garbage'"));
    CHECK(read_file(bus.path() / "garbage" / "records") == std::string(8192, 'x'));
    CHECK(read_file(bus.path() / "garbage" / "state") == std::string(8192, 'y'));
    CHECK(read_file(bus.path() / "future" / "records") == future_before);
}

TEST_CASE("only an explicit reinit replaces a topic, and only with no daemon and no client on it") {
    BusDirectory bus;
    const auto config = bus.path() / ".shmbusd.toml";
    write_file(config, "[topics.t]\ncapacity = \"8KiB\"\nmax_record_size = \"1KiB\"\n");
    const std::vector<std::string> reinit = {"--dir",         bus.path().string(), "--config",
                                             config.string(), "--reinit",          "t"};
    {
        Daemon daemon({.dir = bus.path(), .config = config});
        const Run refused = run_program(shmbusd_path(), reinit);
        CHECK(refused.status == 1);
        CHECK(contains(refused.output, "another shmbusd (pid " + std::to_string(daemon.pid())));
        CHECK(daemon.stop()->status == 0);
    }
    {
        const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
        shmbus::Publisher publisher(topic);
        const std::string record = "old";
        REQUIRE(publisher.try_offer(std::as_bytes(std::span(record))) == shmbus::Status::kOk);
        const Run refused = run_program(shmbusd_path(), reinit);
        CHECK(refused.status == 1);
        CHECK(contains(refused.output, "has clients attached"));
    }
    // A new layout in the configuration: the daemon says so and keeps the file and its record.
    write_file(config, "[topics.t]\ncapacity = \"16KiB\"\nmax_record_size = \"1KiB\"\n");
    {
        Daemon daemon({.dir = bus.path(), .config = config});
        CHECK(daemon.wait_for_log("capacity is 8 KiB in the file, 16 KiB in the configuration"));
        CHECK(daemon.wait_for_log("shmbusd --reinit t"));
        CHECK(daemon.stop()->status == 0);
        const shmbus::Topic kept = shmbus::Topic::open(bus.path(), "t");
        CHECK(kept.capacity() == 8 * 1024);
        shmbus::Subscriber subscriber(kept, {.start = shmbus::StartAt::earliest()});
        CHECK(subscriber.poll([](const shmbus::Record&) {}).records == 1);
    }
    // The reinit applies it; the old record is gone.
    const Run done = run_program(shmbusd_path(), reinit);
    CHECK_MESSAGE(done.status == 0, done.output);
    CHECK(contains(done.output, "reinitialised topic 't'"));
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    CHECK(topic.capacity() == 16 * 1024);
    shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
    CHECK(subscriber.poll([](const shmbus::Record&) {}).records == 0);
    // Nothing is left of the staging directory.
    for (const auto& entry : std::filesystem::directory_iterator(bus.path())) {
        CHECK_FALSE(contains(entry.path().filename().string(), ".reinit."));
    }
}
