// shmbus bench --test latency: the ping-pong (see bench_measurements.hpp).
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "bench_clock.hpp"
#include "bench_endpoints.hpp"
#include "bench_measurements.hpp"
#include "bench_processes.hpp"

namespace shmbus::cli {
namespace {

constexpr std::size_t kPing = 0;
constexpr std::size_t kPong = 1;
constexpr std::uint64_t kProgressEvery = 1024;

int cpu_of(const BenchOptions& options, std::size_t side) {
    if (options.cpus.empty()) return -1;
    return options.cpus[std::min(side, options.cpus.size() - 1)];
}

Topic open_for(const BenchTopic& topic, Access access) {
    return Topic::open(topic.directory, topic.name, {.access = access, .prefault = true});
}

SubscriberOptions subscriber_options() {
    // spin = 0: a sleeping subscriber goes straight to its semaphore.
    return SubscriberOptions{.start = StartAt::latest(), .spin = std::chrono::nanoseconds(0)};
}

PublisherOptions publisher_options(bool sleep) {
    return sleep ? PublisherOptions{} : PublisherOptions{.spin = kBenchSpinForever};
}

void note_progress(BenchSlot& slot, std::uint64_t done) noexcept {
    // Relaxed: only the progress line reads it, and nothing is ordered by it.
    std::atomic_ref<std::uint64_t>(slot.progress).store(done, std::memory_order_relaxed);
}

}  // namespace

LatencyFigures measure_latency(const BenchTopic& there, const BenchTopic& back,
                               const BenchOptions& options, std::uint64_t tag,
                               const BenchTick& tick) {
    const double ns_per_tick = calibrate_ticks();
    const std::uint64_t total = options.warmup + options.count;
    BenchProcesses processes;
    processes.spawn(kPong, cpu_of(options, 1), [&](BenchSlot& slot) {
        const Topic in = open_for(there, Access::kSubscribe);
        const Topic out = open_for(back, Access::kPublish);
        Subscriber subscriber(in, subscriber_options());
        Publisher publisher(out, publisher_options(options.sleep));
        std::vector<std::byte> echo(options.size);
        processes.arrive_and_wait();
        const std::uint64_t cpu_before = bench_cpu_ns();
        slot.start_ns = bench_now_ns();
        for (std::uint64_t i = 0; i < total;) {
            bool ours = false;
            (void)bench_receive(
                subscriber, options.sleep,
                [&](std::span<const std::byte> record) {
                    ours = bench_read_stamp(record, options.size, tag).ours;
                    if (ours) std::memcpy(echo.data(), record.data(), options.size);
                },
                [] { return false; });
            if (!ours) continue;  // a record of another program on the same topic
            bench_publish(publisher, echo, options.sleep);
            ++i;
        }
        slot.end_ns = bench_now_ns();
        slot.cpu_ns = bench_cpu_ns() - cpu_before;
        slot.records = total;
        slot.total_cpu_ns = bench_cpu_ns();
    });
    processes.spawn(kPing, cpu_of(options, 0), [&](BenchSlot& slot) {
        const Topic out = open_for(there, Access::kPublish);
        const Topic in = open_for(back, Access::kSubscribe);
        Publisher publisher(out, publisher_options(options.sleep));
        Subscriber subscriber(in, subscriber_options());
        std::vector<std::byte> record(options.size);
        std::vector<std::byte> copy(options.size);
        std::vector<std::uint64_t> samples(options.count, 0);
        processes.arrive_and_wait();
        const std::uint64_t cpu_before = bench_cpu_ns();
        slot.start_ns = bench_now_ns();
        for (std::uint64_t i = 0; i < total; ++i) {
            bench_stamp(record, i, 0, tag);
            const std::uint64_t sent = bench_ticks();
            bench_publish(publisher, record, options.sleep);
            bool echoed = false;
            while (!echoed) {
                (void)bench_receive(
                    subscriber, options.sleep,
                    [&](std::span<const std::byte> got) {
                        const BenchStamp stamp = bench_read_stamp(got, options.size, tag);
                        if (!stamp.ours) return;
                        std::memcpy(copy.data(), got.data(), options.size);
                        if (stamp.sequence != i) ++slot.errors;
                        echoed = true;
                    },
                    [] { return false; });
            }
            const std::uint64_t returned = bench_ticks();
            if (i >= options.warmup) samples[i - options.warmup] = returned - sent;
            if (i % kProgressEvery == 0) note_progress(slot, i);
        }
        slot.end_ns = bench_now_ns();
        slot.cpu_ns = bench_cpu_ns() - cpu_before;
        slot.records = total;
        summarize_ticks(samples, ns_per_tick, 2.0, slot.percentiles_ns);
        slot.total_cpu_ns = bench_cpu_ns();
        if (slot.errors > 0) {
            throw std::runtime_error(
                fmt::format("{} echoes came back with the wrong sequence number", slot.errors));
        }
    });
    const std::uint64_t busy_before = machine_busy_ns();
    const std::uint64_t started = bench_now_ns();
    BenchBoard& board = processes.board();
    processes.run(options.timeout, [&] {
        tick(std::atomic_ref<std::uint64_t>(board.slots[kPing].progress)
                 .load(std::memory_order_relaxed),
             total);
    });
    const double window = static_cast<double>(bench_now_ns() - started);
    const double busy = static_cast<double>(machine_busy_ns() - busy_before);
    const double ours =
        static_cast<double>(board.slots[kPing].total_cpu_ns + board.slots[kPong].total_cpu_ns);

    LatencyFigures figures;
    const double(&ns)[7] = board.slots[kPing].percentiles_ns;
    figures.min_ns = ns[0];
    figures.p50_ns = ns[1];
    figures.p90_ns = ns[2];
    figures.p99_ns = ns[3];
    figures.p999_ns = ns[4];
    figures.max_ns = ns[5];
    figures.mean_ns = ns[6];
    figures.round_trips = options.count;
    figures.foreign_share =
        window > 0 ? std::max(0.0, busy - ours) / (window * machine_cpus()) : 0.0;
    return figures;
}

}  // namespace shmbus::cli
