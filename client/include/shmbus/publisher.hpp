// Publishing records.
//
//   shmbus::Publisher publisher(topic);
//   publisher.offer(bytes);                         // copy in; waits while back-pressured
//   if (auto claim = publisher.try_claim(64)) {     // zero-copy: write in place
//       std::memcpy(claim.payload().data(), data, 64);
//       claim.commit();
//   }
//
// Claiming, writing and committing are plain memory operations and atomics: no system call, no
// lock, no allocation. A commit makes a system call only when a subscriber is asleep, to wake it.
// A publisher holds at most one uncommitted claim at a time.
//
// Threads: a Publisher (and its Claims) is used by one thread at a time; give each thread that
// publishes a Publisher of its own (they may share one Topic), which is also faster than sharing
// one behind a lock. Publishers in any number of threads and processes may publish to one topic
// at once. After fork(), a parent's publisher returns kForked in the child.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "shmbus/detail/handle_guard.hpp"
#include "shmbus/detail/ring/appender.hpp"
#include "shmbus/detail/sync/wake_masks.hpp"
#include "shmbus/detail/util/fault_injection.hpp"
#include "shmbus/detail/util/small_copy.hpp"
#include "shmbus/status.hpp"
#include "shmbus/topic.hpp"

namespace shmbus {

inline constexpr std::chrono::nanoseconds kForever = std::chrono::nanoseconds::max();

struct PublisherOptions {
    /// How long a publisher held back by a subscriber spins before it sleeps.
    std::chrono::nanoseconds spin = std::chrono::microseconds(20);
};

class Publisher;

/// A claimed frame. Write the payload, then commit() or abort(); destroying a pending claim
/// aborts it. Converts to true when the claim succeeded.
class Claim {
  public:
    Claim() = default;
    Claim(Claim&& other) noexcept { *this = std::move(other); }
    Claim& operator=(Claim&& other) noexcept;
    Claim(const Claim&) = delete;
    Claim& operator=(const Claim&) = delete;
    ~Claim() { abort(); }

    [[nodiscard]] explicit operator bool() const noexcept { return owner_ != nullptr; }
    [[nodiscard]] Status status() const noexcept { return status_; }
    /// The frame's payload while the claim is pending; empty once it is committed or aborted (the
    /// bytes then belong to subscribers, or to a later record).
    [[nodiscard]] std::span<std::byte> payload() const noexcept {
        return owner_ != nullptr ? frame_.payload : std::span<std::byte>();
    }
    /// Absolute position of the frame in the topic.
    [[nodiscard]] std::uint64_t position() const noexcept { return frame_.position; }

    Status commit() noexcept;
    void abort() noexcept;

  private:
    friend class Publisher;
    Claim(Publisher* owner, const ring::Claimed& frame) noexcept : owner_(owner), frame_(frame) {}
    explicit Claim(Status status) noexcept : status_(status) {}

    Publisher* owner_ = nullptr;
    ring::Claimed frame_{};
    Status status_ = Status::kOk;
};

/// Consecutive claimed frames for several records, claimed with one CAS. Write each payload,
/// then commit() (one fence for the whole batch) or abort(); destroying a pending batch aborts
/// it. size() may be smaller than the number of lengths asked for: the prefix that fitted.
class BatchClaim {
  public:
    BatchClaim() = default;
    BatchClaim(BatchClaim&& other) noexcept { *this = std::move(other); }
    BatchClaim& operator=(BatchClaim&& other) noexcept;
    BatchClaim(const BatchClaim&) = delete;
    BatchClaim& operator=(const BatchClaim&) = delete;
    ~BatchClaim() { abort(); }

    [[nodiscard]] explicit operator bool() const noexcept { return owner_ != nullptr; }
    [[nodiscard]] Status status() const noexcept { return status_; }
    [[nodiscard]] std::size_t size() const noexcept { return batch_.count; }
    /// The payload of record `index` (< size()).
    [[nodiscard]] std::span<std::byte> payload(std::size_t index) const noexcept;

    Status commit() noexcept;
    void abort() noexcept;

  private:
    friend class Publisher;
    explicit BatchClaim(Status status) noexcept : status_(status) {}

