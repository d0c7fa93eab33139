// Test records whose every byte can be checked by a subscriber that knows nothing in advance.
//
// Record number `counter` of the publisher in slot `slot` has a length and content that follow
// from (slot, counter) alone:
//
//   length >= 16   [counter, 8 bytes][filler ...][checksum of everything before it, 8 bytes]
//   length <  16   bytes drawn from (slot, counter); a subscriber that knows which counter to
//                  expect compares them, one that does not tries the few counters that fit
//
// Lengths cover 0 to the maximum, with the edges (0, 1-16, max) drawn more often than a uniform
// draw would.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace shmbus::test {

inline constexpr std::uint32_t kCountedLength = 16;  // from here on a record carries its counter

/// A 64-bit mix (splitmix64's finaliser): consecutive inputs give unrelated outputs.
[[nodiscard]] constexpr std::uint64_t mix64(std::uint64_t value) noexcept {
    value += 0x9E3779B97F4A7C15ull;
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ull;
    value = (value ^ (value >> 27)) * 0x94D049BB133111EBull;
    return value ^ (value >> 31);
}

/// A checksum of `bytes`, seeded so that records of different slots or lengths never agree.
[[nodiscard]] std::uint64_t checksum(std::span<const std::byte> bytes, std::uint64_t seed) noexcept;

/// The length of record `counter` of slot `slot` on a topic whose records are at most `max`.
[[nodiscard]] std::uint32_t record_length(std::uint32_t slot, std::uint64_t counter,
                                          std::uint32_t max) noexcept;

/// Writes record `counter` of slot `slot` into `out` (out.size() is its length).
void fill_record(std::span<std::byte> out, std::uint32_t slot, std::uint64_t counter) noexcept;

/// Why `payload` is not record `counter` of slot `slot`, or nullopt if it is.
[[nodiscard]] std::optional<std::string> check_record(std::span<const std::byte> payload,
                                                      std::uint32_t slot, std::uint64_t counter,
                                                      std::uint32_t max);

/// The counter a record of slot `slot` carries, if it is long enough to carry one (the checksum
/// is not checked here: use check_record with the result).
[[nodiscard]] std::optional<std::uint64_t> carried_counter(
    std::span<const std::byte> payload) noexcept;

/// Follows the records of every publisher slot in delivery order and checks each one.
///   exact (block topics)  every record, counters 0, 1, 2, ... per slot
///   gaps allowed          counters strictly increase per slot; a record too short to carry its
///                         counter must match one of the counters the gap leaves possible
class RecordChecker {
  public:
    RecordChecker(std::uint32_t max_record_size, std::uint32_t slots, bool exact);

    /// Checks the next delivered record of `slot`. `lost_before` is how many records the
    /// subscriber reported lost since the previous delivered record (any slot). Returns why the
    /// record is wrong, or nullopt.
    [[nodiscard]] std::optional<std::string> accept(std::uint32_t slot,
                                                    std::span<const std::byte> payload,
                                                    std::uint64_t lost_before);

    /// Records delivered for `slot`.
    [[nodiscard]] std::uint64_t delivered(std::uint32_t slot) const {
        return slots_.at(slot).delivered;
    }
    /// The lowest counter the next record of `slot` may carry.
    [[nodiscard]] std::uint64_t next_counter(std::uint32_t slot) const {
        return slots_.at(slot).low;
    }
    /// An order-sensitive digest of (slot, counter) of everything accepted: subscribers that
    /// saw the same records in the same order have the same digest.
    [[nodiscard]] std::uint64_t order_digest() const noexcept { return digest_; }

  private:
    std::uint32_t max_;
    bool exact_;
    struct Slot {
        // The next record's counter lies in [low, high + lost_since]. low == high except after
        // a short record in a gap, which may have matched more than one counter.
        std::uint64_t low = 0;
        std::uint64_t high = 0;
        std::uint64_t lost_since = 0;  // records lost (any slot) since this slot's last record
        std::uint64_t delivered = 0;
    };
    std::uint64_t digest_ = 0;
    std::vector<Slot> slots_;
};

}  // namespace shmbus::test
