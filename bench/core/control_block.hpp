// What the processes of one case share besides the transport under test: a start line and a
// report per process. It lives in an anonymous MAP_SHARED mapping that the driver makes before
// it forks, so every process sees the same bytes.
//
//   driver                                   each measured process
//   ------                                   ---------------------
//   fork the processes                       open its endpoints, arrive()
//   wait_for_arrivals()                      await(kGo)
//   release(kGo)                        -->  measure, fill its report
//   [release(kDrain): deferred readers]      [await(kDrain), read]
//   reap, read the reports                   exit
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "core/latency_recorder.hpp"

namespace shmbus::bench {

inline constexpr std::size_t kMaxProcesses = 17;  // 8 writers or readers, the other side, spare

/// One process's figures for the measured phase. Times are CLOCK_MONOTONIC nanoseconds.
struct ProcessReport {
    std::uint64_t records = 0;  // records sent (a writer) or received and checked (a reader)
    std::uint64_t errors = 0;   // records with a wrong length, writer or sequence number
    std::uint64_t start_ns = 0;
    std::uint64_t end_ns = 0;
    std::uint64_t setup_ns = 0;  // opening and attaching its endpoints
    std::uint64_t user_ns = 0;   // CPU time in the measured phase
    std::uint64_t system_ns = 0;
    std::uint64_t cpu_at_arrival_ns = 0;  // CPU time used before the start line
    std::uint64_t minor_faults = 0;
    std::uint64_t major_faults = 0;
    std::uint64_t voluntary_switches = 0;
    std::uint64_t involuntary_switches = 0;
    std::uint64_t rss_before_kb = 0;  // resident memory before opening the endpoints
    std::uint64_t rss_kb = 0;         // ... and at the end, with its parts
    std::uint64_t rss_anon_kb = 0;
    std::uint64_t rss_file_kb = 0;
    std::uint64_t rss_shmem_kb = 0;
    LatencySummary latency;
    double figures[16] = {};  // a study's own figures; the study names them
    std::int32_t cpu = -1;
    std::uint32_t finished = 0;
    char error[256] = {};
};

enum class Phase : std::uint32_t { kSetup = 0, kGo = 1, kDrain = 2, kAbort = 99 };

struct ControlBlock {
    alignas(64) std::uint32_t arrived = 0;
    alignas(64) std::uint32_t phase = 0;
    alignas(64) ProcessReport reports[kMaxProcesses];
};

class SharedControl {
  public:
    SharedControl();
    ~SharedControl();
    SharedControl(SharedControl&& other) noexcept : block_(other.block_) { other.block_ = nullptr; }
    SharedControl& operator=(SharedControl&&) = delete;
    SharedControl(const SharedControl&) = delete;
    SharedControl& operator=(const SharedControl&) = delete;

    [[nodiscard]] ProcessReport& report(std::size_t index) noexcept {
        return block_->reports[index];
    }

    /// A measured process: its endpoints are open. Notes in `report` the CPU time the process
    /// has used so far, all of it before the start line.
    void arrive(ProcessReport& report) noexcept;

    /// A measured process: sleeps until the driver releases `phase`. Throws if the driver
    /// aborted, or after `timeout`.
    void await(Phase phase, std::chrono::nanoseconds timeout) const;

    /// The driver: sleeps until `count` processes arrived. false after `timeout`, or as soon as
    /// `all_alive()` says a process has exited.
    [[nodiscard]] bool wait_for_arrivals(std::uint32_t count, std::chrono::nanoseconds timeout,
                                         const std::function<bool()>& all_alive) const;

    /// The driver: lets every process waiting for `phase` (or an earlier one) go.
    void release(Phase phase) noexcept;

  private:
    ControlBlock* block_ = nullptr;
};

}  // namespace shmbus::bench
