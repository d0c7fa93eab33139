// What a file system holds of a file, as opposed to what the page cache holds: for tests that
// check that a write-back put a topic's records on the file (tests/daemon/durable_test.cpp).
//
// Reading a file with O_DIRECT alone proves nothing here: before a direct read, Linux writes the
// range's dirty pages back itself, so it sees the records whether anyone flushed or not. A test
// first asks the page cache whether the range still has dirty pages (cachestat(2)), and then
// reads the file with O_DIRECT to find the bytes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace shmbus::test {

/// Pages of a file range: in the page cache, dirty (not yet written back), under write-back.
struct CachedPages {
    std::uint64_t cached = 0;
    std::uint64_t dirty = 0;
    std::uint64_t writeback = 0;
};

/// cachestat(2) over `length` bytes from `offset` of the file open as `fd`. nullopt when the
/// kernel has no cachestat (before Linux 6.5). Throws std::runtime_error on any other failure.
[[nodiscard]] std::optional<CachedPages> cached_pages(int fd, std::uint64_t offset,
                                                      std::uint64_t length);

/// The first `length` bytes of `path` read with O_DIRECT through a fresh descriptor (an aligned
/// buffer; a shorter file gives what it has). nullopt when the file system refuses O_DIRECT
/// (EINVAL). Throws std::runtime_error on any other failure.
[[nodiscard]] std::optional<std::string> read_direct(const std::filesystem::path& path,
                                                     std::uint64_t length);

/// Whether `path` lies on a tmpfs (statfs(2)), where a file has no disk beneath it.
[[nodiscard]] bool on_tmpfs(const std::filesystem::path& path);

}  // namespace shmbus::test
