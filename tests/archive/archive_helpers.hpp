// What the archive tests share: a topic id, deterministic payloads, reading an archive into
// values that outlive the reader's callback, and editing segment files in place.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <shmbus/archive/archive_reader.hpp>
#include <shmbus/archive/archive_writer.hpp>
#include <shmbus/archive/segment_format.hpp>
#include <shmbus/archive/segment_reader.hpp>
#include <shmbus/error.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace shmbus::test::archive {

namespace ar = shmbus::archive;

inline constexpr std::array<std::uint8_t, 16> kTopicId{
    0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f};
inline constexpr const char* kTopicName = "archive.test";

/// The payload the tests give the record of `sequence`: `size` bytes no two records share.
inline std::vector<std::byte> payload_for(std::uint64_t sequence, std::size_t size) {
    std::vector<std::byte> bytes(size);
    for (std::size_t i = 0; i < size; ++i) {
        bytes[i] = static_cast<std::byte>((sequence * 131 + i * 7 + 1) & 0xff);
    }
    return bytes;
}

inline std::uint64_t timestamp_for(std::uint64_t sequence) {
    return 1'700'000'000'000'000'000ULL + sequence * 1000 + 7;
}

inline std::uint16_t publisher_for(std::uint64_t sequence) {
    return static_cast<std::uint16_t>(sequence % 61 + 1);
}

/// One entry as read, copied out of the callback.
struct Entry {
    ar::EntryKind kind = ar::EntryKind::kRecord;
    std::uint64_t sequence = 0;
    std::uint64_t timestamp_ns = 0;
    std::uint16_t publisher = 0;
    std::uint64_t gap_count = 0;
    std::vector<std::byte> payload;

    friend bool operator==(const Entry&, const Entry&) = default;
};

inline Entry record(std::uint64_t sequence, std::size_t size) {
    return {ar::EntryKind::kRecord,  sequence, timestamp_for(sequence),
            publisher_for(sequence), 0,        payload_for(sequence, size)};
}

inline Entry gap(std::uint64_t first, std::uint64_t count) {
    return {ar::EntryKind::kGap, first, timestamp_for(first), 0, count, {}};
}

inline void append(ar::ArchiveWriter& writer, const Entry& entry) {
    if (entry.kind == ar::EntryKind::kGap) {
        writer.append_gap(entry.sequence, entry.gap_count, entry.timestamp_ns);
    } else {
        writer.append_record(entry.sequence, entry.timestamp_ns, entry.publisher, entry.payload);
    }
}

inline std::span<const std::uint8_t, 16> topic_id() {
    return std::span<const std::uint8_t, 16>(kTopicId);
}

struct ReadResult {
    std::vector<Entry> entries;
    ar::ReadSummary summary;
};

/// Every entry of the archive in `dir` from `from` on (at most `limit`).
inline ReadResult read_all(const std::filesystem::path& dir, std::uint64_t from = 0,
                           std::size_t limit = SIZE_MAX) {
    ReadResult result;
    result.summary = ar::read_archive(dir, from, [&](const ar::ArchivedEntry& e) {
        result.entries.push_back({e.kind, e.sequence, e.timestamp_ns, e.publisher, e.gap_count,
                                  std::vector<std::byte>(e.payload.begin(), e.payload.end())});
        return result.entries.size() < limit;
    });
    return result;
}

inline std::string describe(const Entry& e) {
    return std::string(e.kind == ar::EntryKind::kGap ? "gap " : "record ") +
           std::to_string(e.sequence) + " ts " + std::to_string(e.timestamp_ns) + " pub " +
           std::to_string(e.publisher) + " count " + std::to_string(e.gap_count) + " bytes " +
           std::to_string(e.payload.size());
}

/// CHECKs that `got` is `want`, entry by entry, naming the first that differs.
inline void check_entries(const std::vector<Entry>& got, const std::vector<Entry>& want) {
    CHECK(got.size() == want.size());
    for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
        if (got[i] != want[i]) {
            FAIL_CHECK("entry " << i << ": got " << describe(got[i]) << ", want "
                                << describe(want[i]));
            return;
        }
    }
}

inline std::uint64_t size_of_file(const std::filesystem::path& path) {
    return std::filesystem::file_size(path);
}

inline std::vector<std::byte> read_file(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("open " + path.string());
    std::vector<std::byte> bytes(size_of_file(path));
    const ssize_t n = ::pread(fd, bytes.data(), bytes.size(), 0);
    ::close(fd);
    if (n != static_cast<ssize_t>(bytes.size())) throw std::runtime_error("read " + path.string());
    return bytes;
}

/// Writes `bytes` at `offset` of an existing file.
inline void overwrite(const std::filesystem::path& path, std::uint64_t offset,
                      std::span<const std::byte> bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("open " + path.string());
    const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    ::close(fd);
    if (n != static_cast<ssize_t>(bytes.size())) {
        throw std::runtime_error("write " + path.string());
    }
}

template <typename T>
void overwrite_value(const std::filesystem::path& path, std::uint64_t offset, const T& value) {
    overwrite(path, offset, std::as_bytes(std::span<const T, 1>(&value, 1)));
}

/// Flips the bits of `mask` in the byte at `offset`.
inline void flip_byte(const std::filesystem::path& path, std::uint64_t offset,
                      std::uint8_t mask = 0x5a) {
    const std::vector<std::byte> bytes = read_file(path);
    REQUIRE(offset < bytes.size());
    const std::byte flipped = bytes[offset] ^ static_cast<std::byte>(mask);
    overwrite(path, offset, std::span<const std::byte>(&flipped, 1));
}

inline void write_file(const std::filesystem::path& path, std::span<const std::byte> bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("create " + path.string());
    const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), 0);
    ::close(fd);
    if (n != static_cast<ssize_t>(bytes.size())) {
        throw std::runtime_error("write " + path.string());
    }
}

/// The shmbus::Error `body` throws, or nullopt if it throws none (any other exception
/// propagates, and fails the case).
inline std::optional<shmbus::Error> error_of(const std::function<void()>& body) {
    try {
        body();
    } catch (const shmbus::Error& error) {
        return error;
    }
    return std::nullopt;
}

inline std::filesystem::path segment_path(const std::filesystem::path& dir, std::uint64_t first) {
    return dir / ar::segment_file_name(first);
}

inline std::filesystem::path index_path(const std::filesystem::path& dir, std::uint64_t first) {
    return dir / ar::index_file_name(first);
}

/// The offsets of the whole entries of a segment, in order, found by scanning it.
inline std::vector<std::uint64_t> entry_offsets(const std::filesystem::path& segment) {
    ar::SegmentReader reader(segment);
    std::vector<std::uint64_t> offsets;
    std::uint64_t offset = ar::kSegmentHeaderSize;
    for (;;) {
        const ar::ScannedEntry entry = reader.read(offset);
        if (entry.status != ar::EntryStatus::kEntry) break;
        offsets.push_back(offset);
        offset += entry.size;
    }
    return offsets;
}

}  // namespace shmbus::test::archive
