#include "bookmark.hpp"

#include <spdlog/spdlog.h>

#include <cstring>
#include <shmbus/archive/progress_file.hpp>
#include <shmbus/detail/format/publisher_slot.hpp>
#include <shmbus/detail/util/atomic.hpp>
#include <shmbus/error.hpp>

namespace shmbusd {

void Bookmark::keep(const shmbus::Topic& topic, const std::filesystem::path& archive,
                    std::uint64_t recorder_starts) {
    const std::optional<shmbus::archive::Progress> progress =
        shmbus::archive::read_progress(archive);
    std::optional<std::uint64_t> archived;  // the first sequence the archive does not hold
    if (progress && progress->next_sequence &&
        std::memcmp(progress->topic_id, topic.view().records->topic_id,
                    sizeof progress->topic_id) == 0) {
        archived = progress->next_sequence;
    }
    if (!subscriber_) {
        // Evicted: attach again once a recorder works again, a new one or the same one
        // archiving again (a recorder stalled on its disk that came back).
        if (evicted_ && evicted_->starts == recorder_starts &&
            archived.value_or(0) <= evicted_->archived) {
            return;
        }
        try {
            // The oldest record the ring holds: the recorder starts there too, and skips what
            // the archive has.
            subscriber_.emplace(topic,
                                shmbus::SubscriberOptions{.start = shmbus::StartAt::earliest()});
        } catch (const shmbus::Error& error) {
            if (!attach_error_reported_) {
                attach_error_reported_ = true;
                spdlog::error(
                    "topic '{}': cannot attach the recording bookmark, so publishers may overwrite "
                    "what the recorder has not archived while it is down: {}",
                    topic.name(), error.what());
            }
            return;
        }
        attach_error_reported_ = false;
        evicted_.reset();
        spdlog::debug("topic '{}': recording bookmark attached in subscriber slot {}", topic.name(),
                      subscriber_->slot());
    }

    // A peeked record stays peeked without another look at the slot, so ask the slot itself.
    // Acquire: pairs with the evictor's compare-exchange to EVICTED (ring::evict_subscriber).
    const bool evicted =
        shmbus::atomics::load_acquire(topic.view().subscribers[subscriber_->slot()].state) ==
        shmbus::format::kSlotEvicted;
    for (;;) {
        const shmbus::Subscriber::Peeked next =
            evicted ? shmbus::Subscriber::Peeked{nullptr, shmbus::Status::kEvicted}
                    : subscriber_->peek();
        if (next.record == nullptr) {
            if (next.status == shmbus::Status::kEvicted) {
                spdlog::warn(
                    "topic '{}': the recording bookmark was evicted (the recorder held publishers "
                    "back for longer than evict_after); the archive gets a gap entry for what the "
                    "ring loses before the recorder runs again",
                    topic.name());
                subscriber_.reset();
                evicted_ = Evicted{recorder_starts, archived.value_or(0)};
            }
            return;
        }
        if (!archived || next.record->sequence >= *archived) return;  // not in the archive yet
        subscriber_->advance();
    }
}

void Bookmark::release() noexcept {
    subscriber_.reset();
    evicted_.reset();
}

std::optional<std::uint32_t> Bookmark::slot() const noexcept {
    if (!subscriber_) return std::nullopt;
    return subscriber_->slot();
}

}  // namespace shmbusd
