// The checker (see checker.hpp; the invariants are listed in soak_main.cpp).
#include "checker.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "soak_files.hpp"
#include "soak_record.hpp"

namespace shmbus::soak {
namespace {

constexpr std::size_t kMaxViolationsPerKind = 20;

enum class ClaimState : std::uint8_t {
    kCommitted,  // in the publisher's log
    kUnknown,    // on the page of a publisher that died before logging: committed or not
    kSeen,       // kUnknown, and a subscriber received it: committed
};

struct ClaimInfo {
    std::uint64_t position = 0;
    RecordId id;
    ClaimState state = ClaimState::kCommitted;
};

// Stop windows that excuse a wait, sorted by start, with the latest end so far.
class Excuses {
  public:
    void add(const std::vector<StopWindow>& windows) {
        for (const StopWindow& window : windows) {
            windows_.push_back({window.from, window.to == 0
                                                 ? std::numeric_limits<std::int64_t>::max()
                                                 : window.to});
        }
    }
    void seal() {
        std::sort(windows_.begin(), windows_.end(),
                  [](const StopWindow& a, const StopWindow& b) { return a.from < b.from; });
        latest_end_.resize(windows_.size());
        std::int64_t latest = std::numeric_limits<std::int64_t>::min();
        for (std::size_t i = 0; i < windows_.size(); ++i) {
            latest = std::max(latest, windows_[i].to);
            latest_end_[i] = latest;
        }
    }
    /// How long of [from, to] passed after the last stop that overlapped it ended.
    [[nodiscard]] std::int64_t unexcused(std::int64_t from, std::int64_t to) const {
        if (to <= from) return 0;
        const auto after =
            std::upper_bound(windows_.begin(), windows_.end(), to,
                             [](std::int64_t t, const StopWindow& w) { return t < w.from; });
        if (after != windows_.begin()) {
            const std::int64_t latest =
                latest_end_[static_cast<std::size_t>(after - windows_.begin()) - 1];
            if (latest >= from) from = latest;
        }
        return to > from ? to - from : 0;
    }

  private:
    std::vector<StopWindow> windows_;
    std::vector<std::int64_t> latest_end_;
};

std::string describe(const RecordId& id) {
    return "record " + std::to_string(id.sequence) + " of publisher " +
           std::to_string(id.publisher) + "." + std::to_string(id.incarnation);
}

class Checker {
  public:
    explicit Checker(const RunRecord& run) : run_(run) {}

    CheckResult check() {
        result_.topics.resize(run_.topics.size());
        for (std::size_t t = 0; t < run_.topics.size(); ++t)
            check_topic(t);
        const double bound = run_.stall_bound_s;
        if (result_.longest_publisher.seconds > bound) {
            violation("stall", "a publisher made no progress for " +
                                   std::to_string(result_.longest_publisher.seconds) +
                                   " s (bound " + std::to_string(bound) +
                                   " s): " + result_.longest_publisher.where);
        }
        if (result_.longest_subscriber.seconds > bound) {
            violation("stall", "a subscriber received a record " +
                                   std::to_string(result_.longest_subscriber.seconds) +
                                   " s after it was committed (bound " + std::to_string(bound) +
                                   " s): " + result_.longest_subscriber.where);
        }
        for (const auto& [kind, count] : suppressed_) {
            result_.violations.push_back(std::to_string(count) + " more violations of kind '" +
                                         kind + "' not listed");
        }
        return result_;
    }

  private:
    void violation(const std::string& kind, std::string text) {
        if (++per_kind_[kind] > kMaxViolationsPerKind) {
            ++suppressed_[kind];
            return;
        }
        result_.violations.push_back("[" + kind + "] " + std::move(text));
    }

    static void note_stall(Stall& longest, std::int64_t ns, const std::string& where) {
        const double seconds = static_cast<double>(ns) / 1e9;
        if (seconds > longest.seconds) {
            longest.seconds = seconds;
            longest.where = where;
        }
    }

