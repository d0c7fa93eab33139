#include "support/topic_files.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace shmbus::test {
namespace {

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace

TopicPaths topic_paths(const std::filesystem::path& dir, std::string_view name) {
    const auto topic = dir / std::string(name);
    return TopicPaths{topic / "records", topic / "state", topic / "locks"};
}

MappedFile::MappedFile(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) fail("open " + path.string());
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        ::close(fd);
        fail("fstat " + path.string());
    }
    size_ = static_cast<std::size_t>(st.st_size);
    void* map = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) fail("mmap " + path.string());
    data_ = static_cast<std::byte*>(map);
}

MappedFile::~MappedFile() {
    ::munmap(data_, size_);
}

void MappedFile::check(std::size_t offset, std::size_t length) const {
    if (offset > size_ || length > size_ - offset) {
        throw std::out_of_range("offset " + std::to_string(offset) + " + " +
                                std::to_string(length) + " is outside a " + std::to_string(size_) +
                                "-byte file");
    }
}

void overwrite_file(const std::filesystem::path& path, std::uint64_t offset,
                    std::span<const std::byte> bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) fail("open " + path.string());
    const ssize_t written = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    ::close(fd);
    if (written != static_cast<ssize_t>(bytes.size())) fail("pwrite " + path.string());
}

void resize_file(const std::filesystem::path& path, std::uint64_t size) {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) fail("truncate " + path.string());
}

std::string read_file_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("reading " + path.string());
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace shmbus::test
