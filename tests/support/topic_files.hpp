// A topic's files as bytes: mapped on their own (not through libshmbus), for tests that inspect
// or damage them, including while clients use them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace shmbus::test {

struct TopicPaths {
    std::filesystem::path records;
    std::filesystem::path state;
    std::filesystem::path locks;
};

[[nodiscard]] TopicPaths topic_paths(const std::filesystem::path& dir, std::string_view name);

/// A whole file mapped shared, read-write.
class MappedFile {
  public:
    explicit MappedFile(const std::filesystem::path& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    [[nodiscard]] std::byte* data() const noexcept { return data_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::span<std::byte> bytes() const noexcept { return {data_, size_}; }

    /// The T at `offset`: a reference into the mapping.
    template <typename T>
    [[nodiscard]] T& at(std::size_t offset) const {
        check(offset, sizeof(T));
        return *reinterpret_cast<T*>(data_ + offset);
    }
    /// Stores `value` at `offset` as one relaxed atomic store (other processes may be reading).
    template <typename T>
    void poke(std::size_t offset, T value) const {
        std::atomic_ref<T>(at<T>(offset)).store(value, std::memory_order_relaxed);
    }
    template <typename T>
    [[nodiscard]] T peek(std::size_t offset) const {
        return std::atomic_ref<T>(at<T>(offset)).load(std::memory_order_relaxed);
    }

  private:
    void check(std::size_t offset, std::size_t length) const;
    std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

/// Overwrites bytes of a file in place (pwrite), for files nothing has mapped yet.
void overwrite_file(const std::filesystem::path& path, std::uint64_t offset,
                    std::span<const std::byte> bytes);

template <typename T>
void overwrite_file_value(const std::filesystem::path& path, std::uint64_t offset, const T& value) {
    overwrite_file(path, offset, std::as_bytes(std::span<const T, 1>(&value, 1)));
}

/// Sets the file's length (shorter or longer).
void resize_file(const std::filesystem::path& path, std::uint64_t size);

/// The whole file, as bytes in a string.
[[nodiscard]] std::string read_file_bytes(const std::filesystem::path& path);

/// A small, seedable random number generator (xorshift64*), the same on every run.
class TestRandom {
  public:
    explicit TestRandom(std::uint64_t seed) : state_(seed == 0 ? 0x9E3779B97F4A7C15ull : seed) {}
    std::uint64_t next() noexcept {
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return state_ * 0x2545F4914F6CDD1Dull;
    }
    /// Uniform in [0, bound), bound > 0.
    std::uint64_t below(std::uint64_t bound) noexcept { return next() % bound; }

  private:
    std::uint64_t state_;
};

}  // namespace shmbus::test
