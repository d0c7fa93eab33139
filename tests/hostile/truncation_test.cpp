// A topic file truncated under running clients. Anyone with write access to a file can truncate
// it, and file modes cannot take that right away, so libshmbus contains the damage
// (client/src/sigbus_guard.cpp):
//
//   the state file, which every client (subscribers too) must write, is put back by whoever
//   touches a lost page, and the topic goes on: each client restores its own slot;
//
//   the records file, which only publishers may write, costs the topic: the SIGBUS becomes
//   Status::kTopicLost for its handles.
//
// These tests show both: that the clients of a topic whose state file was truncated carry on,
// even asleep in wait(); that those of a topic whose records file was truncated survive and say
// so, promptly, even while asleep in wait() or blocked in offer(); that clients of other topics
// notice nothing; and that a SIGBUS outside shmbus's own mappings is left alone.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <shmbus/shmbus.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/records.hpp"
#include "support/sanitizers.hpp"
#include "support/topic_files.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::Status;
using shmbus::test::BusDirectory;
using shmbus::test::bytes_of;
using shmbus::test::Child;
using shmbus::test::ChildLink;
using shmbus::test::deadline_in;

const shmbus::TopicOptions kSmall{.capacity = 64 * 1024, .max_record_size = 1024};

/// Publishes until `publisher` stops saying kOk (at most `limit` tries); returns the last status.
Status publish_until_refused(shmbus::Publisher& publisher, int limit = 1000) {
    Status status = Status::kOk;
    for (int i = 0; i < limit && status == Status::kOk; ++i) {
        status = publisher.try_offer(bytes_of("record " + std::to_string(i)));
    }
    return status;
}

/// Polls until a poll says something other than kOk (at most `limit` polls); returns it.
Status poll_until_refused(shmbus::Subscriber& subscriber, int limit = 1000) {
    Status status = Status::kOk;
    for (int i = 0; i < limit && status == Status::kOk; ++i) {
        status = subscriber.poll([](const shmbus::Record&) {}).status;
    }
    return status;
}

/// One record through `publisher` to `subscriber`, checked byte for byte.
bool round_trip(shmbus::Publisher& publisher, shmbus::Subscriber& subscriber,
                const std::string& text) {
    if (publisher.try_offer(bytes_of(text)) != Status::kOk) return false;
    const auto received = shmbus::test::drain(subscriber);
    return received.size() == 1 && received[0].payload == bytes_of(text);
}

}  // namespace

TEST_CASE(
    "a records file truncated under a publisher and a subscriber turns into kTopicLost for that "
    "topic alone") {
    BusDirectory bus;
    const shmbus::Topic doomed = shmbus::test::create_and_open(bus, kSmall, "doomed");
    const shmbus::Topic other = shmbus::test::create_and_open(bus, kSmall, "other");
    shmbus::Publisher doomed_publisher(doomed);
    shmbus::Subscriber doomed_subscriber(doomed);
    shmbus::Publisher other_publisher(other);
    shmbus::Subscriber other_subscriber(other);
    REQUIRE(round_trip(doomed_publisher, doomed_subscriber, "before"));
    REQUIRE(round_trip(other_publisher, other_subscriber, "before"));

    shmbus::test::resize_file(shmbus::test::topic_paths(bus.path(), "doomed").records, 0);

    // The first call that touches the lost pages may finish on the zero pages put in their
    // place; from then on every call says what happened.
    CHECK(publish_until_refused(doomed_publisher, 2) == Status::kTopicLost);
    CHECK(doomed_publisher.try_offer(bytes_of("after")) == Status::kTopicLost);
    CHECK(doomed_publisher.offer(bytes_of("after"), 1s) == Status::kTopicLost);
    CHECK(poll_until_refused(doomed_subscriber, 2) == Status::kTopicLost);
    CHECK(doomed_subscriber.wait(1s) == Status::kTopicLost);

    // The other topic, mapped in the same process, carries on.
    CHECK(round_trip(other_publisher, other_subscriber, "after"));
    for (int i = 0; i < 100; ++i) {
        REQUIRE(round_trip(other_publisher, other_subscriber, "more " + std::to_string(i)));
    }
}

