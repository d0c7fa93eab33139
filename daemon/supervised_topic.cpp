#include "supervised_topic.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <shmbus/detail/format/frame_header.hpp>
#include <shmbus/detail/format/publisher_slot.hpp>
#include <shmbus/detail/format/wake_fifo.hpp>
#include <shmbus/detail/ring/flow_control.hpp>
#include <shmbus/detail/ring/frame_inspect.hpp>
#include <shmbus/detail/ring/slots.hpp>
#include <shmbus/detail/ring/tail.hpp>
#include <shmbus/detail/ring/unblocker.hpp>
#include <shmbus/detail/sync/semaphore.hpp>
#include <shmbus/detail/sync/wake_masks.hpp>
#include <shmbus/detail/util/atomic.hpp>
#include <string>
#include <vector>

#include "config_values.hpp"

namespace shmbusd {
namespace atomics = shmbus::atomics;
namespace format = shmbus::format;
namespace ring = shmbus::ring;
namespace sync = shmbus::sync;

namespace {

// A pass repairs at most this many dead claims per topic, so one topic full of them cannot hold
// up the others; the next pass goes on where this one stopped.
constexpr int kMaxRepairsPerCheck = 64;

double seconds(std::chrono::steady_clock::duration duration) {
    return std::chrono::duration<double>(duration).count();
}

}  // namespace

SupervisedTopic::SupervisedTopic(shmbus::Topic topic)
    : topic_(std::move(topic)), stalls_(topic_.view().max_subscribers) {
    struct stat st {};
    if (::fstat(topic_.records_fd(), &st) == 0) {
        device_ = st.st_dev;
        inode_ = st.st_ino;
    }
    // Relaxed: the pid is a plain fact for `shmbus stat`; nothing is ordered by it.
    atomics::store_relaxed(topic_.view().state->supervisor_pid,
                           static_cast<std::uint32_t>(::getpid()));
}

SupervisedTopic::~SupervisedTopic() {
    // Clear the pid only if it is still ours: a daemon that has since taken over (after a
    // restart, racing our exit) keeps its claim.
    std::uint32_t expected = static_cast<std::uint32_t>(::getpid());
    (void)atomics::compare_exchange_acq_rel(topic_.view().state->supervisor_pid, expected,
                                            std::uint32_t{0});
}

bool SupervisedTopic::still_on_disk() const {
    struct stat st {};
    const std::filesystem::path path = topic_.directory() / topic_.name() / "records";
    if (::stat(path.c_str(), &st) != 0) return false;
    return st.st_dev == device_ && st.st_ino == inode_;
}

void SupervisedTopic::check(const TopicSettings& settings, const Config& config,
                            Clock::time_point now, std::uint64_t recorder_starts) {
    restore_state();
    signal_unarmed_fd_waiters();
    reclaim();
    unblock(config, now);
    // Before the stall detector samples positions: a bookmark that follows a live recorder has
    // moved since the last check, like the recorder itself.
    follow_archive(settings, recorder_starts);
    if (topic_.view().policy == format::Policy::kBlock &&
        settings.slow_subscriber.action == SlowSubscriberAction::kEvict) {
        evict_stalled(settings, now);
    } else {
        stalls_.reset();
    }
    count();
    sync(settings, now);
}

void SupervisedTopic::follow_archive(const TopicSettings& settings, std::uint64_t recorder_starts) {
    if (settings.archive && topic_.view().policy == format::Policy::kBlock) {
        bookmark_.keep(topic_, settings.archive->directory, recorder_starts);
    } else {
        bookmark_.release();
    }
}

void SupervisedTopic::restore_state() {
    try {
        if (shmbus::restore_state_file(topic_)) {
            spdlog::warn(
                "topic '{}': its state file had been truncated; restored its size and header "
                "(clients put their own slots back)",
                name());
        }
    } catch (const shmbus::Error& error) {
        spdlog::error("{}", error.what());
    }
    // The pid says who supervises the topic; a truncation (or a scribble) wipes it like the rest
    // of the file. Relaxed, as at construction: a plain fact for `shmbus stat`.
    const auto pid = static_cast<std::uint32_t>(::getpid());
    if (atomics::load_relaxed(topic_.view().state->supervisor_pid) != pid) {
        atomics::store_relaxed(topic_.view().state->supervisor_pid, pid);
    }
}

void SupervisedTopic::signal_unarmed_fd_waiters() {
    const ring::TopicView& view = topic_.view();
    if (wake_fifos_.size() != view.max_subscribers) wake_fifos_.resize(view.max_subscribers);
    for (std::uint32_t index = 0; index < view.max_subscribers; ++index) {
        const format::SubscriberSlot& slot = view.subscribers[index];
        // Relaxed and acquire loads of what the subscriber published; a stale answer costs one
        // needless byte, or one more interval.
        if (atomics::load_acquire(slot.state) != format::kSlotActive) continue;
        if (atomics::load_acquire(slot.wake_by) != format::kWakeByFifo) continue;
        // Armed: a publisher will signal it (and if that publisher dies before it does, the bit
        // is clear by then, and the next pass finds it here).
        if (sync::bit_is_set(view.state->sleeping_subscribers, index)) continue;
        const std::uint64_t position = atomics::load_acquire(slot.position);
        if (position % format::kFrameAlignment != 0) continue;
        // Acquire: pairs with the commit. Anything but "nothing here yet" is work for poll().
        const std::uint64_t word = atomics::load_acquire(view.commit_word(position));
        const format::FrameState state = format::state_at(word, position);
        if (state == format::FrameState::kNone || state == format::FrameState::kClaimed) continue;
        shmbus::util::UniqueFd& fifo = wake_fifos_[index];
        if (!fifo) {
            const auto path = format::wake_fifo_path(topic_.directory() / topic_.name(), index);
            fifo.reset(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW));
            struct stat st {};
            if (fifo && (::fstat(fifo.get(), &st) != 0 || !S_ISFIFO(st.st_mode))) fifo.reset();
            if (!fifo) continue;
        }
        const char byte = 1;
        (void)::write(fifo.get(), &byte, 1);  // full: readable already
    }
}

