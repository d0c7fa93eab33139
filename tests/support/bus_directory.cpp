#include "support/bus_directory.hpp"

#include <stdlib.h>

#include <stdexcept>
#include <string>

namespace shmbus::test {

namespace {

std::filesystem::path temporary_directory() {
    const char* tmp = std::getenv("TMPDIR");
    return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
}

}  // namespace

BusDirectory::BusDirectory() : BusDirectory(temporary_directory()) {}

BusDirectory::BusDirectory(const std::filesystem::path& parent) {
    std::string pattern = (parent / "shmbus-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern);
    path_ = pattern;
}

BusDirectory::~BusDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

}  // namespace shmbus::test
