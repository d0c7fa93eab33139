// shmbus-harness: runs one benchmark case against one peer and appends its result, one line of
// JSON, to --output (or prints it). bench/run.sh calls it once per case, peer and run; it is
// also the tool for trying a single case by hand:
//
//   shmbus-harness --peer reference --case pingpong --size 64
//   shmbus-harness --peer shmbus --case stream --size 64 --count 20000000 --api batch
//   shmbus-harness --peer shmbus --case stream --mode sleep --readers 4 --reader-cpus 1
//   shmbus-harness --peer shmbus --case pingpong --mode fd      (the reader in epoll, on wake_fd)
//
// Exit status 0 when every process finished and every record checked out; 1 otherwise (the
// line still says what failed); 2 for bad arguments.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <type_traits>

#include "cases/case_options.hpp"
#include "cases/case_outcome.hpp"
#include "cases/case_scratch.hpp"
#include "cases/pingpong.hpp"
#include "cases/stream.hpp"
#include "core/placement.hpp"
#include "peers/peer_list.hpp"
#include "studies/footprint.hpp"
#include "studies/topic_count.hpp"

namespace shmbus::bench {
namespace {

struct CommandLine {
    CaseOptions options;
    std::string writer_cpus = "0";
    std::string reader_cpus = "1";
    std::string mode = "spin";
    std::string api = "single";
    std::string timestamps = "on";  // a topic as shmbus create makes it
    std::string fenced_commits = "off";
    std::string prefault = "on";
    std::string output;
    std::string label;
    int run = 0;
    unsigned timeout_s = 300;
    unsigned daemon_interval_ms = 250;
};

bool on_off(const std::string& option, const std::string& value) {
    if (value == "on") return true;
    if (value == "off") return false;
    throw std::invalid_argument(option + ": '" + value + "' is neither on nor off");
}

void define(CLI::App& app, CommandLine& line) {
    CaseOptions& o = line.options;
    app.add_option("--peer", o.peer, "Transport to measure: " + std::string(kPeerNames));
    app.add_option("--case", o.kind, "pingpong, stream, topics (shmbus), footprint (shmbus)");
    app.add_option("--size", o.size, "Payload bytes per record (at least 16)");
    app.add_option("--count", o.count, "Measured round trips, or records per writer");
    app.add_option("--warmup", o.warmup, "Round trips before measuring (pingpong)");
    app.add_option("--writers", o.writers, "Writer processes (stream)");
    app.add_option("--readers", o.readers, "Reader processes (stream)");
    app.add_option("--writer-cpus", line.writer_cpus, "CPUs of ping / the writers, round-robin");
    app.add_option("--reader-cpus", line.reader_cpus, "CPUs of pong / the readers, round-robin");
    app.add_option("--batch", o.batch, "Records handed to the peer at once (stream)");
    app.add_flag("--deferred-readers", o.deferred_readers,
                 "Readers read only after the writer finished (stream)");
    app.add_option("--topics", o.topics, "Topics open in one process (topics)");
    app.add_option("--mode", line.mode,
                   "spin, sleep, or fd (shmbus: in epoll on the wake descriptor): how readers "
                   "wait");
    app.add_option("--api", line.api, "single or batch: shmbus's publish path for streams");
    app.add_option("--timestamps", line.timestamps,
                   "on or off: shmbus topics stamp records (on: the default topic)");
    app.add_option("--fenced-commits", line.fenced_commits,
                   "on or off: shmbus topics' publishers commit with a full barrier, and "
                   "sleepers make no membarrier (off: the default topic)");
    app.add_option("--prefault", line.prefault, "on or off: map rings with MAP_POPULATE");
    app.add_option("--capacity", o.peer_options.capacity, "Bytes of buffering per link");
    app.add_option("--scratch", o.scratch_root, "Where the case's files go (default /dev/shm)");
    app.add_option("--timeout", line.timeout_s, "Seconds before a case is abandoned");
    app.add_option("--daemon", o.daemon, "shmbusd binary: supervise the case's topics with it");
    app.add_option("--daemon-interval-ms", line.daemon_interval_ms,
                   "The daemon's check interval in milliseconds");
    app.add_option("--output", line.output, "Append the result line to this file");
    app.add_option("--label", line.label, "A name for this configuration in the report");
    app.add_option("--run", line.run, "Which run of the sweep this is");
}

void resolve(CommandLine& line) {
    CaseOptions& o = line.options;
    o.writer_cpus = parse_cpu_list("--writer-cpus", line.writer_cpus);
    o.reader_cpus = parse_cpu_list("--reader-cpus", line.reader_cpus);
    if (line.mode == "spin") {
        o.peer_options.mode = WaitMode::kSpin;
    } else if (line.mode == "sleep") {
        o.peer_options.mode = WaitMode::kSleep;
    } else if (line.mode == "fd") {
        o.peer_options.mode = WaitMode::kFd;
    } else {
        throw std::invalid_argument("--mode: '" + line.mode + "' is not spin, sleep or fd");
    }
    if (line.api != "single" && line.api != "batch") {
        throw std::invalid_argument("--api: '" + line.api + "' is neither single nor batch");
    }
    o.peer_options.api = line.api == "single" ? PublishApi::kSingle : PublishApi::kBatch;
    o.peer_options.timestamps = on_off("--timestamps", line.timestamps);
    o.peer_options.fenced_commits = on_off("--fenced-commits", line.fenced_commits);
    o.peer_options.prefault = on_off("--prefault", line.prefault);
    o.timeout = std::chrono::seconds(line.timeout_s);
    o.daemon_interval = std::chrono::milliseconds(line.daemon_interval_ms);
    if (o.size < kMinRecordSize) throw std::invalid_argument("--size: at least 16 bytes");
    if (o.count == 0) throw std::invalid_argument("--count: at least 1");
}

CaseOutcome run_case(const CaseOptions& o, const CaseScratch& scratch) {
    if (o.kind == "topics") return run_topic_count(o, scratch);
    if (o.kind == "footprint") return run_footprint(o, scratch);
    return with_peer(o.peer, [&]<Peer P>() -> CaseOutcome {
        if (o.peer_options.mode == WaitMode::kSpin && !P::kCanSpin) {
            throw std::invalid_argument(o.peer + " cannot spin: use --mode sleep");
        }
        if (o.peer_options.mode == WaitMode::kSleep && !P::kCanSleep) {
            throw std::invalid_argument(o.peer + " cannot sleep: use --mode spin");
        }
        if (o.peer_options.mode == WaitMode::kFd && !P::kCanWaitFd) {
            throw std::invalid_argument(o.peer + " has no wake descriptor to wait on: use --mode " +
                                        (P::kCanSleep ? "sleep" : "spin"));
        }
        if (o.kind == "pingpong") return run_pingpong<P>(o, scratch);
        if constexpr (std::is_same_v<P, CacheLine>) {
            // One line holds one record: a stream would overwrite what the reader has not read.
            throw std::invalid_argument("cache-line is the latency floor: --case pingpong only");
        }
        if (o.kind == "stream") return run_stream<P>(o, scratch);
        throw std::invalid_argument("--case: unknown case '" + o.kind + "'");
    });
}

int run(const CommandLine& line) {
    const CaseOptions& o = line.options;
    JsonWriter head(JsonLayout::kSpaced);
    head.begin_object();
    head.field("label", line.label.empty() ? o.peer : line.label)
        .field("peer", o.kind == "topics" || o.kind == "footprint" ? std::string("shmbus") : o.peer)
        .field("case", o.kind)
        .field("run", line.run)
        .field("mode", name_of(o.peer_options.mode))
        .field("api", name_of(o.peer_options.api))
        .field("timestamps", o.peer_options.timestamps)
        .field("fenced_commits", o.peer_options.fenced_commits)
        .field("prefault", o.peer_options.prefault)
        .field("capacity", o.peer_options.capacity)
        .field("size", static_cast<std::uint64_t>(o.size))
        .field("writers", static_cast<std::uint64_t>(o.writers))
        .field("readers", static_cast<std::uint64_t>(o.readers))
        .field("writer_cpus", line.writer_cpus)
        .field("reader_cpus", line.reader_cpus)
        .field("daemon_interval_ms",
               o.daemon.empty() ? std::uint64_t{0} : std::uint64_t{line.daemon_interval_ms});
    CaseScratch scratch(o);
    CaseOutcome outcome = run_case(o, scratch);
    std::string failures;
    for (const std::string& failure : outcome.failures) {
        failures += (failures.empty() ? "" : "; ") + failure;
    }
    outcome.line.field("ok", failures.empty()).field("failures", failures);
    outcome.line.end_object();
    head.end_object();
    // One object: the run's members, then the case's.
    std::string text = head.text();
    text.pop_back();
    text += ", " + outcome.line.text().substr(1);
    if (line.output.empty()) {
        std::cout << text << std::endl;
    } else {
        std::ofstream file(line.output, std::ios::app);
        file << text << '\n';
        if (!file) throw std::runtime_error("cannot write " + line.output);
    }
    if (!failures.empty()) std::cerr << "shmbus-harness: " << failures << '\n';
    return failures.empty() ? 0 : 1;
}

}  // namespace
}  // namespace shmbus::bench

int main(int argc, char** argv) {
    shmbus::bench::CommandLine line;
    CLI::App app("Runs one benchmark case against one transport (see docs/BENCHMARKS.md).",
                 "shmbus-harness");
    shmbus::bench::define(app, line);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error);
    }
    try {
        shmbus::bench::resolve(line);
    } catch (const std::invalid_argument& error) {
        std::cerr << "shmbus-harness: " << error.what() << '\n';
        return 2;
    }
    try {
        return shmbus::bench::run(line);
    } catch (const std::invalid_argument& error) {
        std::cerr << "shmbus-harness: " << error.what() << '\n';
        return 2;
    } catch (const std::exception& error) {
        std::cerr << "shmbus-harness: " << error.what() << '\n';
        return 1;
    }
}