void SupervisedTopic::reclaim() {
    const ring::TopicView& view = topic_.view();
    const std::string& topic = name();
    ring::reclaim_dead_subscribers(view, topic_.state_fd(), [&](const ring::ReclaimedSlot& slot) {
        spdlog::info(
            "topic '{}': reclaimed subscriber slot {}: pid {}, user {}, died at position {}", topic,
            slot.index, slot.pid, describe_user(slot.uid), slot.position);
    });
    ring::reclaim_dead_publishers(view, topic_.locks_fd(), [&](const ring::ReclaimedSlot& slot) {
        spdlog::info("topic '{}': reclaimed publisher slot {}: pid {}, user {}, died", topic,
                     slot.index, slot.pid, describe_user(slot.uid));
    });
}

void SupervisedTopic::unblock(const Config& config, Clock::time_point now) {
    const ring::TopicView& view = topic_.view();
    for (int i = 0; i < kMaxRepairsPerCheck; ++i) {
        const ring::RepairReport report = ring::repair_at_floor(view, topic_.locks_fd());
        switch (report.outcome) {
            case ring::RepairOutcome::kRepaired:
                if (report.had_header) {
                    spdlog::warn(
                        "topic '{}': unblocked the claim at position {} ({} bytes) that the "
                        "publisher in slot {} left unfinished when it died; subscribers skip it",
                        name(), report.position, report.bytes, report.owner);
                } else {
                    spdlog::warn(
                        "topic '{}': unblocked {} bytes at position {} claimed by a publisher that "
                        "died before writing a header; subscribers skip them",
                        name(), report.bytes, report.position);
                }
                held_floor_.reset();
                continue;
            case ring::RepairOutcome::kOwnerAlive:
                if (held_floor_ != report.position) {
                    held_floor_ = report.position;
                    held_since_ = now;
                    held_warned_ = false;
                } else if (!held_warned_ && now - held_since_ >= config.unblock_timeout) {
                    held_warned_ = true;
                    spdlog::warn(
                        "topic '{}': a live publisher has held an unfinished claim at position {} "
                        "for {:.1f} s (longer than unblock_timeout); subscribers wait behind it. "
                        "Its owner is alive, so the claim is left alone: a stopped or hung "
                        "publisher process?",
                        name(), report.position, seconds(now - held_since_));
                }
                return;
            case ring::RepairOutcome::kError:
                if (!repair_error_warned_) {
                    repair_error_warned_ = true;
                    spdlog::error("topic '{}': cannot probe publisher locks: {}", name(),
                                  std::strerror(errno));
                }
                return;
            case ring::RepairOutcome::kNothingStuck:
                held_floor_.reset();
                return;
            case ring::RepairOutcome::kBusy:
                return;  // a publisher is repairing it right now
        }
    }
}

