// Subscribing: every subscriber sees every record of its topic, in the one order all
// subscribers share, each at its own position.
//
//   shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
//   for (;;) {
//       subscriber.poll([](const shmbus::Record& record) { use(record.payload); });
//       subscriber.wait(std::chrono::seconds(1));  // spin briefly, then sleep until a commit
//   }
//
// In a block topic the handler gets the record in place, valid during the call: publishers
// cannot overwrite what this subscriber has not read. In an overwrite topic each record is
// copied out and validated first, and a subscriber that publishers lap skips to the oldest
// record still intact and counts exactly how many it lost (lost()).
//
// Threads: a Subscriber is used by one thread at a time: poll, peek, advance, wait, arm and the
// counters are not to be called concurrently on one subscriber (a WaitSet holding it counts as
// that thread). Give each reading thread a Subscriber of its own; each sees every record. The
// descriptor wake_fd() may be watched from any thread or event loop, as long as the calls
// above stay on one. After fork(), a parent's subscriber returns kForked in the child.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "shmbus/detail/format/state_layout.hpp"
#include "shmbus/detail/handle_guard.hpp"
#include "shmbus/detail/ring/frame_inspect.hpp"
#include "shmbus/detail/ring/tail.hpp"
#include "shmbus/detail/sync/wake_masks.hpp"
#include "shmbus/detail/util/atomic.hpp"
#include "shmbus/detail/util/fault_injection.hpp"
#include "shmbus/status.hpp"
#include "shmbus/topic.hpp"

namespace shmbus {

/// One record, as a poll handler sees it.
struct Record {
    std::span<const std::byte> payload;
    std::uint64_t position = 0;       // where the record's frame starts
    std::uint64_t next_position = 0;  // where the next frame starts: save this to resume after it
    std::uint64_t sequence = 0;       // topic-wide, increasing by one per claim
    std::uint64_t timestamp_ns = 0;   // CLOCK_REALTIME at claim, 0 if the topic has none
    std::uint16_t publisher = 0;      // slot of the publisher that wrote it
};

/// Where a new subscriber starts.
class StartAt {
  public:
    /// Only records published after the subscriber attaches.
    [[nodiscard]] static StartAt latest() noexcept { return StartAt(Kind::kLatest, 0); }
    /// The oldest record still in the ring.
    [[nodiscard]] static StartAt earliest() noexcept { return StartAt(Kind::kEarliest, 0); }
    /// A position saved earlier from Record::next_position or Subscriber::position(). If the ring
    /// has since moved past it, the subscriber starts at the oldest record. A position alone
    /// cannot say how many records were in between: pass `next_sequence` too (Record::sequence
    /// + 1, or Subscriber::next_sequence()) and the gap is counted in lost().
    [[nodiscard]] static StartAt position(std::uint64_t position) noexcept {
        return StartAt(Kind::kPosition, position, 0, false);
    }
    [[nodiscard]] static StartAt position(std::uint64_t position,
                                          std::uint64_t next_sequence) noexcept {
        return StartAt(Kind::kPosition, position, next_sequence, true);
    }

    /// The record with sequence number `sequence`, or, if that sequence holds no record (an
    /// aborted claim), the first after it. If the ring no longer holds it, the subscriber starts
    /// at the oldest record and counts what lies between in lost(): a Subscriber reads the ring
    /// only (archive::HistorySubscriber reads what came before from an archive). A sequence
    /// not published yet is kInvalidArgument; the next one to be published is allowed, and waits
    /// for it like latest().
    [[nodiscard]] static StartAt sequence(std::uint64_t sequence) noexcept {
        return StartAt(Kind::kSequence, 0, sequence, true);
    }
    /// The first record stamped at or after `time_ns` (CLOCK_REALTIME nanoseconds since the
    /// epoch), or the oldest record if all are newer, or records to come if all are older. Needs
    /// a topic with timestamps (kInvalidArgument otherwise). Publishers stamp their own claims,
    /// so with several publishers a few records just before the first one chosen may be stamped
    /// at or after `time_ns` too: the start is the first in sequence order.
    [[nodiscard]] static StartAt time(std::uint64_t time_ns) noexcept {
        return StartAt(Kind::kTime, time_ns);
    }