TEST_CASE(
    "a state file truncated under its clients is put back by the first to touch it, and they carry "
    "on") {
    for (const std::uint64_t keep : {std::uint64_t{0}, std::uint64_t{4096}, std::uint64_t{6000}}) {
        CAPTURE(keep);
        BusDirectory bus;
        const shmbus::Topic topic = shmbus::test::create_and_open(bus, kSmall, "t");
        const auto state = shmbus::test::topic_paths(bus.path(), "t").state;
        const std::uint64_t size = std::filesystem::file_size(state);
        shmbus::Publisher publisher(topic);
        shmbus::Subscriber subscriber(topic);
        REQUIRE(round_trip(publisher, subscriber, "before"));

        shmbus::test::resize_file(state, keep);

        for (int i = 0; i < 100; ++i) {
            REQUIRE(round_trip(publisher, subscriber, "after " + std::to_string(i)));
        }
        CHECK(subscriber.slot_restorations() == (keep < 4096 + 128 ? 1u : 0u));
        CHECK(subscriber.lost() == 0);
        // A newcomer opens the topic and sees it whole; if nobody had touched a lost page yet
        // (the cut spared every page in use), the open puts the file back.
        const shmbus::Topic again = shmbus::Topic::open(bus.path(), "t");
        CHECK(std::filesystem::file_size(state) == size);
        shmbus::Subscriber late(again, {.start = shmbus::StartAt::earliest()});
        CHECK(shmbus::test::drain(late).size() == 101);
        const shmbus::TopicStats stats = shmbus::collect_stats(again);
        CHECK(stats.subscribers.size() == 2);
    }
}

TEST_CASE(
    "a subscriber asleep in wait when its state file is truncated wakes for the next record") {
    BusDirectory bus;
    const shmbus::Topic topic = shmbus::test::create_and_open(bus, kSmall, "t");
    shmbus::Publisher publisher(topic);
    shmbus::Subscriber subscriber(topic);
    Status status = Status::kTimedOut;
    std::vector<shmbus::test::Received> received;
    std::thread sleeper([&] {
        const auto give_up = deadline_in(30s);
        while (received.empty() && shmbus::test::Clock::now() < give_up) {
            status = subscriber.wait(30s);
            if (status != Status::kOk) return;
            received = shmbus::test::drain(subscriber);
        }
    });
    std::this_thread::sleep_for(50ms);  // pacing only: most runs truncate while it sleeps
    shmbus::test::resize_file(shmbus::test::topic_paths(bus.path(), "t").state, 0);
    REQUIRE(publisher.try_offer(bytes_of("wake")) == Status::kOk);
    sleeper.join();
    CHECK(status == Status::kOk);
    REQUIRE(received.size() == 1);
    CHECK(received[0].payload == bytes_of("wake"));
}

TEST_CASE("a subscriber asleep in wait when its records file is truncated wakes with kTopicLost") {
    {
        BusDirectory bus;
        const shmbus::Topic topic = shmbus::test::create_and_open(bus, kSmall, "doomed");
        shmbus::Subscriber subscriber(topic);
        Status status = Status::kOk;
        auto waited = 0ms;
        std::thread sleeper([&] {
            const auto start = std::chrono::steady_clock::now();
            status = subscriber.wait(30s);
            waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start);
        });
        // Truncating before the subscriber sleeps is as good a test as truncating after: either
        // way it must notice within a sleep slice, not at the end of its 30 seconds.
        std::this_thread::sleep_for(50ms);  // pacing only: most runs truncate while it sleeps
        shmbus::test::resize_file(shmbus::test::topic_paths(bus.path(), "doomed").records, 0);
        sleeper.join();
        CHECK(status == Status::kTopicLost);
        CHECK_MESSAGE(waited < 5s, "wait returned after " << waited.count() << " ms");
    }
}

TEST_CASE("a publisher blocked in offer when its topic is truncated gives up with kTopicLost") {
    BusDirectory bus;
    const shmbus::Topic topic = shmbus::test::create_and_open(
        bus, {.capacity = 4096, .max_record_size = 256, .policy = shmbus::Policy::kBlock},
        "doomed");
    shmbus::Publisher publisher(topic);
    shmbus::Subscriber holding_back(topic);  // never polls: the ring fills
    REQUIRE(publish_until_refused(publisher) == Status::kBackPressured);
    Status status = Status::kOk;
    auto waited = 0ms;
    std::thread blocked([&] {
        const auto start = std::chrono::steady_clock::now();
        status = publisher.offer(bytes_of("no room"), 30s);
        waited = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - start);
    });
    std::this_thread::sleep_for(50ms);  // pacing only
    shmbus::test::resize_file(shmbus::test::topic_paths(bus.path(), "doomed").records, 0);
    blocked.join();
    CHECK(status == Status::kTopicLost);
    CHECK_MESSAGE(waited < 5s, "offer returned after " << waited.count() << " ms");
}

