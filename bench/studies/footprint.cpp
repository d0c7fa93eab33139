#include "studies/footprint.hpp"

#include <sys/stat.h>

#include <string>

#include "core/child_processes.hpp"
#include "core/placement.hpp"
#include "core/record_stamp.hpp"
#include "core/resources.hpp"
#include "shmbus/publisher.hpp"
#include "shmbus/subscriber.hpp"
#include "shmbus/topic.hpp"

namespace shmbus::bench {
namespace {

constexpr const char* kTopic = "footprint";
constexpr std::size_t kRecordSize = 64;

struct Variant {
    const char* name;
    bool prefault;
    bool read_lap;
};
constexpr Variant kVariants[] = {
    {"attached_prefaulted", true, false},
    {"attached_lazy", false, false},
    {"read_lap_lazy", false, true},
};

struct FileSize {
    std::uint64_t bytes = 0;
    std::uint64_t allocated = 0;
};

FileSize size_of(const std::filesystem::path& path) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) return {};
    return {static_cast<std::uint64_t>(info.st_size),
            static_cast<std::uint64_t>(info.st_blocks) * 512u};
}

std::uint64_t fill_one_lap(const std::filesystem::path& directory) {
    const Topic topic = Topic::open(directory, kTopic);
    Publisher publisher(topic);
    std::vector<std::byte> record(kRecordSize);
    const std::uint64_t records = topic.capacity() / topic.view().frame_size(kRecordSize) - 1;
    for (std::uint64_t i = 0; i < records; ++i) {
        stamp_record(record, 0, i);
        if (publisher.try_offer(record) != Status::kOk) {
            throw std::runtime_error("footprint: filling the ring failed");
        }
    }
    return records;
}

}  // namespace

CaseOutcome run_footprint(const CaseOptions& options, const CaseScratch& scratch) {
    create_topic(scratch.directory(), kTopic, TopicOptions{});
    const std::uint64_t records = fill_one_lap(scratch.directory());
    const FileSize records_file = size_of(scratch.directory() / kTopic / "records");
    const FileSize state_file = size_of(scratch.directory() / kTopic / "state");

    CaseOutcome total;
    total.line.field("records_file_bytes", records_file.bytes)
        .field("records_file_allocated", records_file.allocated)
        .field("state_file_bytes", state_file.bytes)
        .field("state_file_allocated", state_file.allocated);
    for (const Variant& variant : kVariants) {
        CaseOutcome outcome;
        ChildProcesses children(outcome.control);
        children.spawn(0, [&](ProcessReport& report) {
            report.cpu = options.reader_cpus[0];
            pin_to_cpu(report.cpu);
            report.rss_before_kb = residency_of_self().rss_kb;
            const Topic topic =
                Topic::open(scratch.directory(), kTopic,
                            {.access = Access::kSubscribe, .prefault = variant.prefault});
            Subscriber subscriber(topic, SubscriberOptions{.start = StartAt::earliest()});
            outcome.control.arrive(report);
            outcome.control.await(Phase::kGo, options.timeout);
            if (variant.read_lap) {
                SequenceCheck check(1, kRecordSize);
                while (
                    subscriber.poll([&](const Record& got) { check.check(got.payload); }).records >
                    0) {
                }
                report.records = check.received();
                report.errors = check.errors() + (check.received() == records ? 0 : 1);
            }
            const Residency residency = residency_of_self();
            report.rss_kb = residency.rss_kb;
            report.rss_anon_kb = residency.anon_kb;
            report.rss_file_kb = residency.file_kb;
            report.rss_shmem_kb = residency.shmem_kb;
        });
        outcome.finish(children, 1, options, scratch.directory());
        for (const std::string& failure : outcome.failures)
            total.failures.push_back(failure);
        const ProcessReport& report = outcome.control.report(0);
        const std::string prefix = variant.name;
        total.line.field(prefix + "_rss_before_kb", report.rss_before_kb)
            .field(prefix + "_rss_kb", report.rss_kb)
            .field(prefix + "_anon_kb", report.rss_anon_kb)
            .field(prefix + "_file_kb", report.rss_file_kb)
            .field(prefix + "_shmem_kb", report.rss_shmem_kb)
            .field(prefix + "_errors", report.errors);
    }
    return total;
}

}  // namespace shmbus::bench
