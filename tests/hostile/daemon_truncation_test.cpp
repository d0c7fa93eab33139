// shmbusd maps every topic it supervises, so a topic file truncated under it is a hostile act
// against the daemon too. It must survive, go on supervising every other topic, and say which
// topic it lost.
#include <doctest/doctest.h>
#include <signal.h>

#include <shmbus/shmbus.hpp>
#include <string>

#include "daemon/daemon_harness.hpp"
#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/records.hpp"
#include "support/topic_files.hpp"

using namespace shmbus::test;

TEST_CASE(
    "shmbusd survives a supervised topic's truncation, reports it, and goes on supervising the "
    "others") {
    BusDirectory bus;
    const shmbus::TopicOptions small{.capacity = 64 * 1024, .max_record_size = 1024};
    shmbus::create_topic(bus.path(), "doomed", small);
    shmbus::create_topic(bus.path(), "other", small);
    Daemon daemon({.dir = bus.path()});
    REQUIRE(daemon.wait_for_log("supervising topic 'doomed'"));
    REQUIRE(daemon.wait_for_log("supervising topic 'other'"));

    shmbus::test::resize_file(topic_paths(bus.path(), "doomed").records, 0);
    shmbus::test::resize_file(topic_paths(bus.path(), "doomed").state, 0);
    CHECK(daemon.wait_for_log(
        "topic 'doomed': its files were truncated under the daemon; letting go of it"));
    CHECK(daemon.wait_for_log("cannot supervise topic 'doomed'"));
    CHECK(daemon.wait_for_log("truncated"));

    // Still supervising the other topic: the slot of a subscriber killed there is reclaimed.
    Child subscriber = Child::fork("subscriber", [&bus](ChildLink& link) {
        const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "other");
        shmbus::Subscriber attached(topic);
        link.send("attached");
        link.wait_for_parent();
        return 0;
    });
    REQUIRE(subscriber.receive_line(deadline_in(10s)) == "attached");
    const shmbus::Topic other = shmbus::Topic::open(bus.path(), "other");
    REQUIRE(shmbus::collect_stats(other).subscribers.size() == 1);
    (void)subscriber.kill_and_reap();
    CHECK(eventually([&] { return shmbus::collect_stats(other).subscribers.empty(); }, 10s));

    CHECK(daemon.program().wait_for_exit(0s) == std::nullopt);  // still running
    const auto stopped = daemon.stop();
    REQUIRE(stopped);
    CHECK(stopped->status == 0);
}

TEST_CASE(
    "shmbusd puts back a state file that a client truncated and nobody touched since, and says "
    "so") {
    BusDirectory bus;
    const shmbus::TopicOptions small{.capacity = 64 * 1024, .max_record_size = 1024};
    shmbus::create_topic(bus.path(), "t", small);
    const auto state = topic_paths(bus.path(), "t").state;
    const auto size = std::filesystem::file_size(state);
    Daemon daemon({.dir = bus.path()});
    REQUIRE(daemon.wait_for_log("supervising topic 't'"));

    // Cut to its header page: the daemon's own touches of the header page still work, so only
    // its pass notices the missing slots.
    shmbus::test::resize_file(state, 4096);
    CHECK(daemon.wait_for_log("topic 't': its state file had been truncated; restored"));
    CHECK(std::filesystem::file_size(state) == size);
    CHECK(daemon.program().wait_for_exit(0s) == std::nullopt);  // still running

    // The topic works on, and the daemon still supervises it.
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    shmbus::Publisher publisher(topic);
    shmbus::Subscriber subscriber(topic);
    REQUIRE(publisher.try_offer(bytes_of("after")) == shmbus::Status::kOk);
    CHECK(drain(subscriber).size() == 1);
    CHECK(shmbus::collect_stats(topic).supervisor_pid == static_cast<std::uint32_t>(daemon.pid()));
    // A wiped supervisor pid (a cut through the header page, or a scribble) comes back at the
    // next pass.
    topic.view().state->supervisor_pid = 0;
    CHECK(eventually(
        [&] {
            return shmbus::collect_stats(topic).supervisor_pid ==
                   static_cast<std::uint32_t>(daemon.pid());
        },
        10s));
    const auto stopped = daemon.stop();
    REQUIRE(stopped);
    CHECK(stopped->status == 0);
}
