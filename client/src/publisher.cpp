// The publisher's slow paths: attaching, detaching, waiting while back-pressured, flushing.
#include "shmbus/publisher.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "shmbus/detail/format/wake_fifo.hpp"
#include "shmbus/detail/ring/slots.hpp"
#include "shmbus/detail/ring/unblocker.hpp"
#include "shmbus/detail/sync/semaphore.hpp"
#include "topic_mapping.hpp"

namespace shmbus {
namespace {

using Clock = std::chrono::steady_clock;

Clock::time_point deadline_after(Clock::time_point now, std::chrono::nanoseconds timeout) {
    if (timeout == kForever || timeout > Clock::time_point::max() - now) {
        return Clock::time_point::max();
    }
    return now + timeout;
}

// A held-back publisher sleeps in slices: subscribers post it as soon as they advance, but a
// limit held by the commit floor (another publisher mid-claim, or a dead one awaiting repair)
// posts nobody, so the slice grows from short to this.
constexpr std::chrono::nanoseconds kFirstSlice = std::chrono::microseconds(100);
constexpr std::chrono::nanoseconds kLongestSlice = std::chrono::milliseconds(50);

}  // namespace

Publisher::Publisher(const Topic& topic, const PublisherOptions& options)
    : topic_(topic), options_(options) {
    const detail::TopicMapping& mapping = *topic.mapping();
    const std::string what = detail::describe(mapping.name, mapping.directory);
    if (topic.access() == Access::kSubscribe) {
        throw Error(ErrorCode::kPermission,
                    what + " was opened for subscribing only; open it with Access::kPublish");
    }
    // A descriptor of its own for the slot lock, on the locks file: only publishers may open it.
    lock_fd_ = ::open(mapping.locks_path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (lock_fd_ < 0) throw system_error(what + ": opening the locks file for a slot lock");
    detail::register_lock_fd(lock_fd_);
    const ring::TopicView& view = topic.view();
    std::uint32_t index = 0;
    try {
        watch_ = ring::SubscriberWatch(view, topic.state_fd());
        index = ring::attach_publisher_slot(view, lock_fd_);
    } catch (const Error& error) {
        detail::unregister_lock_fd(lock_fd_);
        ::close(lock_fd_);
        throw Error(error.code(), what + ": " + error.what(), error.system_errno());
    }
    appender_ = ring::Appender(view, index, &watch_);
    fork_generation_ = detail::fork_generation();
    epoch_ = detail::handle_epoch();
    sleep_mask_words_ = (view.max_subscribers + 63) / 64;
    wake_fds_.assign(view.max_subscribers, kNotOpened);
    attached_ = true;
}

Publisher::~Publisher() {
    detach();
}

Status Publisher::revalidate() noexcept {
    const std::uint32_t epoch = detail::handle_epoch();
    if (detail::fork_generation() != fork_generation_) return Status::kForked;
    if (detail::mapping_lost(*topic_.mapping())) return Status::kTopicLost;
    epoch_ = epoch;
    return Status::kOk;
}

void Publisher::detach() noexcept {
    if (!attached_) return;
    attached_ = false;
    // In a forked child the lock descriptor is already closed and the slot is the parent's.
    if (detail::fork_generation() != fork_generation_) return;
    ring::detach_publisher_slot(appender_.view(), appender_.slot_index());
    detail::unregister_lock_fd(lock_fd_);
    ::close(lock_fd_);
    for (int& fd : wake_fds_) {
        if (fd >= 0) ::close(fd);
        fd = kNotOpened;
    }
}

// Waits while `attempt()` (a claim) reports back-pressure: spins for options_.spin, then sleeps
// on this publisher's semaphore with its bit set in the blocked-publishers mask, so a subscriber
// that advances posts it. Returns the first result that is not kBackPressured, or a timed-out
// one.
template <typename Attempt>
auto Publisher::wait_for_room(Attempt&& attempt, std::chrono::nanoseconds timeout) noexcept {
    auto claimed = attempt();
    if (claimed || claimed.status() != Status::kBackPressured) return claimed;
    using Result = decltype(claimed);

    const auto start = Clock::now();
    const auto deadline = deadline_after(start, timeout);
    const auto spin_until = std::min(deadline, deadline_after(start, options_.spin));
    while (Clock::now() < spin_until) {
        claimed = attempt();
        if (claimed || claimed.status() != Status::kBackPressured) return claimed;
    }

    const ring::TopicView& view = appender_.view();
    const std::uint32_t index = appender_.slot_index();
    std::uint8_t* semaphore = view.publisher_waits[index].semaphore;
    std::chrono::nanoseconds slice = kFirstSlice;
    for (;;) {
        // Off the hot path, and perhaps the reason we are held back: a subscriber that died
        // without detaching, or a publisher that died between claim and commit.
        ring::reclaim_dead_subscribers(view, topic_.state_fd());
        (void)ring::repair_at_floor(view, topic_.locks_fd());

        sync::semaphore_drain(semaphore);
        sync::set_bit(view.state->blocked_publishers, index);
        // Look again after announcing: a subscriber that advanced before seeing our bit has
        // published its position, and this claim sees it (Dekker, sync/wake_masks.hpp).
        claimed = attempt();
        if (claimed || claimed.status() != Status::kBackPressured) {
            sync::clear_bit(view.state->blocked_publishers, index);
            return claimed;
        }
        const auto now = Clock::now();
        if (now >= deadline) {
            sync::clear_bit(view.state->blocked_publishers, index);
            return Result(Status::kTimedOut);
        }
        (void)sync::semaphore_wait_until(semaphore,
                                         deadline - now > slice ? now + slice : deadline);
        sync::clear_bit(view.state->blocked_publishers, index);
        slice = std::min(slice * 2, kLongestSlice);
        claimed = attempt();
        if (claimed || claimed.status() != Status::kBackPressured) return claimed;
    }
}

Claim Publisher::claim(std::size_t length, std::chrono::nanoseconds timeout) noexcept {
    return wait_for_room([this, length] { return try_claim(length); }, timeout);
}

Status Publisher::offer_batch(std::span<const std::span<const std::byte>> records,
                              std::size_t& published, std::chrono::nanoseconds timeout) noexcept {
    published = 0;
    const auto deadline = deadline_after(Clock::now(), timeout);
    while (published < records.size()) {
        std::size_t done = 0;
        Status status = try_offer_batch(records.subspan(published), done);
        published += done;
        if (status == Status::kOk) continue;
        if (status != Status::kBackPressured) return status;
        // Wait for room for the next record alone, then publish it and go on in batches.
        const auto now = Clock::now();
        if (now >= deadline) return Status::kTimedOut;
        const auto remaining = deadline == Clock::time_point::max()
                                   ? kForever
                                   : std::chrono::nanoseconds(deadline - now);
        status = offer(records[published], remaining);
        if (status != Status::kOk) return status;
        ++published;
    }
    return Status::kOk;
}

Status Publisher::offer(std::span<const std::byte> record,
                        std::chrono::nanoseconds timeout) noexcept {
    Claim claimed = claim(record.size(), timeout);
    if (!claimed) return claimed.status();
    copy_payload(claimed.payload(), record);
    return claimed.commit();
}

void Publisher::flush() {
    write_back(topic_, WriteBack::kWait);
}

void Publisher::wake_subscribers() noexcept {
    const ring::TopicView& view = appender_.view();
    sync::wake_sleepers(
        view.state->sleeping_subscribers, view.max_subscribers, [this, &view](std::uint32_t index) {
            // Acquire: pairs with the subscriber's release store of how it
            // waits, made before it set the bit we just took.
            if (atomics::load_acquire(view.subscribers[index].wake_by) == format::kWakeByFifo) {
                signal_wake_fifo(index);
            } else {
                sync::semaphore_post(view.subscribers[index].semaphore);
            }
        });
}

void Publisher::signal_wake_fifo(std::uint32_t index) noexcept {
    if (index >= wake_fds_.size()) return;
    int& fd = wake_fds_[index];
    if (fd == kNotOpened) {
        // Read and write: a publisher that is a reader itself never meets EPIPE or SIGPIPE when
        // the subscriber has gone; non-blocking: a full FIFO is EAGAIN, already readable.
        const detail::TopicMapping& mapping = *topic_.mapping();
        const auto path = format::wake_fifo_path(mapping.directory / mapping.name, index);
        fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        struct stat st {};
        if (fd >= 0 && (::fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode))) {
            ::close(fd);  // not a FIFO (someone replaced it): never write into it
            fd = kUnusable;
        }
        if (fd < 0) fd = kUnusable;  // that subscriber wakes at its own timeout
    }
    if (fd < 0) return;
    const char byte = 1;
    // One system call per wake-up. EAGAIN means full, so readable already; nothing else can go
    // wrong that we could mend here.
    (void)::write(fd, &byte, 1);
}

}  // namespace shmbus
