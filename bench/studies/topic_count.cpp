#include "studies/topic_count.hpp"

#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cases/measured_phase.hpp"
#include "core/child_processes.hpp"
#include "core/placement.hpp"
#include "core/record_stamp.hpp"
#include "shmbus/publisher.hpp"
#include "shmbus/subscriber.hpp"
#include "shmbus/topic.hpp"

namespace shmbus::bench {
namespace {

constexpr std::uint64_t kCapacity = 64 * 1024;
constexpr std::size_t kRecordSize = 64;
constexpr std::uint64_t kRecords = 1'000'000;

enum Figure : std::size_t {
    kCreateNsPerTopic,
    kOpenNsPerTopic,
    kRssKb,
    kRssBeforeKb,
    kDescriptors,
    kMappings,
    kNsPerRecord,
};

std::size_t count_entries(const std::filesystem::path& directory) {
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(directory)) {
        ++entries;
    }
    return entries;
}

std::size_t count_lines(const char* path) {
    std::ifstream file(path);
    std::string line;
    std::size_t lines = 0;
    while (std::getline(file, line))
        ++lines;
    return lines;
}

struct OpenTopic {
    explicit OpenTopic(const Topic& opened)
        : topic(opened),
          publisher(topic),
          subscriber(topic, SubscriberOptions{.start = StartAt::latest()}) {}
    Topic topic;
    Publisher publisher;
    Subscriber subscriber;
};

void measure(const CaseOptions& options, const CaseScratch& scratch, ProcessReport& report) {
    // Every topic holds three descriptors (two files, one slot lock per client).
    rlimit files{};
    (void)::getrlimit(RLIMIT_NOFILE, &files);
    files.rlim_cur = files.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &files);
    report.figures[kRssBeforeKb] = static_cast<double>(residency_of_self().rss_kb);

    const std::size_t topics = options.topics;
    TopicOptions topic_options;
    topic_options.capacity = kCapacity;
    topic_options.max_record_size = 1024;
    topic_options.timestamps = options.peer_options.timestamps;
    std::uint64_t started = monotonic_ns();
    for (std::size_t i = 0; i < topics; ++i) {
        create_topic(scratch.directory(), "topic-" + std::to_string(i), topic_options);
    }
    report.figures[kCreateNsPerTopic] =
        static_cast<double>(monotonic_ns() - started) / static_cast<double>(topics);

    started = monotonic_ns();
    std::vector<std::unique_ptr<OpenTopic>> open;
    for (std::size_t i = 0; i < topics; ++i) {
        open.push_back(std::make_unique<OpenTopic>(
            Topic::open(scratch.directory(), "topic-" + std::to_string(i),
                        {.access = Access::kPublish, .prefault = options.peer_options.prefault})));
    }
    report.figures[kOpenNsPerTopic] =
        static_cast<double>(monotonic_ns() - started) / static_cast<double>(topics);
    report.figures[kDescriptors] = static_cast<double>(count_entries("/proc/self/fd"));
    report.figures[kMappings] = static_cast<double>(count_lines("/proc/self/maps"));

    std::vector<std::byte> record(kRecordSize);
    SequenceCheck check(topics, kRecordSize);
    std::vector<std::uint64_t> sequences(topics, 0);
    const std::uint64_t rounds = (kRecords + topics - 1) / topics;
    MeasuredPhase phase(report);
    for (std::uint64_t round = 0; round < rounds; ++round) {
        for (std::size_t i = 0; i < topics; ++i) {
            stamp_record(record, i, sequences[i]++);
            if (open[i]->publisher.try_offer(record) != Status::kOk) {
                throw std::runtime_error("topics study: publishing failed");
            }
        }
        for (std::size_t i = 0; i < topics; ++i) {
            (void)open[i]->subscriber.poll([&](const Record& got) { check.check(got.payload); });
        }
    }
    phase.finish();
    report.records = check.received();
    report.errors = check.errors() + (check.received() == rounds * topics ? 0 : 1);
    report.figures[kNsPerRecord] =
        static_cast<double>(report.end_ns - report.start_ns) / static_cast<double>(rounds * topics);
    report.figures[kRssKb] = static_cast<double>(residency_of_self().rss_kb);
}

}  // namespace

CaseOutcome run_topic_count(const CaseOptions& options, const CaseScratch& scratch) {
    if (options.topics == 0) throw std::invalid_argument("--topics: at least 1");
    CaseOutcome outcome;
    ChildProcesses children(outcome.control);
    children.spawn(0, [&](ProcessReport& report) {
        report.cpu = options.writer_cpus[0];
        pin_to_cpu(report.cpu);
        outcome.control.arrive(report);
        outcome.control.await(Phase::kGo, options.timeout);
        measure(options, scratch, report);
    });
    outcome.finish(children, 1, options, scratch.directory());
    const ProcessReport& report = outcome.control.report(0);
    const double topics = static_cast<double>(options.topics);
    outcome.line.field("topics", options.topics)
        .field("create_us_per_topic", report.figures[kCreateNsPerTopic] / 1e3)
        .field("open_us_per_topic", report.figures[kOpenNsPerTopic] / 1e3)
        .field("rss_kb", report.figures[kRssKb])
        .field("rss_kb_per_topic", (report.figures[kRssKb] - report.figures[kRssBeforeKb]) / topics)
        .field("descriptors", report.figures[kDescriptors])
        .field("mappings", report.figures[kMappings])
        .field("ns_per_record", report.figures[kNsPerRecord])
        .field("errors", report.errors);
    return outcome;
}

}  // namespace shmbus::bench
