// What every benchmark record carries so that the reader can prove nothing was lost, repeated
// or reordered: the writer's sequence number in bytes 0-7 and the writer's number in bytes
// 8-15. The rest of the payload is whatever the buffer held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace shmbus::bench {

inline constexpr std::size_t kMinRecordSize = 16;

inline void stamp_record(std::span<std::byte> record, std::uint64_t writer,
                         std::uint64_t sequence) noexcept {
    std::memcpy(record.data(), &sequence, sizeof(sequence));
    std::memcpy(record.data() + 8, &writer, sizeof(writer));
}

[[nodiscard]] inline std::uint64_t sequence_of(std::span<const std::byte> record) noexcept {
    std::uint64_t sequence = 0;
    if (record.size() >= 8) std::memcpy(&sequence, record.data(), sizeof(sequence));
    return sequence;
}

/// The reader's side: each writer's records must arrive with sequence 0, 1, 2, ... and the
/// expected length.
class SequenceCheck {
  public:
    SequenceCheck(std::size_t writers, std::size_t record_size)
        : expected_(writers, 0), record_size_(record_size) {}

    void check(std::span<const std::byte> record) noexcept {
        ++received_;
        if (record.size() != record_size_ || record.size() < kMinRecordSize) {
            ++errors_;
            return;
        }
        std::uint64_t sequence = 0;
        std::uint64_t writer = 0;
        std::memcpy(&sequence, record.data(), sizeof(sequence));
        std::memcpy(&writer, record.data() + 8, sizeof(writer));
        if (writer >= expected_.size()) {
            ++errors_;
            return;
        }
        if (sequence != expected_[writer]) ++errors_;
        expected_[writer] = sequence + 1;
    }

    [[nodiscard]] std::uint64_t received() const noexcept { return received_; }
    [[nodiscard]] std::uint64_t errors() const noexcept { return errors_; }

  private:
    std::vector<std::uint64_t> expected_;
    std::size_t record_size_;
    std::uint64_t received_ = 0;
    std::uint64_t errors_ = 0;
};

}  // namespace shmbus::bench
