// What `shmbus bench` measures and how: its options after parsing (see commands/bench.cpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace shmbus::cli {

enum class BenchTest { kThroughput, kLatency, kBoth };

struct BenchOptions {
    BenchTest test = BenchTest::kThroughput;
    std::size_t size = 64;          // payload bytes per record
    std::uint64_t count = 0;        // records per publisher, or measured round trips
    std::uint64_t warmup = 20'000;  // round trips before measuring latency
    std::uint32_t publishers = 1;   // throughput
    std::uint32_t subscribers = 1;  // throughput
    bool sleep = false;             // subscribers sleep on their semaphore instead of spinning
    std::size_t batch = 32;         // records per publish call: 1 = try_offer, more = batch path
    std::vector<int> cpus;          // empty: the scheduler places the processes
    bool progress = true;
    std::chrono::seconds timeout{600};
};

/// A record of `shmbus bench`: the publisher's sequence number (bytes 0-7), the publisher's
/// number (8-15) and the run's tag (16-23), so that records other programs publish to the same
/// topic are told apart and skipped.
inline constexpr std::size_t kBenchRecordMinimum = 24;

}  // namespace shmbus::cli
