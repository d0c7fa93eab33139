// Streams: throughput from writers to readers, lossless, every record checked.
//
//   1 -> 1   one writer, one reader                          (throughput)
//   1 -> N   one writer, N readers that each get every record (fan-out)
//   N -> 1   N writers, one reader that gets all records      (fan-in)
//
// Each writer sends `count` records, stamped with its number and a sequence number, handing
// them to the peer `batch` at a time (send_many: shmbus's batch path publishes them with one
// claim; other peers send them one by one). Each reader copies every payload out, checks
// every sequence number, and stops when it has all writers' records. Throughput is all the
// records one reader got, divided by the time from the first writer's start to the last
// reader's end.
//
// A peer that reaches many readers through one link (kBroadcast) gets one link for a fan-out;
// any other gets one link per reader, and the writer sends each record down every link. A
// fan-in needs a peer whose link takes many writers (kMultiWriter).
//
// With `deferred_readers`, readers attach before the writer starts but read only after it has
// finished: the writer's time and CPU per record are then its own cost with N readers
// attached and none of them asleep (the link must hold all the records).
#pragma once

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "cases/case_options.hpp"
#include "cases/case_outcome.hpp"
#include "cases/case_scratch.hpp"
#include "cases/measured_phase.hpp"
#include "core/child_processes.hpp"
#include "core/placement.hpp"
#include "core/record_stamp.hpp"
#include "core/resources.hpp"
#include "peers/link_spec.hpp"