    void check_topic(std::size_t t) {
        const TopicSpec& topic = run_.topics[t];
        TopicFigures& figures = result_.topics[t];
        Excuses publisher_excuses;  // whatever may hold a publisher of this topic back
        Excuses publisher_stops;    // publishers of this topic (a stopped one may hold a claim)
        for (const Seat& seat : run_.seats) {
            if (seat.topic != static_cast<int>(t)) continue;
            if (seat.kind == RoleKind::kPublisher) {
                publisher_excuses.add(seat.stops);
                publisher_stops.add(seat.stops);
            } else if (topic.block) {
                publisher_excuses.add(seat.stops);
            }
        }
        publisher_excuses.seal();
        publisher_stops.seal();

        std::vector<ClaimInfo> claims;
        std::uint64_t unplaced = 0;
        for (const Seat& seat : run_.seats) {
            if (seat.topic != static_cast<int>(t) || seat.kind != RoleKind::kPublisher) continue;
            for (const Incarnation& incarnation : seat.incarnations) {
                read_publisher(topic, seat, incarnation, publisher_excuses, claims, unplaced);
            }
        }
        std::sort(claims.begin(), claims.end(),
                  [](const ClaimInfo& a, const ClaimInfo& b) { return a.position < b.position; });
        for (std::size_t i = 1; i < claims.size(); ++i) {
            if (claims[i].position == claims[i - 1].position) {
                violation("claims", topic.name + ": " + describe(claims[i - 1].id) + " and " +
                                        describe(claims[i].id) + " were both claimed at position " +
                                        std::to_string(claims[i].position));
            }
        }

        struct SubscriberRun {
            const Seat* seat;
            const Incarnation* incarnation;
            std::vector<SubscriberLogEntry> entries;
        };
        std::vector<SubscriberRun> subscribers;
        for (const Seat& seat : run_.seats) {
            if (seat.topic != static_cast<int>(t) || seat.kind != RoleKind::kSubscriber) continue;
            for (const Incarnation& incarnation : seat.incarnations) {
                bool torn = false;
                subscribers.push_back(
                    {&seat, &incarnation,
                     read_log<SubscriberLogEntry>(
                         subscriber_log(run_.logs, seat.id, incarnation.number), torn)});
            }
        }
        // A claim whose publisher died between claim and log is committed if anyone received it.
        for (const SubscriberRun& subscriber : subscribers) {
            for (const SubscriberLogEntry& entry : subscriber.entries) {
                if (entry.kind != SubscriberEntryKind::kRecord) continue;
                ClaimInfo* claim = find(claims, entry.v[0]);
                if (claim != nullptr && claim->state == ClaimState::kUnknown &&
                    claim->id == id_of(entry)) {
                    claim->state = ClaimState::kSeen;
                }
            }
        }
        for (const ClaimInfo& claim : claims) {
            if (claim.state == ClaimState::kUnknown) {
                ++figures.voided_claims;
            } else {
                ++figures.committed;
            }
        }
        figures.unplaced_claims = unplaced;
        for (const SubscriberRun& subscriber : subscribers) {
            Excuses excuses = publisher_stops;
            excuses.add(subscriber.seat->stops);
            excuses.seal();
            check_subscriber(topic, figures, claims, unplaced, *subscriber.seat,
                             *subscriber.incarnation, subscriber.entries, excuses);
        }
    }

    static RecordId id_of(const SubscriberLogEntry& entry) {
        return RecordId{static_cast<std::uint16_t>(entry.v[2] >> 32),
                        static_cast<std::uint32_t>(entry.v[2] & 0xFFFFFFFFu), entry.v[3]};
    }

    static ClaimInfo* find(std::vector<ClaimInfo>& claims, std::uint64_t position) {
        const auto it =
            std::lower_bound(claims.begin(), claims.end(), position,
                             [](const ClaimInfo& c, std::uint64_t p) { return c.position < p; });
        return it != claims.end() && it->position == position ? &*it : nullptr;
    }

