#include "bench_progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include "bench_processes.hpp"

namespace shmbus::cli {

BenchProgressLine::BenchProgressLine(bool wanted, std::string what, std::string unit)
    : enabled_(wanted && ::isatty(STDERR_FILENO) == 1),
      what_(std::move(what)),
      unit_(std::move(unit)),
      last_ns_(bench_now_ns()) {}

void BenchProgressLine::update(std::uint64_t done, std::uint64_t total) {
    if (!enabled_) return;
    const std::uint64_t now = bench_now_ns();
    std::string rate;
    if (unit_ == "records" && now > last_ns_ && done >= last_done_) {
        const double per_second =
            static_cast<double>(done - last_done_) * 1e9 / static_cast<double>(now - last_ns_);
        rate = per_second >= 1e6 ? fmt::format("  {:.1f} M records/s", per_second / 1e6)
                                 : fmt::format("  {:.0f} k records/s", per_second / 1e3);
    }
    last_done_ = done;
    last_ns_ = now;
    const double percent =
        total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 0.0;
    fmt::print(stderr, "\r\033[K{}: {}/{} {} ({:.0f}%){}", what_, done, total, unit_, percent,
               rate);
    std::fflush(stderr);
    drawn_ = true;
}

void BenchProgressLine::clear() {
    if (!drawn_) return;
    fmt::print(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
}

}  // namespace shmbus::cli
