// shmbus bench [TOPIC]: measure publishing and subscribing on this machine.
//
// Without TOPIC it works on scratch topics in a private temporary directory (removed at the
// end); with TOPIC the throughput test publishes to and subscribes from that topic, and the
// latency test sends over it and echoes back over a scratch topic of the same geometry. Scratch
// topics have `shmbus create`'s defaults (TopicOptions{}), timestamps included, so the figures are
// those of the topic users get. The method is the benchmark harness's (docs/BENCHMARKS.md), so
// the figures compare.
#include <fmt/format.h>
#include <stdlib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <system_error>

#include "arguments.hpp"
#include "bench_measurements.hpp"
#include "bench_options.hpp"
#include "bench_processes.hpp"
#include "bench_progress.hpp"
#include "bus_directory.hpp"
#include "command.hpp"
#include "exit_status.hpp"
#include "interrupts.hpp"
#include "json_writer.hpp"
#include "text_table.hpp"

namespace shmbus::cli {
namespace {

constexpr std::uint32_t kMostPublishers = 16;
constexpr std::uint32_t kMostSubscribers = 32;
constexpr std::size_t kLargestBatch = 64;
// Scratch topics keep the default slot counts, which must hold the most processes bench starts.
static_assert(kMostPublishers <= TopicOptions{}.max_publishers);
static_assert(kMostSubscribers <= TopicOptions{}.max_subscribers);

/// A private directory for scratch topics: on tmpfs when there is one. Removed with its
/// contents at the end.
class ScratchDirectory {
  public:
    ScratchDirectory() {
        const char* tmp = std::getenv("TMPDIR");
        const std::filesystem::path base = std::filesystem::is_directory("/dev/shm")
                                               ? std::filesystem::path("/dev/shm")
                                               : std::filesystem::path(tmp ? tmp : "/tmp");
        std::string pattern = (base / "shmbus-bench-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw Failure(ExitStatus::kFailure,
                          fmt::format("cannot make a scratch directory in {}: {}", base.string(),
                                      std::strerror(errno)));
        }
        path_ = pattern;
    }
    ~ScratchDirectory() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    ScratchDirectory(const ScratchDirectory&) = delete;
    ScratchDirectory& operator=(const ScratchDirectory&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  private:
    std::filesystem::path path_;
};

std::string rate_text(double per_second) {
    if (per_second >= 1e6) return fmt::format("{:.3g} M records/s", per_second / 1e6);
    return fmt::format("{:.3g} k records/s", per_second / 1e3);
}

std::string ns_text(double ns) {
    if (ns < 1e3) return fmt::format("{:.0f} ns", ns);
    if (ns < 1e6) return fmt::format("{:.3g} µs", ns / 1e3);
    return fmt::format("{:.3g} ms", ns / 1e6);
}

std::string bandwidth_text(double mb_per_s) {
    return mb_per_s >= 1e3 ? fmt::format("{:.3g} GB/s", mb_per_s / 1e3)
                           : fmt::format("{:.3g} MB/s", mb_per_s);
}

class Bench final : public Command {
  public:
    void define(CLI::App& app) override {
        const TopicOptions defaults;
        capacity_text_ = std::to_string(defaults.capacity);
        timestamps_ = defaults.timestamps ? "on" : "off";
        app.add_option("TOPIC", topic_,
                       "Measure on this topic (it must exist; other programs' records on it are "
                       "skipped). Default: scratch topics in a private temporary directory")
            ->type_name("");
        app.add_option("--test", test_, "throughput, latency or both")
            ->type_name("TEST")
            ->default_str("throughput");
        app.add_option("--size", size_text_, "Payload bytes per record (at least 24)")
            ->type_name("BYTES")
            ->default_str("64");
        app.add_option("--count", count_text_,
                       "Records per publisher (throughput; default: 4 GiB worth, 10k to 10M) "
                       "or measured round trips (latency; default 200000)")
            ->type_name("N");
        app.add_option("--warmup", warmup_text_, "Round trips before measuring latency")
            ->type_name("N")
            ->default_str("20000");
        app.add_option("--publishers", publishers_text_, "Publisher processes (throughput)")
            ->type_name("N")
            ->default_str("1");
        app.add_option("--subscribers", subscribers_text_, "Subscriber processes (throughput)")
            ->type_name("N")
            ->default_str("1");
        app.add_option("--wait", wait_,
                       "spin: subscribers poll in a loop; sleep: they sleep on their semaphore "
                       "when caught up (and publishers sleep while held back)")
            ->type_name("MODE")
            ->default_str("spin");
        app.add_option("--batch", batch_text_,
                       "Records per publish call: 1 uses try_offer, 2 to 64 the batch path")
            ->type_name("N")
            ->default_str("32");
        app.add_option("--capacity", capacity_text_, "Ring size of the scratch topics")
            ->type_name("BYTES")
            ->default_str("1M");
        app.add_option("--timestamps", timestamps_,
                       "on or off: scratch topics stamp each record with the time, as "
                       "shmbus create makes them by default")
            ->type_name("ON|OFF")
            ->default_str(timestamps_);
        app.add_option("--cpus", cpus_text_,
                       "Pin publishers (and the ping side) to the first CPU, subscribers (and "
                       "the echo side) to the second, e.g. 0,1. Default: not pinned")
            ->type_name("A,B");
        app.add_flag("--json", json_, "Print one line of JSON instead of the report");
        app.add_flag("--no-progress", no_progress_, "No progress line on a terminal");
    }

