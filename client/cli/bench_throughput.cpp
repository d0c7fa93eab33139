// shmbus bench --test throughput: publishers to subscribers (see bench_measurements.hpp).
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "bench_endpoints.hpp"
#include "bench_measurements.hpp"
#include "bench_processes.hpp"

namespace shmbus::cli {
namespace {

constexpr std::uint64_t kProgressEvery = 4096;
// In an overwrite topic a subscriber may never see a publisher's last records: once every
// publisher is done, it stops after this long without one.
constexpr std::uint64_t kQuietAfterPublishersNs = 200'000'000;

/// A subscriber's account of the records it received: per publisher, the next sequence
/// number it expects.
class Ledger {
  public:
    Ledger(std::uint32_t publishers, bool lossy) : next_(publishers, 0), lossy_(lossy) {}

    void note(const BenchStamp& stamp) noexcept {
        if (stamp.publisher >= next_.size()) {
            ++errors_;
            return;
        }
        ++received_;
        std::uint64_t& next = next_[stamp.publisher];
        if (stamp.sequence > next && lossy_) {
            lost_ += stamp.sequence - next;
        } else if (stamp.sequence != next) {
            ++errors_;
        }
        next = stamp.sequence + 1;
    }

    [[nodiscard]] bool complete(std::uint64_t count) const noexcept {
        for (const std::uint64_t next : next_) {
            if (next < count) return false;
        }
        return true;
    }

    [[nodiscard]] std::uint64_t received() const noexcept { return received_; }
    [[nodiscard]] std::uint64_t lost() const noexcept { return lost_; }
    [[nodiscard]] std::uint64_t errors() const noexcept { return errors_; }

