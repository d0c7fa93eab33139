// Small helpers for tests that publish and read a handful of records by hand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <shmbus/detail/format/frame_header.hpp>
#include <shmbus/shmbus.hpp>
#include <span>
#include <string_view>
#include <vector>

namespace shmbus::test {

class BusDirectory;

/// Creates topic `name` in `bus` with `options` and opens it (Access::kPublish).
[[nodiscard]] Topic create_and_open(const BusDirectory& bus, const TopicOptions& options,
                                    std::string_view name = "t");

/// Bytes a record of `length` payload bytes occupies in a topic with timestamps, the default:
/// a 24-byte header and the timestamp word before the payload.
[[nodiscard]] constexpr std::uint64_t frame_size(std::uint64_t length) {
    return format::frame_size(length, format::record_header_size(true));
}

/// A delivered record, copied out of the handler.
struct Received {
    std::vector<std::byte> payload;
    std::uint64_t position = 0;
    std::uint64_t next_position = 0;
    std::uint64_t sequence = 0;
    std::uint64_t timestamp_ns = 0;
    std::uint16_t publisher = 0;
};

/// Polls until a poll delivers nothing, at most `limit` records in all. `last` receives the
/// status of the last poll that reported anything other than kOk (kOk if none did).
std::vector<Received> drain(Subscriber& subscriber, Status* last = nullptr,
                            std::size_t limit = 1'000'000);

/// One poll of at most `limit` records.
std::vector<Received> poll_some(Subscriber& subscriber, std::size_t limit,
                                Status* status = nullptr);

[[nodiscard]] std::vector<std::byte> bytes_of(std::string_view text);
[[nodiscard]] std::vector<std::byte> filled(std::size_t size, std::uint8_t value);

}  // namespace shmbus::test
