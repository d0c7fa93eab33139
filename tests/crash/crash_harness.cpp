#include "crash_harness.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <shmbus/detail/format/frame_header.hpp>
#include <shmbus/detail/ring/flow_control.hpp>
#include <shmbus/detail/ring/tail.hpp>
#include <shmbus/detail/util/atomic.hpp>
#include <sstream>
#include <stdexcept>

#include "support/payload.hpp"

namespace shmbus::test::crash {

std::uint64_t test_seed(const char* test_name) {
    std::uint64_t seed = 0;
    if (const char* text = std::getenv("SHMBUS_TEST_SEED"); text != nullptr && *text != '\0') {
        seed = std::strtoull(text, nullptr, 0);
    } else {
        seed = (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
    }
    std::printf("%s: SHMBUS_TEST_SEED=%" PRIu64 "\n", test_name, seed);
    std::fflush(stdout);
    return seed;
}

std::string policy_name(Policy policy) {
    return policy == Policy::kBlock ? "block" : "overwrite";
}

double milliseconds(Duration duration) {
    return std::chrono::duration<double, std::milli>(duration).count();
}

std::string fault_setting(const std::string& point, const std::string& action, std::uint64_t hit) {
    return "SHMBUS_FAULT=" + point + ":" + action + ":" + std::to_string(hit);
}

namespace {

// The State line of /proc/PID/status, and where the process waits (wchan).
std::string proc_state(pid_t pid) {
    const std::string dir = "/proc/" + std::to_string(pid);
    std::string state = "?";
    std::istringstream status(read_file(dir + "/status"));
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("State:", 0) == 0) state = line.substr(6);
    }
    return state + ", waiting in " + read_file(dir + "/wchan");
}

std::string crash_peer_path() {
    return SHMBUS_CRASH_PEER_PATH;
}

std::uint32_t read_slot(Child& child) {
    const auto line = child.receive_line(deadline_in(20s));
    if (!line || line->rfind("slot ", 0) != 0) {
        const auto exit = child.wait_until(deadline_in(1s));
        throw std::runtime_error(child.name() + " did not attach" +
                                 (exit ? " (" + exit->describe() + ")" : std::string()));
    }
    return static_cast<std::uint32_t>(std::stoul(line->substr(5)));
}

std::vector<std::string> with_fault(const std::string& fault) {
    if (fault.empty()) return {};
    return {fault};
}

}  // namespace

PeerPublisher spawn_publisher(const std::filesystem::path& dir, const std::string& topic,
                              std::uint32_t key, std::uint64_t count, const std::string& fault,
                              std::uint64_t batch) {
    PeerPublisher peer{
        Child::spawn("publisher of key " + std::to_string(key) +
                         (batch > 1 ? " in batches of " + std::to_string(batch) : std::string()) +
                         (fault.empty() ? "" : " with ") + fault,
                     {crash_peer_path(), "publish", dir.string(), topic, std::to_string(key),
                      std::to_string(count), std::to_string(batch)},
                     with_fault(fault)),
        0, key, count};
    peer.slot = read_slot(peer.child);
    return peer;
}

PeerSubscriber spawn_subscriber(const std::filesystem::path& dir, const std::string& topic,
                                std::size_t batch, const std::string& fault) {
    PeerSubscriber peer{
        Child::spawn("subscriber" + (fault.empty() ? std::string() : " with " + fault),
                     {crash_peer_path(), "subscribe", dir.string(), topic, std::to_string(batch)},
                     with_fault(fault)),
        0};
    peer.slot = read_slot(peer.child);
    return peer;
}

std::optional<PeerRecord> parse_peer_record(const std::string& line) {
    std::istringstream in(line);
    std::string word;
    PeerRecord record;
    if (!(in >> word) || word != "record") return std::nullopt;
    if (!(in >> record.publisher >> record.sequence >> record.next_position >> record.length >>
          record.checksum >> record.lost)) {
        return std::nullopt;
    }
    return record;
}