    void read_publisher(const TopicSpec& topic, const Seat& seat, const Incarnation& incarnation,
                        const Excuses& excuses, std::vector<ClaimInfo>& claims,
                        std::uint64_t& unplaced) {
        const std::string who =
            "publisher " + std::to_string(seat.id) + "." + std::to_string(incarnation.number);
        bool torn = false;
        const auto log = read_log<PublisherLogEntry>(
            publisher_log(run_.logs, seat.id, incarnation.number), torn);
        const auto id16 = static_cast<std::uint16_t>(seat.id);
        for (std::size_t i = 0; i < log.size(); ++i) {
            const PublisherLogEntry& entry = log[i];
            if (entry.sequence != i || (i > 0 && entry.position <= log[i - 1].position)) {
                violation("publisher log", topic.name + ": " + who + " logged record " +
                                               std::to_string(entry.sequence) + " at position " +
                                               std::to_string(entry.position) + " as its entry " +
                                               std::to_string(i));
                return;
            }
            claims.push_back({entry.position,
                              {id16, incarnation.number, entry.sequence},
                              ClaimState::kCommitted});
            note_stall(result_.longest_publisher, excuses.unexcused(entry.want_ns, entry.commit_ns),
                       who + " on " + topic.name + ", record " + std::to_string(entry.sequence));
        }
        const std::filesystem::path page_path =
            publisher_page(run_.logs, seat.id, incarnation.number);
        if (!std::filesystem::exists(page_path)) return;  // killed before it made its page
        MappedPage mapped(page_path, false);
        PublisherPage& page = mapped.page();
        if (MappedPage::load(page.clean_exit) == 1) return;
        const std::uint64_t logged = log.size();
        const std::uint64_t pending = MappedPage::load(page.pending_sequence_plus_one);
        const std::int64_t want_ns = MappedPage::load(page.want_ns);
        if (pending == logged + 1) {
            claims.push_back({MappedPage::load(page.pending_position),
                              {id16, incarnation.number, logged},
                              ClaimState::kUnknown});
        } else if (want_ns != 0) {
            ++unplaced;  // died claiming: perhaps after the tail CAS, before saying where
        }
        if (want_ns != 0 && incarnation.ended_ns != 0) {
            note_stall(result_.longest_publisher, excuses.unexcused(want_ns, incarnation.ended_ns),
                       who + " on " + topic.name + ", claiming record " + std::to_string(logged) +
                           " when it was killed");
        }
    }

