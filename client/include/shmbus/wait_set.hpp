// One thread waiting on many subscribers and file descriptors at once.
//
//   shmbus::WaitSet waits;
//   waits.add(orders, 1);                       // subscribers, each with a key of yours
//   waits.add(trades, 2);
//   waits.add(timer_fd, EPOLLIN, 3);            // and any pollable descriptor
//   for (;;) {
//       for (const shmbus::WaitSet::Ready& ready : waits.wait(std::chrono::seconds(1))) {
//           if (ready.key == 1) while (orders.poll(handle_order).records > 0) {}
//           ...
//       }
//   }
//
// wait() arms every subscriber the way Subscriber::arm does (drain its wake FIFO, ask publishers
// to signal it), but with one heavy fence for all of them (sync/asymmetric_fence.hpp), looks at
// each once, and only if none has anything sleeps in epoll, on the subscribers' wake FIFOs and the
// foreign descriptors together. It reports a subscriber as ready only when poll() has something
// for it: a record, padding to skip, or an eviction or lost topic to report. Poll each ready
// subscriber until it has nothing left before the next wait(); one that still has records is
// simply ready again. A wait() that times out with nothing ready looks, as Subscriber::wait does
// after each idle slice, for subscribers stranded by a corrupt length at a position no frame
// starts at, and reports those as ready: their next poll() resumes at the next frame. So a loop
// that never times out never moves past such a frame; give wait() a timeout.
//
// Cost: a wait() with nothing ready touches two cache lines per subscriber and makes one
// membarrier and one epoll_wait call, whatever the number of members (tested with 1,000).
//
// Threads: a WaitSet is used by one thread at a time, like the subscribers in it. A subscriber in
// a set must stay where it is and alive until it is removed (the set keeps its address), and is
// polled by the thread that waits. The descriptor of the set itself (fd()) is an epoll
// descriptor: a WaitSet can be nested in another event loop, which then calls wait() with a zero
// timeout when fd() is readable.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

#include "shmbus/subscriber.hpp"

namespace shmbus {

class WaitSet {
  public:
    struct Ready {
        std::uint64_t key = 0;
        std::uint32_t events = 0;  // a descriptor's epoll events; EPOLLIN for a subscriber
        bool subscriber = false;   // a subscriber (poll it) or a foreign descriptor
    };

    /// Throws shmbus::Error if epoll_create1 fails.
    WaitSet();
    ~WaitSet();
    WaitSet(const WaitSet&) = delete;
    WaitSet& operator=(const WaitSet&) = delete;

    /// Adds `subscriber` under `key` (opens its wake descriptor, Subscriber::wake_fd). Throws
    /// shmbus::Error if it cannot be added (kInvalidArgument if it is in the set already).
    void add(Subscriber& subscriber, std::uint64_t key);
    /// Adds descriptor `fd` for `events` (EPOLLIN, EPOLLOUT, ...) under `key`; the set never
    /// reads, writes or closes it. Throws shmbus::Error (from epoll_ctl) on failure.
    void add(int fd, std::uint32_t events, std::uint64_t key);
    /// Removes a member; false if it was not in the set.
    bool remove(const Subscriber& subscriber) noexcept;
    bool remove(int fd) noexcept;

    /// Waits up to `timeout` for members to be ready and says which: an empty span when the
    /// timeout passed first. The span stays valid until the next call.
    [[nodiscard]] std::span<const Ready> wait(std::chrono::nanoseconds timeout);

    [[nodiscard]] std::size_t size() const noexcept { return subscribers_.size() + descriptors_; }
    /// The epoll descriptor underneath: readable when wait() would find something.
    [[nodiscard]] int fd() const noexcept { return epoll_fd_; }

  private:
    struct Member {
        Subscriber* subscriber;
        std::uint64_t key;
    };

    /// Arms every subscriber (one heavy fence for all) and collects those with work. Returns
    /// whether the fence was made (see sync::heavy_fence).
    bool arm_and_look();
    /// After a wait() that found nothing: reports the subscribers stuck where no frame starts
    /// (see Subscriber::wait), so that their next poll() moves on.
    void look_past_orphans() noexcept;

    int epoll_fd_ = -1;
    std::vector<Member> subscribers_;
    std::size_t descriptors_ = 0;
    std::vector<Ready> ready_;
    std::vector<std::uint64_t> epoll_keys_;  // scratch
};

}  // namespace shmbus