    Publisher* owner_ = nullptr;
    ring::ClaimedBatch batch_{};
    std::array<std::uint32_t, ring::kMaxBatch> lengths_{};
    Status status_ = Status::kOk;
};

class Publisher {
  public:
    /// Attaches to `topic` (opened with Access::kPublish or kAdmin). Throws shmbus::Error:
    /// kPermission if the topic is open for subscribing only, kNoSlot if every slot is taken.
    explicit Publisher(const Topic& topic, const PublisherOptions& options = {});
    ~Publisher();
    /// Not movable: a pending Claim or BatchClaim points at its publisher, and the claim paths
    /// stay one load shorter for it. To move a publisher between owners, hold it in a
    /// std::unique_ptr (or std::optional, emplaced where it lives).
    Publisher(Publisher&&) = delete;
    Publisher& operator=(Publisher&&) = delete;
    Publisher(const Publisher&) = delete;
    Publisher& operator=(const Publisher&) = delete;

    /// Claims room for `length` payload bytes without waiting. Fails with kBackPressured,
    /// kTooLarge, kClaimPending, kForked or kCorrupt.
    [[nodiscard]] Claim try_claim(std::size_t length) noexcept {
        const Status check = ready_to_claim(length);
        if (check != Status::kOk) return Claim(check);
        ring::Claimed frame;
        const auto outcome = appender_.try_claim(static_cast<std::uint32_t>(length), frame);
        if (outcome != ring::ClaimOutcome::kClaimed) return Claim(status_of(outcome));
        claim_pending_ = true;
        return Claim(this, frame);
    }

    /// Claims room for `length` bytes, waiting up to `timeout` while back-pressured.
    [[nodiscard]] Claim claim(std::size_t length,
                              std::chrono::nanoseconds timeout = kForever) noexcept;

    /// Copies `record` into the topic without waiting.
    [[nodiscard]] Status try_offer(std::span<const std::byte> record) noexcept {
        Claim claim = try_claim(record.size());
        if (!claim) return claim.status();
        copy_payload(claim.payload(), record);
        return claim.commit();
    }

    /// Copies `record` into the topic, waiting up to `timeout` while back-pressured.
    [[nodiscard]] Status offer(std::span<const std::byte> record,
                               std::chrono::nanoseconds timeout = kForever) noexcept;

    /// Claims frames for the first records of `lengths` (up to 64) with one CAS, without
    /// waiting: the longest prefix that fits. Fails like try_claim when not even one fits, and
    /// with kInvalidArgument when `lengths` is empty.
    [[nodiscard]] BatchClaim try_claim_batch(std::span<const std::uint32_t> lengths) noexcept;

    /// Copies as many of `records` as fit right now, with one claim per 64 and one fence per
    /// claim; `published` receives how many. kOk if at least one was published, and for an
    /// empty `records` (nothing to do: 0 published).
    [[nodiscard]] Status try_offer_batch(std::span<const std::span<const std::byte>> records,
                                         std::size_t& published) noexcept;

    /// Copies all of `records`, waiting up to `timeout` (for the whole batch) while
    /// back-pressured. On kTimedOut, `published` says how many made it.
    [[nodiscard]] Status offer_batch(std::span<const std::span<const std::byte>> records,
                                     std::size_t& published,
                                     std::chrono::nanoseconds timeout = kForever) noexcept;

    /// Writes the topic's records back to its file and waits: when it returns, every record
    /// committed to the topic before the call (by any publisher) is on the file, as durable as
    /// fdatasync(2) makes it. A system call and a disk write: call it at the points that must
    /// survive a power loss, not per record. On a tmpfs it returns at once, and nothing is made
    /// durable (docs/RELIABILITY.md, "Durable topics"). A pending claim is not committed by it.
    /// Throws shmbus::Error naming the topic when the kernel reports a failure (EIO, ENOMEM), or
    /// when the topic's files were truncated under this process.
    void flush();

    [[nodiscard]] std::uint32_t slot() const noexcept { return appender_.slot_index(); }
    [[nodiscard]] const Topic& topic() const noexcept { return topic_; }

  private:
    friend class Claim;
    friend class BatchClaim;

    template <typename Attempt>
    auto wait_for_room(Attempt&& attempt, std::chrono::nanoseconds timeout) noexcept;

    /// kOk while nothing has happened to the topic's files or the process since the last call
    /// (one load); else what revalidate() finds: the topic lost, the handle forked.
    Status still_usable() noexcept {
        if (detail::handle_epoch() == epoch_) [[likely]]
            return Status::kOk;
        return revalidate();
    }

    /// still_usable(), for a pending claim: when the handle is not usable any more, the claim's
    /// frames are not ours to stamp either (a lost topic's are zero pages, a forked child's are
    /// the parent's), so the claim is forgotten, never committed or aborted.
    Status claim_still_ours() noexcept {
        const Status status = still_usable();
        if (status != Status::kOk) [[unlikely]]
            forget_claim();
        return status;
    }

