#include "support/traffic.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <shmbus/detail/util/atomic.hpp>
#include <span>
#include <thread>
#include <vector>

#include "support/payload.hpp"

namespace shmbus::test {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kMostInBatch = 8;

std::chrono::nanoseconds until(Clock::time_point deadline) {
    const auto now = Clock::now();
    return now >= deadline ? 0ns : std::chrono::nanoseconds(deadline - now);
}

std::string describe_failure(std::uint32_t slot, std::uint64_t counter, const char* call,
                             Status status) {
    return "publisher slot " + std::to_string(slot) + ", record " + std::to_string(counter) + ": " +
           call + " returned '" + std::string(to_string(status)) + "'";
}

}  // namespace

std::string publish_records(Publisher& publisher, const PublishPlan& plan) {
    const std::uint32_t slot = publisher.slot();
    const std::uint32_t max = plan.max_record_size;
    std::vector<std::byte> buffer(max);
    std::vector<std::vector<std::byte>> batch(kMostInBatch, std::vector<std::byte>(max));
    std::uint64_t aborted = 0;
    bool just_aborted = false;
    std::uint64_t counter = 0;
    while (counter < plan.records) {
        const std::uint64_t choice = mix64((std::uint64_t{slot} << 40) ^ counter ^ 0x5eed);
        const std::uint32_t length = record_length(slot, counter, max);
        if (plan.abort_one_in != 0 && !just_aborted && choice % plan.abort_one_in == 0) {
            Claim claim = publisher.claim(length, until(plan.deadline));
            if (!claim) return describe_failure(slot, counter, "claim (to abort)", claim.status());
            if (!claim.payload().empty()) claim.payload()[0] = std::byte{0xff};
            claim.abort();
            ++aborted;
            just_aborted = true;  // the same record is published next
            continue;
        }
        just_aborted = false;
        switch ((choice >> 8) % 3) {
            case 0: {  // zero-copy: claim, write in place, commit
                Claim claim = publisher.claim(length, until(plan.deadline));
                if (!claim) return describe_failure(slot, counter, "claim", claim.status());
                fill_record(claim.payload(), slot, counter);
                const Status status = claim.commit();
                if (status != Status::kOk) return describe_failure(slot, counter, "commit", status);
                ++counter;
                break;
            }
            case 1: {  // copy in
                const std::span<std::byte> record(buffer.data(), length);
                fill_record(record, slot, counter);
                const Status status = publisher.offer(record, until(plan.deadline));
                if (status != Status::kOk) return describe_failure(slot, counter, "offer", status);
                ++counter;
                break;
            }
            default: {  // several at once
                const std::uint64_t count = std::min<std::uint64_t>(
                    1 + (choice >> 16) % kMostInBatch, plan.records - counter);
                std::vector<std::span<const std::byte>> records;
                for (std::uint64_t i = 0; i < count; ++i) {
                    const std::span<std::byte> record(batch[i].data(),
                                                      record_length(slot, counter + i, max));
                    fill_record(record, slot, counter + i);
                    records.push_back(record);
                }
                std::size_t published = 0;
                const Status status =
                    publisher.offer_batch(records, published, until(plan.deadline));
                counter += published;
                if (status != Status::kOk) {
                    return describe_failure(slot, counter, "offer_batch", status);
                }
                if (published != count) {
                    return "publisher slot " + std::to_string(slot) +
                           ": offer_batch said kOk after " + std::to_string(published) + " of " +
                           std::to_string(count) + " records";
                }
                break;
            }
        }
        if (plan.published != nullptr && (counter & 255) < 8) {
            plan.published->store(counter, std::memory_order_relaxed);
        }
    }
    if (plan.published != nullptr) plan.published->store(counter, std::memory_order_relaxed);
    if (plan.aborted != nullptr) plan.aborted->store(aborted, std::memory_order_relaxed);
    return {};
}

std::string ReadResult::line() const {
    if (!error.empty()) return "error: " + error;
    char text[200];
    std::snprintf(text, sizeof text,
                  "received=%" PRIu64 " lost=%" PRIu64 " voided=%" PRIu64 " corrupt=%" PRIu64
                  " digest=%" PRIu64,
                  received, lost, voided, corrupt, digest);
    return text;
}

