// What the crash tests share: the seed, peers in processes of their own (crash_peer.cpp), a
// ledger that checks every delivered record against what its publisher sent, and shmbusd with
// a short check interval.
//
// Randomness. Each test case draws everything random (which record a fault strikes, record
// lengths, counts, the policy, how long a stopped process stays stopped) from one seed, printed
// at the start; SHMBUS_TEST_SEED=<seed> replays a run.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <shmbus/shmbus.hpp>
#include <span>
#include <string>
#include <vector>

#include "daemon_harness.hpp"
#include "support/child_process.hpp"

namespace shmbus::test::crash {

using namespace std::chrono_literals;
using Duration = std::chrono::steady_clock::duration;

/// The seed of this test case: SHMBUS_TEST_SEED if set, else a fresh one. Printed either way.
[[nodiscard]] std::uint64_t test_seed(const char* test_name);

class Rng {
  public:
    explicit Rng(std::uint64_t seed) : engine_(seed) {}
    /// Uniform in [low, high].
    [[nodiscard]] std::uint64_t between(std::uint64_t low, std::uint64_t high) {
        return std::uniform_int_distribution<std::uint64_t>(low, high)(engine_);
    }
    [[nodiscard]] bool coin() { return between(0, 1) == 1; }
    [[nodiscard]] std::uint32_t key() {
        return static_cast<std::uint32_t>(between(1, 0xFFFFFFF0u));
    }

  private:
    std::mt19937_64 engine_;
};

[[nodiscard]] std::string policy_name(Policy policy);
[[nodiscard]] double milliseconds(Duration duration);

/// The SHMBUS_FAULT setting for `point` with `action` ("kill" or "stop") on hit `hit`.
[[nodiscard]] std::string fault_setting(const std::string& point, const std::string& action,
                                        std::uint64_t hit);

/// A crash_peer publisher: records 0 .. count-1 of `key`, in a process of its own.
struct PeerPublisher {
    Child child;
    std::uint32_t slot = 0;
    std::uint32_t key = 0;
    std::uint64_t count = 0;
};

/// Starts a publisher peer and waits for it to attach (its "slot N" line). `fault`: a
/// SHMBUS_FAULT setting, or empty. `batch` > 1: it publishes with offer_batch, that many at a
/// time.
[[nodiscard]] PeerPublisher spawn_publisher(const std::filesystem::path& dir,
                                            const std::string& topic, std::uint32_t key,
                                            std::uint64_t count, const std::string& fault = {},
                                            std::uint64_t batch = 1);

/// A crash_peer subscriber, reading from the earliest record `batch` records per poll.
struct PeerSubscriber {
    Child child;
    std::uint32_t slot = 0;
};

[[nodiscard]] PeerSubscriber spawn_subscriber(const std::filesystem::path& dir,
                                              const std::string& topic, std::size_t batch,
                                              const std::string& fault = {});

/// A line "record PUBLISHER SEQUENCE NEXT_POSITION LENGTH CHECKSUM LOST" of a subscriber peer.
struct PeerRecord {
    std::uint32_t publisher = 0;
    std::uint64_t sequence = 0;
    std::uint64_t next_position = 0;
    std::uint64_t length = 0;
    std::uint64_t checksum = 0;
    std::uint64_t lost = 0;  // the peer's lost() when the record was delivered
};
[[nodiscard]] std::optional<PeerRecord> parse_peer_record(const std::string& line);

/// Every record delivered on a topic, checked against what its publisher sent: per publisher,
/// the records come in the order sent, each once, byte for byte. A record may only be skipped
/// where the subscriber reported as many losses.
///
/// Records name their publisher by slot, and a slot is reused once its publisher is gone: a
/// slot's publishers are told apart by their keys, and all records of an earlier one come
/// before any of a later one.
class Ledger {
  public:
    using Source = std::size_t;

    explicit Ledger(std::uint32_t max_record_size) : max_(max_record_size) {}

    /// Publisher slot `slot` (now) sends records 0 .. count-1 of `key` (support/payload.hpp).
    /// Records of length 0 look alike whatever their key: the count tells a finished
    /// publisher's from the next one's.
    Source expect(std::uint32_t slot, std::uint32_t key,
                  std::uint64_t count = std::numeric_limits<std::uint64_t>::max());