Fingerprint fingerprint(std::uint32_t key, std::uint64_t counter, std::uint32_t max_record_size) {
    std::vector<std::byte> bytes(record_length(key, counter, max_record_size));
    fill_record(bytes, key, counter);
    return {bytes.size(), checksum(bytes, 0)};
}

Ledger::Source Ledger::expect(std::uint32_t slot, std::uint32_t key, std::uint64_t count) {
    Publisher publisher;
    publisher.slot = slot;
    publisher.key = key;
    publisher.count = count;
    sources_.push_back(publisher);
    return sources_.size() - 1;
}

bool Ledger::matches(Publisher& publisher, std::uint64_t length, std::uint64_t sum) {
    // The record is the next one of this publisher, or, where the subscriber lost records
    // since this publisher's last delivery, one at most that many further on.
    std::optional<std::uint64_t> first;
    std::uint64_t last = 0;
    for (std::uint64_t counter = publisher.next;
         counter <= publisher.next_high + publisher.lost_since && counter < publisher.count;
         ++counter) {
        const Fingerprint expected = fingerprint(publisher.key, counter, max_);
        if (expected.length == length && expected.checksum == sum) {
            if (!first) first = counter;
            last = counter;
        }
    }
    if (!first) return false;
    publisher.next = *first + 1;
    publisher.next_high = last + 1;
    publisher.last = last;
    publisher.lost_since = 0;
    ++publisher.delivered;
    return true;
}

void Ledger::accept(std::uint32_t slot, std::uint64_t length, std::uint64_t sum,
                    std::uint64_t lost_before) {
    ++total_;
    if (!error_.empty()) return;
    // The losses could have been anyone's.
    for (Publisher& publisher : sources_)
        publisher.lost_since += lost_before;
    std::string tried;
    for (std::size_t i = 0; i < sources_.size(); ++i) {
        Publisher& publisher = sources_[i];
        if (publisher.slot != slot || publisher.superseded) continue;
        if (matches(publisher, length, sum)) {
            // The slot's earlier publishers are done: their records all came before.
            for (std::size_t j = 0; j < i; ++j) {
                if (sources_[j].slot == slot) sources_[j].superseded = true;
            }
            return;
        }
        tried += " " + std::to_string(publisher.next) + ".." +
                 std::to_string(publisher.next_high + publisher.lost_since) + " of key " +
                 std::to_string(publisher.key) + " (the first " +
                 std::to_string(fingerprint(publisher.key, publisher.next, max_).length) +
                 " bytes);";
    }
    error_ = "publisher slot " + std::to_string(slot) + ": a record of " + std::to_string(length) +
             " bytes that is none of the records it could be (" +
             (tried.empty() ? std::string(" no publisher expected there") : tried) +
             " ): torn, duplicated, out of order or never sent";
}

void Ledger::accept(const Record& record, std::uint64_t lost_before) {
    const bool fine = error_.empty();
    accept(record.publisher, record.payload.size(), checksum(record.payload, 0), lost_before);
    if (fine && !error_.empty()) {
        error_ += " (at position " + std::to_string(record.position) + ", sequence " +
                  std::to_string(record.sequence) + ")";
    }
}

Status offer_record(Publisher& publisher, std::uint32_t key, std::uint64_t counter,
                    std::chrono::nanoseconds timeout) {
    const std::uint32_t max = publisher.topic().max_record_size();
    std::vector<std::byte> bytes(record_length(key, counter, max));
    fill_record(bytes, key, counter);
    return timeout.count() == 0 ? publisher.try_offer(bytes) : publisher.offer(bytes, timeout);
}

bool daemon_available() {
#if defined(SHMBUS_CRASH_HAVE_DAEMON)
    return true;
#else
    return false;
#endif
}

