// One topic under the daemon's supervision, and the check the daemon makes of it each interval:
//
//   0. restore   put back a state file that a client truncated and nobody has touched since
//                (format/state_restore.hpp), and say so in the log
//      signal    write into the wake FIFO of each subscriber that waits in an event loop, is not
//                armed, and has records: a publisher that died between committing and
//                signalling delays it by at most one interval (format/wake_fifo.hpp)
//   1. reclaim   free the slots of clients that died, proven by their slot locks being free
//                (the kernel drops an OFD lock when its owner dies), so no heartbeat is needed
//   2. unblock   turn a claim that a dead publisher left unfinished at the commit floor into
//                padding (ring::repair_at_floor), as often as there are such claims; warn when
//                a live publisher has held the floor for longer than the unblock timeout
//   3. bookmark  in a recorded block topic, move the daemon's own subscriber up to what the
//                archive holds (bookmark.hpp), so the ring keeps what a dead recorder missed
//      evict     in a block topic whose slow-subscriber policy is "evict", evict the
//                subscribers that have stalled publishers for evict_after (stall_detector.hpp)
//   4. count     the attached publishers and subscribers, for systemd's STATUS= line
//   5. sync      with sync = "interval", start writing the records file back to its disk once
//                sync_interval has passed since the last time (shmbus::write_back, kStart)
//
// The topic is opened with Access::kAdmin; its descriptors hold no slot lock, which is what
// the reclaimers and the repairer need. While supervised, the state header names the daemon's
// pid (supervisor_pid), so `shmbus stat` can say who watches the topic.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <shmbus/topic.hpp>
#include <vector>

#include "bookmark.hpp"
#include "config.hpp"
#include "shmbus/detail/util/unique_fd.hpp"
#include "stall_detector.hpp"

namespace shmbusd {

struct TopicCounts {
    std::uint32_t publishers = 0;
    std::uint32_t subscribers = 0;
};

class SupervisedTopic {
  public:
    using Clock = std::chrono::steady_clock;

    /// Takes over `topic` (opened with Access::kAdmin) and claims its supervision.
    explicit SupervisedTopic(shmbus::Topic topic);
    ~SupervisedTopic();
    SupervisedTopic(const SupervisedTopic&) = delete;
    SupervisedTopic& operator=(const SupervisedTopic&) = delete;

    /// One check (see the file comment), under `settings` and the daemon-wide `config`.
    /// `recorder_starts`: how many times the topic's recorder process was started (bookmark.hpp).
    void check(const TopicSettings& settings, const Config& config, Clock::time_point now,
               std::uint64_t recorder_starts = 0);

    /// The bookmark's part of a check (bookmark.hpp), also run when the recorder reports
    /// progress between checks.
    void follow_archive(const TopicSettings& settings, std::uint64_t recorder_starts);

    /// Whether the directory entry still names the file this handle has open (a topic removed,
    /// or replaced by a reinit, no longer does).
    [[nodiscard]] bool still_on_disk() const;

    [[nodiscard]] const shmbus::Topic& topic() const noexcept { return topic_; }
    [[nodiscard]] const std::string& name() const noexcept { return topic_.name(); }
    [[nodiscard]] TopicCounts counts() const noexcept { return counts_; }

  private:
    void restore_state();
    void signal_unarmed_fd_waiters();
    void reclaim();
    void unblock(const Config& config, Clock::time_point now);
    void evict_stalled(const TopicSettings& settings, Clock::time_point now);
    void count();
    void sync(const TopicSettings& settings, Clock::time_point now);

    shmbus::Topic topic_;
    dev_t device_ = 0;
    ino_t inode_ = 0;
    StallDetector stalls_;
    TopicCounts counts_;
    // The unfinished frame at the commit floor whose owner is alive, and since when.
    std::optional<std::uint64_t> held_floor_;
    Clock::time_point held_since_{};
    bool held_warned_ = false;
    bool repair_error_warned_ = false;
    // When the records were last written back (sync = "interval"), and whether the last try
    // failed, so a failing disk is logged once per failure streak, not at every check.
    Clock::time_point synced_at_{};
    bool sync_failing_ = false;
    // Per subscriber slot, its wake FIFO opened for reading and writing, once needed (-1: not
    // yet, or not usable). Closed with the topic.
    std::vector<shmbus::util::UniqueFd> wake_fifos_;
    // After topic_: a subscriber of it, let go first.
    Bookmark bookmark_;
};

}  // namespace shmbusd