ReadResult ReadResult::parse(const std::string& line) {
    ReadResult result;
    if (line.rfind("error: ", 0) == 0) {
        result.error = line.substr(7);
        return result;
    }
    if (std::sscanf(line.c_str(),
                    "received=%" SCNu64 " lost=%" SCNu64 " voided=%" SCNu64 " corrupt=%" SCNu64
                    " digest=%" SCNu64,
                    &result.received, &result.lost, &result.voided, &result.corrupt,
                    &result.digest) != 5) {
        result.error = "unreadable result line '" + line + "'";
    }
    return result;
}

ReadResult read_records(Subscriber& subscriber, const ReadPlan& plan) {
    RecordChecker checker(plan.max_record_size, plan.publishers, plan.lossless);
    ReadResult result;
    std::optional<std::uint64_t> last_sequence;
    std::uint64_t lost_seen = 0;
    const ring::TopicView& view = subscriber.topic().view();

    const auto handle = [&](const Record& record) {
        if (!result.error.empty()) return;
        const auto where = [&] {
            return " (sequence " + std::to_string(record.sequence) + ", position " +
                   std::to_string(record.position) + ")";
        };
        if (last_sequence && record.sequence <= *last_sequence) {
            result.error = "sequence went from " + std::to_string(*last_sequence) + " to " +
                           std::to_string(record.sequence) + where();
            return;
        }
        last_sequence = record.sequence;
        if (record.payload.size() > plan.max_record_size) {
            result.error = "a " + std::to_string(record.payload.size()) + "-byte record" + where();
            return;
        }
        const std::uint64_t lost_now = subscriber.lost();
        if (auto problem = checker.accept(record.publisher, record.payload, lost_now - lost_seen)) {
            result.error = *problem + where();
        }
        lost_seen = lost_now;
        ++result.received;
    };

    for (;;) {
        if (Clock::now() > plan.deadline) {
            result.error = "deadline passed having received " + std::to_string(result.received) +
                           " and lost " + std::to_string(subscriber.lost()) + " of " +
                           std::to_string(plan.total) + " records";
            break;
        }
        // Read before the poll: if publishers were done then, a poll that finds nothing at the
        // tail has seen everything.
        const bool done_before = plan.publishers_done && plan.publishers_done();
        const PollResult polled = subscriber.poll(handle, plan.batch);
        if (!result.error.empty()) break;
        if (polled.status != Status::kOk) {
            result.error = "poll returned '" + std::string(to_string(polled.status)) + "'";
            break;
        }
        if (plan.received != nullptr)
            plan.received->store(result.received, std::memory_order_relaxed);
        if (result.received + subscriber.lost() > plan.total) {
            result.error = "received " + std::to_string(result.received) + " and lost " +
                           std::to_string(subscriber.lost()) + ": more than the " +
                           std::to_string(plan.total) + " published";
            break;
        }
        if (plan.lossless && result.received == plan.total) break;
        if (polled.records == 0) {
            if (done_before &&
                subscriber.position() == atomics::load_acquire(view.records->tail.position)) {
                break;
            }
            (void)subscriber.wait(50ms);
        }
        if (plan.pause.count() > 0) std::this_thread::sleep_for(plan.pause);
    }
    result.lost = subscriber.lost();
    result.voided = subscriber.voided();
    result.corrupt = subscriber.corrupt();
    result.digest = checker.order_digest();
    if (result.error.empty()) {
        if (plan.lossless && result.lost != 0) {
            result.error = std::to_string(result.lost) + " records lost on a lossless topic";
        } else if (result.received + result.lost != plan.total) {
            result.error = "received " + std::to_string(result.received) + " + lost " +
                           std::to_string(result.lost) + " != published " +
                           std::to_string(plan.total);
        } else if (result.corrupt != 0) {
            result.error = std::to_string(result.corrupt) + " frames reported corrupt";
        }
    }
    if (plan.received != nullptr) plan.received->store(result.received, std::memory_order_relaxed);
    return result;
}

}  // namespace shmbus::test
