// shmbus sub TOPIC: print the topic's records as they arrive.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <string>

#include "arguments.hpp"
#include "bus_directory.hpp"
#include "command.hpp"
#include "interrupts.hpp"
#include "output_buffer.hpp"
#include "record_format.hpp"
#include "shmbus/subscriber.hpp"

namespace shmbus::cli {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::nanoseconds;

// A caught-up subscriber sleeps in slices this long, looking for SIGINT and SIGTERM between them.
constexpr nanoseconds kWaitSlice = std::chrono::milliseconds(100);
// Losses are reported at most this often while they go on, and once more at the end.
constexpr Clock::duration kLossReportInterval = std::chrono::seconds(1);
// After a signal, buffered output gets this long to drain before it is dropped.
constexpr Clock::duration kFinalFlushTime = std::chrono::seconds(1);

/// Tells stderr about records the subscriber lost and frames it skipped, without flooding it.
class LossReporter {
  public:
    explicit LossReporter(std::string topic) : topic_(std::move(topic)) {}

    void update(const Subscriber& subscriber) {
        if (subscriber.corrupt() > corrupt_reported_) {
            fmt::print(stderr, "shmbus: topic '{}': skipped {} corrupt frames\n", topic_,
                       subscriber.corrupt() - corrupt_reported_);
            corrupt_reported_ = subscriber.corrupt();
        }
        if (subscriber.lost() == lost_reported_) return;
        const Clock::time_point now = Clock::now();
        if (lost_reported_ != 0 && now - last_report_ < kLossReportInterval) return;
        report(subscriber.lost());
        last_report_ = now;
    }

    void finish(const Subscriber& subscriber) {
        if (subscriber.lost() != lost_reported_) report(subscriber.lost());
    }

  private:
    void report(std::uint64_t lost) {
        fmt::print(stderr,
                   "shmbus: topic '{}': lost {} records, overwritten before they were read ({} in "
                   "total)\n",
                   topic_, lost - lost_reported_, lost);
        lost_reported_ = lost;
    }

    std::string topic_;
    std::uint64_t lost_reported_ = 0;
    std::uint64_t corrupt_reported_ = 0;
    Clock::time_point last_report_{};
};

class Sub final : public Command {
  public:
    void define(CLI::App& app) override {
        app.add_option("TOPIC", topic_, "Topic to subscribe to")->required()->type_name("");
        app.add_option("--from", from_text_,
                       "earliest, latest, or a position from --format json ('position' starts "
                       "at a record, 'next_position' after it)")
            ->type_name("WHERE")
            ->default_str("latest");
        count_option_ = app.add_option("--count", count_text_, "Exit (status 0) after N records")
                            ->type_name("N");
        timeout_option_ = app.add_option("--timeout", timeout_text_,
                                         "Exit with status 8 after S seconds without a record")
                              ->type_name("S");
        app.add_option("--format", format_text_,
                       "text (payload, newline), hex (lowercase), or json (one object a line, "
                       "payload in base64)")
            ->type_name("FORMAT")
            ->default_str("text");
    }

    ExitStatus run(const Context& context) override {
        const StartAt start = parse_start("--from", from_text_);
        const RecordFormat format = parse_record_format("--format", format_text_);
        std::uint64_t remaining = std::numeric_limits<std::uint64_t>::max();
        if (count_option_->count() > 0) remaining = parse_count("--count", count_text_);
        std::optional<nanoseconds> timeout;
        if (timeout_option_->count() > 0) timeout = parse_seconds("--timeout", timeout_text_);

        InterruptScope interrupts;
        const Topic topic =
            open_topic(context.bus_directory, topic_, {.access = Access::kSubscribe});
        Subscriber subscriber(topic, {.start = start});
        OutputBuffer out(STDOUT_FILENO);
        LossReporter losses(topic_);
        const bool interactive = ::isatty(STDOUT_FILENO) == 1;
        const auto print = [&](const Record& record) { write_record(out, record, format); };

        // Since when no record came (valid while `idle`), for --timeout.
        Clock::time_point idle_since{};
        bool idle = false;
        try {
            while (remaining > 0) {
                throw_if_interrupted();
                const std::size_t limit = static_cast<std::size_t>(
                    std::min<std::uint64_t>(remaining, Subscriber::kDefaultBatch));
                const PollResult result = subscriber.poll(print, limit);
                remaining -= result.records;
                if (result.status == Status::kEvicted) {
                    out.flush();
                    throw Failure(ExitStatus::kEvicted,
                                  fmt::format("topic '{}': this subscriber was evicted for holding "
                                              "back publishers, after {} records",
                                              topic_, subscriber.consumed()));
                }
                if (result.status != Status::kOk && result.status != Status::kCorrupt) {
                    // kCorrupt means frames were skipped (reported below); the rest end us.
                    throw Failure(exit_status_for(result.status),
                                  fmt::format("topic '{}': {}", topic_, to_string(result.status)));
                }
                losses.update(subscriber);
                if (result.records > 0) {
                    idle = false;
                    if (interactive) out.flush();
                    continue;
                }
                // Caught up: let the reader have what we printed, then sleep until a commit.
                out.flush();
                nanoseconds slice = kWaitSlice;
                if (timeout) {
                    const Clock::time_point now = Clock::now();
                    if (!idle) {
                        idle_since = now;
                        idle = true;
                    }
                    const nanoseconds idle_for = now - idle_since;
                    if (idle_for >= *timeout) {
                        throw Failure(ExitStatus::kTimedOut,
                                      fmt::format("no record on topic '{}' for {} s (--timeout)",
                                                  topic_, timeout_text_));
                    }
                    slice = std::min(slice, *timeout - idle_for);
                }
                (void)subscriber.wait(slice);
            }
            out.flush();
        } catch (...) {
            // A signal, a closed stdout, eviction, --timeout: print what was received, if the
            // reader still takes it, and what was lost.
            out.flush_until(Clock::now() + kFinalFlushTime);
            losses.finish(subscriber);
            throw;
        }
        losses.finish(subscriber);
        return ExitStatus::kOk;
    }

  private:
    std::string topic_;
    std::string from_text_ = "latest";
    std::string count_text_;
    std::string timeout_text_;
    std::string format_text_ = "text";
    CLI::Option* count_option_ = nullptr;
    CLI::Option* timeout_option_ = nullptr;
};

const CommandRegistration registration{"sub", "Print a topic's records as they arrive",
                                       make_command<Sub>};

}  // namespace
}  // namespace shmbus::cli
