#include "support/topic_dump.hpp"

#include <shmbus/detail/format/frame_header.hpp>
#include <shmbus/detail/format/publisher_slot.hpp>
#include <shmbus/detail/format/state_layout.hpp>
#include <shmbus/detail/util/atomic.hpp>

namespace shmbus::test {
namespace {

const char* state_name(format::FrameState state) {
    switch (state) {
        case format::FrameState::kNone:
            return "none";
        case format::FrameState::kClaimed:
            return "CLAIMED";
        case format::FrameState::kCommitted:
            return "COMMITTED";
        case format::FrameState::kPadding:
            return "PADDING";
        case format::FrameState::kWrap:
            return "WRAP";
    }
    return "?";
}

std::string hex(std::uint64_t value) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text;
    do {
        text.insert(text.begin(), kDigits[value & 0xf]);
        value >>= 4;
    } while (value != 0);
    return "0x" + text;
}

}  // namespace

std::string describe_topic(const ring::TopicView& view) {
    using atomics::load_acquire;
    std::string text = "tail " + std::to_string(load_acquire(view.records->tail.position)) +
                       " (sequence " + std::to_string(load_acquire(view.records->tail.sequence)) +
                       "), commit floor " +
                       std::to_string(load_acquire(view.records->commit_floor)) + ", aborted " +
                       std::to_string(load_acquire(view.records->aborted_claims)) + ", unblocked " +
                       std::to_string(load_acquire(view.records->unblocked_claims));
    for (std::uint32_t i = 0; i < view.max_publishers; ++i) {
        const format::PublisherSlot& slot = view.publishers[i];
        if (load_acquire(slot.state) == format::kSlotFree) continue;
        const std::uint64_t intent = load_acquire(slot.claim_intent);
        text += "; publisher " + std::to_string(i) + " pid " + std::to_string(slot.pid);
        if (intent == format::kNoIntent) {
            text += " no intent";
        } else {
            const std::uint64_t word = load_acquire(view.commit_word(intent & ~7ull));
            text += " intent " + std::to_string(intent) + " (" +
                    state_name(format::state_at(word, intent)) + ", word " + hex(word) + ")";
        }
    }
    for (std::uint32_t i = 0; i < view.max_subscribers; ++i) {
        const format::SubscriberSlot& slot = view.subscribers[i];
        const std::uint32_t state = load_acquire(slot.state);
        if (state == format::kSlotFree) continue;
        const std::uint64_t position = load_acquire(slot.position);
        const std::uint64_t word = load_acquire(view.commit_word(position & ~7ull));
        text += "; subscriber " + std::to_string(i) + " state " + std::to_string(state) + " at " +
                std::to_string(position) + " (" + state_name(format::state_at(word, position)) +
                ")";
    }
    text += "; masks: sleeping " + hex(load_acquire(view.state->sleeping_subscribers[0])) +
            ", blocked " + hex(load_acquire(view.state->blocked_publishers[0])) + ", attached " +
            hex(load_acquire(view.state->attached_subscribers[0])) + "/" +
            hex(load_acquire(view.records->attached_publishers[0]));
    return text;
}

}  // namespace shmbus::test
