// Client slots: running out of them, reclaiming a dead client's, evicting a subscriber, and
// what a forked child may do with its parent's handles.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <shmbus/detail/format/publisher_slot.hpp>
#include <shmbus/detail/ring/slots.hpp>
#include <shmbus/shmbus.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/records.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::Status;
using shmbus::test::Child;
using shmbus::test::ChildLink;
using shmbus::test::deadline_in;

shmbus::Topic make_topic(const shmbus::test::BusDirectory& bus, std::uint32_t publishers,
                         std::uint32_t subscribers) {
    return shmbus::test::create_and_open(bus, {.capacity = 4096,
                                               .max_record_size = 256,
                                               .max_publishers = publishers,
                                               .max_subscribers = subscribers});
}

// A child that attaches a subscriber (and a publisher, if asked), says "slot N", and waits to be
// killed.
Child attached_child(const shmbus::test::BusDirectory& bus, bool subscriber) {
    return Child::fork(subscriber ? "subscriber" : "publisher",
                       [&bus, subscriber](ChildLink& link) {
                           const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
                           if (subscriber) {
                               shmbus::Subscriber attached(topic);
                               link.send("slot " + std::to_string(attached.slot()));
                               link.wait_for_parent();
                           } else {
                               shmbus::Publisher attached(topic);
                               (void)attached.try_offer(shmbus::test::bytes_of("from the child"));
                               link.send("slot " + std::to_string(attached.slot()));
                               link.wait_for_parent();
                           }
                           return 0;
                       });
}

std::uint32_t slot_of(Child& child) {
    const auto line = child.receive_line(deadline_in(10s));
    REQUIRE_MESSAGE(line, child.name() << " did not attach");
    REQUIRE(line->rfind("slot ", 0) == 0);
    return static_cast<std::uint32_t>(std::stoul(line->substr(5)));
}

shmbus::ErrorCode attach_error_code(const std::function<void()>& attach, std::string& message) {
    try {
        attach();
    } catch (const shmbus::Error& error) {
        message = error.what();
        return error.code();
    }
    message.clear();
    return shmbus::ErrorCode::kSystem;
}

}  // namespace

TEST_CASE("when every subscriber slot is taken a new subscriber gets kNoSlot") {
    shmbus::test::BusDirectory bus;
    const shmbus::Topic topic = make_topic(bus, 1, 2);
    shmbus::Subscriber a(topic);
    shmbus::Subscriber b(topic);
    std::string message;
    CHECK(attach_error_code([&] { shmbus::Subscriber c(topic); }, message) ==
          shmbus::ErrorCode::kNoSlot);
    CHECK(message.find("subscriber slots are taken") != std::string::npos);
    CHECK(message.find("topic 't'") != std::string::npos);

    shmbus::Publisher p(topic);
    CHECK(attach_error_code([&] { shmbus::Publisher q(topic); }, message) ==
          shmbus::ErrorCode::kNoSlot);
    CHECK(message.find("publisher slots are taken") != std::string::npos);
}

TEST_CASE("a dead subscriber's slot is reclaimed, its counters kept, and the slot reused") {
    shmbus::test::BusDirectory bus;
    const shmbus::Topic topic = make_topic(bus, 2, 2);
    shmbus::Subscriber mine(topic);
    Child child = attached_child(bus, true);
    const std::uint32_t slot = slot_of(child);
    CHECK(shmbus::ring::subscriber_alive(topic.state_fd(), slot));
    CHECK(shmbus::ring::reclaim_dead_subscribers(topic.view(), topic.state_fd()) == 0);
    std::string message;
    CHECK(attach_error_code([&] { shmbus::Subscriber full(topic); }, message) ==
          shmbus::ErrorCode::kNoSlot);

    (void)child.kill_and_reap();
    CHECK_FALSE(shmbus::ring::subscriber_alive(topic.state_fd(), slot));
    CHECK(shmbus::ring::subscriber_alive(topic.state_fd(), mine.slot()));
    std::vector<shmbus::ring::ReclaimedSlot> reclaimed;
    CHECK(shmbus::ring::reclaim_dead_subscribers(
              topic.view(), topic.state_fd(),
              [&](const shmbus::ring::ReclaimedSlot& info) { reclaimed.push_back(info); }) == 1);
    REQUIRE(reclaimed.size() == 1);
    CHECK(reclaimed[0].subscriber);
    CHECK(reclaimed[0].index == slot);
    CHECK(reclaimed[0].pid == static_cast<std::uint32_t>(child.pid()));
    CHECK(topic.view().subscribers[slot].state == shmbus::format::kSlotFree);
    CHECK(topic.view().state->reclaimed_slots == 1);
    CHECK(shmbus::ring::reclaim_dead_subscribers(topic.view(), topic.state_fd()) == 0);

    shmbus::Subscriber next(topic);
    CHECK(next.slot() == slot);
}

TEST_CASE("a subscriber attaching where a dead one left its slot takes it over") {
    shmbus::test::BusDirectory bus;
    const shmbus::Topic topic = make_topic(bus, 1, 1);
    Child child = attached_child(bus, true);
    REQUIRE(slot_of(child) == 0);
    (void)child.kill_and_reap();
    shmbus::Subscriber next(topic);  // no reclaim first: attach takes the dead owner's slot
    CHECK(next.slot() == 0);
}