    Status ready_to_claim(std::size_t length) noexcept {
        if (const Status status = still_usable(); status != Status::kOk) return status;
        if (claim_pending_) return Status::kClaimPending;
        if (length > appender_.view().max_record_size) return Status::kTooLarge;
        return Status::kOk;
    }

    /// Copies `record` into a claimed frame of its size. Test builds pass the mid_payload fault
    /// point halfway, so a crash test can kill a publisher with half a payload written.
    static void copy_payload(std::span<std::byte> frame,
                             std::span<const std::byte> record) noexcept {
#if defined(SHMBUS_FAULT_INJECTION)
        const std::size_t half = record.size() / 2;
        if (half != 0) std::memcpy(frame.data(), record.data(), half);
        SHMBUS_FAULT_POINT(fault::Point::kMidPayload);
        if (record.size() != half) {
            std::memcpy(frame.data() + half, record.data() + half, record.size() - half);
        }
#else
        util::copy_payload_bytes(frame.data(), record.data(), record.size());
#endif
    }

    static Status status_of(ring::ClaimOutcome outcome) noexcept {
        switch (outcome) {
            case ring::ClaimOutcome::kClaimed:
                return Status::kOk;
            case ring::ClaimOutcome::kBackPressured:
                return Status::kBackPressured;
            case ring::ClaimOutcome::kTooLarge:
                return Status::kTooLarge;
            case ring::ClaimOutcome::kCorrupt:
                return Status::kCorrupt;
        }
        return Status::kCorrupt;
    }

    void finish_commit(const ring::Claimed& frame) noexcept {
        appender_.commit(frame);
        claim_pending_ = false;
        const ring::TopicView& view = appender_.view();
        // seq_cst loads after the seq_cst commit store: the waker's half of the Dekker pair in
        // sync/wake_masks.hpp. Nobody asleep: no system call.
        if (sync::anyone_asleep(view.state->sleeping_subscribers, sleep_mask_words_)) {
            wake_subscribers();
        }
    }

    void finish_abort(const ring::Claimed& frame) noexcept {
        appender_.abort(frame);
        claim_pending_ = false;
    }

    void finish_commit_batch(const ring::ClaimedBatch& batch) noexcept {
        appender_.commit_batch(batch);
        claim_pending_ = false;
        const ring::TopicView& view = appender_.view();
        // After commit_batch's seq_cst fence: the waker's half of the Dekker pair.
        if (sync::anyone_asleep(view.state->sleeping_subscribers, sleep_mask_words_)) {
            wake_subscribers();
        }
    }

    void finish_abort_batch(const ring::ClaimedBatch& batch) noexcept {
        appender_.abort_batch(batch);
        claim_pending_ = false;
    }

    /// After a change of the handle epoch: kForked, kTopicLost, or kOk (and the new epoch).
    Status revalidate() noexcept;
    /// For a pending claim when revalidate() failed: the frame is not ours to touch any more.
    void forget_claim() noexcept {
        claim_pending_ = false;
    }
    void wake_subscribers() noexcept;
    /// Writes a byte into subscriber slot `index`'s wake FIFO, opening it on first use.
    void signal_wake_fifo(std::uint32_t index) noexcept;
    void detach() noexcept;