    enum class Kind : std::uint8_t { kLatest, kEarliest, kPosition, kSequence, kTime };
    [[nodiscard]] Kind kind() const noexcept { return kind_; }
    [[nodiscard]] std::uint64_t saved_position() const noexcept { return position_; }
    /// kTime: the time asked for (kept where a position is kept: StartAt's layout is ABI).
    [[nodiscard]] std::uint64_t time_ns() const noexcept { return position_; }
    [[nodiscard]] bool has_sequence() const noexcept { return has_sequence_; }
    [[nodiscard]] std::uint64_t saved_sequence() const noexcept { return sequence_; }

  private:
    StartAt(Kind kind, std::uint64_t position, std::uint64_t sequence = 0,
            bool has_sequence = false) noexcept
        : kind_(kind), has_sequence_(has_sequence), position_(position), sequence_(sequence) {}
    Kind kind_;
    bool has_sequence_;
    std::uint64_t position_;
    std::uint64_t sequence_;
};

struct SubscriberOptions {
    StartAt start = StartAt::latest();
    /// How long wait() spins before it sleeps on the semaphore.
    std::chrono::nanoseconds spin = std::chrono::microseconds(20);
    /// Block topics only: hand records to the handler in place. false: copy and validate every
    /// record, as in overwrite topics. A topic whose daemon evicts slow subscribers lets
    /// publishers overwrite what an evicted subscriber's handler may still be reading: choose
    /// false there if a handler may run longer than the eviction time (docs/CONFIG.md).
    bool zero_copy = true;
};

struct PollResult {
    std::size_t records = 0;
    Status status = Status::kOk;
};

class Subscriber {
  public:
    static constexpr std::size_t kDefaultBatch = 256;

    /// Attaches to `topic` (any access). Throws shmbus::Error: kNoSlot, kInvalidArgument (a saved
    /// position that is not a frame boundary, or beyond the tail).
    explicit Subscriber(const Topic& topic, const SubscriberOptions& options = {});
    ~Subscriber();
    /// Movable: the slot, its lock and every counter go with it. A moved-from subscriber holds
    /// nothing; poll() and wait() on it return Status::kClosed.
    Subscriber(Subscriber&& other) noexcept;
    Subscriber& operator=(Subscriber&& other) noexcept;
    Subscriber(const Subscriber&) = delete;
    Subscriber& operator=(const Subscriber&) = delete;

    /// Hands up to `limit` records to `handler(const Record&)` and returns without waiting.
    /// Padding is skipped silently. The position is published once, at the end.
    ///
    /// A handler that throws: the record it was handed counts as delivered, and so does every
    /// record before it. The exception leaves poll() after the subscriber's position has moved
    /// past that record and been published, with consumed() counting it; the next poll starts
    /// at the record after it. A record that makes the handler throw every time is therefore
    /// seen once, never redelivered in a loop. To retry it, resume a new subscriber at
    /// Record::position (StartAt::position) and Record::sequence.
    template <typename Handler>
    PollResult poll(Handler&& handler, std::size_t limit = kDefaultBatch);

    /// Returns kOk as soon as poll() has something to do (a record, padding, or an eviction to
    /// report), kTimedOut after `timeout`. Spins for options.spin, then sleeps on the
    /// subscriber's semaphore; publishers post it only while it sleeps.
    [[nodiscard]] Status wait(std::chrono::nanoseconds timeout) noexcept;

