// How `shmbus sub` prints a record.
//
//   text   the payload's bytes as they are, then '\n'; with prefix, "<topic>: " before them
//   hex    the payload in lowercase hex, then '\n'; with prefix, "<topic>: " before it
//   json   one object per line:
//          {"topic":"orders","sequence":7,"position":448,"next_position":488,
//           "timestamp_ns":1700000000000000000,"publisher":0,"length":5,"payload_base64":"aGVsbG8="}
//          The payload is base64 (RFC 4648, standard alphabet, padded): lossless for any bytes.
//          The topic is always there, with one topic too: one shape for every consumer.
//
// Nothing here is a general JSON writer: a topic name is [A-Za-z0-9._-] (topic_name.hpp) and
// needs no escaping, and the numbers and base64 need none either, so each record is a few
// memcpys and to_chars into the output buffer.
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

/// How records are printed: the format, and for text and hex whether each line starts with
/// "<topic>: " (json always names the topic).
struct RecordStyle {
    RecordFormat format = RecordFormat::kText;
    bool prefix = false;
};

/// Appends `record`, read from topic `topic` (a valid topic name), to `out` in `style`, newline
/// included.
void write_record(OutputBuffer& out, const Record& record, std::string_view topic,
                  RecordStyle style);

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
