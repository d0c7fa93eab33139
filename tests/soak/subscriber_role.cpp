// The subscriber role: follows one topic and logs everything it sees (soak_files.hpp).
//
// It starts at the tail, or, restarted, at the position and next sequence its previous
// incarnation logged last (StartAt::position(position, next_sequence)), so the checker can hold
// each incarnation to exact accounting from its own start. Each poll's records and a batch entry
// with the subscriber's counters go to the log in one write(). Now and then it sleeps, as a slow
// consumer would, so that block topics back-pressure and overwrite topics lap it. On SIGTERM it
// drains: it polls until its position reaches the tail, and logs how it ended.
#include <signal.h>
#include <time.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <random>
#include <shmbus/detail/ring/tail.hpp>
#include <shmbus/shmbus.hpp>
#include <string>
#include <thread>
#include <vector>

#include "roles.hpp"
#include "soak_files.hpp"
#include "soak_record.hpp"
#include "terminate_signal.hpp"

namespace shmbus::soak {
namespace {

StartAt start_for(const SubscriberRoleOptions& options) {
    if (options.resume_position == kNone) return StartAt::latest();
    if (options.resume_sequence == kNone) return StartAt::position(options.resume_position);
    return StartAt::position(options.resume_position, options.resume_sequence);
}

// Attaches. A saved position may name a frame whose header its publisher has not stamped yet
// (claimed, or claimed by a publisher that died before stamping it, until the repair): the
// library refuses such a position, so try again for a while.
std::unique_ptr<Subscriber> attach(const Topic& topic, const SubscriberRoleOptions& options) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
        try {
            return std::make_unique<Subscriber>(topic,
                                                SubscriberOptions{.start = start_for(options)});
        } catch (const Error& error) {
            if (error.code() != ErrorCode::kInvalidArgument ||
                std::chrono::steady_clock::now() >= give_up) {
                throw;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));  // pacing the retries
        }
    }
}

SubscriberLogEntry batch_entry(const Subscriber& subscriber, Status status) {
    SubscriberLogEntry entry{SubscriberEntryKind::kBatch, static_cast<std::uint32_t>(status), {}};
    entry.v[0] = subscriber.position();
    entry.v[1] = subscriber.next_sequence();
    entry.v[2] = subscriber.lost();
    entry.v[3] = subscriber.voided();
    entry.v[4] = subscriber.consumed();
    entry.v[5] = subscriber.corrupt();
    return entry;
}

}  // namespace

int run_subscriber(const SubscriberRoleOptions& options) {
    install_terminate_handler();
    try {
        const Topic topic = Topic::open(options.bus, options.topic, {.access = Access::kSubscribe});
        AppendLog log(options.log);
        const std::unique_ptr<Subscriber> subscriber = attach(topic, options);
        SubscriberLogEntry start{SubscriberEntryKind::kStart, 0, {}};
        start.v[0] = subscriber->position();
        start.v[1] = subscriber->next_sequence();
        start.v[2] = options.resume_position;
        start.v[3] = options.resume_sequence;
        start.v[4] = static_cast<std::uint64_t>(monotonic_ns());
        // Read after the constructor's seq_cst read of the tail that follows its registration,
        // so at least that tail: the claims a publisher made without counting this subscriber
        // all lie below it, and from here on a block topic owes it every record. (Acquire;
        // coherence alone keeps it no lower than the constructor's read.)
        start.v[5] = ring::load_tail_position(topic.view().records->tail);
        log.write(&start, sizeof start);

        std::mt19937_64 random(mix64(options.seed ^ (std::uint64_t{options.id} << 40) ^
                                     (std::uint64_t{options.incarnation} << 8) ^ 0x5B));
        std::uniform_real_distribution<double> chance(0, 1);
        std::uniform_int_distribution<int> slow_ms(10, 150);
        std::vector<SubscriberLogEntry> pending;
        pending.reserve(Subscriber::kDefaultBatch + 1);
        const auto handler = [&](const Record& record) {
            const DecodedRecord decoded = decode_record(record.payload);
            SubscriberLogEntry entry{SubscriberEntryKind::kRecord,
                                     (decoded.intact ? 1u : 0u) |
                                         (static_cast<std::uint32_t>(record.payload.size()) << 16),
                                     {}};
            entry.v[0] = record.position;
            entry.v[1] = record.sequence;
            entry.v[2] = (std::uint64_t{decoded.id.publisher} << 32) | decoded.id.incarnation;
            entry.v[3] = decoded.id.sequence;
            entry.v[4] = decoded.claimed_ns;
            entry.v[5] = static_cast<std::uint64_t>(monotonic_ns());
            pending.push_back(entry);
        };
        const auto flush = [&](Status status) {
            pending.push_back(batch_entry(*subscriber, status));
            log.write(pending.data(), pending.size() * sizeof(SubscriberLogEntry));
            pending.clear();
        };
        const auto end = [&](EndReason reason) {
            SubscriberLogEntry entry{SubscriberEntryKind::kEnd, 0, {}};
            entry.v[0] = static_cast<std::uint64_t>(reason);
            entry.v[1] = subscriber->position();
            entry.v[2] = static_cast<std::uint64_t>(monotonic_ns());
            log.write(&entry, sizeof entry);
        };

        std::uint64_t logged_position = subscriber->position();
        std::int64_t drain_deadline = 0;
        for (;;) {
            if (terminate_requested() && drain_deadline == 0) {
                drain_deadline =
                    monotonic_ns() + static_cast<std::int64_t>(options.drain_timeout * 1e9);
            }
            const PollResult result = subscriber->poll(handler);
            if (result.status == Status::kEvicted) {
                flush(result.status);
                end(EndReason::kEvicted);
                return kRoleEvicted;
            }
            if (result.records > 0 || result.status != Status::kOk ||
                subscriber->position() != logged_position) {
                flush(result.status);
                logged_position = subscriber->position();
            }
            if (result.status != Status::kOk) {
                std::fprintf(stderr, "subscriber %u.%u: poll: %s\n", options.id,
                             options.incarnation, std::string(to_string(result.status)).c_str());
                end(EndReason::kError);
                return kRoleFailed;
            }
            if (drain_deadline != 0) {
                const std::uint64_t tail = ring::load_tail_position(topic.view().records->tail);
                if (result.records == 0 && subscriber->position() == tail) {
                    end(EndReason::kDrained);
                    return kRoleOk;
                }
                if (monotonic_ns() > drain_deadline) {
                    std::fprintf(stderr,
                                 "subscriber %u.%u: at %llu, the tail at %llu, after %.1f s\n",
                                 options.id, options.incarnation,
                                 static_cast<unsigned long long>(subscriber->position()),
                                 static_cast<unsigned long long>(tail), options.drain_timeout);
                    end(EndReason::kDrainTimedOut);
                    return kRoleDrainTimedOut;
                }
            } else if (result.records > 0 && chance(random) < options.slow_probability) {
                std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms(random)));
            }
            if (result.records == 0) {
                (void)subscriber->wait(std::chrono::milliseconds(drain_deadline != 0 ? 20 : 100));
            }
        }
    } catch (const std::exception& error) {
        std::fprintf(stderr, "subscriber %u.%u: %s\n", options.id, options.incarnation,
                     error.what());
        return kRoleFailed;
    }
}

}  // namespace shmbus::soak