    /// The next record without a handler, for code that cannot pass one (the C API, bindings):
    /// `record` points at it, or is null when there is none right now (`status` then says why,
    /// as poll's does). The record, payload included, stays valid until advance(), the next
    /// peek() or poll(): the subscriber does not tell publishers it is past the record until
    /// then, so in a block topic the payload is the record in place, never overwritten under
    /// the caller; in an overwrite topic it is a validated copy. Calling peek() again without
    /// advance() returns the same record. Counters (consumed(), lost()) count the record at
    /// peek().
    struct Peeked {
        const Record* record = nullptr;
        Status status = Status::kOk;
    };
    [[nodiscard]] Peeked peek() noexcept;
    /// Done with the record peek() returned: its payload is no longer valid after this. Tells
    /// publishers the subscriber's new position. Nothing to do if no record is peeked.
    void advance() noexcept;

    /// Waiting in an event loop instead (epoll, poll, select, libuv, Boost.Asio, asyncio): a file
    /// descriptor that becomes readable when this subscriber may have something to poll. It is
    /// the read end of the slot's wake FIFO (docs/FORMAT.md, "Waking a subscriber"), opened on
    /// the first call and closed with the subscriber. Throws shmbus::Error if it cannot be
    /// opened. Watch it for readability (EPOLLIN / POLLIN), level- or edge-triggered.
    ///
    /// The descriptor says "look" once per arm(). After it became readable, and once at the
    /// start, poll until there is nothing left, then arm(), and poll again if arm() says so:
    ///
    ///   do {
    ///       while (subscriber.poll(handler).records > 0) {}
    ///   } while (subscriber.arm());   // true: something came meanwhile; the fd may stay quiet
    ///   // back to the event loop: the descriptor will become readable
    ///
    /// arm() drains the descriptor, asks publishers to signal it, and looks again, in that order,
    /// so nothing committed before, during or after it goes unnoticed: either it returns true, or
    /// the descriptor becomes readable. A publisher that dies between committing a record and
    /// signalling delays the wake-up by at most one supervision interval of shmbusd (which
    /// signals a subscriber that has records and is not armed), or, with no daemon, until the
    /// event loop's own timeout.
    ///
    /// Arming costs a membarrier(2) unless the topic was created with fenced commits
    /// (TopicOptions::fenced_commits), the choice for topics read mostly from event loops.
    [[nodiscard]] int wake_fd();
    /// See wake_fd(). True: poll again before waiting. Also true if wake_fd() was never opened.
    [[nodiscard]] bool arm() noexcept;
    /// Whether poll() has something to do right now (a record, padding, an eviction to report).
    /// One load of one line; what arm() and WaitSet look at.
    [[nodiscard]] bool ready() const noexcept { return has_work(); }

    /// The position of the next frame to read: pass it to StartAt::position to resume here.
    [[nodiscard]] std::uint64_t position() const noexcept { return position_; }
    /// The sequence number the next record should carry, once known (after the first record,
    /// or at once for StartAt::latest()). Save it with position() to resume with exact losses.
    [[nodiscard]] std::uint64_t next_sequence() const noexcept { return expected_sequence_; }
    /// Records delivered to handlers.
    [[nodiscard]] std::uint64_t consumed() const noexcept { return consumed_; }
    /// Records publishers overwrote before this subscriber read them (overwrite topics, and a
    /// start from a position the ring has moved past).
    [[nodiscard]] std::uint64_t lost() const noexcept { return lost_; }
    /// Sequence numbers skipped by claims that were aborted or whose publisher died before
    /// committing: never records, never counted as lost.
    [[nodiscard]] std::uint64_t voided() const noexcept { return voided_; }
    /// Frames skipped because their header could not be right.
    [[nodiscard]] std::uint64_t corrupt() const noexcept { return corrupt_; }
    /// Times this subscriber found its slot wiped (its topic's state file truncated, or
    /// scribbled by another client) and put it back.
    [[nodiscard]] std::uint64_t slot_restorations() const noexcept { return reasserted_; }
    [[nodiscard]] std::uint32_t slot() const noexcept { return index_; }
    [[nodiscard]] const Topic& topic() const noexcept { return topic_; }

  private:
    enum class Step : std::uint8_t { kRecord, kSkipped, kSkippedCorrupt, kCaughtUp, kMoved };

