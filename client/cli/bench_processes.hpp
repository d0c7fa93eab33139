// The processes of one `shmbus bench` measurement: forked from the tool, each pinned (if asked)
// and running one body, meeting at a start line in a shared anonymous mapping, each leaving its
// figures in a slot of that mapping for the tool to read after it exits.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace shmbus::cli {

inline constexpr std::size_t kMaxBenchProcesses = 48;

/// One process's figures. Times are CLOCK_MONOTONIC nanoseconds.
struct alignas(64) BenchSlot {
    std::uint64_t progress = 0;  // records so far; relaxed atomic, for the progress line
    std::uint64_t start_ns = 0;
    std::uint64_t end_ns = 0;
    std::uint64_t records = 0;
    std::uint64_t lost = 0;
    std::uint64_t errors = 0;
    std::uint64_t cpu_ns = 0;        // CPU time in the measured phase
    std::uint64_t total_cpu_ns = 0;  // CPU time of the whole process
    double percentiles_ns[7] = {};   // latency: min, p50, p90, p99, p99.9, max, mean
    std::uint32_t finished = 0;
    char error[200] = {};
};

struct BenchBoard {
    alignas(64) std::uint32_t arrived = 0;
    alignas(64) std::uint32_t go = 0;
    alignas(64) std::uint32_t writers_done = 0;
    alignas(64) BenchSlot slots[kMaxBenchProcesses];
};

class BenchProcesses {
  public:
    BenchProcesses();
    ~BenchProcesses();  // kills and reaps what still runs
    BenchProcesses(const BenchProcesses&) = delete;
    BenchProcesses& operator=(const BenchProcesses&) = delete;

    [[nodiscard]] BenchBoard& board() noexcept { return *board_; }

    /// Forks a process running `body` with slot `index`, pinned to `cpu` unless it is negative.
    void spawn(std::size_t index, int cpu, const std::function<void(BenchSlot&)>& body);

    /// In a child: arrive at the start line and wait for the go.
    void arrive_and_wait() noexcept;

    /// In the tool: waits for every process to arrive, lets them go, and waits for all to exit,
    /// calling `tick()` about five times a second. Throws cli::Interrupted on SIGINT/SIGTERM,
    /// Failure when a process fails or `timeout` passes.
    void run(std::chrono::nanoseconds timeout, const std::function<void()>& tick);

  private:
    void reap(bool block) noexcept;
    [[nodiscard]] std::string failures() const;

    BenchBoard* board_ = nullptr;
    struct Child {
        pid_t pid;
        std::size_t index;
        bool reaped;
        int status;
    };
    std::vector<Child> children_;
};

/// CLOCK_MONOTONIC in nanoseconds.
[[nodiscard]] std::uint64_t bench_now_ns() noexcept;

/// CPU time (user + system) of the calling process so far.
[[nodiscard]] std::uint64_t bench_cpu_ns() noexcept;

/// CPU time every CPU of the machine spent busy so far (from /proc/stat), and the number of
/// CPUs: other programs' work during a measurement is this, less the measurement's own.
[[nodiscard]] std::uint64_t machine_busy_ns();
[[nodiscard]] unsigned machine_cpus() noexcept;

}  // namespace shmbus::cli
