// Waiting in an event loop: a subscriber's wake descriptor (Subscriber::wake_fd, arm) and the
// WaitSet. The descriptor becomes readable when records come after arm(); edge-triggered epoll
// under a publisher storm loses no wake-up; a WaitSet of 1,000 subscribers finds every ready one;
// and a full or closed wake FIFO, or one replaced by something else, never stalls a publisher.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <set>
#include <shmbus/detail/format/wake_fifo.hpp>
#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/payload.hpp"
#include "support/records.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::Status;
using shmbus::test::BusDirectory;
using shmbus::test::bytes_of;
using shmbus::test::Child;
using shmbus::test::ChildLink;
using shmbus::test::Clock;
using shmbus::test::deadline_in;

/// Whether `fd` is readable within `timeout`.
bool readable(int fd, std::chrono::milliseconds timeout) {
    pollfd entry{fd, POLLIN, 0};
    return ::poll(&entry, 1, static_cast<int>(timeout.count())) == 1 &&
           (entry.revents & POLLIN) != 0;
}

std::filesystem::path fifo_of(const BusDirectory& bus, const char* topic, std::uint32_t slot) {
    return shmbus::format::wake_fifo_path(bus.path() / topic, slot);
}

}  // namespace

TEST_CASE(
    "a wake descriptor becomes readable at the first commit after arm(), and arm() says when "
    "records came before it") {
    BusDirectory bus;
    const shmbus::Topic topic =
        shmbus::test::create_and_open(bus, {.capacity = 64 * 1024, .max_record_size = 1024});
    shmbus::Publisher publisher(topic);
    shmbus::Subscriber subscriber(topic);
    const int fd = subscriber.wake_fd();
    CHECK(subscriber.wake_fd() == fd);  // one descriptor, kept
    CHECK_FALSE(subscriber.arm());      // nothing to poll: armed
    CHECK_FALSE(readable(fd, 0ms));

    REQUIRE(publisher.try_offer(bytes_of("one")) == Status::kOk);
    CHECK(readable(fd, 1000ms));
    CHECK(subscriber.arm());         // the record is still there: poll first
    CHECK_FALSE(readable(fd, 0ms));  // arm() drained the descriptor
    CHECK(shmbus::test::drain(subscriber).size() == 1);
    CHECK_FALSE(subscriber.arm());

    // A record committed after arm() and before the loop waits is not lost: the descriptor is
    // readable by the time the loop looks.
    REQUIRE(publisher.try_offer(bytes_of("two")) == Status::kOk);
    CHECK(readable(fd, 1000ms));
    CHECK(shmbus::test::drain(subscriber).size() == 1);

    // Nothing but records wakes it: publishing nothing, it stays quiet.
    CHECK_FALSE(subscriber.arm());
    CHECK_FALSE(readable(fd, 50ms));
}

