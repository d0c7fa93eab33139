#include "shmbus/wait_set.hpp"

#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>

#include "shmbus/detail/sync/asymmetric_fence.hpp"
#include "shmbus/detail/sync/wake_masks.hpp"
#include "shmbus/error.hpp"

namespace shmbus {
namespace {

using Clock = std::chrono::steady_clock;

// epoll's u64 for a member: subscribers carry their index in the low bits and this tag, so that
// a foreign descriptor's own key can be anything else. Keys of foreign descriptors are kept in a
// side table by descriptor number instead (epoll_data holds the fd).
constexpr std::uint64_t kSubscriberTag = std::uint64_t{1} << 63;

// Without a heavy fence a light publisher's commit may go unsignalled (sync/asymmetric_fence.hpp):
// look again this often.
constexpr std::chrono::milliseconds kUnfencedWait{1};

constexpr int kEventsPerCall = 256;

}  // namespace

WaitSet::WaitSet() : epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (epoll_fd_ < 0) throw system_error("epoll_create1 for a WaitSet");
}

WaitSet::~WaitSet() {
    ::close(epoll_fd_);
}

void WaitSet::add(Subscriber& subscriber, std::uint64_t key) {
    for (const Member& member : subscribers_) {
        if (member.subscriber == &subscriber) {
            throw Error(ErrorCode::kInvalidArgument, "this subscriber is in the WaitSet already");
        }
    }
    const int fd = subscriber.wake_fd();
    epoll_event event{};
    event.events = EPOLLIN;  // level-triggered: wait() drains what it was told
    event.data.u64 = kSubscriberTag | subscribers_.size();
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
        throw system_error("adding a subscriber's wake descriptor to a WaitSet");
    }
    subscribers_.push_back({&subscriber, key});
}

void WaitSet::add(int fd, std::uint32_t events, std::uint64_t key) {
    if (fd < 0) throw Error(ErrorCode::kInvalidArgument, "WaitSet::add: a negative descriptor");
    epoll_event event{};
    event.events = events;
    event.data.u64 = static_cast<std::uint64_t>(fd);
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
        throw system_error("adding descriptor " + std::to_string(fd) + " to a WaitSet");
    }
    if (epoll_keys_.size() <= static_cast<std::size_t>(fd)) epoll_keys_.resize(fd + 1, 0);
    epoll_keys_[static_cast<std::size_t>(fd)] = key;
    ++descriptors_;
}

bool WaitSet::remove(const Subscriber& subscriber) noexcept {
    const auto found =
        std::find_if(subscribers_.begin(), subscribers_.end(),
                     [&](const Member& member) { return member.subscriber == &subscriber; });
    if (found == subscribers_.end()) return false;
    (void)::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, found->subscriber->wake_fd_, nullptr);
    // The last member takes the removed one's place: re-key its epoll entry to the new index.
    const std::size_t index = static_cast<std::size_t>(found - subscribers_.begin());
    const std::size_t last = subscribers_.size() - 1;
    if (index != last) {
        subscribers_[index] = subscribers_[last];
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.u64 = kSubscriberTag | index;
        (void)::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, subscribers_[index].subscriber->wake_fd_,
                          &event);
    }
    subscribers_.pop_back();
    return true;
}

bool WaitSet::remove(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= epoll_keys_.size()) return false;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr) != 0) return false;
    --descriptors_;
    return true;
}

