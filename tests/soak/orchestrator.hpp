// The soak's orchestrator: starts shmbusd and the client processes on a fresh bus directory,
// kills, stops and restarts them at random for the run's duration, winds the run down, and hands
// what happened to the checker.
#pragma once

#include <cstdint>
#include <filesystem>

namespace shmbus::soak {

struct SoakOptions {
    double duration_s = 60;
    std::uint64_t seed = 0;
    bool seed_given = false;
    double stall_bound_s = 3;
    double event_interval_s = 0.25;   // mean time between chaos events
    double publisher_rate = 1000;     // records per second per publisher
    double fault_probability = 0.3;   // of a publisher start being armed with a fault point
    std::filesystem::path directory;  // run directory; a fresh one under $TMPDIR if empty
    std::filesystem::path shmbusd;
    bool keep = false;  // keep the run directory even when every invariant holds
};

/// Runs the soak; returns the process exit status (0: every invariant held).
int run_soak(const SoakOptions& options, const std::filesystem::path& self);

}  // namespace shmbus::soak