namespace {

/// Edge-triggered epoll on one subscriber's descriptor while a publisher in another process
/// storms the topic; every record checked. `fenced_commits`: the topic's publishers commit with
/// a full barrier and the subscriber arms without membarrier (sync/asymmetric_fence.hpp).
void edge_triggered_storm(bool fenced_commits) {
    BusDirectory bus;
    constexpr std::uint64_t kRecords = 2'000'000;
    shmbus::create_topic(
        bus.path(), "storm",
        {.capacity = 256 * 1024, .max_record_size = 256, .fenced_commits = fenced_commits});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "storm");
    shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});

    // The publisher: bursts of single records and batches, with short pauses between bursts so
    // that the subscriber catches up and waits in epoll again and again.
    Child publisher = Child::fork("storm publisher", [&](ChildLink&) {
        ::signal(SIGPIPE, SIG_DFL);  // a write to a wake FIFO must never raise it
        shmbus::Publisher writer(shmbus::Topic::open(bus.path(), "storm"));
        std::vector<std::byte> buffer(256);
        std::uint64_t sent = 0;
        std::uint64_t burst = 0;
        while (sent < kRecords) {
            const std::uint64_t until = std::min(kRecords, sent + 1 + (burst * 7919) % 5000);
            for (; sent < until; ++sent) {
                const std::uint32_t length = shmbus::test::record_length(0, sent, 256);
                shmbus::test::fill_record(std::span(buffer).first(length), 0, sent);
                if (writer.offer(std::span(buffer).first(length), 30s) != Status::kOk) return 2;
            }
            ++burst;
            const timespec pause{0, static_cast<long>(20'000 + (burst % 7) * 30'000)};
            ::nanosleep(&pause, nullptr);  // pacing only: lets the subscriber go back to epoll
        }
        return 0;
    });

    const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
    REQUIRE(epoll >= 0);
    epoll_event event{};
    event.events = EPOLLIN | EPOLLET;
    REQUIRE(::epoll_ctl(epoll, EPOLL_CTL_ADD, subscriber.wake_fd(), &event) == 0);
    shmbus::test::RecordChecker checker(256, 1, /*exact=*/true);
    std::string wrong;
    std::uint64_t received = 0;
    std::uint64_t wakeups = 0;
    std::uint64_t stuck = 0;
    const auto give_up = deadline_in(240s);
    const auto read_all = [&] {
        for (;;) {
            const shmbus::PollResult result = subscriber.poll([&](const shmbus::Record& record) {
                if (auto problem = checker.accept(0, record.payload, 0); problem && wrong.empty()) {
                    wrong = *problem;
                }
                ++received;
            });
            REQUIRE(result.status == Status::kOk);
            if (result.records == 0) return;
        }
    };
    while (received < kRecords && Clock::now() < give_up) {
        // The pattern: read everything, arm, and read again if arm() says so.
        do {
            read_all();
        } while (subscriber.arm());
        if (received == kRecords) break;
        epoll_event fired{};
        const int count = ::epoll_wait(epoll, &fired, 1, 5000);
        if (count == 0) {
            // Five seconds with records outstanding and no wake-up: a lost one, unless the
            // publisher really paused that long (it never does).
            ++stuck;
            break;
        }
        ++wakeups;
    }
    ::close(epoll);
    const auto exit = publisher.wait_until(deadline_in(30s));
    REQUIRE(exit);
    CHECK_MESSAGE(exit->ok(), "the publisher " << exit->describe());
    CHECK(stuck == 0);
    CHECK_MESSAGE(wrong.empty(), wrong);
    CHECK(received == kRecords);
    CHECK(subscriber.lost() == 0);
    CHECK(wakeups > 100);  // it did wait, many times
    std::printf("edge-triggered storm%s: %llu records, %llu wake-ups through the descriptor\n",
                fenced_commits ? " (fenced commits)" : "",
                static_cast<unsigned long long>(received),
                static_cast<unsigned long long>(wakeups));
    std::fflush(stdout);
}

}  // namespace

TEST_CASE(
    "edge-triggered epoll under a publisher storm loses no wake-up: every record arrives, once, "
    "in order") {
    edge_triggered_storm(false);
}

TEST_CASE(
    "on a topic with fenced commits, arming without membarrier loses no wake-up under a "
    "publisher storm") {
    edge_triggered_storm(true);
}

