// What a topic costs in memory: the size of its two files, and the resident memory of a
// subscriber process.
//
// The topic has the default options (1 MiB ring, 16 publishers, 64 subscribers). A publisher in
// the driver fills one lap of 64-byte records; then three subscriber processes, one after the
// other, each on reader_cpus[0], report their resident memory before opening the topic and:
//   attached-prefaulted  after attaching with OpenOptions::prefault (MAP_POPULATE)
//   attached-lazy        after attaching without it
//   read-lap-lazy        without it, after reading the whole lap
#pragma once

#include "cases/case_options.hpp"
#include "cases/case_outcome.hpp"
#include "cases/case_scratch.hpp"

namespace shmbus::bench {

[[nodiscard]] CaseOutcome run_footprint(const CaseOptions& options, const CaseScratch& scratch);

}  // namespace shmbus::bench