TEST_CASE("a dead publisher's slot is reclaimed and reused") {
    shmbus::test::BusDirectory bus;
    const shmbus::Topic topic = make_topic(bus, 1, 1);
    Child child = attached_child(bus, false);
    REQUIRE(slot_of(child) == 0);
    std::string message;
    CHECK(attach_error_code([&] { shmbus::Publisher full(topic); }, message) ==
          shmbus::ErrorCode::kNoSlot);
    (void)child.kill_and_reap();
    CHECK_FALSE(shmbus::ring::publisher_alive(topic.locks_fd(), 0));
    CHECK(shmbus::ring::reclaim_dead_publishers(topic.view(), topic.locks_fd()) == 1);
    CHECK(topic.view().records->departed_published == 1);
    shmbus::Publisher next(topic);
    CHECK(next.slot() == 0);
    CHECK(next.try_offer(shmbus::test::bytes_of("x")) == Status::kOk);
}

TEST_CASE("an evicted subscriber's poll says kEvicted and it no longer holds publishers back") {
    shmbus::test::BusDirectory bus;
    const shmbus::Topic topic = make_topic(bus, 1, 2);
    shmbus::Publisher publisher(topic);
    shmbus::Subscriber stalled(topic);
    shmbus::Subscriber reader(topic);
    std::size_t published = 0;
    while (publisher.try_offer(shmbus::test::filled(200, 1)) == Status::kOk)
        ++published;
    REQUIRE(published > 0);
    REQUIRE(shmbus::test::drain(reader).size() == published);
    CHECK(publisher.try_offer(shmbus::test::filled(200, 1)) == Status::kBackPressured);

    CHECK(shmbus::ring::evict_subscriber(topic.view(), stalled.slot()));
    CHECK_FALSE(shmbus::ring::evict_subscriber(topic.view(), stalled.slot()));  // not ACTIVE now
    CHECK_FALSE(shmbus::ring::evict_subscriber(topic.view(), 9999));
    CHECK(topic.view().state->evicted_subscribers == 1);

    // Publishers go on as far as the remaining subscriber allows.
    CHECK(publisher.try_offer(shmbus::test::filled(200, 1)) == Status::kOk);
    Status status = Status::kOk;
    CHECK(shmbus::test::poll_some(stalled, 10, &status).empty());
    CHECK(status == Status::kEvicted);
    CHECK(stalled.wait(10s) == Status::kOk);  // eviction is something to report: no sleep
    // The evicted slot stays taken (by its live owner) until it detaches.
    CHECK(shmbus::ring::subscriber_alive(topic.state_fd(), stalled.slot()));
    for (int i = 0; i < 50; ++i) {
        REQUIRE(shmbus::test::drain(reader).size() == 1);
        REQUIRE(publisher.try_offer(shmbus::test::filled(200, 1)) == Status::kOk);
    }
}

TEST_CASE(
    "handles used in a forked child say kForked, and the parent's slots die with the parent") {
    shmbus::test::BusDirectory bus;
    const shmbus::Topic topic = make_topic(bus, 4, 4);
    // The parent: attaches a publisher and a subscriber, forks a grandchild that tries them,
    // then waits to be killed. The grandchild outlives it.
    Child parent = Child::fork("parent", [&bus](ChildLink& link) {
        const shmbus::Topic own = shmbus::Topic::open(bus.path(), "t");
        shmbus::Publisher publisher(own);
        shmbus::Subscriber subscriber(own);
        if (publisher.try_offer(shmbus::test::bytes_of("parent")) != Status::kOk) return 5;
        const pid_t grandchild = ::fork();
        if (grandchild == 0) {
            std::ostringstream report;
            shmbus::Claim claim = publisher.try_claim(1);
            report << "claim=" << to_string(claim.status());
            report << " offer=" << to_string(publisher.try_offer(shmbus::test::bytes_of("x")));
            report << " poll=" << to_string(subscriber.poll([](const shmbus::Record&) {}).status);
            report << " wait=" << to_string(subscriber.wait(1ms));
            // A handle of its own works.
            shmbus::Publisher mine(own);
            report << " own=" << to_string(mine.try_offer(shmbus::test::bytes_of("child")));
            link.send(report.str());
            link.wait_for_parent();  // until the test closes the pipe
            ::_exit(0);
        }
        link.send("ready " + std::to_string(publisher.slot()) + " " +
                  std::to_string(subscriber.slot()) + " " + std::to_string(grandchild));
        for (;;)
            ::pause();
    });
    std::string ready;
    std::string report;
    for (int i = 0; i < 2; ++i) {
        const auto line = parent.receive_line(deadline_in(10s));
        REQUIRE_MESSAGE(line, "no report from the parent or the grandchild");
        (line->rfind("ready", 0) == 0 ? ready : report) = *line;
    }
    CHECK(report ==
          "claim=handle used in a forked child offer=handle used in a forked child "
          "poll=handle used in a forked child wait=handle used in a forked child own=ok");
    std::istringstream fields(ready.substr(6));
    std::uint32_t publisher_slot = 0;
    std::uint32_t subscriber_slot = 0;
    pid_t grandchild = 0;
    fields >> publisher_slot >> subscriber_slot >> grandchild;
    REQUIRE(grandchild > 0);
    CHECK(shmbus::ring::publisher_alive(topic.locks_fd(), publisher_slot));
    CHECK(shmbus::ring::subscriber_alive(topic.state_fd(), subscriber_slot));

    (void)parent.kill_and_reap();
    CHECK(::kill(grandchild, 0) == 0);  // still alive
    CHECK_FALSE(shmbus::ring::publisher_alive(topic.locks_fd(), publisher_slot));
    CHECK_FALSE(shmbus::ring::subscriber_alive(topic.state_fd(), subscriber_slot));
    CHECK(shmbus::ring::reclaim_dead_subscribers(topic.view(), topic.state_fd()) == 1);
    // The grandchild's own publisher is alive: only the parent's slot is reclaimed.
    CHECK(shmbus::ring::reclaim_dead_publishers(topic.view(), topic.locks_fd()) == 1);
    parent.close_input();  // the grandchild reads end of file and exits
    ::kill(grandchild, SIGKILL);
}
