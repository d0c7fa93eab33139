#include "history_reader.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

#include "bus_directory.hpp"
#include "interrupts.hpp"
#include "output_buffer.hpp"
#include "shmbus/archive/history_subscriber.hpp"

namespace shmbus::cli {
namespace {

using Clock = std::chrono::steady_clock;

// A caught-up reader sleeps in slices this long, looking for SIGINT and SIGTERM between them.
constexpr std::chrono::nanoseconds kWaitSlice = std::chrono::milliseconds(100);
// After a signal, buffered output gets this long to drain before it is dropped.
constexpr Clock::duration kFinalFlushTime = std::chrono::seconds(1);

}  // namespace

ExitStatus read_history(const HistoryRequest& request) {
    const Topic topic =
        open_topic(request.bus_directory, request.topic, {.access = Access::kSubscribe});
    archive::HistorySubscriber history(topic, request.archive, request.start);
    OutputBuffer out(STDOUT_FILENO);
    const bool interactive = ::isatty(STDOUT_FILENO) == 1;
    std::uint64_t lost_reported = 0;
    const auto report_losses = [&] {
        if (history.lost() == lost_reported) return;
        fmt::print(stderr,
                   "shmbus: topic '{}': lost {} records, in neither the archive nor the ring ({} "
                   "in total)\n",
                   request.topic, history.lost() - lost_reported, history.lost());
        lost_reported = history.lost();
    };
    const auto print = [&](const Record& record) {
        write_record(out, record, request.topic, request.style);
    };
    std::uint64_t remaining = request.count;
    std::optional<Clock::time_point> idle_since;
    try {
        while (remaining > 0) {
            throw_if_interrupted();
            const PollResult result =
                history.poll(print, static_cast<std::size_t>(std::min<std::uint64_t>(
                                        remaining, Subscriber::kDefaultBatch)));
            remaining -= result.records;
            if (result.records > 0) {
                idle_since.reset();
                if (interactive) out.flush();
            }
            if (result.status == Status::kEvicted) {
                out.flush();
                report_losses();
                throw Failure(ExitStatus::kEvicted,
                              fmt::format("topic '{}': this subscriber was evicted for holding "
                                          "back publishers, after {} records",
                                          request.topic, history.consumed()));
            }
            if (result.status != Status::kOk && result.status != Status::kCorrupt) {
                out.flush();
                report_losses();
                throw Failure(
                    exit_status_for(result.status),
                    fmt::format("topic '{}': {}", request.topic, to_string(result.status)));
            }
            if (history.lost() != lost_reported) {
                out.flush();
                report_losses();
            }
            if (result.records > 0 || remaining == 0) continue;
            out.flush();
            std::chrono::nanoseconds slice = kWaitSlice;
            if (request.timeout) {
                const Clock::time_point now = Clock::now();
                if (!idle_since) idle_since = now;
                const std::chrono::nanoseconds idle_for = now - *idle_since;
                if (idle_for >= *request.timeout) {
                    throw Failure(
                        ExitStatus::kTimedOut,
                        fmt::format("no record on topic '{}' for {} s (--timeout)", request.topic,
                                    std::chrono::duration<double>(*request.timeout).count()));
                }
                slice = std::min(slice, *request.timeout - idle_for);
            }
            (void)history.wait(slice);
        }
        out.flush();
    } catch (...) {
        out.flush_until(Clock::now() + kFinalFlushTime);
        report_losses();
        throw;
    }
    report_losses();
    return ExitStatus::kOk;
}

}  // namespace shmbus::cli