  private:
    std::vector<std::uint64_t> next_;
    bool lossy_;
    std::uint64_t received_ = 0;
    std::uint64_t lost_ = 0;
    std::uint64_t errors_ = 0;
};

int cpu_of(const BenchOptions& options, std::size_t side) {
    if (options.cpus.empty()) return -1;
    return options.cpus[std::min(side, options.cpus.size() - 1)];
}

std::uint32_t load_acquire(const std::uint32_t& word) noexcept {
    // Acquire: pairs with the publishers' release increment when they finish.
    return std::atomic_ref<std::uint32_t>(const_cast<std::uint32_t&>(word))
        .load(std::memory_order_acquire);
}

}  // namespace

ThroughputFigures measure_throughput(const BenchTopic& topic, const BenchOptions& options,
                                     std::uint64_t tag, const BenchTick& tick) {
    const std::uint32_t publishers = options.publishers;
    const std::uint32_t subscribers = options.subscribers;
    const std::uint64_t expected = options.count * publishers;
    BenchProcesses processes;
    BenchBoard& board = processes.board();
    for (std::uint32_t s = 0; s < subscribers; ++s) {
        processes.spawn(publishers + s, cpu_of(options, 1), [&](BenchSlot& slot) {
            const Topic opened = Topic::open(topic.directory, topic.name,
                                             {.access = Access::kSubscribe, .prefault = true});
            Subscriber subscriber(opened, SubscriberOptions{.start = StartAt::latest(),
                                                            .spin = std::chrono::nanoseconds(0)});
            Ledger ledger(publishers, opened.policy() == Policy::kOverwrite);
            std::vector<std::byte> copy(options.size);
            std::uint64_t quiet_since = 0;
            processes.arrive_and_wait();
            const std::uint64_t cpu_before = bench_cpu_ns();
            slot.start_ns = bench_now_ns();
            const auto give_up = [&] {
                // Only an overwrite topic can leave a subscriber short for good.
                if (load_acquire(board.writers_done) < publishers) return false;
                const std::uint64_t now = bench_now_ns();
                if (quiet_since == 0) quiet_since = now;
                return now - quiet_since > kQuietAfterPublishersNs;
            };
            while (!ledger.complete(options.count)) {
                const std::size_t got = bench_receive(
                    subscriber, options.sleep,
                    [&](std::span<const std::byte> record) {
                        const BenchStamp stamp = bench_read_stamp(record, options.size, tag);
                        if (!stamp.ours) return;
                        std::memcpy(copy.data(), record.data(), options.size);
                        ledger.note(stamp);
                    },
                    give_up);
                if (got == 0) break;
                quiet_since = 0;
                if (ledger.received() % kProgressEvery < got) {
                    // Relaxed: read only by the progress line.
                    std::atomic_ref<std::uint64_t>(slot.progress)
                        .store(ledger.received(), std::memory_order_relaxed);
                }
            }
            slot.end_ns = bench_now_ns();
            slot.cpu_ns = bench_cpu_ns() - cpu_before;
            slot.records = ledger.received();
            slot.lost =
                ledger.lost() + (expected - std::min(expected, ledger.received() + ledger.lost()));
            slot.errors = ledger.errors();
            slot.total_cpu_ns = bench_cpu_ns();
            if (slot.errors > 0) {
                throw std::runtime_error(fmt::format(
                    "a subscriber got {} records out of order or from nowhere", slot.errors));
            }
        });
    }
    for (std::uint32_t p = 0; p < publishers; ++p) {
        processes.spawn(p, cpu_of(options, 0), [&, p](BenchSlot& slot) {
            const Topic opened = Topic::open(topic.directory, topic.name,
                                             {.access = Access::kPublish, .prefault = true});
            Publisher publisher(opened, options.sleep
                                            ? PublisherOptions{}
                                            : PublisherOptions{.spin = kBenchSpinForever});
            const std::size_t batch = std::max<std::size_t>(1, options.batch);
            std::vector<std::byte> buffers(batch * options.size);
            std::vector<std::span<const std::byte>> records(batch);
            processes.arrive_and_wait();
            const std::uint64_t cpu_before = bench_cpu_ns();
            slot.start_ns = bench_now_ns();
            for (std::uint64_t sent = 0; sent < options.count;) {
                const std::size_t n =
                    static_cast<std::size_t>(std::min<std::uint64_t>(batch, options.count - sent));
                for (std::size_t i = 0; i < n; ++i) {
                    const std::span<std::byte> record(buffers.data() + i * options.size,
                                                      options.size);
                    bench_stamp(record, sent + i, p, tag);
                    records[i] = record;
                }
                if (batch == 1) {
                    bench_publish(publisher, records[0], options.sleep);
                } else {
                    bench_publish_batch(publisher, std::span(records.data(), n), options.sleep);
                }
                sent += n;
            }
            slot.end_ns = bench_now_ns();
            slot.cpu_ns = bench_cpu_ns() - cpu_before;
            slot.records = options.count;
            // Release: pairs with the subscribers' acquire load in give_up.
            std::atomic_ref<std::uint32_t>(board.writers_done)
                .fetch_add(1, std::memory_order_release);
            slot.total_cpu_ns = bench_cpu_ns();
        });
    }

    const std::uint64_t busy_before = machine_busy_ns();
    const std::uint64_t started = bench_now_ns();
    processes.run(options.timeout, [&] {
        std::uint64_t slowest = expected;
        for (std::uint32_t s = 0; s < subscribers; ++s) {
            slowest = std::min(slowest,
                               std::atomic_ref<std::uint64_t>(board.slots[publishers + s].progress)
                                   .load(std::memory_order_relaxed));
        }
        tick(slowest, expected);
    });
    const double window = static_cast<double>(bench_now_ns() - started);
    const double busy = static_cast<double>(machine_busy_ns() - busy_before);

    ThroughputFigures figures;
    figures.records = expected;
    figures.received = expected;
    std::uint64_t first_start = ~std::uint64_t{0}, last_end = 0, publisher_cpu = 0,
                  subscriber_cpu = 0;
    double ours = 0;
    for (std::uint32_t i = 0; i < publishers + subscribers; ++i) {
        const BenchSlot& slot = board.slots[i];
        ours += static_cast<double>(slot.total_cpu_ns);
        if (i < publishers) {
            first_start = std::min(first_start, slot.start_ns);
            publisher_cpu += slot.cpu_ns;
        } else {
            last_end = std::max(last_end, slot.end_ns);
            subscriber_cpu += slot.cpu_ns;
            figures.received = std::min(figures.received, slot.records);
            figures.lost = std::max(figures.lost, slot.lost);
        }
    }
    figures.elapsed_ns = last_end > first_start ? static_cast<double>(last_end - first_start) : 0;
    const double records = static_cast<double>(figures.received);
    if (figures.elapsed_ns > 0) {
        figures.records_per_s = records / figures.elapsed_ns * 1e9;
        figures.mb_per_s = records * static_cast<double>(options.size) / figures.elapsed_ns * 1e3;
    }
    figures.publisher_cpu_ns = static_cast<double>(publisher_cpu) / static_cast<double>(expected);
    figures.subscriber_cpu_ns =
        static_cast<double>(subscriber_cpu) / (static_cast<double>(expected) * subscribers);
    figures.foreign_share =
        window > 0 ? std::max(0.0, busy - ours) / (window * machine_cpus()) : 0.0;
    return figures;
}

}  // namespace shmbus::cli