std::unique_ptr<Daemon> start_daemon(const std::filesystem::path& dir) {
    const std::filesystem::path config = dir / ".shmbusd.toml";
    if (!std::filesystem::exists(config)) {
        write_file(config, "[supervision]\ncheck_interval = \"" +
                               std::to_string(kCheckInterval.count()) +
                               "ms\"\nunblock_timeout = \"" +
                               std::to_string(kUnblockTimeout.count()) + "ms\"\n");
    }
    return std::make_unique<Daemon>(Daemon::Options{.dir = dir, .config = config});
}

std::string describe_daemon(Daemon& daemon) {
    std::string text = "shmbusd (pid " + std::to_string(daemon.pid()) + ") ";
    if (const auto ended = daemon.program().wait_for_exit(0s)) {
        text += "has ended with status " + std::to_string(ended->status);
    } else {
        text += "runs, in state " + proc_state(daemon.pid());
    }
    return text + "; its log:\n" + daemon.log();
}

bool supervised_by(const Topic& topic, pid_t daemon, Duration timeout) {
    return eventually(
        [&] {
            // Relaxed: a plain fact, polled.
            return atomics::load_relaxed(topic.view().state->supervisor_pid) ==
                   static_cast<std::uint32_t>(daemon);
        },
        timeout);
}

bool log_has(const std::string& log, const std::string& topic, const std::string& what,
             const std::string& detail) {
    std::istringstream lines(log);
    const std::string name = "topic '" + topic + "'";
    for (std::string line; std::getline(lines, line);) {
        if (line.find(name) != std::string::npos && line.find(what) != std::string::npos &&
            line.find(detail) != std::string::npos) {
            return true;
        }
    }
    return false;
}

std::uint64_t claim_intent(const Topic& topic, std::uint32_t slot) {
    // Acquire: pairs with the release store of the intent in Appender::try_claim.
    return atomics::load_acquire(topic.view().publishers[slot].claim_intent);
}

format::FrameState frame_state(const Topic& topic, std::uint64_t position) {
    // Acquire: as subscribers load a commit word.
    return format::state_at(atomics::load_acquire(topic.view().commit_word(position)), position);
}

std::uint64_t tail_position(const Topic& topic) {
    return ring::load_tail_position(topic.view().records->tail);
}

std::uint64_t commit_floor(const Topic& topic) {
    return ring::advance_commit_floor(topic.view(), tail_position(topic));
}

std::string describe_floor(const Topic& topic) {
    const ring::TopicView& view = topic.view();
    const std::uint64_t tail = tail_position(topic);
    const std::uint64_t floor = commit_floor(topic);
    std::ostringstream text;
    text << "tail " << tail << ", commit floor " << floor << ", frame there: commit word state "
         << static_cast<int>(frame_state(topic, floor)) << ", length "
         << atomics::load_relaxed(view.header(floor).length) << ", publisher "
         << std::atomic_ref<std::uint16_t>(view.header(floor).publisher)
                .load(std::memory_order_relaxed)
         << "; unblocked " << atomics::load_relaxed(view.records->unblocked_claims);
    const TopicStats stats = collect_stats(topic);
    for (const PublisherInfo& publisher : stats.publishers) {
        text << "; publisher slot " << publisher.slot
             << (publisher.alive.value_or(false) ? " alive" : " dead") << ", intent "
             << claim_intent(topic, publisher.slot);
    }
    for (const SubscriberInfo& subscriber : stats.subscribers) {
        text << "; subscriber slot " << subscriber.slot << (subscriber.alive ? " alive" : " dead")
             << " at " << subscriber.position;
    }
    return text.str();
}

std::string Timings::describe() const {
    char text[160];
    std::snprintf(text, sizeof text, "%d crashes, longest time to progress %.1f ms, mean %.1f ms",
                  iterations, milliseconds(longest),
                  iterations == 0 ? 0.0 : milliseconds(total) / iterations);
    return text;
}

}  // namespace shmbus::test::crash
