// How `shmbus sub` prints a record.
//
//   text   the payload's bytes as they are, then '\n'
//   hex    the payload in lowercase hex, then '\n'
//   json   one object per line:
//          {"sequence":7,"position":448,"next_position":488,"timestamp_ns":1700000000000000000,
//           "publisher":0,"length":5,"payload_base64":"aGVsbG8="}
//          The payload is base64 (RFC 4648, standard alphabet, padded): lossless for any bytes.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "output_buffer.hpp"
#include "shmbus/subscriber.hpp"

namespace shmbus::cli {

enum class RecordFormat : std::uint8_t { kText, kHex, kJson };

/// "text", "hex" or "json"; throws Failure (kUsage) naming `option` otherwise.
[[nodiscard]] RecordFormat parse_record_format(std::string_view option, std::string_view text);

/// Appends `record` to `out` in `format`, newline included.
void write_record(OutputBuffer& out, const Record& record, RecordFormat format);

/// Encoders, exposed for tests. Each writes exactly *_size(n) bytes to `to`.
[[nodiscard]] constexpr std::size_t hex_size(std::size_t bytes) noexcept {
    return bytes * 2;
}
[[nodiscard]] constexpr std::size_t base64_size(std::size_t bytes) noexcept {
    return (bytes + 2) / 3 * 4;
}
void encode_hex(std::span<const std::byte> bytes, char* to) noexcept;
void encode_base64(std::span<const std::byte> bytes, char* to) noexcept;

}  // namespace shmbus::cli
