#include "cases/case_scratch.hpp"

#include <unistd.h>

#include <system_error>

namespace shmbus::bench {

CaseScratch::CaseScratch(const CaseOptions& options)
    : options_(options),
      unique_("shmbus-bench-" + std::to_string(::getpid())),
      directory_(options.scratch_root / unique_) {
    std::filesystem::remove_all(directory_);
    std::filesystem::create_directories(directory_);
}

CaseScratch::~CaseScratch() {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
}

LinkSpec CaseScratch::link(std::string_view name) const {
    LinkSpec spec;
    spec.name = std::string(name);
    spec.scratch = directory_;
    spec.unique = unique_;
    spec.record_size = options_.size;
    spec.writers = options_.writers;
    spec.readers = options_.readers;
    spec.options = options_.peer_options;
    return spec;
}

}  // namespace shmbus::bench
