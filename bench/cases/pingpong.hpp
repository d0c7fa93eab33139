// Ping-pong: the one-way latency of one record, as half a round trip.
//
// The ping process (on writer_cpus[0]) stamps a sequence number into a record, reads the cycle
// counter, sends the record over link "ping", waits for it to come back over link "pong", and
// reads the counter again: one sample. The pong process (on reader_cpus[0]) copies each record
// it receives and sends the copy back. `warmup` round trips run first and are not recorded;
// then `count` are. Both sides copy every payload out of the transport, as an application that
// keeps its data would, and ping checks every echo's sequence number.
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "cases/case_options.hpp"
#include "cases/case_outcome.hpp"
#include "cases/case_scratch.hpp"
#include "cases/measured_phase.hpp"
#include "core/child_processes.hpp"
#include "core/clock.hpp"
#include "core/control_block.hpp"
#include "core/latency_recorder.hpp"
#include "core/placement.hpp"
#include "core/record_stamp.hpp"
#include "core/resources.hpp"
#include "peers/link_spec.hpp"

namespace shmbus::bench {

template <Peer P>
CaseOutcome run_pingpong(const CaseOptions& options, const CaseScratch& scratch) {
    constexpr std::size_t kPing = 0;
    constexpr std::size_t kPong = 1;
    typename P::Link there(scratch.link("ping"));
    typename P::Link back(scratch.link("pong"));
    const CycleClock clock = CycleClock::calibrate();
    const std::uint64_t total = options.warmup + options.count;

    CaseOutcome outcome;
    ChildProcesses children(outcome.control);
    children.spawn(kPong, [&](ProcessReport& report) {
        report.cpu = options.reader_cpus[0];
        pin_to_cpu(report.cpu);
        report.rss_before_kb = residency_of_self().rss_kb;
        const std::uint64_t opening = monotonic_ns();
        typename P::Reader reader(there, options.peer_options);
        typename P::Writer writer(back, options.peer_options);
        report.setup_ns = monotonic_ns() - opening;
        std::vector<std::byte> echo(options.size);
        outcome.control.arrive(report);
        outcome.control.await(Phase::kGo, options.timeout);
        MeasuredPhase phase(report);
        for (std::uint64_t i = 0; i < total; ++i) {
            std::size_t length = 0;
            reader.receive([&](std::span<const std::byte> record) {
                length = std::min(record.size(), echo.size());
                std::memcpy(echo.data(), record.data(), length);
            });
            writer.send(std::span<const std::byte>(echo.data(), length));
            ++report.records;
        }
        phase.finish();
    });
    children.spawn(kPing, [&](ProcessReport& report) {
        report.cpu = options.writer_cpus[0];
        pin_to_cpu(report.cpu);
        report.rss_before_kb = residency_of_self().rss_kb;
        const std::uint64_t opening = monotonic_ns();
        typename P::Writer writer(there, options.peer_options);
        typename P::Reader reader(back, options.peer_options);
        report.setup_ns = monotonic_ns() - opening;
        std::vector<std::byte> record(options.size);
        std::vector<std::byte> copy(options.size);
        LatencyRecorder recorder(options.count);
        SequenceCheck check(1, options.size);
        outcome.control.arrive(report);
        outcome.control.await(Phase::kGo, options.timeout);
        MeasuredPhase phase(report);
        for (std::uint64_t i = 0; i < total; ++i) {
            stamp_record(record, 0, i);
            const std::uint64_t sent = CycleClock::now();
            writer.send(record);
            reader.receive([&](std::span<const std::byte> echoed) {
                std::memcpy(copy.data(), echoed.data(), std::min(echoed.size(), copy.size()));
                check.check(echoed);
            });
            const std::uint64_t back_again = CycleClock::now();
            if (i >= options.warmup) recorder.add(back_again - sent);
        }
        phase.finish();
        report.records = check.received();
        report.errors = check.errors() + (check.received() == total ? 0 : 1);
        report.latency = recorder.summarize(clock, 2.0);
    });
    outcome.finish(children, 2, options, scratch.directory());

    const ProcessReport& ping = outcome.control.report(kPing);
    const ProcessReport& pong = outcome.control.report(kPong);
    JsonWriter& line = outcome.line;
    line.field("round_trips", options.count).field("warmup", options.warmup);
    line.field("p50_ns", ping.latency.p50_ns)
        .field("p90_ns", ping.latency.p90_ns)
        .field("p99_ns", ping.latency.p99_ns)
        .field("p999_ns", ping.latency.p999_ns)
        .field("min_ns", ping.latency.min_ns)
        .field("max_ns", ping.latency.max_ns)
        .field("mean_ns", ping.latency.mean_ns);
    const double one_way = 2.0 * static_cast<double>(total);
    line.field("cpu_ns_per_record",
               static_cast<double>(ping.user_ns + ping.system_ns + pong.user_ns + pong.system_ns) /
                   one_way);
    line.field("switches_per_record",
               static_cast<double>(ping.voluntary_switches + pong.voluntary_switches) / one_way);
    line.field("errors", ping.errors);
    line.field("setup_ns", std::max(ping.setup_ns, pong.setup_ns));
    return outcome;
}

}  // namespace shmbus::bench
