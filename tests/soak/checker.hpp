// The checker: reads every log a run left and proves the soak's invariants (the list is in
// soak_main.cpp), then prints the run's figures.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "soak_run.hpp"

namespace shmbus::soak {

/// Chaos the orchestrator caused, by RoleKind.
struct ChaosCounts {
    std::array<std::uint64_t, 3> kills{};         // kill -9 from the orchestrator
    std::array<std::uint64_t, 3> fault_deaths{};  // killed itself at an armed fault point
    std::array<std::uint64_t, 3> stops{};         // SIGSTOP, SIGCONT later
    std::uint64_t evictions = 0;
};

struct TopicFigures {
    std::uint64_t committed = 0;        // records committed (logged, or seen by a subscriber)
    std::uint64_t voided_claims = 0;    // claims of killed publishers never committed
    std::uint64_t unplaced_claims = 0;  // claims a publisher may have made just before dying
    std::uint64_t deliveries = 0;       // records subscribers received, each one checked
    std::uint64_t lost = 0;             // reported lost by subscribers
    std::uint64_t voided_reported = 0;  // reported voided by subscribers
    std::uint64_t subscriber_incarnations = 0;
};

struct Stall {
    double seconds = 0;
    std::string where;
};

struct CheckResult {
    std::vector<std::string> violations;
    std::vector<TopicFigures> topics;
    Stall longest_publisher;   // from wanting to claim a record to its commit
    Stall longest_subscriber;  // from a record's commit to its delivery
};

[[nodiscard]] CheckResult check_run(const RunRecord& run);

void print_figures(const RunRecord& run, const ChaosCounts& counts, const CheckResult& result);

}  // namespace shmbus::soak