    ExitStatus run(const Context& context) override {
        BenchOptions options = parse();
        InterruptScope interrupts;
        ScratchDirectory scratch;
        std::optional<Topic> given;
        if (topic_) {
            given = open_topic(context.bus_directory, *topic_, {.access = Access::kPublish});
        }
        // shmbus create's defaults, but for what the options or the given topic set.
        TopicOptions scratch_options;
        const std::uint64_t capacity = given ? given->capacity() : capacity_;
        const std::uint64_t scratch_max_record =
            std::max<std::uint64_t>(options.size, scratch_options.max_record_size);
        const std::uint32_t max_record =
            given ? given->max_record_size() : static_cast<std::uint32_t>(scratch_max_record);
        if (options.size > max_record) {
            throw Failure(ExitStatus::kUsage,
                          fmt::format("--size {}: topic '{}' takes records of at most {} bytes",
                                      options.size, *topic_, max_record));
        }
        scratch_options.capacity = capacity;
        scratch_options.max_record_size = max_record;
        scratch_options.timestamps = timestamps_on_;
        const std::uint64_t tag =
            std::random_device{}() * 0x9e3779b97f4a7c15ull ^ static_cast<std::uint64_t>(::getpid());

        std::optional<ThroughputFigures> throughput;
        std::optional<LatencyFigures> latency;
        if (options.test != BenchTest::kLatency) {
            BenchTopic topic{context.bus_directory, topic_.value_or("")};
            if (!topic_) {
                topic = {scratch.path(), "bench"};
                create_topic(topic.directory, topic.name, scratch_options);
            }
            BenchOptions test = options;
            if (!count_text_) test.count = default_count(test, false);
            BenchProgressLine progress(!no_progress_ && !json_, "throughput", "records");
            throughput = measure_throughput(
                topic, test, tag, [&](auto done, auto total) { progress.update(done, total); });
        }
        if (options.test != BenchTest::kThroughput) {
            BenchTopic there{context.bus_directory, topic_.value_or("")};
            if (!topic_) {
                there = {scratch.path(), "ping"};
                create_topic(there.directory, there.name, scratch_options);
            }
            const BenchTopic back{scratch.path(), "pong"};
            create_topic(back.directory, back.name, scratch_options);
            BenchOptions test = options;
            if (!count_text_) test.count = default_count(test, true);
            BenchProgressLine progress(!no_progress_ && !json_, "latency", "round trips");
            latency = measure_latency(there, back, test, tag,
                                      [&](auto done, auto total) { progress.update(done, total); });
        }
        if (json_) {
            print_json(options, throughput, latency);
        } else {
            print_report(options, capacity, throughput, latency);
        }
        return ExitStatus::kOk;
    }

