#include "support/page_cache.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <shmbus/detail/util/unique_fd.hpp>
#include <stdexcept>

namespace shmbus::test {
namespace {

// cachestat(2) has the same number on every architecture (the unified syscall table); the C
// library of Debian 12 does not name it yet.
#if defined(SYS_cachestat)
constexpr long kCachestat = SYS_cachestat;
#else
constexpr long kCachestat = 451;
#endif

// The kernel's struct cachestat_range and struct cachestat (include/uapi/linux/mman.h).
struct CachestatRange {
    std::uint64_t offset;
    std::uint64_t length;
};
struct Cachestat {
    std::uint64_t cache;
    std::uint64_t dirty;
    std::uint64_t writeback;
    std::uint64_t evicted;
    std::uint64_t recently_evicted;
};

constexpr std::size_t kDirectAlignment = 4096;

std::runtime_error failure(const std::string& what) {
    return std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace

std::optional<CachedPages> cached_pages(int fd, std::uint64_t offset, std::uint64_t length) {
    CachestatRange range{offset, length};
    Cachestat stat{};
    if (::syscall(kCachestat, fd, &range, &stat, 0) != 0) {
        if (errno == ENOSYS) return std::nullopt;
        throw failure("cachestat");
    }
    return CachedPages{stat.cache, stat.dirty, stat.writeback};
}

std::optional<std::string> read_direct(const std::filesystem::path& path, std::uint64_t length) {
    util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC));
    if (!fd) {
        if (errno == EINVAL) return std::nullopt;
        throw failure("opening " + path.string() + " with O_DIRECT");
    }
    const std::size_t size = (length + kDirectAlignment - 1) / kDirectAlignment * kDirectAlignment;
    std::unique_ptr<char, decltype(&std::free)> buffer(
        static_cast<char*>(std::aligned_alloc(kDirectAlignment, size)), &std::free);
    if (!buffer) throw std::runtime_error("allocating an aligned buffer for O_DIRECT");
    std::size_t done = 0;
    while (done < size) {
        const ssize_t got =
            ::pread(fd.get(), buffer.get() + done, size - done, static_cast<off_t>(done));
        if (got < 0) {
            if (errno == EINVAL && done == 0) return std::nullopt;
            throw failure("reading " + path.string() + " with O_DIRECT");
        }
        if (got == 0) break;
        done += static_cast<std::size_t>(got);
    }
    return std::string(buffer.get(), std::min<std::size_t>(done, length));
}

bool on_tmpfs(const std::filesystem::path& path) {
    struct statfs fs {};
    if (::statfs(path.c_str(), &fs) != 0) throw failure("statfs " + path.string());
    return fs.f_type == TMPFS_MAGIC;
}

}  // namespace shmbus::test