namespace shmbus::bench {

template <Peer P>
CaseOutcome run_stream(const CaseOptions& options, const CaseScratch& scratch) {
    const std::size_t writers = options.writers;
    const std::size_t readers = options.readers;
    if (writers == 0 || readers == 0 || writers + readers > kMaxProcesses) {
        throw std::invalid_argument("writers and readers: at least 1 each, at most 16 together");
    }
    if (writers > 1 && readers > 1) {
        throw std::invalid_argument("a stream has one writer or one reader");
    }
    if (writers > 1 && !P::kMultiWriter) {
        throw std::invalid_argument(std::string(P::kName) +
                                    " takes one writer per link: no fan-in");
    }
    const bool link_per_reader = readers > 1 && !P::kBroadcast;
    std::vector<std::unique_ptr<typename P::Link>> links;
    for (std::size_t i = 0; i < (link_per_reader ? readers : 1); ++i) {
        links.push_back(
            std::make_unique<typename P::Link>(scratch.link("stream-" + std::to_string(i))));
    }
    const std::uint64_t expected = options.count * writers;

    CaseOutcome outcome;
    ChildProcesses children(outcome.control);
    for (std::size_t r = 0; r < readers; ++r) {
        children.spawn(writers + r, [&, r](ProcessReport& report) {
            report.cpu = cpu_for(options.reader_cpus, r);
            pin_to_cpu(report.cpu);
            report.rss_before_kb = residency_of_self().rss_kb;
            const std::uint64_t opening = monotonic_ns();
            typename P::Reader reader(*links[link_per_reader ? r : 0], options.peer_options);
            report.setup_ns = monotonic_ns() - opening;
            std::vector<std::byte> copy(options.size);
            SequenceCheck check(writers, options.size);
            outcome.control.arrive(report);
            outcome.control.await(options.deferred_readers ? Phase::kDrain : Phase::kGo,
                                  options.timeout);
            MeasuredPhase phase(report);
            while (check.received() < expected) {
                reader.receive([&](std::span<const std::byte> record) {
                    std::memcpy(copy.data(), record.data(), std::min(record.size(), copy.size()));
                    check.check(record);
                });
            }
            phase.finish();
            report.records = check.received();
            report.errors = check.errors() + (check.received() == expected ? 0 : 1);
        });
    }
    for (std::size_t w = 0; w < writers; ++w) {
        children.spawn(w, [&, w](ProcessReport& report) {
            report.cpu = cpu_for(options.writer_cpus, w);
            pin_to_cpu(report.cpu);
            report.rss_before_kb = residency_of_self().rss_kb;
            const std::uint64_t opening = monotonic_ns();
            std::vector<std::unique_ptr<typename P::Writer>> ends;
            for (auto& link : links) {
                ends.push_back(std::make_unique<typename P::Writer>(*link, options.peer_options));
            }
            report.setup_ns = monotonic_ns() - opening;
            const std::size_t batch = std::max<std::size_t>(1, options.batch);
            std::vector<std::byte> buffers(batch * options.size);
            std::vector<std::span<const std::byte>> records(batch);
            outcome.control.arrive(report);
            outcome.control.await(Phase::kGo, options.timeout);
            MeasuredPhase phase(report);
            for (std::uint64_t sent = 0; sent < options.count;) {
                const std::size_t n =
                    static_cast<std::size_t>(std::min<std::uint64_t>(batch, options.count - sent));
                for (std::size_t i = 0; i < n; ++i) {
                    const std::span<std::byte> record(buffers.data() + i * options.size,
                                                      options.size);
                    stamp_record(record, w, sent + i);
                    records[i] = record;
                }
                for (auto& end : ends)
                    end->send_many(std::span(records.data(), n));
                sent += n;
            }
            phase.finish();
            report.records = options.count;
            if (options.deferred_readers) outcome.control.release(Phase::kDrain);
        });
    }
    outcome.finish(children, static_cast<std::uint32_t>(writers + readers), options,
                   scratch.directory());

    std::uint64_t start = ~std::uint64_t{0}, writers_end = 0, end = 0, writer_cpu = 0,
                  reader_cpu = 0, errors = 0, writer_faults = 0, reader_faults = 0,
                  reader_switches = 0, writer_switches = 0, setup = 0, rss = 0, rss_shmem = 0,
                  rss_anon = 0, rss_before = 0;
    for (std::size_t w = 0; w < writers; ++w) {
        const ProcessReport& report = outcome.control.report(w);
        start = std::min(start, report.start_ns);
        writers_end = std::max(writers_end, report.end_ns);
        writer_cpu += report.user_ns + report.system_ns;
        writer_faults += report.minor_faults;
        writer_switches += report.voluntary_switches;
        setup = std::max(setup, report.setup_ns);
    }
    for (std::size_t r = 0; r < readers; ++r) {
        const ProcessReport& report = outcome.control.report(writers + r);
        end = std::max(end, report.end_ns);
        reader_cpu += report.user_ns + report.system_ns;
        errors += report.errors;
        reader_faults += report.minor_faults;
        reader_switches += report.voluntary_switches;
        setup = std::max(setup, report.setup_ns);
        rss = std::max(rss, report.rss_kb);
        rss_shmem = std::max(rss_shmem, report.rss_shmem_kb);
        rss_anon = std::max(rss_anon, report.rss_anon_kb);
        rss_before = std::max(rss_before, report.rss_before_kb);
    }
    const double elapsed = end > start ? static_cast<double>(end - start) : 0.0;
    const double records = static_cast<double>(expected);
    const double writing = writers_end > start ? static_cast<double>(writers_end - start) : 0.0;
    JsonWriter& line = outcome.line;
    line.field("records_per_writer", options.count).field("batch", options.batch);
    line.field("elapsed_ns", elapsed);
    line.field("msgs_per_s", elapsed > 0 ? records / elapsed * 1e9 : 0.0);
    line.field("deliveries_per_s",
               elapsed > 0 ? records * static_cast<double>(readers) / elapsed * 1e9 : 0.0);
    line.field("mb_per_s",
               elapsed > 0 ? records * static_cast<double>(options.size) / elapsed * 1e3 : 0.0);
    line.field("writer_ns_per_record", writing / records);
    line.field("writer_cpu_ns_per_record", static_cast<double>(writer_cpu) / records);
    line.field("reader_cpu_ns_per_record",
               static_cast<double>(reader_cpu) / (records * static_cast<double>(readers)));
    line.field("writer_minor_faults", writer_faults).field("reader_minor_faults", reader_faults);
    line.field("writer_switches_per_record", static_cast<double>(writer_switches) / records);
    line.field("reader_switches_per_record",
               static_cast<double>(reader_switches) / (records * static_cast<double>(readers)));
    line.field("setup_ns", setup);
    line.field("reader_rss_before_kb", rss_before)
        .field("reader_rss_kb", rss)
        .field("reader_rss_anon_kb", rss_anon)
        .field("reader_rss_shmem_kb", rss_shmem);
    line.field("errors", errors);
    return outcome;
}

}  // namespace shmbus::bench