  private:
    BenchOptions parse() {
        BenchOptions options;
        if (test_ == "throughput") {
            options.test = BenchTest::kThroughput;
        } else if (test_ == "latency") {
            options.test = BenchTest::kLatency;
        } else if (test_ == "both") {
            options.test = BenchTest::kBoth;
        } else {
            throw Failure(ExitStatus::kUsage,
                          fmt::format("--test: '{}' is not throughput, latency or both", test_));
        }
        options.size = parse_size("--size", size_text_);
        if (options.size < kBenchRecordMinimum) {
            throw Failure(ExitStatus::kUsage,
                          fmt::format("--size: records carry a {}-byte stamp; give at least {}",
                                      kBenchRecordMinimum, kBenchRecordMinimum));
        }
        options.warmup = parse_count("--warmup", warmup_text_);
        options.publishers = parse_count32("--publishers", publishers_text_);
        options.subscribers = parse_count32("--subscribers", subscribers_text_);
        if (options.publishers < 1 || options.publishers > kMostPublishers) {
            throw Failure(ExitStatus::kUsage,
                          fmt::format("--publishers: 1 to {}", kMostPublishers));
        }
        if (options.subscribers < 1 || options.subscribers > kMostSubscribers) {
            throw Failure(ExitStatus::kUsage,
                          fmt::format("--subscribers: 1 to {}", kMostSubscribers));
        }
        if (wait_ != "spin" && wait_ != "sleep") {
            throw Failure(ExitStatus::kUsage,
                          fmt::format("--wait: '{}' is neither spin nor sleep", wait_));
        }
        options.sleep = wait_ == "sleep";
        options.batch = parse_count("--batch", batch_text_);
        if (options.batch < 1 || options.batch > kLargestBatch) {
            throw Failure(ExitStatus::kUsage, fmt::format("--batch: 1 to {}", kLargestBatch));
        }
        capacity_ = parse_size("--capacity", capacity_text_);
        if (timestamps_ != "on" && timestamps_ != "off") {
            throw Failure(ExitStatus::kUsage,
                          fmt::format("--timestamps: '{}' is neither on nor off", timestamps_));
        }
        timestamps_on_ = timestamps_ == "on";
        if (count_text_) {
            options.count = parse_count("--count", *count_text_);
            if (options.count == 0) throw Failure(ExitStatus::kUsage, "--count: at least 1");
        }
        if (cpus_text_) options.cpus = parse_cpus(*cpus_text_);
        if (topic_) require_topic_name(*topic_);
        options.progress = !no_progress_;
        return options;
    }