    static constexpr std::size_t kMaxSkipsPerPoll = 4096;
    // The epoch of a moved-from subscriber: never the process's (detail::handle_epoch counts
    // lost topics and forks from 0), so its every call goes through revalidate().
    static constexpr std::uint32_t kClosedEpoch = ~std::uint32_t{0};
    /// A slot that reads FREE, for a moved-from subscriber to point at.
    static format::SubscriberSlot& closed_slot() noexcept;
    // Empty polls at one position between checks that the position is a real frame's.
    static constexpr std::uint32_t kOrphanCheck = 1024;

    /// The Record handed to a handler for the record at `position` (accepted by
    /// ring::accept_record), whose payload the caller passes: in place, or a validated copy.
    [[nodiscard, gnu::always_inline]] static Record make_record(const ring::ReadLayout& layout,
                                                                std::uint64_t position,
                                                                const ring::RecordFrame& frame,
                                                                const std::byte* payload) noexcept {
        const ring::RecordFields fields = ring::read_record_fields(layout, frame.frame);
        Record record;
        record.payload = std::span<const std::byte>(payload, frame.length);
        record.position = position;
        record.next_position = frame.next;
        record.sequence = fields.sequence;
        record.timestamp_ns = fields.timestamp_ns;
        record.publisher = fields.publisher;
        return record;
    }

    [[nodiscard]] Record record_at(std::uint64_t position, const ring::FrameInfo& frame,
                                   const std::byte* payload) const noexcept {
        const ring::ReadLayout layout = ring::read_layout(view_);
        const ring::RecordFrame record{layout.ring + (position & layout.mask), frame.length,
                                       frame.next};
        return make_record(layout, position, record, payload);
    }

    void account(std::uint64_t sequence) noexcept {
        if (sequence_known_ && sequence != expected_sequence_) {
            if (sequence > expected_sequence_) {
                const std::uint64_t gap = sequence - expected_sequence_;
                if (lapped_pending_) {
                    lost_ += gap;
                } else {
                    voided_ += gap;
                }
            } else {
                ++corrupt_;  // a sequence running backwards: a broken or hostile publisher
            }
        }
        sequence_known_ = true;
        lapped_pending_ = false;
        expected_sequence_ = sequence + 1;
    }

    [[nodiscard]] bool in_place(std::uint64_t position) const noexcept {
        return zero_copy_ && position >= safe_from_;
    }

    // The constructor's StartAt::sequence and StartAt::time: the start position, with the
    // expected sequence and lapped_pending_ set as the start requires.
    std::uint64_t start_at_sequence(std::uint64_t sequence, const ring::Tail& tail,
                                    const std::string& what);
    std::uint64_t start_at_time(std::uint64_t time_ns, const std::string& what);

    [[nodiscard]] bool lapped(std::uint64_t position) const noexcept {
        return ring::load_tail_position(view_.records->tail) > position + view_.capacity;
    }

    /// How a run of committed records ended: the records it handed over, and the commit word
    /// (loaded with acquire) of the frame it stopped at.
    struct RunEnd {
        std::size_t delivered = 0;
        std::uint64_t word = 0;
    };

    /// poll's work: publish=false leaves the new position ours alone (peek).
    template <typename Handler>
    PollResult read_records(Handler& handler, std::size_t limit, bool publish);

    template <typename Handler>
    RunEnd read_committed_run(std::uint64_t& position, Handler& handler, std::size_t limit);

    /// Takes over everything `other` holds and leaves it closed.
    void take_from(Subscriber& other) noexcept;
    /// Reads whatever publishers wrote into the wake FIFO.
    void drain_wake_fd() noexcept;
    friend class WaitSet;
    /// Our slot does not say ACTIVE. kEvicted if the daemon evicted us, kTopicLost if the topic
    /// is gone; kOk once a slot that was wiped (a truncated state file) or scribbled is put back.
    Status check_slot() noexcept;
    /// Writes our slot again from what we hold privately, as at attach (see check_slot).
    void reassert_slot() noexcept;
    Status revalidate() noexcept;
    Step read_copied(std::uint64_t& position, Record& record) noexcept;
    std::uint64_t recover_from_lap(std::uint64_t position) noexcept;
    std::uint64_t skip_corrupt(std::uint64_t position) noexcept;
    std::uint64_t skip_orphaned(std::uint64_t position) noexcept;
    void publish_position(std::uint64_t position) noexcept;
    [[nodiscard]] bool has_work() const noexcept;
    void detach() noexcept;

