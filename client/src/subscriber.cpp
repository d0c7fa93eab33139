// The subscriber's slow paths: attaching, copied reads, recovering from a lap or a corrupt
// frame, publishing its position, and sleeping.
#include "shmbus/subscriber.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <utility>

#include "shmbus/detail/format/wake_fifo.hpp"
#include "shmbus/detail/ring/flow_control.hpp"
#include "shmbus/detail/ring/retention.hpp"
#include "shmbus/detail/ring/seek.hpp"
#include "shmbus/detail/ring/slots.hpp"
#include "shmbus/detail/sync/asymmetric_fence.hpp"
#include "shmbus/detail/sync/semaphore.hpp"
#include "shmbus/detail/util/unique_fd.hpp"
#include "topic_mapping.hpp"

namespace shmbus {
namespace {

using Clock = std::chrono::steady_clock;

// A sleeper wakes at least this often to look again, so a wake-up lost to a publisher that died
// between taking our bit and posting costs at most this much.
constexpr std::chrono::nanoseconds kLongestSleep = std::chrono::milliseconds(100);

// A sleeper whose heavy fence the kernel refused cannot count on being posted by publishers that
// commit with the light fence (sync/asymmetric_fence.hpp): it looks again at least this often.
constexpr std::chrono::nanoseconds kUnfencedSleep = std::chrono::milliseconds(1);

// How often a lapped subscriber retries finding an intact frame before it jumps to the tail.
constexpr int kRecoveryAttempts = 16;

}  // namespace

Subscriber::Subscriber(const Topic& topic, const SubscriberOptions& options)
    : topic_(topic), view_(topic.view()), options_(options) {
    const detail::TopicMapping& mapping = *topic.mapping();
    const std::string what = detail::describe(mapping.name, mapping.directory);
    copy_buffer_ = std::make_unique<std::byte[]>(format::align_frame(view_.max_record_size) + 8);
    zero_copy_ = view_.policy == format::Policy::kBlock && options.zero_copy;

    ring::Tail tail = ring::load_tail(view_.records->tail);
    tail.position = ring::boundary_at_or_before(tail.position);
    std::uint64_t start = tail.position;
    switch (options.start.kind()) {
        case StartAt::Kind::kLatest:
            expected_sequence_ = tail.sequence;
            sequence_known_ = true;
            break;
        case StartAt::Kind::kEarliest:
            start = ring::oldest_intact_position(view_, tail.position);
            break;
        case StartAt::Kind::kPosition: {
            const std::uint64_t saved = options.start.saved_position();
            if (saved % format::kFrameAlignment != 0 || saved > tail.position) {
                throw Error(ErrorCode::kInvalidArgument,
                            what + ": position " + std::to_string(saved) +
                                " is not a position of this topic (the tail is at " +
                                std::to_string(tail.position) + ")");
            }
            if (options.start.has_sequence()) {
                expected_sequence_ = options.start.saved_sequence();
                sequence_known_ = true;
            }
            if (saved + view_.capacity < tail.position) {
                start = ring::oldest_intact_position(view_, tail.position);
                // The gap is counted at the first record read, if the saved sequence is known.
                lapped_pending_ = true;
                break;
            }
            const std::uint64_t word = atomics::load_acquire(view_.commit_word(saved));
            if (saved != tail.position &&
                format::state_at(word, saved) == format::FrameState::kNone) {
                throw Error(
                    ErrorCode::kInvalidArgument,
                    what + ": position " + std::to_string(saved) + " is not the start of a record");
            }
            start = saved;
            break;
        }
        case StartAt::Kind::kSequence:
            start = start_at_sequence(options.start.saved_sequence(), tail, what);
            break;
        case StartAt::Kind::kTime:
            start = start_at_time(options.start.time_ns(), what);
            break;
    }
    if (!sequence_known_) {
        const ring::FrameInfo first = ring::inspect_frame(view_, start);
        if (first.kind == ring::FrameKind::kRecord) {
            const ring::ReadLayout layout = ring::read_layout(view_);
            expected_sequence_ =
                ring::read_record_fields(layout, layout.ring + (start & layout.mask)).sequence;
            sequence_known_ = !lapped(start);
        } else if (start == tail.position) {
            expected_sequence_ = tail.sequence;
            sequence_known_ = true;
        }
    }

    lock_fd_ = ::open(mapping.state_path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (lock_fd_ < 0) throw system_error(what + ": opening the state file for a slot lock");
    detail::register_lock_fd(lock_fd_);
    try {
        index_ = ring::attach_subscriber_slot(view_, lock_fd_, start);
    } catch (const Error& error) {
        detail::unregister_lock_fd(lock_fd_);
        ::close(lock_fd_);
        throw Error(error.code(), what + ": " + error.what(), error.system_errno());
    }
    slot_ = &view_.subscribers[index_];
    slot_generation_ = slot_->generation;
    attached_ns_ = slot_->attached_ns;
    position_ = start;
    // Registered. Any publisher whose limit ignores us computed it before our registration, from
    // a tail no later than the one we read now (seq_cst, after the seq_cst registration), and so
    // never overwrites a position from here on. Below it we copy and validate, like an
    // overwrite subscriber, until we pass it.
    safe_from_ = atomics::load_seq_cst(view_.records->tail.position);
    fork_generation_ = detail::fork_generation();
    epoch_ = detail::handle_epoch();
    blocked_mask_words_ = (view_.max_publishers + 63) / 64;
    attached_ = true;
}

std::uint64_t Subscriber::start_at_sequence(std::uint64_t sequence, const ring::Tail& tail,
                                            const std::string& what) {
    if (sequence > tail.sequence) {
        throw Error(ErrorCode::kInvalidArgument, what + ": sequence " + std::to_string(sequence) +
                                                     " has not been published yet (the next is " +
                                                     std::to_string(tail.sequence) + ")");
    }
    expected_sequence_ = sequence;
    sequence_known_ = true;
    if (sequence == tail.sequence) return tail.position;
    const ring::SeekResult found = ring::seek_record(
        view_,
        [sequence](const ring::RecordFields& fields) { return fields.sequence >= sequence; });
    if (found.matched) {
        if (found.preceded || found.fields.sequence == sequence) {
            // The ring holds the record before it: sequences in between were voided, not lost.
            expected_sequence_ = found.fields.sequence;
        } else {
            // The oldest record the ring holds is already past the start: what lies between
            // was overwritten, and is counted as lost at the first record.
            lapped_pending_ = true;
        }
        return found.position;
    }
    if (found.preceded) {
        // Every committed record is older; the walk stopped at a claim still in flight, whose
        // sequence it cannot read yet: learn it from the first record.
        sequence_known_ = false;
        return found.position;
    }
    // Nothing committed to look at: publishers lapped every walk, or only claims in flight are
    // left. Start at the tail as it is now, counting what went by as lost.
    lapped_pending_ = true;
    return ring::boundary_at_or_before(ring::load_tail_position(view_.records->tail));
}

std::uint64_t Subscriber::start_at_time(std::uint64_t time_ns, const std::string& what) {
    if (!view_.timestamps) {
        throw Error(ErrorCode::kInvalidArgument,
                    what +
                        ": has no timestamps, so it cannot start at a time (create it with "
                        "timestamps, or read its archive)");
    }
    const ring::SeekResult found = ring::seek_record(
        view_,
        [time_ns](const ring::RecordFields& fields) { return fields.timestamp_ns >= time_ns; });
    if (found.matched) {
        expected_sequence_ = found.fields.sequence;
        sequence_known_ = true;
    }
    return found.position;
}

Subscriber::~Subscriber() {
    detach();
}

Subscriber::Subscriber(Subscriber&& other) noexcept
    : topic_(other.topic_), view_(other.view_), options_(other.options_) {
    take_from(other);
}

Subscriber& Subscriber::operator=(Subscriber&& other) noexcept {
    if (this != &other) {
        detach();
        topic_ = other.topic_;
        view_ = other.view_;
        options_ = other.options_;
        take_from(other);
    }
    return *this;
}

void Subscriber::take_from(Subscriber& other) noexcept {
    slot_ = other.slot_;
    copy_buffer_ = std::move(other.copy_buffer_);
    position_ = other.position_;
    safe_from_ = other.safe_from_;
    expected_sequence_ = other.expected_sequence_;
    consumed_ = other.consumed_;
    lost_ = other.lost_;
    voided_ = other.voided_;
    corrupt_ = other.corrupt_;
    corrupt_at_ = other.corrupt_at_;
    lock_fd_ = other.lock_fd_;
    wake_fd_ = other.wake_fd_;
    index_ = other.index_;
    slot_generation_ = other.slot_generation_;
    attached_ns_ = other.attached_ns_;
    reasserted_ = other.reasserted_;
    fork_generation_ = other.fork_generation_;
    epoch_ = other.epoch_;
    blocked_mask_words_ = other.blocked_mask_words_;
    unwritten_polls_ = other.unwritten_polls_;
    zero_copy_ = other.zero_copy_;
    peeked_record_ = other.peeked_record_;
    peeked_ = std::exchange(other.peeked_, false);
    unpublished_ = std::exchange(other.unpublished_, false);
    sequence_known_ = other.sequence_known_;
    lapped_pending_ = other.lapped_pending_;
    attached_ = other.attached_;
    // Closed: every data-path call takes the epoch check's slow path and finds nothing attached.
    // The slot pointer goes to a slot that reads FREE, so even a check that did not come through
    // revalidate() touches nothing of the topic's.
    other.attached_ = false;
    other.lock_fd_ = -1;
    other.wake_fd_ = -1;
    other.epoch_ = kClosedEpoch;
    other.slot_ = &closed_slot();
}

format::SubscriberSlot& Subscriber::closed_slot() noexcept {
    static format::SubscriberSlot slot{};
    return slot;
}

void Subscriber::detach() noexcept {
    if (!attached_) return;
    attached_ = false;
    if (detail::fork_generation() != fork_generation_) return;
    atomics::store_relaxed(slot_->consumed, consumed_);
    atomics::store_relaxed(slot_->lost, lost_);
    ring::detach_subscriber_slot(view_, index_);
    detail::unregister_lock_fd(lock_fd_);
    ::close(lock_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    wake_fd_ = -1;
}

int Subscriber::wake_fd() {
    if (wake_fd_ >= 0) return wake_fd_;
    if (!attached_) throw Error(ErrorCode::kInvalidArgument, "wake_fd of a moved-from subscriber");
    const detail::TopicMapping& mapping = *topic_.mapping();
    const std::string what = detail::describe(mapping.name, mapping.directory);
    const auto path = format::wake_fifo_path(mapping.directory / mapping.name, index_);
    // Non-blocking: opening a FIFO's read end never waits for a writer this way, and reading an
    // empty one says EAGAIN. No following symbolic links, and it must be a FIFO.
    util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) throw system_error(what + ": opening the wake FIFO " + path.string());
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw system_error(what + ": stat " + path.string());
    if (!S_ISFIFO(st.st_mode)) {
        throw Error(ErrorCode::kFormat, what + ": " + path.string() + " is not a FIFO");
    }
    wake_fd_ = fd.release();
    return wake_fd_;
}

void Subscriber::drain_wake_fd() noexcept {
    // One read in the usual case: a FIFO's read returns what it holds up to the size asked for,
    // so a short read left it empty. Only a full buffer means there may be more. (A byte written
    // after the read makes the descriptor readable again, which is what it is for.)
    char bytes[64];
    while (::read(wake_fd_, bytes, sizeof bytes) == static_cast<ssize_t>(sizeof bytes)) {
    }
}

Subscriber::Peeked Subscriber::peek() noexcept {
    if (peeked_) return {&peeked_record_, Status::kOk};
    Peeked peeked;
    const auto capture = [this](const Record& record) noexcept { peeked_record_ = record; };
    // Padding and corrupt frames on the way are skipped as poll skips them; the first record
    // ends the read, and the position past it stays ours until advance().
    const PollResult result = read_records(capture, 1, false);
    peeked.status = result.status;
    if (result.records == 1) {
        peeked_ = true;
        peeked.record = &peeked_record_;
    } else if (unpublished_) {
        publish_position(position_);  // only skipped frames: nothing to hold on to
    }
    return peeked;
}

void Subscriber::advance() noexcept {
    peeked_ = false;
    if (unpublished_) publish_position(position_);
}

bool Subscriber::arm() noexcept {
    if (wake_fd_ < 0 || !attached_) return true;
    if (atomics::load_relaxed(slot_->state) != format::kSlotActive) return true;  // poll says why
    // Drain first, then announce, then look: a signal that lands after the drain is a readable
    // descriptor, and a record committed before the announcement is seen by the look.
    drain_wake_fd();
    // Release, before the bit: a publisher that takes the bit (acquire) reads how to wake us.
    atomics::store_release(slot_->wake_by, format::kWakeByFifo);
    sync::set_bit(view_.state->sleeping_subscribers, index_);
    // The sleeper's half of the asymmetric fence (sync/asymmetric_fence.hpp). If the kernel
    // refused it, a light publisher's commit may go unsignalled: say "look again" every time,
    // which turns the caller's loop into polling rather than losing a record.
    if (!sync::sleeper_fence(view_.fenced_commits)) return true;
    if (!has_work()) return false;
    // Work already: the caller polls rather than waits, and arms again before it does. Take the
    // bit back, so that the publishers of the records it is about to read do not each write a
    // byte (a system call on their side, a drain on ours) for a subscriber that is awake.
    sync::clear_bit(view_.state->sleeping_subscribers, index_);
    return true;
}

Status Subscriber::check_slot() noexcept {
    // A records file truncated under us shows as zeros everywhere, the slot included.
    if (detail::handle_epoch() != epoch_) {
        const Status status = revalidate();
        if (status != Status::kOk) return status;
    }
    // Acquire: pairs with the daemon's acq_rel compare-and-swap to EVICTED.
    const std::uint32_t state = atomics::load_acquire(slot_->state);
    if (state == format::kSlotActive) return Status::kOk;
    if (state == format::kSlotEvicted) return Status::kEvicted;
    // FREE, or a value no slot has: the state file was truncated and restored (its pages read
    // zero) or another client scribbled on our slot. We hold the slot's lock, so it is ours.
    reassert_slot();
    return Status::kOk;
}

void Subscriber::reassert_slot() noexcept {
    const detail::TopicMapping& mapping = *topic_.mapping();
    // Whoever touched a lost page first restored the file; if nobody has yet (we read our slot
    // from a page that survived), make sure the identity line is back for clients yet to open.
    if (format::state_file_needs_restoring(mapping.state_restore)) {
        (void)format::restore_state_file(mapping.state_restore);
    }
    // As attach_subscriber_slot writes it, from what we hold privately. Relaxed: published by the
    // seq_cst store of ACTIVE below.
    atomics::store_relaxed(slot_->position, position_);
    atomics::store_relaxed(slot_->consumed, consumed_);
    atomics::store_relaxed(slot_->lost, lost_);
    atomics::store_relaxed(slot_->corrupt, corrupt_);
    atomics::store_relaxed(slot_->pid, static_cast<std::uint32_t>(::getpid()));
    atomics::store_relaxed(slot_->uid, static_cast<std::uint32_t>(::geteuid()));
    atomics::store_relaxed(slot_->generation, slot_generation_);
    atomics::store_relaxed(slot_->attached_ns, attached_ns_);
    sync::semaphore_initialise(slot_->semaphore);
    // seq_cst, state then mask bit, as at attach: a publisher computing its limit from here on
    // counts us. One that did not in the meantime (it attached while our slot read zero, so its
    // SubscriberWatch never saw us) computed its limit from a tail no later than the one read
    // below, so from there on we read in place again; below it, copied and validated, as after a
    // join (see the constructor).
    atomics::store_seq_cst(slot_->position, position_);
    atomics::store_seq_cst(slot_->state, format::kSlotActive);
    sync::set_bit(view_.state->attached_subscribers, index_);
    safe_from_ = std::max(safe_from_, atomics::load_seq_cst(view_.records->tail.position));
    ++reasserted_;
}

Status Subscriber::revalidate() noexcept {
    if (!attached_) return Status::kClosed;
    const std::uint32_t epoch = detail::handle_epoch();
    if (detail::fork_generation() != fork_generation_) return Status::kForked;
    if (detail::mapping_lost(*topic_.mapping())) return Status::kTopicLost;
    epoch_ = epoch;
    return Status::kOk;
}

Subscriber::Step Subscriber::read_copied(std::uint64_t& position, Record& record) noexcept {
    const ring::FrameInfo frame = ring::inspect_frame(view_, position);
    switch (frame.kind) {
        case ring::FrameKind::kUnwritten:
        case ring::FrameKind::kClaimed:
            if (lapped(position)) {
                position = recover_from_lap(position);
                return Step::kMoved;
            }
            return Step::kCaughtUp;
        case ring::FrameKind::kPadding:
        case ring::FrameKind::kWrap:
            // Acquire fence, then the tail: if no claim reached this frame's lap slot, the
            // length we used was this lap's.
            std::atomic_thread_fence(std::memory_order_acquire);
            if (lapped(position)) {
                position = recover_from_lap(position);
                return Step::kMoved;
            }
            position = frame.next;
            return Step::kSkipped;
        case ring::FrameKind::kCorrupt:
            std::atomic_thread_fence(std::memory_order_acquire);
            if (lapped(position)) {
                position = recover_from_lap(position);
                return Step::kMoved;
            }
            {
                // As in place: report a corrupt frame once it is skipped; until a frame after
                // it vouches for itself, stay, and let the poll end.
                const std::uint64_t next = skip_corrupt(position);
                if (next == position) return Step::kCaughtUp;
                position = next;
                return Step::kSkippedCorrupt;
            }
        case ring::FrameKind::kRecord:
            break;
    }
    // The seqlock read: copy everything out, then check that no publisher claimed as far as
    // this frame's bytes in the next lap while we copied. Word by word with relaxed atomic
    // loads, since a publisher may be writing these bytes right now.
    const auto* source = reinterpret_cast<const std::uint64_t*>(view_.payload(position));
    auto* target = reinterpret_cast<std::uint64_t*>(copy_buffer_.get());
    const std::uint64_t words = (std::uint64_t{frame.length} + 7) / 8;
    for (std::uint64_t i = 0; i < words; ++i)
        target[i] = atomics::load_relaxed(source[i]);
    const Record copied = record_at(position, frame, copy_buffer_.get());
    // Acquire fence: pairs with the release ordering of a later lap's claim CAS (every claim is a
    // full barrier), so if any byte we copied came from the next lap, the tail load below sees
    // that claim.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (lapped(position)) {
        position = recover_from_lap(position);
        return Step::kMoved;
    }
    record = copied;
    position = frame.next;
    return Step::kRecord;
}

std::uint64_t Subscriber::recover_from_lap(std::uint64_t position) noexcept {
    lapped_pending_ = true;
    for (int attempt = 0; attempt < kRecoveryAttempts; ++attempt) {
        const std::uint64_t tail = ring::load_tail_position(view_.records->tail);
        if (tail <= position + view_.capacity) return position;
        const std::uint64_t oldest = ring::oldest_intact_position(view_, tail);
        // Still intact now that we have found it?
        if (ring::load_tail_position(view_.records->tail) <= oldest + view_.capacity) {
            return std::max(oldest, position);
        }
    }
    // Publishers lap us faster than we can look: start again from the tail, always a boundary.
    return std::max(ring::boundary_at_or_before(ring::load_tail_position(view_.records->tail)),
                    position);
}

std::uint64_t Subscriber::skip_corrupt(std::uint64_t position) noexcept {
    const std::uint64_t tail = ring::load_tail_position(view_.records->tail);
    const std::uint64_t lap_end = position + view_.room_in_lap(position);
    const std::uint64_t limit = std::min(tail, lap_end);
    if (limit <= position) return position;
    const std::uint64_t next =
        ring::find_boundary(view_, position + format::kFrameAlignment, limit);
    // Resume at the next frame that vouches for itself, or at the end of the lap. If neither
    // exists yet, the frames after this one are still being written: stay, and look again
    // next time, without counting it twice.
    if (next == limit && limit != lap_end) {
        if (corrupt_at_ != position) {
            corrupt_at_ = position;
            ++corrupt_;
        }
        return position;
    }
    if (corrupt_at_ != position) ++corrupt_;
    corrupt_at_ = ~std::uint64_t{0};
    return next;
}

std::uint64_t Subscriber::skip_orphaned(std::uint64_t position) noexcept {
    // Pure: the caller moves and counts. A claimed frame whose header is not written yet starts where its publisher's claim intent
    // points, and the intent stays there until the frame is finished (and a dead publisher's
    // slot keeps it until the frame is repaired). A position past which the tail has moved, that
    // no frame is being written at, and that no intent names, is not a frame boundary: a
    // corrupt length led here. Resume at the next frame that vouches for itself.
    // Acquire: pairs with the claim CAS, after which the claimer's intent is visible.
    const std::uint64_t tail = ring::load_tail_position(view_.records->tail);
    if (tail <= position) return position;
    bool in_flight = false;
    ring::for_each_bit(
        view_.records->attached_publishers, view_.max_publishers, [&](std::uint32_t index) {
            // Acquire: pairs with the release store of the intent.
            if (atomics::load_acquire(view_.publishers[index].claim_intent) == position) {
                in_flight = true;
            }
        });
    if (in_flight) return position;
    if (ring::inspect_frame(view_, position).kind != ring::FrameKind::kUnwritten) return position;
    const std::uint64_t lap_end = position + view_.room_in_lap(position);
    const std::uint64_t limit = std::min(tail, lap_end);
    const std::uint64_t next =
        ring::find_boundary(view_, position + format::kFrameAlignment, limit);
    if (next == limit && limit != lap_end) return position;  // nothing to resume at yet
    return next;
}

void Subscriber::publish_position(std::uint64_t position) noexcept {
    SHMBUS_FAULT_POINT(fault::Point::kMidAdvance);
    position_ = position;
    unpublished_ = false;
    unwritten_polls_ = 0;
    // seq_cst: pairs with the publishers' seq_cst loads in slowest_subscriber. A publisher that
    // announced it is blocked and then reloads positions sees this one, or we see its bit below.
    atomics::store_seq_cst(slot_->position, position);
    // Relaxed: statistics, read by `shmbus stat`.
    atomics::store_relaxed(slot_->consumed, consumed_);
    atomics::store_relaxed(slot_->lost, lost_);
    atomics::store_relaxed(slot_->corrupt, corrupt_);
    if (view_.policy == format::Policy::kBlock &&
        sync::anyone_asleep(view_.state->blocked_publishers, blocked_mask_words_)) {
        sync::wake_sleepers(view_.state->blocked_publishers, view_.max_publishers,
                            [this](std::uint32_t index) {
                                sync::semaphore_post(view_.publisher_waits[index].semaphore);
                            });
    }
}

bool Subscriber::has_work() const noexcept {
    if (atomics::load_relaxed(slot_->state) != format::kSlotActive) return true;
    // seq_cst: pairs with the publisher's seq_cst commit store (Dekker, sync/wake_masks.hpp).
    const std::uint64_t word = atomics::load_seq_cst(view_.commit_word(position_));
    switch (format::state_at(word, position_)) {
        case format::FrameState::kCommitted:
        case format::FrameState::kPadding:
        case format::FrameState::kWrap:
            return position_ != corrupt_at_;
        case format::FrameState::kNone:
        case format::FrameState::kClaimed:
            break;
    }
    return !in_place(position_) && lapped(position_);
}

Status Subscriber::wait(std::chrono::nanoseconds timeout) noexcept {
    if (detail::handle_epoch() != epoch_) {
        const Status status = revalidate();
        if (status != Status::kOk) return status;
    }
    // Work found after the handle epoch moved may be the zero pages of a truncated file.
    const auto found_work = [this]() noexcept {
        return detail::handle_epoch() != epoch_ ? revalidate() : Status::kOk;
    };
    if (has_work()) return found_work();
    // One clock reading per pass: at ~20 ns each, they were a tenth of a same-CPU wake-up.
    auto now = Clock::now();
    const auto deadline =
        timeout >= Clock::time_point::max() - now ? Clock::time_point::max() : now + timeout;
    if (options_.spin > std::chrono::nanoseconds(0)) {
        const auto spin_until = options_.spin >= deadline - now ? deadline : now + options_.spin;
        while (now < spin_until) {
            if (has_work()) return found_work();
            now = Clock::now();
        }
    }
    std::uint8_t* semaphore = slot_->semaphore;
    std::uint64_t* sleeping = view_.state->sleeping_subscribers;
    // Release, before the bit below: a publisher that takes the bit posts the semaphore.
    atomics::store_release(slot_->wake_by, format::kWakeBySemaphore);
    for (;;) {
        sync::semaphore_drain(semaphore);
        sync::set_bit(sleeping, index_);
        // The sleeper's half of the asymmetric fence: publishers in registered processes commit
        // with a release store and no barrier of their own (sync/asymmetric_fence.hpp), unless
        // the topic has fenced commits.
        const bool fenced = sync::sleeper_fence(view_.fenced_commits);
        if (has_work()) {
            sync::clear_bit(sleeping, index_);
            return found_work();
        }
        if (now >= deadline) {
            sync::clear_bit(sleeping, index_);
            return Status::kTimedOut;
        }
        // An absolute deadline: the time spent announcing since `now` comes off this slice.
        // Without the heavy fence a light publisher's commit may go unseen until we look again:
        // look again soon.
        const auto longest = fenced ? kLongestSleep : kUnfencedSleep;
        const auto wake_by = deadline - now > longest ? now + longest : deadline;
        const auto woken = sync::semaphore_wait_until(semaphore, wake_by);
        sync::clear_bit(sleeping, index_);
        if (has_work()) return found_work();
        // Once a slice: a client that cleared our attached bit (it may write the state file)
        // would hide us from publishers that attach from now on. Put it back.
        if (!sync::bit_is_set(view_.state->attached_subscribers, index_) &&
            atomics::load_relaxed(slot_->state) == format::kSlotActive) {
            sync::set_bit(view_.state->attached_subscribers, index_);
        }
        // A file truncated while we slept: nothing will ever post the zero page we sleep on.
        if (const Status lost = found_work(); lost != Status::kOk) return lost;
        // A whole slice with nothing: is this position a frame's at all? Let poll() move on.
        if (woken == sync::WaitOutcome::kTimedOut && skip_orphaned(position_) != position_) {
            unwritten_polls_ = kOrphanCheck;
            return Status::kOk;
        }
        now = Clock::now();
    }
}

}  // namespace shmbus
