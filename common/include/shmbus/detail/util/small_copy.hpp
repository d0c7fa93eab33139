// Copying a payload into a frame, inline when it is small.
//
// Most records on a bus are small, and for them a call to memcpy costs about as much as the copy:
// the call, glibc's size dispatch and the return came to 18 instructions per 64 B record on the
// publisher's batch path (callgrind, docs/BENCHMARKS.md). Up to 64 bytes this copies with
// fixed-size moves that the compiler emits in place: one 16-byte move from each end covers 16 to
// 32 bytes, two from each end cover 32 to 64. The moves may overlap; each writes the source's
// bytes at their own offsets, so overlap does no harm. Longer payloads go to memcpy, which is
// faster there.
//
// The source and the destination must not overlap: a payload is copied from the caller's memory
// into the mapping.
#pragma once

#include <cstddef>
#include <cstring>

namespace shmbus::util {

inline constexpr std::size_t kInlineCopyLimit = 64;

namespace detail {

template <std::size_t N>
inline void copy_fixed(std::byte* destination, const std::byte* source) noexcept {
    std::memcpy(destination, source, N);  // a constant size: compiled to moves, not a call
}

}  // namespace detail

/// Copies `size` bytes from `source` to `destination` (not overlapping).
inline void copy_payload_bytes(std::byte* destination, const std::byte* source,
                               std::size_t size) noexcept {
    if (size > kInlineCopyLimit) {
        std::memcpy(destination, source, size);
        return;
    }
    if (size >= 32) {
        detail::copy_fixed<16>(destination, source);
        detail::copy_fixed<16>(destination + 16, source + 16);
        detail::copy_fixed<16>(destination + size - 32, source + size - 32);
        detail::copy_fixed<16>(destination + size - 16, source + size - 16);
    } else if (size >= 16) {
        detail::copy_fixed<16>(destination, source);
        detail::copy_fixed<16>(destination + size - 16, source + size - 16);
    } else if (size >= 8) {
        detail::copy_fixed<8>(destination, source);
        detail::copy_fixed<8>(destination + size - 8, source + size - 8);
    } else if (size >= 4) {
        detail::copy_fixed<4>(destination, source);
        detail::copy_fixed<4>(destination + size - 4, source + size - 4);
    } else {
        for (std::size_t i = 0; i < size; ++i)
            destination[i] = source[i];
    }
}

}  // namespace shmbus::util
