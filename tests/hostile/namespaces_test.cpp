// Clients in different PID, IPC, mount and UTS namespaces that share only a bind-mounted bus
// directory, as two containers would: records flow, and a sleeping subscriber is woken, both
// through its semaphore (Subscriber::wait) and through its wake descriptor (a WaitSet). Nothing
// in a topic depends on a shared /dev/shm, System V IPC or the other side's pids: the semaphores,
// locks and FIFOs are all in the topic's own files. Needs root (unshare, mount); skips without.
#include <doctest/doctest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <shmbus/shmbus.hpp>
#include <string>

#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/skip.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::test::BusDirectory;
using shmbus::test::Child;
using shmbus::test::ChildLink;
using shmbus::test::deadline_in;

/// Runs `body` as the first process of new PID, IPC, mount and UTS namespaces, with `bus`
/// bind-mounted at `view` (private to those namespaces): the child's exit status is body's.
/// Returns 90-99 for a setup step that failed.
template <typename Body>
int in_own_namespaces(const std::filesystem::path& bus, const std::filesystem::path& view,
                      Body&& body) {
    if (::unshare(CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNS | CLONE_NEWUTS) != 0) return 90;
    // The new PID namespace takes the next child as its process 1.
    const pid_t first = ::fork();
    if (first < 0) return 91;
    if (first == 0) {
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(92);
        if (::mount(bus.c_str(), view.c_str(), nullptr, MS_BIND, nullptr) != 0) ::_exit(93);
        if (::sethostname("shmbus-container", 16) != 0) ::_exit(94);
        if (::getpid() != 1) ::_exit(95);
        ::_exit(body(view));
    }
    int status = 0;
    if (::waitpid(first, &status, 0) != first) return 96;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 97;
}

}  // namespace

TEST_CASE(
    "a publisher and a subscriber in namespaces of their own, sharing only a bind-mounted bus "
    "directory, exchange records and wake each other") {
    if (::geteuid() != 0) return shmbus::test::skip("unshare and mount need root");
    BusDirectory base;
    const auto bus = base.path() / "bus";
    const auto subscriber_view = base.path() / "subscriber-container";
    const auto publisher_view = base.path() / "publisher-container";
    for (const auto& dir : {bus, subscriber_view, publisher_view})
        std::filesystem::create_directories(dir);
    shmbus::create_topic(bus, "semaphore", {.capacity = 64 * 1024, .max_record_size = 1024});
    shmbus::create_topic(bus, "descriptor", {.capacity = 64 * 1024, .max_record_size = 1024});

    Child subscriber = Child::fork("subscriber container", [&](ChildLink& link) {
        return in_own_namespaces(bus, subscriber_view, [&](const std::filesystem::path& dir) {
            const shmbus::Topic by_semaphore = shmbus::Topic::open(dir, "semaphore");
            const shmbus::Topic by_descriptor = shmbus::Topic::open(dir, "descriptor");
            shmbus::Subscriber sleeper(by_semaphore);
            shmbus::Subscriber looper(by_descriptor);
            shmbus::WaitSet waits;
            waits.add(looper, 1);
            link.send("attached");
            // Sleeps in its semaphore until the publisher's first record wakes it.
            std::size_t got = 0;
            const auto give_up = std::chrono::steady_clock::now() + 20s;
            while (got == 0 && std::chrono::steady_clock::now() < give_up) {
                got += sleeper.poll([](const shmbus::Record&) {}).records;
                if (got == 0 && sleeper.wait(30s) != shmbus::Status::kOk) return 10;
            }
            if (got != 1) return 11;
            link.send("semaphore woke");
            // Then in epoll on its wake FIFO.
            const auto ready = waits.wait(20s);
            if (ready.size() != 1 || ready[0].key != 1) return 12;
            if (looper.poll([](const shmbus::Record&) {}).records != 1) return 13;
            link.send("descriptor woke");
            return 0;
        });
    });
    REQUIRE(subscriber.receive_line(deadline_in(20s)) == "attached");

    Child publisher = Child::fork("publisher container", [&](ChildLink& link) {
        return in_own_namespaces(bus, publisher_view, [&](const std::filesystem::path& dir) {
            shmbus::Publisher first(shmbus::Topic::open(dir, "semaphore"));
            shmbus::Publisher second(shmbus::Topic::open(dir, "descriptor"));
            const std::string text = "across namespaces";
            if (first.offer(std::as_bytes(std::span(text)), 10s) != shmbus::Status::kOk) return 20;
            if (link.receive() != "go on") return 21;
            if (second.offer(std::as_bytes(std::span(text)), 10s) != shmbus::Status::kOk) return 22;
            return 0;
        });
    });
    CHECK(subscriber.receive_line(deadline_in(20s)) == "semaphore woke");
    publisher.send("go on");
    CHECK(subscriber.receive_line(deadline_in(20s)) == "descriptor woke");
    const auto subscriber_exit = subscriber.wait_until(deadline_in(20s));
    const auto publisher_exit = publisher.wait_until(deadline_in(20s));
    REQUIRE(subscriber_exit);
    REQUIRE(publisher_exit);
    CHECK_MESSAGE(subscriber_exit->ok(), "the subscriber " << subscriber_exit->describe());
    CHECK_MESSAGE(publisher_exit->ok(), "the publisher " << publisher_exit->describe());
}
