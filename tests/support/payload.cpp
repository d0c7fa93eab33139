#include "support/payload.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace shmbus::test {
namespace {

constexpr std::uint64_t kLengthSalt = 0x6C656E67'74680000ull;
constexpr std::uint64_t kContentSalt = 0x636F6E74'656E7400ull;
constexpr std::uint64_t kChecksumSalt = 0x63686563'6B000000ull;

std::uint64_t key(std::uint32_t slot, std::uint64_t counter, std::uint64_t salt) noexcept {
    return mix64(mix64(salt ^ slot) ^ counter);
}

// Fills `out` with bytes drawn from `seed`: xorshift64*, one word per 8 bytes.
void fill_stream(std::byte* out, std::size_t size, std::uint64_t seed) noexcept {
    std::uint64_t state = seed | 1;
    while (size > 0) {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        const std::uint64_t word = state * 0x2545F4914F6CDD1Dull;
        const std::size_t n = std::min<std::size_t>(size, sizeof word);
        std::memcpy(out, &word, n);
        out += n;
        size -= n;
    }
}

std::uint64_t checksum_seed(std::uint32_t slot, std::size_t length) noexcept {
    return key(slot, length, kChecksumSalt);
}

std::string hex(std::uint64_t value) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text = "0x";
    for (int shift = 60; shift >= 0; shift -= 4)
        text += kDigits[(value >> shift) & 0xf];
    return text;
}

}  // namespace

std::uint64_t checksum(std::span<const std::byte> bytes, std::uint64_t seed) noexcept {
    std::uint64_t hash = seed ^ (bytes.size() * 0x9E3779B97F4A7C15ull);
    std::size_t i = 0;
    for (; i + 8 <= bytes.size(); i += 8) {
        std::uint64_t word;
        std::memcpy(&word, bytes.data() + i, sizeof word);
        hash = std::rotl((hash ^ word) * 0xFF51AFD7ED558CCDull, 29);
    }
    std::uint64_t rest = 0;
    // An empty span may have no data at all: memcpy from a null pointer is undefined, even of
    // zero bytes.
    if (i < bytes.size()) std::memcpy(&rest, bytes.data() + i, bytes.size() - i);
    return mix64(hash ^ rest);
}

std::uint32_t record_length(std::uint32_t slot, std::uint64_t counter, std::uint32_t max) noexcept {
    const std::uint64_t draw = key(slot, counter, kLengthSalt);
    const std::uint64_t above = draw >> 8;
    switch (draw & 15) {
        case 0:
            return 0;
        case 1:
            return max;
        case 2:
            return max == 0 ? 0 : 1 + static_cast<std::uint32_t>(above % std::min(16u, max));
        case 3:
            return max - static_cast<std::uint32_t>(above % (std::min(8u, max) + 1));
        default:
            return static_cast<std::uint32_t>(above % (std::uint64_t{max} + 1));
    }
}

void fill_record(std::span<std::byte> out, std::uint32_t slot, std::uint64_t counter) noexcept {
    const std::uint64_t content = key(slot, counter, kContentSalt);
    if (out.size() < kCountedLength) {
        fill_stream(out.data(), out.size(), content);
        return;
    }
    std::memcpy(out.data(), &counter, sizeof counter);
    fill_stream(out.data() + 8, out.size() - 16, content);
    const std::uint64_t sum = checksum(out.first(out.size() - 8), checksum_seed(slot, out.size()));
    std::memcpy(out.data() + out.size() - 8, &sum, sizeof sum);
}

std::optional<std::uint64_t> carried_counter(std::span<const std::byte> payload) noexcept {
    if (payload.size() < kCountedLength) return std::nullopt;
    std::uint64_t counter;
    std::memcpy(&counter, payload.data(), sizeof counter);
    return counter;
}

std::optional<std::string> check_record(std::span<const std::byte> payload, std::uint32_t slot,
                                        std::uint64_t counter, std::uint32_t max) {
    // Built only when the record is wrong: this runs for every record a test delivers.
    const auto which = [&] {
        return "record " + std::to_string(counter) + " of slot " + std::to_string(slot);
    };
    const std::uint32_t length = record_length(slot, counter, max);
    if (payload.size() != length) {
        return which() + ": " + std::to_string(payload.size()) + " bytes, expected " +
               std::to_string(length);
    }
    if (length < kCountedLength) {
        std::byte expected[kCountedLength];
        fill_stream(expected, length, key(slot, counter, kContentSalt));
        if (length != 0 && std::memcmp(expected, payload.data(), length) != 0) {
            return which() + ": its " + std::to_string(length) + " bytes differ from what was sent";
        }
        return std::nullopt;
    }
    if (*carried_counter(payload) != counter) {
        return which() + ": carries counter " + std::to_string(*carried_counter(payload));
    }
    std::uint64_t stored;
    std::memcpy(&stored, payload.data() + length - 8, sizeof stored);
    const std::uint64_t computed = checksum(payload.first(length - 8), checksum_seed(slot, length));
    if (stored != computed) {
        return which() + " (" + std::to_string(length) + " bytes): checksum " + hex(stored) +
               ", computed " + hex(computed);
    }
    return std::nullopt;
}

RecordChecker::RecordChecker(std::uint32_t max_record_size, std::uint32_t slots, bool exact)
    : max_(max_record_size), exact_(exact), slots_(slots) {}

std::optional<std::string> RecordChecker::accept(std::uint32_t slot,
                                                 std::span<const std::byte> payload,
                                                 std::uint64_t lost_before) {
    if (slot >= slots_.size()) {
        return "a record from publisher slot " + std::to_string(slot) + ", but only " +
               std::to_string(slots_.size()) + " publishers write this topic";
    }
    if (lost_before != 0) {
        if (exact_)
            return std::to_string(lost_before) + " records reported lost on a lossless topic";
        for (auto& other : slots_)
            other.lost_since += lost_before;
    }
    Slot& state = slots_[slot];
    const std::uint64_t highest = state.high + state.lost_since;
    std::uint64_t first_match = 0;
    std::uint64_t last_match = 0;
    if (const auto carried = carried_counter(payload)) {
        const std::uint64_t counter = *carried;
        if (counter < state.low || counter > highest) {
            return "slot " + std::to_string(slot) + " delivered counter " +
                   std::to_string(counter) + " where " + std::to_string(state.low) +
                   (highest != state.low ? ".." + std::to_string(highest) : std::string()) +
                   " was possible (out of order, repeated, or skipped without counting it lost)";
        }
        if (auto problem = check_record(payload, slot, counter, max_)) return problem;
        first_match = last_match = counter;
    } else {
        bool found = false;
        for (std::uint64_t counter = state.low; counter <= highest; ++counter) {
            if (record_length(slot, counter, max_) != payload.size()) continue;
            if (check_record(payload, slot, counter, max_)) continue;
            if (!found) first_match = counter;
            last_match = counter;
            found = true;
        }
        if (!found) {
            return "slot " + std::to_string(slot) + " delivered a " +
                   std::to_string(payload.size()) + "-byte record matching no counter in " +
                   std::to_string(state.low) + ".." + std::to_string(highest) +
                   (exact_ ? "" : " (torn, or skipped records not counted lost)");
        }
    }
    state.low = first_match + 1;
    state.high = last_match + 1;
    state.lost_since = 0;
    ++state.delivered;
    digest_ = mix64(digest_ ^ mix64((std::uint64_t{slot} << 48) ^ first_match));
    return std::nullopt;
}

}  // namespace shmbus::test
