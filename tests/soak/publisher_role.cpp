// The publisher role: publishes soak records (soak_record.hpp) to one topic at a steady rate, in
// bursts, and leaves evidence of every claim and commit (soak_files.hpp):
//
//   1. page.want_ns = now                     "claiming"
//   2. claim                                  the library's tail CAS
//   3. page.pending_position, pending_seq+1   "I hold a claim at this position"
//   4. write the record, commit
//   5. append a PublisherLogEntry             "committed"
//   6. page.want_ns = 0
//
// Killed between 2 and 3, the claim's position is unknown (the checker allows one such claim per
// killed incarnation); between 3 and 5, the claim at pending_position may or may not be
// committed, and the subscribers' logs decide.
#include <signal.h>
#include <time.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <random>
#include <shmbus/shmbus.hpp>
#include <string>

#include "roles.hpp"
#include "soak_files.hpp"
#include "soak_record.hpp"
#include "terminate_signal.hpp"

namespace shmbus::soak {
namespace {

void sleep_ns(std::int64_t ns) {
    if (ns <= 0) return;
    timespec pause{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    ::nanosleep(&pause, nullptr);  // SIGTERM cuts it short, which is what we want
}

}  // namespace

int run_publisher(const PublisherRoleOptions& options) {
    install_terminate_handler();
    try {
        const Topic topic = Topic::open(options.bus, options.topic);
        MappedPage mapped(options.page, true);
        PublisherPage& page = mapped.page();
        AppendLog log(options.log);
        Publisher publisher(topic);
        std::mt19937_64 random(
            mix64(options.seed ^ (std::uint64_t{options.id} << 40) ^ options.incarnation));
        std::uniform_int_distribution<int> burst_size(1, 16);
        const double ns_per_record = 1e9 / options.rate;

        std::uint64_t sequence = 0;
        std::int64_t next_burst = monotonic_ns();
        while (!terminate_requested()) {
            sleep_ns(next_burst - monotonic_ns());
            const int burst = burst_size(random);
            next_burst += static_cast<std::int64_t>(burst * ns_per_record);
            for (int i = 0; i < burst && !terminate_requested(); ++i) {
                const RecordId id{static_cast<std::uint16_t>(options.id), options.incarnation,
                                  sequence};
                const std::size_t length = record_length(id);
                const std::int64_t want_ns = monotonic_ns();
                MappedPage::store(page.want_ns, want_ns);
                Claim claim;
                while (!claim && !terminate_requested()) {
                    claim = publisher.claim(length, std::chrono::milliseconds(200));
                    if (!claim && claim.status() != Status::kTimedOut) {
                        std::fprintf(stderr, "publisher %u.%u: claim of record %llu: %s\n",
                                     options.id, options.incarnation,
                                     static_cast<unsigned long long>(sequence),
                                     std::string(to_string(claim.status())).c_str());
                        return kRoleFailed;
                    }
                }
                if (!claim) break;  // SIGTERM while back-pressured: nothing claimed
                MappedPage::store(page.pending_position, claim.position());
                MappedPage::store(page.pending_sequence_plus_one, sequence + 1);
                write_record(claim.payload(), id, static_cast<std::uint64_t>(monotonic_ns()));
                const std::uint64_t position = claim.position();
                const Status committed = claim.commit();
                if (committed != Status::kOk) {
                    std::fprintf(stderr, "publisher %u.%u: commit of record %llu: %s\n", options.id,
                                 options.incarnation, static_cast<unsigned long long>(sequence),
                                 std::string(to_string(committed)).c_str());
                    return kRoleFailed;
                }
                const PublisherLogEntry entry{sequence, position, want_ns, monotonic_ns()};
                log.write(&entry, sizeof entry);
                MappedPage::store(page.want_ns, std::int64_t{0});
                ++sequence;
            }
            // Fell behind (back-pressure, a stop): start the rate afresh instead of bursting.
            if (monotonic_ns() - next_burst > 100'000'000) next_burst = monotonic_ns();
        }
        MappedPage::store(page.want_ns, std::int64_t{0});
        MappedPage::store(page.clean_exit, std::uint64_t{1});
        return kRoleOk;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "publisher %u.%u: %s\n", options.id, options.incarnation,
                     error.what());
        return kRoleFailed;
    }
}

}  // namespace shmbus::soak
