#include "shmbus/topic_stats.hpp"

#include "shmbus/detail/format/publisher_slot.hpp"
#include "shmbus/detail/ring/slots.hpp"
#include "shmbus/detail/ring/tail.hpp"
#include "shmbus/detail/util/atomic.hpp"

namespace shmbus {

TopicStats collect_stats(const Topic& topic) {
    const ring::TopicView& view = topic.view();
    TopicStats stats;
    stats.name = topic.name();
    stats.capacity = view.capacity;
    stats.max_record_size = view.max_record_size;
    stats.max_publishers = view.max_publishers;
    stats.max_subscribers = view.max_subscribers;
    stats.policy = view.policy;
    stats.timestamps = view.timestamps;
    stats.fenced_commits = view.fenced_commits;
    stats.created_ns = view.records->created_ns;

    const ring::Tail tail = ring::load_tail(view.records->tail);
    stats.tail_position = tail.position;
    stats.tail_sequence = tail.sequence;
    // Relaxed loads throughout: a snapshot of counters, each consistent on its own.
    stats.commit_floor = atomics::load_relaxed(view.records->commit_floor);
    stats.aborted = atomics::load_relaxed(view.records->aborted_claims);
    stats.unblocked = atomics::load_relaxed(view.records->unblocked_claims);
    stats.published = atomics::load_relaxed(view.records->departed_published);
    stats.consumed = atomics::load_relaxed(view.state->departed_consumed);
    stats.lost = atomics::load_relaxed(view.state->departed_lost);
    stats.evicted = atomics::load_relaxed(view.state->evicted_subscribers);
    stats.reclaimed = atomics::load_relaxed(view.state->reclaimed_slots);
    stats.supervisor_pid = atomics::load_relaxed(view.state->supervisor_pid);

    for (std::uint32_t i = 0; i < view.max_publishers; ++i) {
        const format::PublisherSlot& slot = view.publishers[i];
        if (atomics::load_acquire(slot.state) == format::kSlotFree) continue;
        PublisherInfo info;
        info.slot = i;
        info.pid = slot.pid;
        info.uid = slot.uid;
        if (topic.locks_fd() >= 0) info.alive = ring::publisher_alive(topic.locks_fd(), i);
        info.published = atomics::load_relaxed(slot.published);
        info.attached_ns = slot.attached_ns;
        stats.published += info.published;
        stats.publishers.push_back(info);
    }
    for (std::uint32_t i = 0; i < view.max_subscribers; ++i) {
        const format::SubscriberSlot& slot = view.subscribers[i];
        const std::uint32_t state = atomics::load_acquire(slot.state);
        if (state == format::kSlotFree) continue;
        SubscriberInfo info;
        info.slot = i;
        info.pid = slot.pid;
        info.uid = slot.uid;
        info.alive = ring::subscriber_alive(topic.state_fd(), i);
        info.evicted = state == format::kSlotEvicted;
        info.position = atomics::load_relaxed(slot.position);
        info.lag_bytes = tail.position > info.position ? tail.position - info.position : 0;
        info.consumed = atomics::load_relaxed(slot.consumed);
        info.lost = atomics::load_relaxed(slot.lost);
        info.corrupt = atomics::load_relaxed(slot.corrupt);
        info.attached_ns = slot.attached_ns;
        stats.consumed += info.consumed;
        stats.lost += info.lost;
        stats.subscribers.push_back(info);
    }
    return stats;
}

}  // namespace shmbus