void SupervisedTopic::evict_stalled(const TopicSettings& settings, Clock::time_point now) {
    const ring::TopicView& view = topic_.view();
    RingSample sample;
    sample.tail = ring::load_tail_position(view.records->tail);
    sample.commit_floor = ring::advance_commit_floor(view, sample.tail);
    sample.capacity = view.capacity;
    sample.max_frame = view.frame_size(view.max_record_size);
    sample.publisher_waiting = shmbus::sync::anyone_asleep(view.state->blocked_publishers,
                                                           (view.max_publishers + 63) / 64);
    std::vector<SubscriberSample> active;
    for (std::uint32_t slot = 0; slot < view.max_subscribers; ++slot) {
        const format::SubscriberSlot& subscriber = view.subscribers[slot];
        // Acquire: pairs with the release/seq_cst store of ACTIVE at attach, so the generation
        // read after it belongs to this attachment (or a later one, which a changed generation
        // at the next check reveals).
        if (atomics::load_acquire(subscriber.state) != format::kSlotActive) continue;
        // seq_cst, like the publishers' limit computation: the position a publisher would see.
        active.push_back({slot, atomics::load_relaxed(subscriber.generation),
                          atomics::load_seq_cst(subscriber.position)});
    }
    const auto verdicts =
        stalls_.observe(sample, active, now, settings.slow_subscriber.evict_after);
    for (const StallVerdict& verdict : verdicts) {
        format::SubscriberSlot& subscriber = view.subscribers[verdict.slot];
        // The slot could have changed hands since the sample, microseconds ago; a new owner
        // shows a new generation.
        if (atomics::load_relaxed(subscriber.generation) != verdict.generation) continue;
        // Relaxed: written at attach, before the ACTIVE store we acquired in the sample.
        const std::uint32_t pid = atomics::load_relaxed(subscriber.pid);
        const std::uint32_t uid = atomics::load_relaxed(subscriber.uid);
        if (!ring::evict_subscriber(view, verdict.slot)) continue;
        const std::uint64_t lag = sample.tail - verdict.position;
        std::string records;
        const ring::FrameInfo frame = ring::inspect_frame(view, verdict.position);
        const ring::Tail tail = ring::load_tail(view.records->tail);
        if (frame.kind == ring::FrameKind::kRecord) {
            const std::uint64_t sequence =
                atomics::load_relaxed(view.header(verdict.position).sequence);
            if (tail.sequence >= sequence) {
                records = fmt::format(", {} records", tail.sequence - sequence);
            }
        }
        spdlog::warn(
            "topic '{}': evicted subscriber slot {}: pid {}, user {}, stalled publishers for "
            "{:.1f} s "
            "(evict_after {}), {} bytes{} behind the tail at position {}",
            name(), verdict.slot, pid, describe_user(uid), seconds(verdict.stalled_for),
            format_duration(settings.slow_subscriber.evict_after), lag, records, verdict.position);
        // Wake the publishers it held back, and the subscriber itself so it learns at once.
        shmbus::sync::wake_sleepers(
            view.state->blocked_publishers, view.max_publishers, [&view](std::uint32_t index) {
                shmbus::sync::semaphore_post(view.publisher_waits[index].semaphore);
            });
        shmbus::sync::semaphore_post(subscriber.semaphore);
    }
}

void SupervisedTopic::sync(const TopicSettings& settings, Clock::time_point now) {
    if (settings.sync.policy != SyncPolicy::kInterval) return;
    if (now - synced_at_ < settings.sync.interval) return;
    synced_at_ = now;
    try {
        shmbus::write_back(topic_, shmbus::WriteBack::kStart);
        if (sync_failing_) {
            sync_failing_ = false;
            spdlog::info("topic '{}': writing its records back to disk works again", name());
        }
    } catch (const shmbus::Error& error) {
        if (!sync_failing_) {
            sync_failing_ = true;
            spdlog::error("{}; records committed since may not be on the disk (retrying every {})",
                          error.what(), format_duration(settings.sync.interval));
        }
    }
}

void SupervisedTopic::count() {
    const ring::TopicView& view = topic_.view();
    TopicCounts counts;
    for (std::uint32_t slot = 0; slot < view.max_publishers; ++slot) {
        // Relaxed: a count for a status line.
        if (atomics::load_relaxed(view.publishers[slot].state) != format::kSlotFree) {
            ++counts.publishers;
        }
    }
    const std::optional<std::uint32_t> bookmark = bookmark_.slot();
    for (std::uint32_t slot = 0; slot < view.max_subscribers; ++slot) {
        if (slot == bookmark) continue;  // the daemon's own, not a client
        if (atomics::load_relaxed(view.subscribers[slot].state) != format::kSlotFree) {
            ++counts.subscribers;
        }
    }
    counts_ = counts;
}

}  // namespace shmbusd