    Topic topic_;
    ring::SubscriberWatch watch_;
    ring::Appender appender_;
    PublisherOptions options_;
    int lock_fd_ = -1;
    // Per subscriber slot, the wake FIFO opened for reading and writing (format/wake_fifo.hpp):
    // kNotOpened until the first wake-up by FIFO of that slot, kUnusable if it could not be.
    static constexpr int kNotOpened = -2;
    static constexpr int kUnusable = -1;
    std::vector<int> wake_fds_;
    std::uint32_t fork_generation_ = 0;
    std::uint32_t epoch_ = 0;
    std::uint32_t sleep_mask_words_ = 0;
    bool claim_pending_ = false;
    bool attached_ = false;
};

inline Claim& Claim::operator=(Claim&& other) noexcept {
    if (this != &other) {
        abort();
        owner_ = other.owner_;
        frame_ = other.frame_;
        status_ = other.status_;
        other.owner_ = nullptr;
    }
    return *this;
}

inline Status Claim::commit() noexcept {
    if (owner_ == nullptr) return Status::kNoClaim;
    Publisher* const owner = std::exchange(owner_, nullptr);
    if (const Status status = owner->claim_still_ours(); status != Status::kOk) return status;
    owner->finish_commit(frame_);
    return Status::kOk;
}

inline void Claim::abort() noexcept {
    if (owner_ == nullptr) return;
    Publisher* const owner = std::exchange(owner_, nullptr);
    if (owner->claim_still_ours() == Status::kOk) owner->finish_abort(frame_);
}

inline BatchClaim& BatchClaim::operator=(BatchClaim&& other) noexcept {
    if (this != &other) {
        abort();
        owner_ = other.owner_;
        batch_ = other.batch_;
        lengths_ = other.lengths_;
        status_ = other.status_;
        other.owner_ = nullptr;
    }
    return *this;
}

inline std::span<std::byte> BatchClaim::payload(std::size_t index) const noexcept {
    if (owner_ == nullptr || index >= batch_.count) return {};
    std::byte* frame = batch_.first;
    for (std::size_t i = 0; i < index; ++i)
        frame += batch_.frame_sizes[i];
    return std::span<std::byte>(frame + owner_->appender_.view().record_header_size,
                                lengths_[index]);
}

inline Status BatchClaim::commit() noexcept {
    if (owner_ == nullptr) return Status::kNoClaim;
    Publisher* const owner = std::exchange(owner_, nullptr);
    if (const Status status = owner->claim_still_ours(); status != Status::kOk) return status;
    owner->finish_commit_batch(batch_);
    return Status::kOk;
}

inline void BatchClaim::abort() noexcept {
    if (owner_ == nullptr) return;
    Publisher* const owner = std::exchange(owner_, nullptr);
    if (owner->claim_still_ours() == Status::kOk) owner->finish_abort_batch(batch_);
}

inline BatchClaim Publisher::try_claim_batch(std::span<const std::uint32_t> lengths) noexcept {
    if (lengths.empty()) return BatchClaim(Status::kInvalidArgument);
    const Status check = ready_to_claim(0);
    if (check != Status::kOk) return BatchClaim(check);
    BatchClaim claimed;
    const std::size_t count = lengths.size() < ring::kMaxBatch ? lengths.size() : ring::kMaxBatch;
    for (std::size_t i = 0; i < count; ++i)
        claimed.lengths_[i] = lengths[i];
    const auto outcome = appender_.try_claim_batch(
        claimed.lengths_.data(), static_cast<std::uint32_t>(count), claimed.batch_);
    if (outcome != ring::ClaimOutcome::kClaimed) return BatchClaim(status_of(outcome));
    claim_pending_ = true;
    claimed.owner_ = this;
    return claimed;
}

inline Status Publisher::try_offer_batch(std::span<const std::span<const std::byte>> records,
                                         std::size_t& published) noexcept {
    published = 0;
    // No BatchClaim here: the frames are claimed, filled and committed within this call, so the
    // claim reads the lengths from the caller's spans instead of a copy of them in a handle.
    while (published < records.size()) {
        const Status check = ready_to_claim(0);
        if (check != Status::kOk) return published > 0 ? Status::kOk : check;
        const std::span<const std::span<const std::byte>> batch_records = records.subspan(
            published, std::min<std::size_t>(records.size() - published, ring::kMaxBatch));
        ring::ClaimedBatch batch;
        const auto outcome = appender_.try_claim_batch(
            [batch_records](std::uint32_t i) noexcept -> std::uint64_t {
                return batch_records[i].size();
            },
            static_cast<std::uint32_t>(batch_records.size()), batch);
        if (outcome != ring::ClaimOutcome::kClaimed) {
            return published > 0 ? Status::kOk : status_of(outcome);
        }
        claim_pending_ = true;
        // The batch's frames are contiguous (ring::ClaimedBatch): walk them by address. The first
        // frame's payload goes last, next to its commit (see ring/appender.hpp, "The first
        // frame's line").
        std::byte* const first_payload = batch.first + appender_.view().record_header_size;
        std::byte* payload = first_payload + batch.frame_sizes[0];
        for (std::uint32_t i = 1; i < batch.count; ++i) {
            copy_payload(std::span<std::byte>(payload, batch_records[i].size()), batch_records[i]);
            payload += batch.frame_sizes[i];
        }
        copy_payload(std::span<std::byte>(first_payload, batch_records[0].size()),
                     batch_records[0]);
        if (const Status status = claim_still_ours(); status != Status::kOk) {
            return published > 0 ? Status::kOk : status;
        }
        finish_commit_batch(batch);
        published += batch.count;
    }
    return Status::kOk;
}

}  // namespace shmbus