    void check_subscriber(const TopicSpec& topic, TopicFigures& figures,
                          std::vector<ClaimInfo>& claims, std::uint64_t unplaced, const Seat& seat,
                          const Incarnation& incarnation,
                          const std::vector<SubscriberLogEntry>& entries, const Excuses& excuses) {
        const std::string who = topic.name + ": subscriber " + std::to_string(seat.id) + "." +
                                std::to_string(incarnation.number);
        if (entries.empty()) return;  // killed before it attached
        ++figures.subscriber_incarnations;
        if (entries.front().kind != SubscriberEntryKind::kStart) {
            violation("subscriber log", who + ": the log does not begin with its start");
            return;
        }
        const SubscriberLogEntry& start = entries.front();
        std::size_t last_batch = 0;
        for (std::size_t i = 0; i < entries.size(); ++i) {
            if (entries[i].kind == SubscriberEntryKind::kBatch) last_batch = i;
        }
        if (last_batch == 0) return;  // nothing read
        const SubscriberLogEntry& batch = entries[last_batch];
        const std::uint64_t start_position = start.v[0];
        const std::uint64_t attach_tail = start.v[5];
        const auto start_ns = static_cast<std::int64_t>(start.v[4]);

        std::uint64_t expected_sequence = start.v[1];
        std::uint64_t previous_position = 0;
        bool first = true;
        std::uint64_t first_position = 0;
        std::uint64_t first_sequence = 0;
        std::uint64_t last_position = 0;
        std::uint64_t last_sequence = 0;
        std::uint64_t gaps = 0;
        std::uint64_t gaps_before_attach_tail = 0;
        std::uint64_t received = 0;
        std::vector<std::uint64_t> positions;
        // Per publisher (key: publisher << 32 | incarnation): its last record's sequence number
        // and position.
        struct LastRecord {
            std::uint64_t sequence;
            std::uint64_t position;
        };
        std::unordered_map<std::uint64_t, LastRecord> last_of_publisher;
        // A subscriber that resumed behind the ring reads what publishers were not bound to keep
        // for it (before the tail it attached at) and may lose some of it, reported in lost().
        const bool lost_some = batch.v[2] != 0;
        for (std::size_t i = 1; i < last_batch; ++i) {
            const SubscriberLogEntry& entry = entries[i];
            if (entry.kind != SubscriberEntryKind::kRecord) continue;
            const std::uint64_t position = entry.v[0];
            const std::uint64_t sequence = entry.v[1];
            const RecordId id = id_of(entry);
            const std::string at = who + ", position " + std::to_string(position);
            ++received;
            ++figures.deliveries;
            if ((entry.flags & 1u) == 0) {
                violation("torn payload", at + ": the payload (" +
                                              std::to_string(entry.flags >> 16) +
                                              " bytes) is not an intact soak record (it names " +
                                              describe(id) + ")");
                continue;
            }
            const ClaimInfo* claim = find(claims, position);
            if (claim == nullptr) {
                violation("phantom",
                          at + ": " + describe(id) + ", which no publisher claimed there");
            } else if (!(claim->id == id)) {
                violation("phantom", at + ": " + describe(id) + ", but " + describe(claim->id) +
                                         " was claimed there");
            }
            if (position < start_position || (!first && position <= previous_position)) {
                violation("order", at + ": after position " + std::to_string(previous_position) +
                                       " (started at " + std::to_string(start_position) + ")");
            }
            if (sequence < expected_sequence) {
                violation("order", at + ": topic sequence " + std::to_string(sequence) +
                                       " where at least " + std::to_string(expected_sequence) +
                                       " was due (a duplicate or a step back)");
            } else {
                gaps += sequence - expected_sequence;
                if (position < attach_tail) gaps_before_attach_tail += sequence - expected_sequence;
            }
            expected_sequence = sequence + 1;
            const std::uint64_t key = entry.v[2];
            const auto seen = last_of_publisher.find(key);
            if (seen != last_of_publisher.end()) {
                // Block topics: each publisher's records with none missing, once everything after
                // the previous one was owed to this subscriber ("missed" below checks that it
                // got all of those). Anywhere else: in order, with any gap reported as lost.
                const bool owed_all = !lost_some || seen->second.position >= attach_tail;
                const bool in_order = topic.block && owed_all
                                          ? id.sequence == seen->second.sequence + 1
                                          : id.sequence > seen->second.sequence;
                if (!in_order) {
                    violation("order", at + ": " + describe(id) + " after record " +
                                           std::to_string(seen->second.sequence) +
                                           " of the same publisher");
                }
            }
            last_of_publisher[key] = {id.sequence, position};
            if (first) {
                first_position = position;
                first_sequence = sequence;
            }
            last_position = position;
            last_sequence = sequence;
            first = false;
            previous_position = position;
            positions.push_back(position);
            const auto claimed_ns = static_cast<std::int64_t>(entry.v[4]);
            const auto received_ns = static_cast<std::int64_t>(entry.v[5]);
            note_stall(result_.longest_subscriber,
                       excuses.unexcused(std::max(claimed_ns, start_ns), received_ns),
                       who + ", " + describe(id) + " at position " + std::to_string(position));
        }

        const std::uint64_t lost = batch.v[2];
        const std::uint64_t voided = batch.v[3];
        figures.lost += lost;
        figures.voided_reported += voided;
        if (lost + voided != gaps) {
            violation("accounting", who + ": lost() " + std::to_string(lost) + " + voided() " +
                                        std::to_string(voided) + " != " + std::to_string(gaps) +
                                        ", the sequence numbers it never received");
        }
        if (batch.v[5] != 0) {
            violation("corrupt", who + ": corrupt() is " + std::to_string(batch.v[5]));
        }
        if (batch.v[4] < received) {
            violation("accounting", who + ": consumed() " + std::to_string(batch.v[4]) + " < " +
                                        std::to_string(received) + " records logged");
        }
        if (topic.block && lost > gaps_before_attach_tail) {
            violation("block loss", who + ": lost " + std::to_string(lost) + " records, but only " +
                                        std::to_string(gaps_before_attach_tail) +
                                        " could have been overwritten before it attached");
        }
        if (received == 0) return;

        // Received + lost + voided accounts for every claim between the first and last record.
        const auto from =
            std::lower_bound(claims.begin(), claims.end(), first_position,
                             [](const ClaimInfo& c, std::uint64_t p) { return c.position < p; });
        const auto to =
            std::upper_bound(from, claims.end(), last_position,
                             [](std::uint64_t p, const ClaimInfo& c) { return p < c.position; });
        const auto placed = static_cast<std::uint64_t>(to - from);
        const std::uint64_t numbered = last_sequence - first_sequence + 1;
        if (numbered < placed || numbered > placed + unplaced) {
            violation("accounting", who + ": " + std::to_string(numbered) +
                                        " sequence numbers from its first record to its last, but "
                                        "publishers placed " +
                                        std::to_string(placed) +
                                        " claims there (and may have made " +
                                        std::to_string(unplaced) + " more, unplaced)");
        }

        if (!topic.block) return;
        // Block topics: every committed record from where it was owed them to where it stopped.
        const std::uint64_t owed_from =
            lost == 0 ? start_position : std::max(start_position, attach_tail);
        const std::uint64_t owed_to = batch.v[0];
        for (auto it = std::lower_bound(
                 claims.begin(), claims.end(), owed_from,
                 [](const ClaimInfo&c, std::uint64_t p) { return c.position < p; });
             it != claims.end() && it->position < owed_to; ++it) {
            if (it->state == ClaimState::kUnknown) continue;  // never committed
            if (!std::binary_search(positions.begin(), positions.end(), it->position)) {
                violation("missed", who + ": never received " + describe(it->id) + " at position " +
                                        std::to_string(it->position) + " (it read from " +
                                        std::to_string(start_position) + " to " +
                                        std::to_string(owed_to) + ")");
            }
        }
    }

