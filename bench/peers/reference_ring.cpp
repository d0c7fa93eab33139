#include "peers/reference_ring.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace shmbus::bench {
namespace {

constexpr std::uint64_t kLine = 64;

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("reference ring: " + what + ": " + std::strerror(errno));
}

}  // namespace

ReferenceRing::Link::Link(const LinkSpec& spec)
    : path_((spec.scratch / (spec.name + ".ring")).string()),
      record_size_(spec.record_size),
      prefault_(spec.options.prefault) {
    const std::uint64_t slot_size = (spec.record_size + kLine - 1) / kLine * kLine;
    std::uint64_t slot_count = spec.options.capacity / slot_size;
    if (slot_count < 2) slot_count = 2;
    const std::uint64_t size = kSlotsOffset + slot_count * slot_size;
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) fail("creating " + path_);
    if (const int error = ::posix_fallocate(fd, 0, static_cast<off_t>(size)); error != 0) {
        errno = error;
        ::close(fd);
        fail("allocating " + path_);
    }
    Layout layout{};
    layout.slot_size = slot_size;
    layout.slot_count = slot_count;
    if (::pwrite(fd, &layout, sizeof(layout), 0) != static_cast<ssize_t>(sizeof(layout))) {
        ::close(fd);
        fail("writing " + path_);
    }
    ::close(fd);
}

ReferenceRing::Link::~Link() {
    ::unlink(path_.c_str());
}

ReferenceRing::Mapping::Mapping(const Link& link) {
    const int fd = ::open(link.path().c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) fail("opening " + link.path());
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
        ::close(fd);
        fail("stat " + link.path());
    }
    size_ = static_cast<std::size_t>(info.st_size);
    const int flags = MAP_SHARED | (link.prefault() ? MAP_POPULATE : 0);
    base_ = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, flags, fd, 0);
    ::close(fd);
    if (base_ == MAP_FAILED) fail("mapping " + link.path());
    const Layout& mapped = layout();
    if (mapped.slot_size == 0 || mapped.slot_count < 2 ||
        kSlotsOffset + mapped.slot_size * mapped.slot_count > size_) {
        ::munmap(base_, size_);
        throw std::runtime_error("reference ring: " + link.path() + " has a broken header");
    }
}

ReferenceRing::Mapping::~Mapping() {
    ::munmap(base_, size_);
}

}  // namespace shmbus::bench
