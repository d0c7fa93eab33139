// The two measurements of `shmbus bench`, each in processes of its own:
//
//   latency      ping-pong between two processes over two topics: one stamps a record, reads
//                the cycle counter, publishes to `there`, waits for the echo on `back`, reads
//                the counter again; half the round trip is one sample. Warm-up round trips
//                first, then `count` measured ones.
//   throughput   `publishers` processes each publish `count` records (`batch` per publish
//                call) to `topic`; `subscribers` processes each receive all of them, copying
//                every payload out and checking every sequence number. The rate: records one
//                subscriber got, divided by the time from the first publisher's start to the
//                last subscriber's end.
// Both are the harness's cases (bench/cases/pingpong.hpp and stream.hpp) for shmbus.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "bench_options.hpp"

namespace shmbus::cli {

struct BenchTopic {
    std::filesystem::path directory;
    std::string name;
};

/// Called about five times a second while a measurement runs: done of total.
using BenchTick = std::function<void(std::uint64_t done, std::uint64_t total)>;

struct LatencyFigures {
    double min_ns = 0, p50_ns = 0, p90_ns = 0, p99_ns = 0, p999_ns = 0, max_ns = 0, mean_ns = 0;
    std::uint64_t round_trips = 0;
    double foreign_share = 0;  // other programs' CPU use while it ran, as a share of all CPUs
};

struct ThroughputFigures {
    std::uint64_t records = 0;   // published, all publishers together
    std::uint64_t received = 0;  // by the slowest subscriber
    std::uint64_t lost = 0;      // overwrite topics: records a subscriber never saw
    double elapsed_ns = 0;
    double records_per_s = 0;
    double mb_per_s = 0;
    double publisher_cpu_ns = 0;   // per record
    double subscriber_cpu_ns = 0;  // per record and subscriber
    double foreign_share = 0;
};

[[nodiscard]] LatencyFigures measure_latency(const BenchTopic& there, const BenchTopic& back,
                                             const BenchOptions& options, std::uint64_t tag,
                                             const BenchTick& tick);

[[nodiscard]] ThroughputFigures measure_throughput(const BenchTopic& topic,
                                                   const BenchOptions& options, std::uint64_t tag,
                                                   const BenchTick& tick);

}  // namespace shmbus::cli
