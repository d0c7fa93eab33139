#include "record_format.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "exit_status.hpp"
#include "shmbus/detail/util/topic_name.hpp"

namespace shmbus::cli {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Payload bytes to encode at a time, so that a record of any size goes through the buffer: a
/// piece's hex or base64 fits a quarter of it, and is a multiple of 3 so base64 pieces join up.
std::size_t piece_bytes(const OutputBuffer& out) noexcept {
    return std::max<std::size_t>(3, out.capacity() / 4 / 3 * 3);
}

constexpr std::size_t kMaxDigits = 20;  // of a 64-bit unsigned number

char* put(char* to, std::string_view text) noexcept {
    std::memcpy(to, text.data(), text.size());
    return to + text.size();
}

char* put_number(char* to, std::uint64_t value) noexcept {
    return std::to_chars(to, to + kMaxDigits, value).ptr;
}

void write_text(OutputBuffer& out, std::span<const std::byte> payload) {
    out.append(std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()));
    out.append('\n');
}

void write_hex(OutputBuffer& out, std::span<const std::byte> payload) {
    while (!payload.empty()) {
        const auto piece = payload.first(std::min(payload.size(), piece_bytes(out)));
        encode_hex(piece, out.reserve(hex_size(piece.size())));
        out.commit(hex_size(piece.size()));
        payload = payload.subspan(piece.size());
    }
}

void write_base64(OutputBuffer& out, std::span<const std::byte> payload) {
    while (!payload.empty()) {
        const auto piece = payload.first(std::min(payload.size(), piece_bytes(out)));
        encode_base64(piece, out.reserve(base64_size(piece.size())));
        out.commit(base64_size(piece.size()));
        payload = payload.subspan(piece.size());
    }
}

void write_json(OutputBuffer& out, const Record& record, std::string_view topic) {
    constexpr std::size_t kHeadRoom = 128 + 6 * kMaxDigits + kMaxTopicName;
    char* const start = out.reserve(kHeadRoom);
    // A valid topic name needs no escaping; the caller opened the topic by it.
    char* to = put(start, "{\"topic\":\"");
    to = put(to, topic.substr(0, kMaxTopicName));
    to = put(to, "\",\"sequence\":");
    to = put_number(to, record.sequence);
    to = put(to, ",\"position\":");
    to = put_number(to, record.position);
    to = put(to, ",\"next_position\":");
    to = put_number(to, record.next_position);
    to = put(to, ",\"timestamp_ns\":");
    to = put_number(to, record.timestamp_ns);
    to = put(to, ",\"publisher\":");
    to = put_number(to, record.publisher);
    to = put(to, ",\"length\":");
    to = put_number(to, record.payload.size());
    to = put(to, ",\"payload_base64\":\"");
    out.commit(static_cast<std::size_t>(to - start));
    write_base64(out, record.payload);
    out.append("\"}\n");
}

}  // namespace

RecordFormat parse_record_format(std::string_view option, std::string_view text) {
    if (text == "text") return RecordFormat::kText;
    if (text == "hex") return RecordFormat::kHex;
    if (text == "json") return RecordFormat::kJson;
    throw Failure(ExitStatus::kUsage,
                  fmt::format("{}: '{}' is not a format ('text', 'hex' or 'json')", option, text));
}

void write_record(OutputBuffer& out, const Record& record, std::string_view topic,
                  RecordStyle style) {
    if (style.prefix && style.format != RecordFormat::kJson) {
        out.append(topic);
        out.append(": ");
    }
    switch (style.format) {
        case RecordFormat::kText:
            write_text(out, record.payload);
            return;
        case RecordFormat::kHex:
            write_hex(out, record.payload);
            out.append('\n');
            return;
        case RecordFormat::kJson:
            write_json(out, record, topic);
            return;
    }
}

void encode_hex(std::span<const std::byte> bytes, char* to) noexcept {
    for (const std::byte b : bytes) {
        const auto value = static_cast<unsigned>(b);
        *to++ = kHexDigits[value >> 4];
        *to++ = kHexDigits[value & 0xf];
    }
}

void encode_base64(std::span<const std::byte> bytes, char* to) noexcept {
    std::size_t i = 0;
    const std::size_t n = bytes.size();
    for (; i + 3 <= n; i += 3) {
        const std::uint32_t group = static_cast<std::uint32_t>(bytes[i]) << 16 |
                                    static_cast<std::uint32_t>(bytes[i + 1]) << 8 |
                                    static_cast<std::uint32_t>(bytes[i + 2]);
        *to++ = kBase64Alphabet[(group >> 18) & 0x3f];
        *to++ = kBase64Alphabet[(group >> 12) & 0x3f];
        *to++ = kBase64Alphabet[(group >> 6) & 0x3f];
        *to++ = kBase64Alphabet[group & 0x3f];
    }
    if (i == n) return;
    std::uint32_t group = static_cast<std::uint32_t>(bytes[i]) << 16;
    if (i + 1 < n) group |= static_cast<std::uint32_t>(bytes[i + 1]) << 8;
    *to++ = kBase64Alphabet[(group >> 18) & 0x3f];
    *to++ = kBase64Alphabet[(group >> 12) & 0x3f];
    *to++ = i + 1 < n ? kBase64Alphabet[(group >> 6) & 0x3f] : '=';
    *to++ = '=';
}

}  // namespace shmbus::cli