    const RunRecord& run_;
    CheckResult result_;
    std::unordered_map<std::string, std::size_t> per_kind_;
    std::unordered_map<std::string, std::size_t> suppressed_;
};

}  // namespace

CheckResult check_run(const RunRecord& run) {
    return Checker(run).check();
}

void print_figures(const RunRecord& run, const ChaosCounts& counts, const CheckResult& result) {
    std::printf("\nshmbus soak: seed %" PRIu64 ", %.1f s\n", run.seed, run.duration_s);
    std::printf("  %-12s %-9s %10s %8s %9s %11s %8s %9s %6s\n", "topic", "policy", "committed",
                "voided", "unplaced", "deliveries", "lost", "voided*", "incs");
    TopicFigures total;
    for (std::size_t t = 0; t < run.topics.size(); ++t) {
        const TopicFigures& f = result.topics[t];
        std::printf("  %-12s %-9s %10" PRIu64 " %8" PRIu64 " %9" PRIu64 " %11" PRIu64 " %8" PRIu64
                    " %9" PRIu64 " %6" PRIu64 "\n",
                    run.topics[t].name.c_str(), run.topics[t].block ? "block" : "overwrite",
                    f.committed, f.voided_claims, f.unplaced_claims, f.deliveries, f.lost,
                    f.voided_reported, f.subscriber_incarnations);
        total.committed += f.committed;
        total.voided_claims += f.voided_claims;
        total.deliveries += f.deliveries;
        total.lost += f.lost;
    }
    std::printf(
        "  (voided: claims of killed publishers never committed; unplaced: claims a publisher "
        "may have made just before dying; voided*: as reported by subscribers; incs: subscriber "
        "incarnations checked)\n");
    std::printf("records committed: %" PRIu64 "; records verified (deliveries checked): %" PRIu64
                "; lost (reported and accounted for; in block topics only by subscribers restarted "
                "after the ring moved on): %" PRIu64 "; voided claims: %" PRIu64 "\n",
                total.committed, total.deliveries, total.lost, total.voided_claims);
    const auto p = static_cast<std::size_t>(RoleKind::kPublisher);
    const auto s = static_cast<std::size_t>(RoleKind::kSubscriber);
    const auto d = static_cast<std::size_t>(RoleKind::kDaemon);
    std::printf("kills survived (kill -9): publisher %" PRIu64 ", subscriber %" PRIu64
                ", daemon %" PRIu64 " (total %" PRIu64 ")\n",
                counts.kills[p], counts.kills[s], counts.kills[d],
                counts.kills[p] + counts.kills[s] + counts.kills[d]);
    std::printf("deaths at fault points: publisher %" PRIu64 ", subscriber %" PRIu64
                "; evictions: %" PRIu64 "\n",
                counts.fault_deaths[p], counts.fault_deaths[s], counts.evictions);
    std::printf("stops (SIGSTOP, later SIGCONT): publisher %" PRIu64 ", subscriber %" PRIu64
                ", daemon %" PRIu64 "\n",
                counts.stops[p], counts.stops[s], counts.stops[d]);
    std::printf("longest stall: publisher %.3f s (%s)\n", result.longest_publisher.seconds,
                result.longest_publisher.where.c_str());
    std::printf("               subscriber %.3f s (%s)\n", result.longest_subscriber.seconds,
                result.longest_subscriber.where.c_str());
    std::printf("               bound %.1f s\n", run.stall_bound_s);
    const std::size_t violations = result.violations.size() + run.violations.size();
    for (const std::string& violation : run.violations)
        std::printf("VIOLATION: %s\n", violation.c_str());
    for (const std::string& violation : result.violations)
        std::printf("VIOLATION: %s\n", violation.c_str());
    if (violations == 0) {
        std::printf("every invariant held (seed %" PRIu64 ")\n", run.seed);
    } else {
        std::printf("%zu violations (seed %" PRIu64 " reproduces the chaos schedule)\n", violations,
                    run.seed);
    }
    std::fflush(stdout);
}

}  // namespace shmbus::soak