TEST_CASE("one WaitSet holds 1,000 subscribers and says exactly which are ready") {
    BusDirectory bus;
    constexpr std::uint32_t kPerTopic = 500;
    const char* const names[] = {"left", "right"};
    std::vector<shmbus::Topic> topics;
    for (const char* name : names) {
        shmbus::create_topic(
            bus.path(), name,
            {.capacity = 64 * 1024, .max_record_size = 64, .max_subscribers = kPerTopic});
        topics.push_back(shmbus::Topic::open(bus.path(), name));
    }
    std::vector<std::unique_ptr<shmbus::Subscriber>> subscribers;
    shmbus::WaitSet waits;
    for (std::uint32_t t = 0; t < 2; ++t) {
        for (std::uint32_t i = 0; i < kPerTopic; ++i) {
            subscribers.push_back(std::make_unique<shmbus::Subscriber>(topics[t]));
            waits.add(*subscribers.back(), t * kPerTopic + i);
        }
    }
    CHECK(waits.size() == 2 * kPerTopic);
    const auto started = Clock::now();
    CHECK(waits.wait(20ms).empty());
    const auto idle_wait = Clock::now() - started;

    // One record on "right": exactly its 500 subscribers are ready.
    shmbus::Publisher right(topics[1]);
    REQUIRE(right.try_offer(bytes_of("r")) == Status::kOk);
    auto ready = waits.wait(5s);
    std::set<std::uint64_t> keys;
    for (const auto& entry : ready) {
        CHECK(entry.subscriber);
        keys.insert(entry.key);
    }
    CHECK(keys.size() == kPerTopic);
    CHECK(*keys.begin() == kPerTopic);
    CHECK(*keys.rbegin() == 2 * kPerTopic - 1);
    for (std::uint64_t key : keys)
        CHECK(shmbus::test::drain(*subscribers[key]).size() == 1);

    // One record on each: all 1,000, from one wait (or a few, if the wake-ups straggle in).
    shmbus::Publisher left(topics[0]);
    REQUIRE(left.try_offer(bytes_of("l")) == Status::kOk);
    REQUIRE(right.try_offer(bytes_of("r")) == Status::kOk);
    keys.clear();
    const auto give_up = deadline_in(10s);
    while (keys.size() < 2 * kPerTopic && Clock::now() < give_up) {
        for (const auto& entry : waits.wait(1s)) {
            keys.insert(entry.key);
            (void)shmbus::test::drain(*subscribers[entry.key]);
        }
    }
    CHECK(keys.size() == 2 * kPerTopic);
    std::printf("WaitSet of %u subscribers: an idle wait(20 ms) took %.1f ms\n", 2 * kPerTopic,
                std::chrono::duration<double, std::milli>(idle_wait).count());
    std::fflush(stdout);
}

TEST_CASE(
    "a WaitSet moves a subscriber past a position no frame starts at once a wait times out, as "
    "Subscriber::wait does") {
    BusDirectory bus;
    const shmbus::Topic topic =
        shmbus::test::create_and_open(bus, {.capacity = 4096, .max_record_size = 256});
    shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
    std::vector<std::uint64_t> positions;
    {
        shmbus::Publisher publisher(topic);
        for (int i = 0; i < 10; ++i) {
            shmbus::Claim claim = publisher.try_claim(64);
            positions.push_back(claim.position());
            REQUIRE(claim.commit() == Status::kOk);
        }
    }
    // A broken publisher's length: the next frame seems to start inside this one's payload, where
    // the zeros read as a frame not written yet, and no claim is in flight.
    topic.view().header(positions[3]).length = 8;
    CHECK(shmbus::test::drain(subscriber).size() == 4);

    shmbus::WaitSet waits;
    waits.add(subscriber, 1);
    std::size_t after = 0;
    for (int i = 0; i < 20 && after < 6; ++i) {
        for (const shmbus::WaitSet::Ready& ready : waits.wait(20ms)) {
            CHECK(ready.key == 1);
            after += shmbus::test::drain(subscriber).size();
        }
    }
    CHECK(after == 6);  // every record after the broken one
    CHECK(subscriber.corrupt() == 1);
}

TEST_CASE("a WaitSet reports foreign descriptors beside subscribers, and times out when idle") {
    BusDirectory bus;
    const shmbus::Topic topic =
        shmbus::test::create_and_open(bus, {.capacity = 64 * 1024, .max_record_size = 1024});
    shmbus::Subscriber subscriber(topic);
    int pipe_fds[2];
    REQUIRE(::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) == 0);
    shmbus::WaitSet waits;
    waits.add(subscriber, 7);
    waits.add(pipe_fds[0], EPOLLIN, 9);
    const auto started = Clock::now();
    CHECK(waits.wait(50ms).empty());
    CHECK(Clock::now() - started >= 45ms);
    REQUIRE(::write(pipe_fds[1], "x", 1) == 1);
    auto ready = waits.wait(1s);
    REQUIRE(ready.size() == 1);
    CHECK(ready[0].key == 9);
    CHECK_FALSE(ready[0].subscriber);
    CHECK((ready[0].events & EPOLLIN) != 0);
    char byte = 0;
    REQUIRE(::read(pipe_fds[0], &byte, 1) == 1);
    shmbus::Publisher publisher(topic);
    REQUIRE(publisher.try_offer(bytes_of("x")) == Status::kOk);
    ready = waits.wait(1s);
    REQUIRE(ready.size() == 1);
    CHECK(ready[0].key == 7);
    CHECK(ready[0].subscriber);
    CHECK(waits.remove(subscriber));
    CHECK_FALSE(waits.remove(subscriber));
    CHECK(waits.remove(pipe_fds[0]));
    CHECK(waits.size() == 0);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
}

