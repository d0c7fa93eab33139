// A snapshot of a topic's counters and attached clients, for `shmbus stat` and the daemon.
// Reading it costs a lock probe per occupied slot; keep it off any data path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shmbus/topic.hpp"

namespace shmbus {

struct PublisherInfo {
    std::uint32_t slot = 0;
    std::uint32_t pid = 0;
    std::uint32_t uid = 0;
    // Its slot lock is held. Unknown (nullopt) to a process that opened the topic for
    // subscribing only: the publisher locks are in the locks file, which it may not open.
    std::optional<bool> alive;
    std::uint64_t published = 0;    // records committed since it attached
    std::uint64_t attached_ns = 0;  // CLOCK_REALTIME
};

struct SubscriberInfo {
    std::uint32_t slot = 0;
    std::uint32_t pid = 0;
    std::uint32_t uid = 0;
    bool alive = false;
    bool evicted = false;
    std::uint64_t position = 0;
    std::uint64_t lag_bytes = 0;  // tail position - its position
    std::uint64_t consumed = 0;
    std::uint64_t lost = 0;
    std::uint64_t corrupt = 0;
    std::uint64_t attached_ns = 0;
};

struct TopicStats {
    std::string name;
    std::uint64_t capacity = 0;
    std::uint32_t max_record_size = 0;
    std::uint32_t max_publishers = 0;
    std::uint32_t max_subscribers = 0;
    Policy policy = Policy::kBlock;
    bool timestamps = false;
    bool fenced_commits = false;
    std::uint64_t created_ns = 0;

    std::uint64_t tail_position = 0;
    std::uint64_t tail_sequence = 0;  // sequence numbers handed out so far
    std::uint64_t commit_floor = 0;

    std::uint64_t published = 0;  // records committed, by attached and departed publishers
    std::uint64_t consumed = 0;  // records delivered, summed over attached and departed subscribers
    std::uint64_t lost = 0;      // records subscribers lost to overwrite
    std::uint64_t aborted = 0;   // claims publishers aborted
    std::uint64_t unblocked = 0;  // dead publishers' claims turned into padding
    std::uint64_t evicted = 0;    // subscribers evicted for stalling publishers
    std::uint64_t reclaimed = 0;  // slots freed after their owner died
    std::uint32_t supervisor_pid = 0;

    std::vector<PublisherInfo> publishers;    // occupied slots only
    std::vector<SubscriberInfo> subscribers;  // occupied slots only
};

/// Reads the counters and slots of an open topic (any access).
[[nodiscard]] TopicStats collect_stats(const Topic& topic);

}  // namespace shmbus