TEST_CASE(
    "clients in another process survive their topic's truncation, report kTopicLost, and keep "
    "using their other topic") {
    BusDirectory bus;
    shmbus::create_topic(bus.path(), "doomed", kSmall);
    shmbus::create_topic(bus.path(), "other", kSmall);
    Child clients = Child::fork("clients", [&bus](ChildLink& link) {
        const shmbus::Topic doomed = shmbus::Topic::open(bus.path(), "doomed");
        const shmbus::Topic other = shmbus::Topic::open(bus.path(), "other");
        shmbus::Publisher doomed_publisher(doomed);
        shmbus::Subscriber doomed_subscriber(doomed);
        shmbus::Publisher other_publisher(other);
        shmbus::Subscriber other_subscriber(other);
        link.send("attached");
        // Publish and read on both topics until the doomed one is lost.
        const auto give_up = deadline_in(20s);
        Status publish = Status::kOk;
        Status poll = Status::kOk;
        while (shmbus::test::Clock::now() < give_up &&
               (publish != Status::kTopicLost || poll != Status::kTopicLost)) {
            if (publish != Status::kTopicLost) publish = doomed_publisher.try_offer(bytes_of("x"));
            if (poll != Status::kTopicLost) {
                poll = doomed_subscriber.poll([](const shmbus::Record&) {}).status;
            }
            if (!round_trip(other_publisher, other_subscriber, "other")) return 3;
        }
        if (publish != Status::kTopicLost || poll != Status::kTopicLost) return 4;
        for (int i = 0; i < 100; ++i) {
            if (!round_trip(other_publisher, other_subscriber, "still " + std::to_string(i))) {
                return 5;
            }
        }
        return 0;
    });
    REQUIRE(clients.receive_line(deadline_in(10s)) == "attached");
    shmbus::test::resize_file(shmbus::test::topic_paths(bus.path(), "doomed").records, 4096);
    const auto exit = clients.wait_until(deadline_in(30s));
    REQUIRE_MESSAGE(exit, "the clients hung");
    CHECK_MESSAGE(exit->ok(), "the clients " << exit->describe());
}

TEST_CASE("a topic lost to truncation can be removed, created again and used at once") {
    BusDirectory bus;
    const shmbus::Topic lost = shmbus::test::create_and_open(bus, kSmall, "t");
    shmbus::Publisher lost_publisher(lost);
    shmbus::test::resize_file(shmbus::test::topic_paths(bus.path(), "t").records, 0);
    REQUIRE(publish_until_refused(lost_publisher, 2) == Status::kTopicLost);

    // Opening the truncated files is refused with the reason, never a crash.
    try {
        (void)shmbus::Topic::open(bus.path(), "t");
        FAIL("a truncated records file was opened");
    } catch (const shmbus::Error& error) {
        CHECK(error.code() == shmbus::ErrorCode::kFormat);
        CHECK(std::string(error.what()).find("truncated") != std::string::npos);
    }
    REQUIRE(shmbus::remove_topic(bus.path(), "t"));
    const shmbus::Topic fresh = shmbus::test::create_and_open(bus, kSmall, "t");
    shmbus::Publisher publisher(fresh);
    shmbus::Subscriber subscriber(fresh);
    CHECK(round_trip(publisher, subscriber, "fresh"));
    // The handle of the lost topic stays lost: it still maps the old, truncated files.
    CHECK(lost_publisher.try_offer(bytes_of("old")) == Status::kTopicLost);
}

TEST_CASE("a SIGBUS outside shmbus's mappings still takes its default action") {
    BusDirectory bus;
    const shmbus::Topic topic = shmbus::test::create_and_open(bus, kSmall, "t");  // installs it
    const auto path = bus.path() / "not-a-topic";
    {
        const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
        REQUIRE(fd >= 0);
        REQUIRE(::ftruncate(fd, 8192) == 0);
        ::close(fd);
    }
    Child child = Child::fork("foreign mapping", [&](ChildLink&) {
        shmbus::Publisher publisher(shmbus::Topic::open(bus.path(), "t"));
        const int fd = ::open(path.c_str(), O_RDWR);
        if (fd < 0) return 2;
        auto* bytes = static_cast<volatile char*>(
            ::mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
        if (bytes == MAP_FAILED) return 3;
        if (::ftruncate(fd, 0) != 0) return 4;
        bytes[4096] = 1;  // past the end of the file: SIGBUS, not ours to handle
        return 0;
    });
    const auto exit = child.wait_until(deadline_in(10s));
    REQUIRE(exit);
#if defined(SHMBUS_TEST_ASAN)
    // AddressSanitizer's own SIGBUS handler was there first: it reports the fault and exits.
    CHECK_MESSAGE(!exit->ok(), "the child " << exit->describe());
#else
    CHECK_MESSAGE(!exit->exited, "the child " << exit->describe());
    CHECK(exit->signal == SIGBUS);
#endif
}
