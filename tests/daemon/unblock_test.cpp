// A publisher killed between claim and commit: the daemon turns its claim into padding, the
// subscribers go on, nothing committed is lost and nothing torn is delivered.
#include <doctest/doctest.h>
#include <signal.h>

#include <set>
#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

#include "daemon_harness.hpp"
#include "support/bus_directory.hpp"
#include "support/skip.hpp"

using namespace shmbus::test;

TEST_CASE(
    "subscribers resume within the unblock timeout after a publisher dies between claim and "
    "commit") {
    if (!shmbus::test::fault_points_compiled())
        return shmbus::test::skip(shmbus::test::kNeedsFaultPoints);
    BusDirectory bus;
    const auto config = bus.path() / ".shmbusd.toml";
    write_file(config, R"(
[supervision]
check_interval = "100ms"
unblock_timeout = "1s"
[topics.fragile]
capacity = "64KiB"
max_record_size = "1KiB"
)");
    Daemon daemon({.dir = bus.path(), .config = config});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "fragile");
    shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
    std::vector<std::string> received;
    const auto drain = [&] {
        (void)subscriber.poll([&](const shmbus::Record& record) {
            received.emplace_back(reinterpret_cast<const char*>(record.payload.data()),
                                  record.payload.size());
        });
    };

    // Publisher A commits A-0 .. A-9 and stops itself between the claim and the commit of A-10.
    Program a(fault_publisher_path(), {.arguments = {bus.path().string(), "fragile", "20", "A"},
                                       .environment = {"SHMBUS_FAULT=before_commit:stop:11"},
                                       .log = bus.path() / ".a.log"});
    REQUIRE_MESSAGE(a.wait_for_stop(10s), a.output());

    // Publisher B commits behind A's open claim: nobody can read B's records yet.
    shmbus::Publisher b(topic);
    std::vector<std::string> b_records;
    for (int i = 0; i < 20; ++i) {
        b_records.push_back("B-" + std::to_string(i));
        REQUIRE(b.try_offer(std::as_bytes(std::span(b_records.back()))) == shmbus::Status::kOk);
    }
    REQUIRE(eventually(
        [&] {
            drain();
            return received.size() >= 10;
        },
        5s));
    drain();
    CHECK(received.size() == 10);  // A-0 .. A-9, then the open claim
    // The owner is alive (stopped, holding its slot lock): the daemon must leave its claim be.
    CHECK(shmbus::collect_stats(topic).unblocked == 0);

    ::kill(a.pid(), SIGKILL);
    const auto killed_at = SteadyClock::now();
    REQUIRE(a.wait_for_exit(5s).has_value());
    const bool resumed = eventually(
        [&] {
            drain();
            return received.size() >= 30;
        },
        10s);
    const auto resumed_after = SteadyClock::now() - killed_at;
    REQUIRE_MESSAGE(resumed, daemon.log());
    CHECK(resumed_after < 1s);  // unblock_timeout

    std::vector<std::string> expected;
    for (int i = 0; i < 10; ++i)
        expected.push_back("A-" + std::to_string(i));
    expected.insert(expected.end(), b_records.begin(), b_records.end());
    CHECK(received == expected);  // every committed record, in order; A-10 never appears

    CHECK(shmbus::collect_stats(topic).unblocked == 1);
    // A's publisher slot: reclaimed on the pass after the repair (a dead publisher's slot keeps
    // its claim intent, which protects the frame, until the frame is padding).
    CHECK(eventually([&] { return shmbus::collect_stats(topic).reclaimed >= 1; }, 5s));
    CHECK(daemon.wait_for_log("unblocked the claim at position"));
    CHECK(daemon.wait_for_log("reclaimed publisher slot"));

    // The topic works on: B publishes and the subscriber receives.
    const std::string after = "after the repair";
    REQUIRE(b.try_offer(std::as_bytes(std::span(after))) == shmbus::Status::kOk);
    REQUIRE(eventually(
        [&] {
            drain();
            return received.size() == 31;
        },
        5s));
    CHECK(received.back() == after);
    CHECK(shmbus::collect_stats(topic).unblocked == 1);
    CHECK(daemon.stop()->status == 0);
}