    static std::vector<int> parse_cpus(const std::string& text) {
        std::vector<int> cpus;
        const long online = ::sysconf(_SC_NPROCESSORS_CONF);
        std::size_t start = 0;
        while (start <= text.size()) {
            const std::size_t comma = text.find(',', start);
            const std::string item =
                text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
            const std::uint64_t cpu = parse_count("--cpus", item);
            if (online > 0 && cpu >= static_cast<std::uint64_t>(online)) {
                throw Failure(ExitStatus::kUsage,
                              fmt::format("--cpus: CPU {} does not exist (this machine has {})",
                                          cpu, online));
            }
            cpus.push_back(static_cast<int>(cpu));
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
        if (cpus.size() > 2) {
            throw Failure(ExitStatus::kUsage,
                          "--cpus: one CPU for everything, or two: publishers, subscribers");
        }
        return cpus;
    }

    /// Counts default per test: throughput 4 GiB worth of payload (10k to 10M records),
    /// latency 200,000 round trips.
    static std::uint64_t default_count(const BenchOptions& options, bool latency) {
        if (latency) return 200'000;
        const std::uint64_t records = (std::uint64_t{4} << 30) / options.size;
        return std::clamp<std::uint64_t>(records, 10'000, 10'000'000);
    }

    void print_report(const BenchOptions& options, std::uint64_t capacity,
                      const std::optional<ThroughputFigures>& throughput,
                      const std::optional<LatencyFigures>& latency) const {
        const std::string where =
            topic_ ? fmt::format("topic '{}'", *topic_)
                   : fmt::format("a scratch topic ({} ring, timestamps {})",
                                 describe_size(capacity), timestamps_on_ ? "on" : "off");
        const std::string placement =
            options.cpus.empty() ? "not pinned"
                                 : fmt::format("publishers on CPU {}, subscribers on CPU {}",
                                               options.cpus.front(), options.cpus.back());
        fmt::print("shmbus bench on {}: {}-byte records, subscribers {}, {}\n", where, options.size,
                   options.sleep ? "sleep" : "spin", placement);
        if (throughput) {
            const ThroughputFigures& t = *throughput;
            fmt::print("\nthroughput: {} publisher{} -> {} subscriber{}, {} records, {}\n",
                       options.publishers, options.publishers == 1 ? "" : "s", options.subscribers,
                       options.subscribers == 1 ? "" : "s", t.records,
                       options.batch == 1 ? "one per publish call (try_offer)"
                                          : fmt::format("batches of {}", options.batch));
            fmt::print("  {}   {}   in {:.3f} s\n", rate_text(t.records_per_s),
                       bandwidth_text(t.mb_per_s), t.elapsed_ns / 1e9);
            fmt::print("  CPU per record: publisher {}, subscriber {}\n",
                       ns_text(t.publisher_cpu_ns), ns_text(t.subscriber_cpu_ns));
            if (t.lost > 0) {
                fmt::print("  lost: {} records overwritten before a subscriber read them\n",
                           t.lost);
            }
        }
        if (latency) {
            const LatencyFigures& l = *latency;
            fmt::print(
                "\nlatency, one way (half a ping-pong round trip): {} round trips after "
                "{} warm-up\n",
                l.round_trips, options.warmup);
            fmt::print("  p50 {}   p90 {}   p99 {}   p99.9 {}   max {}\n", ns_text(l.p50_ns),
                       ns_text(l.p90_ns), ns_text(l.p99_ns), ns_text(l.p999_ns), ns_text(l.max_ns));
        }
        const double foreign = std::max(throughput ? throughput->foreign_share : 0.0,
                                        latency ? latency->foreign_share : 0.0);
        if (foreign > 0.05) {
            fmt::print(
                "\nnote: other programs used {:.0f}% of the CPUs meanwhile; the figures "
                "are disturbed\n",
                foreign * 100);
        }
    }

    void print_json(const BenchOptions& options, const std::optional<ThroughputFigures>& throughput,
                    const std::optional<LatencyFigures>& latency) const {
        JsonWriter json;
        json.begin_object();
        json.field("topic", topic_.value_or(""));
        json.field("size", options.size);
        json.field("wait", options.sleep ? "sleep" : "spin");
        json.field("batch", options.batch);
        json.field("publishers", options.publishers);
        json.field("subscribers", options.subscribers);
        double foreign = 0;
        if (throughput) {
            const ThroughputFigures& t = *throughput;
            json.field("records", t.records);
            json.field("received", t.received);
            json.field("lost", t.lost);
            json.field("elapsed_ns", t.elapsed_ns);
            json.field("msgs_per_s", t.records_per_s);
            json.field("mb_per_s", t.mb_per_s);
            json.field("publisher_cpu_ns_per_record", t.publisher_cpu_ns);
            json.field("subscriber_cpu_ns_per_record", t.subscriber_cpu_ns);
            foreign = std::max(foreign, t.foreign_share);
        }
        if (latency) {
            const LatencyFigures& l = *latency;
            json.field("round_trips", l.round_trips);
            json.field("warmup", options.warmup);
            json.field("min_ns", l.min_ns);
            json.field("p50_ns", l.p50_ns);
            json.field("p90_ns", l.p90_ns);
            json.field("p99_ns", l.p99_ns);
            json.field("p999_ns", l.p999_ns);
            json.field("max_ns", l.max_ns);
            json.field("mean_ns", l.mean_ns);
            foreign = std::max(foreign, l.foreign_share);
        }
        json.field("foreign_share", foreign);
        json.end_object();
        fmt::print("{}\n", json.text());
    }

    std::optional<std::string> topic_;
    std::string test_ = "throughput";
    std::string size_text_ = "64";
    std::optional<std::string> count_text_;
    std::string warmup_text_ = "20000";
    std::string publishers_text_ = "1";
    std::string subscribers_text_ = "1";
    std::string wait_ = "spin";
    std::string batch_text_ = "32";
    std::string capacity_text_;
    std::string timestamps_;
    std::optional<std::string> cpus_text_;
    bool json_ = false;
    bool no_progress_ = false;
    std::uint64_t capacity_ = 0;
    bool timestamps_on_ = true;
};

const CommandRegistration registration{
    "bench", "Measure throughput and latency of publishing and subscribing on this machine",
    make_command<Bench>};

}  // namespace
}  // namespace shmbus::cli
