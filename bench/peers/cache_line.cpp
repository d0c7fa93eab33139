#include "peers/cache_line.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace shmbus::bench {
namespace {

constexpr std::size_t kFileSize = 4096;

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("cache line: " + what + ": " + std::strerror(errno));
}

}  // namespace

CacheLine::Link::Link(const LinkSpec& spec)
    : path_((spec.scratch / (spec.name + ".line")).string()), record_size_(spec.record_size) {
    if (spec.record_size < sizeof(std::uint64_t) || spec.record_size > kLineSize) {
        throw std::invalid_argument(
            "cache line: the floor carries records of 8 to 64 bytes (one line), not " +
            std::to_string(spec.record_size));
    }
    if (spec.writers != 1 || spec.readers != 1) {
        throw std::invalid_argument("cache line: one writer and one reader only");
    }
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) fail("creating " + path_);
    if (const int error = ::posix_fallocate(fd, 0, kFileSize); error != 0) {
        errno = error;
        ::close(fd);
        fail("allocating " + path_);
    }
    const std::uint64_t none = kNoRecord;
    if (::pwrite(fd, &none, sizeof none, 0) != static_cast<ssize_t>(sizeof none)) {
        ::close(fd);
        fail("writing " + path_);
    }
    ::close(fd);
}

CacheLine::Link::~Link() {
    ::unlink(path_.c_str());
}

CacheLine::Mapping::Mapping(const Link& link) {
    const int fd = ::open(link.path().c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) fail("opening " + link.path());
    base_ = ::mmap(nullptr, kFileSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    ::close(fd);
    if (base_ == MAP_FAILED) fail("mapping " + link.path());
}

CacheLine::Mapping::~Mapping() {
    ::munmap(base_, kFileSize);
}

}  // namespace shmbus::bench