    /// A delivered record. `lost_before`: records the subscriber counted lost since the record
    /// it delivered before this one.
    void accept(std::uint32_t slot, std::uint64_t length, std::uint64_t checksum,
                std::uint64_t lost_before);
    void accept(const Record& record, std::uint64_t lost_before);

    /// Why a delivered record was wrong (the first such), or empty.
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    [[nodiscard]] std::uint64_t delivered(Source source) const {
        return sources_.at(source).delivered;
    }
    /// The counter of the last record delivered from `source`, if any.
    [[nodiscard]] std::optional<std::uint64_t> last_counter(Source source) const {
        return sources_.at(source).last;
    }
    [[nodiscard]] std::uint64_t total_delivered() const noexcept { return total_; }

  private:
    struct Publisher {
        std::uint32_t slot = 0;
        std::uint32_t key = 0;
        std::uint64_t count = 0;
        // The next record carries a counter from `next` to `next_high` (more than one only
        // after a loss that ended in records too short to tell apart, such as empty ones),
        // plus the losses since.
        std::uint64_t next = 0;
        std::uint64_t next_high = 0;
        std::uint64_t lost_since = 0;  // records the subscriber lost since this one's last
        std::uint64_t delivered = 0;
        std::optional<std::uint64_t> last;
        bool superseded = false;  // a later publisher of its slot has delivered
    };
    [[nodiscard]] bool matches(Publisher& publisher, std::uint64_t length, std::uint64_t checksum);

    std::uint32_t max_;
    std::vector<Publisher> sources_;
    std::uint64_t total_ = 0;
    std::string error_;
};

/// The length and checksum (support/payload.hpp, seed 0) of record `counter` of `key`.
struct Fingerprint {
    std::uint64_t length = 0;
    std::uint64_t checksum = 0;
};
[[nodiscard]] Fingerprint fingerprint(std::uint32_t key, std::uint64_t counter,
                                      std::uint32_t max_record_size);

/// Publishes record `counter` of `key` with `publisher`, waiting up to `timeout` (0: try once).
[[nodiscard]] Status offer_record(Publisher& publisher, std::uint32_t key, std::uint64_t counter,
                                  std::chrono::nanoseconds timeout);

/// The supervision settings the crash tests run shmbusd with.
inline constexpr auto kCheckInterval = 20ms;
inline constexpr auto kUnblockTimeout = 500ms;

/// Whether this build has shmbusd.
[[nodiscard]] bool daemon_available();

/// shmbusd on `dir` with kCheckInterval and kUnblockTimeout.
[[nodiscard]] std::unique_ptr<Daemon> start_daemon(const std::filesystem::path& dir);

/// Whether `daemon` still runs, how it ended if not, and its log: for failure messages.
[[nodiscard]] std::string describe_daemon(Daemon& daemon);

/// Waits until `daemon` supervises `topic` (its pid in the state header).
[[nodiscard]] bool supervised_by(const Topic& topic, pid_t daemon, Duration timeout);

/// Whether `log` has a line naming topic `topic` that contains both `what` and `detail`.
[[nodiscard]] bool log_has(const std::string& log, const std::string& topic,
                           const std::string& what, const std::string& detail);

/// Where publisher slot `slot` last claimed (its claim intent).
[[nodiscard]] std::uint64_t claim_intent(const Topic& topic, std::uint32_t slot);
/// The state of the frame at `position`, as its commit word says for that lap.
[[nodiscard]] format::FrameState frame_state(const Topic& topic, std::uint64_t position);
/// The commit floor, advanced to where it stands now.
[[nodiscard]] std::uint64_t commit_floor(const Topic& topic);
[[nodiscard]] std::uint64_t tail_position(const Topic& topic);

/// The tail, the commit floor, the frame there and every publisher slot's intent and liveness:
/// what a failed wait for progress prints.
[[nodiscard]] std::string describe_floor(const Topic& topic);

/// Longest and total time to progress, for the summary a test case prints.
struct Timings {
    int iterations = 0;
    Duration longest{};
    Duration total{};
    void add(Duration duration) {
        ++iterations;
        total += duration;
        if (duration > longest) longest = duration;
    }
    [[nodiscard]] std::string describe() const;
};

}  // namespace shmbus::test::crash
