// The records the soak publishes: every byte follows from (publisher, incarnation, sequence), so
// a subscriber checks a record completely without knowing anything in advance.
//
//   offset  0  u32  magic "SOAK"
//           4  u16  publisher id (the orchestrator's numbering, not the library's slot)
//           6  u16  filler length F
//           8  u32  incarnation of that publisher (0, 1, ... one per start)
//          12  u32  zero
//          16  u64  sequence within the incarnation (0, 1, 2, ...)
//          24  u64  CLOCK_MONOTONIC nanoseconds just after the claim (for latency)
//          32  F    filler: byte i drawn from (publisher, incarnation, sequence, i)
//        32+F  u64  FNV-1a 64 of bytes [0, 32 + F)
//
// F itself is drawn from (publisher, incarnation, sequence), so a record cut short, stretched,
// or stitched together from two records fails the check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace shmbus::soak {

inline constexpr std::uint32_t kRecordMagic = 0x4B414F53;  // "SOAK" little-endian
inline constexpr std::size_t kRecordHeader = 32;
inline constexpr std::size_t kRecordOverhead = kRecordHeader + 8;
inline constexpr std::uint32_t kMaxFiller = 360;  // records are 40 to 400 bytes

struct RecordId {
    std::uint16_t publisher = 0;
    std::uint32_t incarnation = 0;
    std::uint64_t sequence = 0;
    friend bool operator==(const RecordId&, const RecordId&) = default;
};

/// splitmix64's finaliser: consecutive inputs give unrelated outputs.
[[nodiscard]] constexpr std::uint64_t mix64(std::uint64_t value) noexcept {
    value += 0x9E3779B97F4A7C15ull;
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ull;
    value = (value ^ (value >> 27)) * 0x94D049BB133111EBull;
    return value ^ (value >> 31);
}

[[nodiscard]] inline std::uint64_t fnv1a64(std::span<const std::byte> bytes) noexcept {
    std::uint64_t hash = 0xCBF29CE484222325ull;
    for (const std::byte byte : bytes) {
        hash ^= static_cast<std::uint64_t>(byte);
        hash *= 0x100000001B3ull;
    }
    return hash;
}

[[nodiscard]] inline std::uint64_t record_key(const RecordId& id) noexcept {
    return mix64((std::uint64_t{id.publisher} << 48) ^ (std::uint64_t{id.incarnation} << 32) ^
                 mix64(id.sequence));
}

[[nodiscard]] inline std::uint32_t filler_length(const RecordId& id) noexcept {
    return static_cast<std::uint32_t>(record_key(id) % (kMaxFiller + 1));
}

[[nodiscard]] inline std::size_t record_length(const RecordId& id) noexcept {
    return kRecordOverhead + filler_length(id);
}

[[nodiscard]] inline std::byte filler_byte(std::uint64_t key, std::uint32_t index) noexcept {
    return static_cast<std::byte>(mix64(key + index / 8) >> (8 * (index % 8)));
}

/// Writes record `id` into `out`, whose size must be record_length(id).
inline void write_record(std::span<std::byte> out, const RecordId& id,
                         std::uint64_t claimed_ns) noexcept {
    const std::uint32_t filler = filler_length(id);
    const std::uint16_t filler16 = static_cast<std::uint16_t>(filler);
    const std::uint32_t zero = 0;
    std::byte* p = out.data();
    std::memcpy(p + 0, &kRecordMagic, 4);
    std::memcpy(p + 4, &id.publisher, 2);
    std::memcpy(p + 6, &filler16, 2);
    std::memcpy(p + 8, &id.incarnation, 4);
    std::memcpy(p + 12, &zero, 4);
    std::memcpy(p + 16, &id.sequence, 8);
    std::memcpy(p + 24, &claimed_ns, 8);
    const std::uint64_t key = record_key(id);
    for (std::uint32_t i = 0; i < filler; ++i)
        p[kRecordHeader + i] = filler_byte(key, i);
    const std::uint64_t sum = fnv1a64(out.first(kRecordHeader + filler));
    std::memcpy(p + kRecordHeader + filler, &sum, 8);
}

/// What a subscriber makes of a payload.
struct DecodedRecord {
    RecordId id;
    std::uint64_t claimed_ns = 0;
    bool intact = false;  // every byte is what record `id` must hold
};

/// Decodes and checks `payload`. A payload too short to name its record decodes as not intact
/// with a zero id.
[[nodiscard]] inline DecodedRecord decode_record(std::span<const std::byte> payload) noexcept {
    DecodedRecord decoded;
    if (payload.size() < kRecordOverhead) return decoded;
    const std::byte* p = payload.data();
    std::uint32_t magic = 0;
    std::uint16_t filler = 0;
    std::uint32_t zero = 0;
    std::memcpy(&magic, p + 0, 4);
    std::memcpy(&decoded.id.publisher, p + 4, 2);
    std::memcpy(&filler, p + 6, 2);
    std::memcpy(&decoded.id.incarnation, p + 8, 4);
    std::memcpy(&zero, p + 12, 4);
    std::memcpy(&decoded.id.sequence, p + 16, 8);
    std::memcpy(&decoded.claimed_ns, p + 24, 8);
    if (magic != kRecordMagic || zero != 0 || filler != filler_length(decoded.id) ||
        payload.size() != kRecordOverhead + filler) {
        return decoded;
    }
    const std::uint64_t key = record_key(decoded.id);
    for (std::uint32_t i = 0; i < filler; ++i) {
        if (p[kRecordHeader + i] != filler_byte(key, i)) return decoded;
    }
    std::uint64_t sum = 0;
    std::memcpy(&sum, p + kRecordHeader + filler, 8);
    decoded.intact = sum == fnv1a64(payload.first(kRecordHeader + filler));
    return decoded;
}

}  // namespace shmbus::soak