bool WaitSet::arm_and_look() {
    // Drain and announce every subscriber first, then one fence, then one look each: the order
    // Subscriber::arm keeps for one, with the fence's cost paid once for the set. The heavy
    // fence unless every member's topic has fenced commits.
    bool every_topic_fenced = true;
    for (const Member& member : subscribers_) {
        Subscriber& subscriber = *member.subscriber;
        if (!subscriber.attached_) continue;
        every_topic_fenced = every_topic_fenced && subscriber.view_.fenced_commits;
        subscriber.drain_wake_fd();
        // Release, before the bit: a publisher that takes the bit reads how to wake us.
        atomics::store_release(subscriber.slot_->wake_by, format::kWakeByFifo);
        sync::set_bit(subscriber.view_.state->sleeping_subscribers, subscriber.index_);
    }
    const bool fenced = subscribers_.empty() || sync::sleeper_fence(every_topic_fenced);
    for (const Member& member : subscribers_) {
        Subscriber& subscriber = *member.subscriber;
        if (!subscriber.ready()) continue;
        ready_.push_back({member.key, EPOLLIN, true});
        // Awake until the next wait() arms it again: as Subscriber::arm, take the bit back so
        // that publishers do not write bytes for it meanwhile.
        if (subscriber.attached_) {
            sync::clear_bit(subscriber.view_.state->sleeping_subscribers, subscriber.index_);
        }
    }
    return fenced;
}

std::span<const WaitSet::Ready> WaitSet::wait(std::chrono::nanoseconds timeout) {
    ready_.clear();
    const auto deadline = timeout >= Clock::time_point::max() - Clock::now()
                              ? Clock::time_point::max()
                              : Clock::now() + timeout;
    epoll_event events[kEventsPerCall];
    for (;;) {
        const bool fenced = arm_and_look();
        // Something ready already: collect what the descriptors have too, without waiting.
        auto left = ready_.empty() ? deadline - Clock::now() : Clock::duration::zero();
        if (left < Clock::duration::zero()) left = Clock::duration::zero();
        if (!fenced && left > kUnfencedWait) left = kUnfencedWait;
        const auto nanoseconds = std::chrono::duration_cast<std::chrono::nanoseconds>(left);
        const timespec until{.tv_sec = static_cast<time_t>(nanoseconds.count() / 1'000'000'000),
                             .tv_nsec = static_cast<long>(nanoseconds.count() % 1'000'000'000)};
        const bool forever = deadline == Clock::time_point::max() && ready_.empty() && fenced;
        const int count =
            ::epoll_pwait2(epoll_fd_, events, kEventsPerCall, forever ? nullptr : &until, nullptr);
        if (count < 0 && errno != EINTR) throw system_error("epoll_pwait2 in WaitSet::wait");
        for (int i = 0; i < count; ++i) {
            const std::uint64_t data = events[i].data.u64;
            if ((data & kSubscriberTag) != 0) {
                const std::size_t index = static_cast<std::size_t>(data & ~kSubscriberTag);
                if (index >= subscribers_.size()) continue;
                const Member& member = subscribers_[index];
                // Signalled. Report it if poll() has something; a late or spurious signal for
                // one that was read up already is drained at the next arming.
                const bool reported =
                    std::any_of(ready_.begin(), ready_.end(), [&](const Ready& ready) {
                        return ready.subscriber && ready.key == member.key;
                    });
                if (!reported && member.subscriber->ready()) {
                    ready_.push_back({member.key, EPOLLIN, true});
                }
                continue;
            }
            const auto fd = static_cast<std::size_t>(data);
            ready_.push_back(
                {fd < epoll_keys_.size() ? epoll_keys_[fd] : 0, events[i].events, false});
        }
        if (!ready_.empty()) return ready_;
        if (Clock::now() >= deadline) {
            look_past_orphans();
            return ready_;
        }
    }
}

void WaitSet::look_past_orphans() noexcept {
    // What Subscriber::wait does after a slice with nothing: a corrupt length can leave a
    // subscriber at a position no frame starts at, which no commit will ever signal. If no claim
    // is in flight there, let its next poll() move on (and count the frame as corrupt).
    for (const Member& member : subscribers_) {
        Subscriber& subscriber = *member.subscriber;
        if (!subscriber.attached_) continue;
        if (subscriber.skip_orphaned(subscriber.position_) != subscriber.position_) {
            subscriber.unwritten_polls_ = Subscriber::kOrphanCheck;
            ready_.push_back({member.key, EPOLLIN, true});
        }
    }
}

}  // namespace shmbus
