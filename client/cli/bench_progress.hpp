// The progress line of `shmbus bench` on a terminal: how far the measurement is and, for
// throughput, how fast it goes right now. Drawn on stderr, rewritten in place, erased at the
// end; nothing at all when stderr is not a terminal.
#pragma once

#include <cstdint>
#include <string>

namespace shmbus::cli {

class BenchProgressLine {
  public:
    /// `what`: "throughput" or "latency"; `unit`: "records" or "round trips".
    BenchProgressLine(bool wanted, std::string what, std::string unit);
    ~BenchProgressLine() { clear(); }
    BenchProgressLine(const BenchProgressLine&) = delete;
    BenchProgressLine& operator=(const BenchProgressLine&) = delete;

    void update(std::uint64_t done, std::uint64_t total);
    void clear();

  private:
    bool enabled_;
    bool drawn_ = false;
    std::string what_;
    std::string unit_;
    std::uint64_t last_done_ = 0;
    std::uint64_t last_ns_ = 0;
};

}  // namespace shmbus::cli
