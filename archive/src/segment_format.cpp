#include "shmbus/archive/segment_format.hpp"

// Header-only: the hash is inlined here, and nothing links libxxhash at run time.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstdio>
#include <cstring>

namespace shmbus::archive {

std::uint64_t entry_checksum(const EntryHeader& header,
                             std::span<const std::byte> payload) noexcept {
    XXH3_state_t state;
    XXH3_64bits_reset(&state);
    XXH3_64bits_update(&state, &header, offsetof(EntryHeader, checksum));
    XXH3_64bits_update(&state, payload.data(), payload.size());
    return XXH3_64bits_digest(&state);
}

std::uint64_t sequences_of(const EntryHeader& header, std::span<const std::byte> payload) noexcept {
    if (header.kind != static_cast<std::uint16_t>(EntryKind::kGap)) return 1;
    std::uint64_t count = 0;
    if (payload.size() == sizeof count) std::memcpy(&count, payload.data(), sizeof count);
    return count;
}

namespace {

std::string numbered(std::uint64_t first_sequence, const char* extension) {
    char name[40];
    std::snprintf(name, sizeof name, "%020llu.%s", static_cast<unsigned long long>(first_sequence),
                  extension);
    return name;
}

}  // namespace

std::string segment_file_name(std::uint64_t first_sequence) {
    return numbered(first_sequence, "seg");
}

std::string index_file_name(std::uint64_t first_sequence) {
    return numbered(first_sequence, "idx");
}

}  // namespace shmbus::archive