    Topic topic_;
    ring::TopicView view_;
    format::SubscriberSlot* slot_ = nullptr;
    SubscriberOptions options_;
    std::unique_ptr<std::byte[]> copy_buffer_;
    std::uint64_t position_ = 0;
    std::uint64_t safe_from_ = 0;  // in block topics, records from here on are read in place
    std::uint64_t expected_sequence_ = 0;
    std::uint64_t consumed_ = 0;
    std::uint64_t lost_ = 0;
    std::uint64_t voided_ = 0;
    std::uint64_t corrupt_ = 0;
    std::uint64_t corrupt_at_ = ~std::uint64_t{0};  // last position reported corrupt
    int lock_fd_ = -1;
    int wake_fd_ = -1;          // the read end of the slot's wake FIFO, once wake_fd() opened it
    Record peeked_record_{};    // what peek() handed out, valid until advance()
    bool peeked_ = false;       // a record is peeked and not yet advanced past
    bool unpublished_ = false;  // position_ is ahead of the position in the slot
    std::uint32_t index_ = 0;
    std::uint32_t slot_generation_ = 0;  // what attach wrote in the slot, to write it back
    std::uint64_t attached_ns_ = 0;
    std::uint64_t reasserted_ = 0;  // times the slot was put back
    std::uint32_t fork_generation_ = 0;
    std::uint32_t epoch_ = 0;
    std::uint32_t blocked_mask_words_ = 0;
    std::uint32_t unwritten_polls_ = 0;
    bool zero_copy_ = false;
    bool sequence_known_ = false;
    bool lapped_pending_ = false;
    bool attached_ = false;
};

// The common case of a zero-copy poll in one tight loop: committed records, each checked as
// ring::inspect_frame checks one, each carrying the sequence number expected next. The loop
// stops at the first frame that is anything else (not yet committed, padding, a wrap, a bad
// length, a gap in the sequence) and hands that frame's commit word to poll's general step,
// which classifies it in full. A caught-up subscriber so loads the line a publisher is about to
// write once per poll, not twice. The layout parameters are copied into locals first: the
// handler writes memory, and the compiler could not otherwise keep them in registers across it.
template <typename Handler>
Subscriber::RunEnd Subscriber::read_committed_run(std::uint64_t& position, Handler& handler,
                                                  std::size_t limit) {
    RunEnd end;
    if (!sequence_known_ || lapped_pending_) {
        // A gap to count or a first sequence to learn is account()'s work, in the general step.
        // Acquire: as in the loop below.
        end.word = atomics::load_acquire(view_.commit_word(position));
        return end;
    }
    const ring::ReadLayout layout = ring::read_layout(view_);
    std::uint64_t at = position;
    std::size_t delivered = 0;
    std::uint64_t word = 0;
    while (delivered < limit) {
        // Acquire: pairs with the publisher's release (or seq_cst) store of COMMITTED, so the
        // header fields and payload read below are the ones written before it.
        word = atomics::load_acquire(
            *reinterpret_cast<const std::uint64_t*>(layout.ring + (at & layout.mask)));
        ring::RecordFrame frame;
        if (!ring::accept_record(layout, at, word, frame)) break;  // poll's general step decodes it
        const Record record = make_record(layout, at, frame, frame.frame + layout.header_size);
        // voided, lost or corrupt: account() counts it, in poll's general step
        if (record.sequence != expected_sequence_) break;
        // As in account(): the next sequence is expected before the handler runs, and the record
        // counts as delivered, so that a handler that throws leaves exact counters (see poll).
        expected_sequence_ = record.sequence + 1;
        at = record.next_position;
        ++consumed_;
        ++delivered;
        try {
            handler(static_cast<const Record&>(record));
        } catch (...) {
            position = at;  // poll publishes it on the way out
            throw;
        }
    }
    position = at;
    end.delivered = delivered;
    end.word = word;  // the stopping frame's; when the limit ended the run, the caller stops too
    return end;
}

template <typename Handler>
PollResult Subscriber::poll(Handler&& handler, std::size_t limit) {
    if (peeked_) [[unlikely]]
        advance();  // the record peek() handed out counts as read
    return read_records(handler, limit, true);
}

template <typename Handler>
PollResult Subscriber::read_records(Handler& handler, std::size_t limit, bool publish) {
    PollResult result;
    if (detail::handle_epoch() != epoch_) [[unlikely]] {
        result.status = revalidate();
        if (result.status != Status::kOk) return result;
    }
    // Relaxed: the slot is ours; what else can change it is the daemon's eviction, a truncation
    // of the state file, or a client scribbling on it, and nothing we read depends on seeing any
    // of those early.
    if (atomics::load_relaxed(slot_->state) != format::kSlotActive) [[unlikely]] {
        result.status = check_slot();
        if (result.status != Status::kOk) return result;
    }
    std::uint64_t position = position_;
    std::size_t steps = 0;
    const std::size_t max_steps = limit + kMaxSkipsPerPoll;
    // A throwing handler: every record up to and including the one it was handed is consumed,
    // and the position past it is published before the exception goes on (see the declaration).
    try {
        while (result.records < limit && steps++ < max_steps) {
            if (in_place(position)) {
                const RunEnd run = read_committed_run(position, handler, limit - result.records);
                result.records += run.delivered;
                if (result.records == limit) break;
                const ring::FrameInfo frame = ring::inspect_commit_word(view_, position, run.word);
                if (frame.kind == ring::FrameKind::kRecord) {
                    const Record record = record_at(position, frame, view_.payload(position));
                    account(record.sequence);
                    position = frame.next;
                    ++consumed_;
                    ++result.records;
                    handler(record);
                    continue;
                }
                if (frame.kind == ring::FrameKind::kPadding ||
                    frame.kind == ring::FrameKind::kWrap) {
                    position = frame.next;
                    continue;
                }
                if (frame.kind == ring::FrameKind::kCorrupt) {
                    const std::uint64_t next = skip_corrupt(position);
                    if (next == position) break;
                    result.status = Status::kCorrupt;
                    position = next;
                    continue;
                }
                // Unwritten or still being written: caught up. Now and then, make sure "unwritten"
                // is a claim in flight and not a position no frame starts at.
                if (frame.kind == ring::FrameKind::kUnwritten &&
                    ++unwritten_polls_ >= kOrphanCheck) {
                    unwritten_polls_ = 0;
                    const std::uint64_t next = skip_orphaned(position);
                    if (next != position) {
                        ++corrupt_;
                        result.status = Status::kCorrupt;
                        position = next;
                        continue;
                    }
                }
                break;
            }
            Record record;
            const Step step = read_copied(position, record);
            if (step == Step::kCaughtUp) {
                if (++unwritten_polls_ < kOrphanCheck) break;
                unwritten_polls_ = 0;
                const std::uint64_t next = skip_orphaned(position);
                if (next == position) break;
                ++corrupt_;
                result.status = Status::kCorrupt;
                position = next;
                continue;
            }
            if (step == Step::kSkippedCorrupt) result.status = Status::kCorrupt;
            if (step == Step::kRecord) {
                account(record.sequence);
                ++consumed_;
                ++result.records;
                handler(record);
            }
        }
    } catch (...) {
        publish_position(position);
        throw;
    }
    if (position != position_) {
        if (publish) {
            publish_position(position);
        } else {
            position_ = position;  // ours, not yet the publishers' (see peek)
            unpublished_ = true;
        }
    }
    return result;
}

}  // namespace shmbus
