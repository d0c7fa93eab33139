// The slow-subscriber policy of a block topic: "evict" frees publishers from a subscriber that
// stalls them for evict_after; "wait" never does.
#include <doctest/doctest.h>
#include <unistd.h>

#include <shmbus/shmbus.hpp>
#include <string>

#include "daemon_harness.hpp"
#include "support/bus_directory.hpp"

using namespace shmbus::test;

namespace {

const std::string kConfig = R"(
[supervision]
check_interval = "100ms"
unblock_timeout = "1s"
[topics.strict]
capacity = "8KiB"
max_record_size = "1KiB"
slow_subscriber = "evict"
evict_after = "1s"
[topics.patient]
capacity = "8KiB"
max_record_size = "1KiB"
slow_subscriber = "wait"
)";

}  // namespace

TEST_CASE(
    "a subscriber that stalls an evict topic is evicted after evict_after and the publisher goes "
    "on") {
    BusDirectory bus;
    const auto config = bus.path() / ".shmbusd.toml";
    write_file(config, kConfig);
    Daemon daemon({.dir = bus.path(), .config = config});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "strict");
    shmbus::Subscriber stalled(topic);  // attached, and never polls
    shmbus::Publisher publisher(topic);

    // 200 records of 100 bytes: three rings' worth, so the publisher must get past the stall.
    const std::string record(100, 'r');
    const auto started = SteadyClock::now();
    for (int i = 0; i < 200; ++i) {
        REQUIRE_MESSAGE(publisher.offer(std::as_bytes(std::span(record)),
                                        std::chrono::seconds(15)) == shmbus::Status::kOk,
                        "record " << i << "\n"
                                  << daemon.log());
    }
    const auto took = SteadyClock::now() - started;
    CHECK(took >= 1s);  // never before evict_after
    CHECK(took < 10s);

    // The subscriber learns it was evicted; stat and the log say who, and how far behind.
    CHECK(stalled.poll([](const shmbus::Record&) {}).status == shmbus::Status::kEvicted);
    const shmbus::TopicStats stats = shmbus::collect_stats(topic);
    CHECK(stats.evicted == 1);
    REQUIRE(stats.subscribers.size() == 1);
    CHECK(stats.subscribers[0].evicted);
    CHECK(stats.subscribers[0].pid == static_cast<std::uint32_t>(::getpid()));
    CHECK(stats.subscribers[0].lag_bytes > 8192 - 1056);
    const std::string pid = "pid " + std::to_string(::getpid());
    CHECK(daemon.wait_for_log("evicted subscriber slot 0: " + pid));
    CHECK(daemon.wait_for_log("bytes"));
    CHECK(daemon.wait_for_log("behind the tail"));

    // A well-behaved subscriber attached afterwards is not evicted while it keeps up.
    shmbus::Subscriber keeping_up(topic);
    for (int i = 0; i < 100; ++i) {
        REQUIRE(publisher.offer(std::as_bytes(std::span(record)), std::chrono::seconds(5)) ==
                shmbus::Status::kOk);
        CHECK(keeping_up.poll([](const shmbus::Record&) {}).status == shmbus::Status::kOk);
    }
    CHECK(shmbus::collect_stats(topic).evicted == 1);
    CHECK(daemon.stop()->status == 0);
}

TEST_CASE("a subscriber that stalls a wait topic holds its publishers back and is never evicted") {
    BusDirectory bus;
    const auto config = bus.path() / ".shmbusd.toml";
    write_file(config, kConfig);
    Daemon daemon({.dir = bus.path(), .config = config});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "patient");
    shmbus::Subscriber stalled(topic);
    shmbus::Publisher publisher(topic);
    const std::string record(100, 'r');
    shmbus::Status status = shmbus::Status::kOk;
    int published = 0;
    for (; published < 200; ++published) {
        status = publisher.offer(std::as_bytes(std::span(record)), std::chrono::milliseconds(2500));
        if (status != shmbus::Status::kOk) break;
    }
    CHECK(status == shmbus::Status::kTimedOut);
    CHECK(published < 200);
    CHECK(stalled.poll([](const shmbus::Record&) {}).status == shmbus::Status::kOk);
    CHECK(shmbus::collect_stats(topic).evicted == 0);
    CHECK(daemon.log().find("evicted") == std::string::npos);
    CHECK(daemon.stop()->status == 0);
}
