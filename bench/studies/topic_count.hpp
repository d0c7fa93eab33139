// How shmbus's cost grows with the number of topics one process has open.
//
// One process (on writer_cpus[0]) creates `topics` topics of 64 KiB, opens each for publishing
// (pre-faulted) with a Publisher and a Subscriber, and then publishes one 64-byte record to each
// topic in turn and polls each subscriber in turn, until about a million records went through.
// Reports per topic: creating it, opening and attaching, resident memory, descriptors and
// mappings; and per record: the time to publish and poll it when the records are spread over
// that many topics (cache and TLB pressure).
#pragma once

#include "cases/case_options.hpp"
#include "cases/case_outcome.hpp"
#include "cases/case_scratch.hpp"

namespace shmbus::bench {

[[nodiscard]] CaseOutcome run_topic_count(const CaseOptions& options, const CaseScratch& scratch);

}  // namespace shmbus::bench
