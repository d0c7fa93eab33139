// Several topics and a timer in one epoll loop, on the subscribers' wake descriptors: the raw
// pattern of Subscriber::wake_fd() and arm(), with no WaitSet (shmbus::WaitSet does the same for
// many subscribers with one fence; asio_topics.cpp is this loop with Boost.Asio).
//
//   shmbus-epoll-topics [--count N] [--seconds S] TOPIC...
//
// Prints every record of every TOPIC as "TOPIC: RECORD" (the oldest still there first), and once
// a second, from a timerfd in the same loop, the records per topic so far on stderr. Stops after
// N records in all (status 0), or after S seconds (status 0 without --count, 1 if fewer than N
// came); else runs until killed. Status 1 on an error, 2 for bad arguments.
// The bus directory is $SHMBUS_DIR, else /run/shmbus. A missing topic is asked of shmbusd.
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <shmbus/shmbus.hpp>
#include <vector>

#include "topic_tally.hpp"

namespace {

/// A descriptor closed when it goes out of scope.
class Descriptor {
  public:
    explicit Descriptor(int fd) : fd_(fd) {}
    ~Descriptor() {
        if (fd_ >= 0) ::close(fd_);
    }
    Descriptor(const Descriptor&) = delete;
    Descriptor& operator=(const Descriptor&) = delete;
    [[nodiscard]] int get() const noexcept { return fd_; }

  private:
    int fd_;
};

int fail(const char* program, const char* what) {
    std::fprintf(stderr, "%s: %s: %s\n", program, what, std::strerror(errno));
    return 1;
}

int run(const char* program, const example::LoopOptions& options) {
    std::vector<shmbus::Subscriber> subscribers;
    for (const std::string& name : options.topics) {
        subscribers.push_back(example::subscribe(name));
    }
    example::Tally tally(options);

    const Descriptor epoll(::epoll_create1(EPOLL_CLOEXEC));
    if (epoll.get() < 0) return fail(program, "epoll_create1");
    // Level-triggered (no EPOLLET). Edge-triggered would do as well: arm() reads the wake FIFO
    // empty before it can return false, so the descriptor becomes readable again only when a
    // publisher signals after that, and this loop never waits on one it has not armed. Level-
    // triggered costs nothing more here, and forgives a loop that, woken for a topic, sets it
    // aside for later: until arm() drains it the descriptor stays readable, and is reported
    // again rather than forgotten.
    // The key is the topic's index; the timer's is one past the last.
    const std::uint64_t timer_key = subscribers.size();
    for (std::uint64_t i = 0; i < subscribers.size(); ++i) {
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.u64 = i;
        if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, subscribers[i].wake_fd(), &event) != 0) {
            return fail(program, "adding a wake descriptor to epoll");
        }
    }
    const Descriptor timer(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (timer.get() < 0) return fail(program, "timerfd_create");
    itimerspec every_second{};
    every_second.it_value.tv_sec = 1;
    every_second.it_interval.tv_sec = 1;
    if (::timerfd_settime(timer.get(), 0, &every_second, nullptr) != 0) {
        return fail(program, "timerfd_settime");
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = timer_key;
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, timer.get(), &event) != 0) {
        return fail(program, "adding the timer to epoll");
    }

    const auto deadline = std::chrono::steady_clock::now() + options.seconds;
    // A wake descriptor says "look" only for what comes after arm(): records already there
    // are read first, so every topic starts out ready.
    std::vector<std::uint64_t> ready;
    for (std::uint64_t i = 0; i < subscribers.size(); ++i) {
        ready.push_back(i);
    }
    bool announced = false;
    std::vector<epoll_event> events(subscribers.size() + 1);
    for (;;) {
        for (const std::uint64_t i : ready) {
            const shmbus::Status status = example::read_until_armed(subscribers[i], i, tally);
            if (status != shmbus::Status::kOk) {
                std::fprintf(stderr, "%s: %s: %s\n", program, options.topics[i].c_str(),
                             shmbus::to_string(status).data());
                return 1;
            }
            if (tally.full()) return 0;
        }
        ready.clear();
        if (!announced) {
            // Every subscriber is armed: a record published from now on wakes this loop.
            std::fprintf(stderr, "waiting on %zu topics\n", subscribers.size());
            announced = true;
        }

        int timeout_ms = -1;
        if (options.seconds.count() > 0) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return tally.status_at_deadline();
            timeout_ms = static_cast<int>(left.count());
        }
        const int count =
            ::epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) return fail(program, "epoll_wait");
        for (int k = 0; k < count; ++k) {
            const std::uint64_t key = events[static_cast<std::size_t>(k)].data.u64;
            if (key != timer_key) {
                // No need to read the descriptor: arm() drains it before the loop waits again.
                ready.push_back(key);
                continue;
            }
            std::uint64_t expirations = 0;
            if (::read(timer.get(), &expirations, sizeof expirations) > 0) tally.print_counts();
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    const auto options = example::parse_options(argc, argv);
    if (!options) return 2;
    try {
        return run(argv[0], *options);
    } catch (const shmbus::Error& error) {
        std::fprintf(stderr, "%s: %s\n", argv[0], error.what());
        return 1;
    }
}
