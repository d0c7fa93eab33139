// A publisher that dies between committing a record and signalling a subscriber that waits in an
// event loop: shmbusd signals the subscriber at its next pass, so the delay is at most one
// supervision interval; with no daemon, the event loop's own timeout bounds it. The crash is
// staged exactly: the record is committed by the publisher's own appender, and the subscriber's
// sleeping bit is taken as a publisher takes it, and then nothing more happens.
#include <doctest/doctest.h>
#include <poll.h>

#include <chrono>
#include <cstring>
#include <shmbus/detail/ring/appender.hpp>
#include <shmbus/detail/sync/wake_masks.hpp>
#include <shmbus/shmbus.hpp>
#include <string>

#include "daemon_harness.hpp"
#include "support/bus_directory.hpp"
#include "support/records.hpp"

using namespace shmbus::test;
using Clock = std::chrono::steady_clock;

namespace {

/// Commits a record through `publisher`'s slot without the wake-up a commit is followed by, and
/// takes `subscriber`'s sleeping bit as the waker would have: the state a publisher killed
/// between the two leaves behind.
void commit_and_die_before_signalling(const shmbus::Topic& topic, shmbus::Publisher& publisher,
                                      const shmbus::Subscriber& subscriber) {
    shmbus::ring::Appender appender(topic.view(), publisher.slot());
    shmbus::ring::Claimed claimed;
    REQUIRE(appender.try_claim(5, claimed) == shmbus::ring::ClaimOutcome::kClaimed);
    std::memcpy(claimed.payload.data(), "stuck", 5);
    appender.commit(claimed);
    shmbus::sync::clear_bit(topic.view().state->sleeping_subscribers, subscriber.slot());
}

bool readable(int fd, std::chrono::milliseconds timeout) {
    pollfd entry{fd, POLLIN, 0};
    return ::poll(&entry, 1, static_cast<int>(timeout.count())) == 1;
}

}  // namespace

TEST_CASE(
    "a subscriber in an event loop whose publisher died between commit and signal is woken by "
    "shmbusd within one supervision interval") {
    BusDirectory bus;
    const auto config = bus.path() / ".shmbusd.toml";
    write_file(config, R"(
[supervision]
check_interval = "100ms"
[topics.t]
capacity = "64KiB"
max_record_size = "1KiB"
)");
    Daemon daemon({.dir = bus.path(), .config = config});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    shmbus::Publisher publisher(topic);
    shmbus::Subscriber subscriber(topic);
    const int fd = subscriber.wake_fd();
    REQUIRE_FALSE(subscriber.arm());

    commit_and_die_before_signalling(topic, publisher, subscriber);
    const auto died = Clock::now();
    CHECK(readable(fd, std::chrono::milliseconds(5000)));
    const auto delay = Clock::now() - died;
    CHECK_MESSAGE(
        delay < std::chrono::milliseconds(1000),
        "woken after " << std::chrono::duration<double, std::milli>(delay).count() << " ms");
    CHECK(drain(subscriber).size() == 1);
    MESSAGE("woken by shmbusd after " << std::chrono::duration<double, std::milli>(delay).count()
                                      << " ms");
    CHECK(daemon.stop()->status == 0);
}

TEST_CASE(
    "with no daemon the event loop's own timeout bounds the delay, and the record is there to "
    "poll") {
    BusDirectory bus;
    const shmbus::Topic topic =
        create_and_open(bus, {.capacity = 64 * 1024, .max_record_size = 1024});
    shmbus::Publisher publisher(topic);
    shmbus::Subscriber subscriber(topic);
    const int fd = subscriber.wake_fd();
    REQUIRE_FALSE(subscriber.arm());
    commit_and_die_before_signalling(topic, publisher, subscriber);
    CHECK_FALSE(readable(fd, std::chrono::milliseconds(300)));  // nobody signals
    CHECK(subscriber.ready());
    CHECK(drain(subscriber).size() == 1);
}