TEST_CASE(
    "a full, closed or replaced wake FIFO never stalls a publisher, and never raises SIGPIPE") {
    BusDirectory bus;
    shmbus::create_topic(bus.path(), "t", {.capacity = 64 * 1024, .max_record_size = 64});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");

    SUBCASE("full") {
        shmbus::Subscriber subscriber(topic);
        const auto fifo = fifo_of(bus, "t", subscriber.slot());
        // Fill it to the brim from outside, as a hostile publisher could.
        const int filler = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
        REQUIRE(filler >= 0);
        std::vector<char> block(4096, 'x');
        while (::write(filler, block.data(), block.size()) > 0) {
        }
        (void)subscriber.wake_fd();
        shmbus::Publisher publisher(topic);
        const auto started = Clock::now();
        for (int i = 0; i < 1000; ++i) {
            // Armed each time (without draining: arm() would empty it), so every commit signals.
            topic.view().subscribers[subscriber.slot()].wake_by = shmbus::format::kWakeByFifo;
            topic.view().state->sleeping_subscribers[subscriber.slot() / 64] |=
                std::uint64_t{1} << (subscriber.slot() % 64);
            REQUIRE(publisher.try_offer(bytes_of("r")) == Status::kOk);
            if (i % 100 == 99) (void)shmbus::test::drain(subscriber);
        }
        CHECK(Clock::now() - started < 2s);
        ::close(filler);
    }
    SUBCASE("closed: the subscriber died armed") {
        Child doomed = Child::fork("armed subscriber", [&](ChildLink& link) {
            shmbus::Subscriber subscriber(shmbus::Topic::open(bus.path(), "t"));
            (void)subscriber.wake_fd();
            if (subscriber.arm()) return 2;
            link.send(std::to_string(subscriber.slot()));
            (void)link.receive();
            return 0;
        });
        REQUIRE(doomed.receive_line(deadline_in(10s)));
        REQUIRE(doomed.kill_and_reap().signal == SIGKILL);
        // Its bit is still set and nobody reads its FIFO: the publisher writes into it anyway.
        Child publisher = Child::fork("publisher", [&](ChildLink&) {
            ::signal(SIGPIPE, SIG_DFL);
            shmbus::Publisher writer(shmbus::Topic::open(bus.path(), "t"));
            for (int i = 0; i < 100; ++i) {
                if (writer.try_offer(bytes_of("r")) != Status::kOk) return 3;
            }
            return 0;
        });
        const auto exit = publisher.wait_until(deadline_in(10s));
        REQUIRE(exit);
        CHECK_MESSAGE(exit->ok(), exit->describe());
    }
    SUBCASE("replaced by a regular file") {
        shmbus::Subscriber subscriber(topic);
        (void)subscriber.wake_fd();
        REQUIRE_FALSE(subscriber.arm());
        const auto fifo = fifo_of(bus, "t", subscriber.slot());
        REQUIRE(::unlink(fifo.c_str()) == 0);
        const int regular = ::open(fifo.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        REQUIRE(regular >= 0);
        ::close(regular);
        shmbus::Publisher publisher(topic);
        REQUIRE(publisher.try_offer(bytes_of("r")) == Status::kOk);
        CHECK(std::filesystem::file_size(fifo) == 0);  // never written into
        CHECK(shmbus::test::drain(subscriber).size() == 1);
    }
}
