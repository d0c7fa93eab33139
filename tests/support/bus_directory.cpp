#include "support/bus_directory.hpp"

#include <stdlib.h>

#include <stdexcept>
#include <string>

namespace shmbus::test {

BusDirectory::BusDirectory() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/shmbus-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern);
    path_ = pattern;
}

BusDirectory::~BusDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

}  // namespace shmbus::test
