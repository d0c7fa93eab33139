// The publisher's payload copy: every length up to and past the inline limit copies exactly the
// source's bytes and writes nothing outside the destination's `size` bytes.
#include <doctest/doctest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <shmbus/detail/util/small_copy.hpp>

namespace {

constexpr std::size_t kGuard = 32;
constexpr std::size_t kLongest = 2 * shmbus::util::kInlineCopyLimit + 3;

std::byte source_byte(std::size_t i) {
    return static_cast<std::byte>((i * 37 + 11) & 0xff);
}

}  // namespace

TEST_CASE("copy_payload_bytes copies every length exactly and touches nothing beyond it") {
    constexpr auto kFill = std::byte{0xa5};
    std::array<std::byte, kLongest + 8> source{};
    for (std::size_t i = 0; i < source.size(); ++i)
        source[i] = source_byte(i);
    for (std::size_t offset = 0; offset < 8; ++offset) {  // unaligned sources and destinations
        for (std::size_t size = 0; size <= kLongest; ++size) {
            std::array<std::byte, kGuard + kLongest + 8 + kGuard> destination;
            destination.fill(kFill);
            shmbus::util::copy_payload_bytes(destination.data() + kGuard + offset,
                                             source.data() + offset, size);
            CAPTURE(offset);
            CAPTURE(size);
            std::size_t wrong = 0;
            for (std::size_t i = 0; i < destination.size(); ++i) {
                const bool inside = i >= kGuard + offset && i < kGuard + offset + size;
                const std::byte expected =
                    inside ? source_byte(i - kGuard) : kFill;  // i - kGuard = offset + k
                if (destination[i] != expected) ++wrong;
            }
            CHECK(wrong == 0);
        }
    }
}
