// Builds, in the bus directory given, the topics that reader_test.sh reads twice: with
// read_topic.py (an independent reader written from docs/FORMAT.md alone) and with `shmbus sub`.
// No daemon runs, so nothing moves the commit floor but this program's own repair.
//
//   wrapped_*      block, 1 KiB ring, records of varying lengths and batches over many laps while
//                  a subscriber keeps up: WRAP frames in the ring, positions laps in
//   overwritten_*  overwrite, 1 KiB ring, no subscriber, many laps: the commit floor stays at 0,
//                  and the oldest intact record lies before the end of the lap the tail left
//   padded_*       aborted claims and an aborted batch among records and a committed batch
//   repaired_*     a publisher killed holding a claim, the claim repaired into padding at the
//                  commit floor, more records after it; the floor inside the last lap
//   edited_*       records with edited bytes: a reserved half-word and a publisher index past
//                  max publishers, a length over the maximum, a length that runs into the next
//                  frames, and a last record whose frame ends past the tail
//   refused_*      a format version and a flag bit this version does not know
//
// Each * is `ts` (records carry timestamps) and `plain` (they do not). The program checks that
// every topic has the shape it claims, and prints one line per topic: its name, the exit status
// read_topic.py must give, and the one `shmbus sub --timeout 1` must give.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <shmbus/shmbus.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "shmbus/detail/format/frame_header.hpp"
#include "shmbus/detail/ring/frame_inspect.hpp"
#include "shmbus/detail/ring/retention.hpp"
#include "shmbus/detail/ring/tail.hpp"
#include "shmbus/detail/ring/unblocker.hpp"

namespace {

namespace fs = std::filesystem;
namespace format = shmbus::format;
namespace ring = shmbus::ring;
using shmbus::Status;

void require(bool condition, const std::string& what) {
    if (!condition) throw std::runtime_error(what);
}

/// Payload bytes that differ from record to record and from byte to byte.
std::vector<std::byte> payload_for(std::uint64_t record, std::size_t length) {
    std::vector<std::byte> bytes(length);
    for (std::size_t i = 0; i < length; ++i) {
        bytes[i] = static_cast<std::byte>((record * 31 + i * 7 + 1) & 0xff);
    }
    return bytes;
}

/// Lengths from 0 to `max`, in no simple order.
std::size_t length_for(std::uint64_t record, std::size_t max) {
    return (record * 37 + record / 3) % (max + 1);
}

std::uint64_t tail_of(const shmbus::Topic& topic) {
    return ring::boundary_at_or_before(ring::load_tail_position(topic.view().records->tail));
}

struct Census {
    std::uint32_t records = 0;
    std::uint32_t paddings = 0;
    std::uint32_t wraps = 0;
};

/// The frames from the oldest intact one to the tail, as the library reads them.
Census census(const shmbus::Topic& topic) {
    const ring::TopicView& view = topic.view();
    const std::uint64_t tail = tail_of(topic);
    Census counted;
    for (std::uint64_t p = ring::oldest_intact_position(view, tail); p < tail;) {
        const ring::FrameInfo frame = ring::inspect_frame(view, p);
        switch (frame.kind) {
            case ring::FrameKind::kRecord:
                ++counted.records;
                break;
            case ring::FrameKind::kPadding:
                ++counted.paddings;
                break;
            case ring::FrameKind::kWrap:
                ++counted.wraps;
                break;
            default:
                throw std::runtime_error(topic.name() + ": an unfinished or corrupt frame at " +
                                         std::to_string(p));
        }
        p = frame.next;
    }
    return counted;
}

/// Delivers everything the subscriber has to read; returns how many records that was.
std::size_t drain(shmbus::Subscriber& subscriber) {
    std::size_t total = 0;
    for (;;) {
        const shmbus::PollResult result = subscriber.poll([](const shmbus::Record&) {});
        require(result.status == Status::kOk, "the keeping-up subscriber's poll failed");
        if (result.records == 0) return total;
        total += result.records;
    }
}

/// Publishes record `n`, draining `keep_up` (if any) while the publisher is held back.
std::uint64_t publish(shmbus::Publisher& publisher, std::uint64_t n, std::size_t length,
                      shmbus::Subscriber* keep_up = nullptr) {
    const std::vector<std::byte> payload = payload_for(n, length);
    for (int attempt = 0;; ++attempt) {
        shmbus::Claim claim = publisher.try_claim(length);
        if (claim) {
            if (length != 0) std::memcpy(claim.payload().data(), payload.data(), length);
            const std::uint64_t position = claim.position();
            require(claim.commit() == Status::kOk, "a commit failed");
            return position;
        }
        require(claim.status() == Status::kBackPressured && keep_up != nullptr && attempt < 2,
                "a claim failed: " + std::string(shmbus::to_string(claim.status())));
        drain(*keep_up);
    }
}

shmbus::TopicOptions options(std::uint64_t capacity, std::uint32_t max_record,
                             shmbus::Policy policy, bool timestamps) {
    shmbus::TopicOptions topic;
    topic.capacity = capacity;
    topic.max_record_size = max_record;
    topic.max_publishers = 4;
    topic.max_subscribers = 4;
    topic.policy = policy;
    topic.timestamps = timestamps;
    // The variant without timestamps has fenced commits (flag bit 1): a rule for publishers,
    // which a reader accepts and otherwise ignores.
    topic.fenced_commits = !timestamps;
    return topic;
}

void make_wrapped(const fs::path& dir, const std::string& name, bool timestamps) {
    shmbus::create_topic(dir, name, options(1024, 160, shmbus::Policy::kBlock, timestamps));
    const shmbus::Topic topic = shmbus::Topic::open(dir, name);
    shmbus::Publisher publisher(topic);
    shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
    std::uint64_t n = 0;
    std::size_t received = 0;
    while (n < 400) {
        if (n % 9 == 4) {
            // A batch of up to five; the claim takes the prefix that fits before the lap's end.
            std::vector<std::vector<std::byte>> payloads;
            std::vector<std::span<const std::byte>> records;
            for (std::uint64_t i = 0; i < 5; ++i)
                payloads.push_back(payload_for(n + i, i * 13));
            for (const auto& payload : payloads)
                records.emplace_back(payload);
            std::span<const std::span<const std::byte>> rest(records);
            for (int attempt = 0; !rest.empty(); ++attempt) {
                require(attempt < 20, name + ": a batch did not go through");
                std::size_t published = 0;
                const Status status = publisher.try_offer_batch(rest, published);
                require(status == Status::kOk || status == Status::kBackPressured,
                        name + ": a batch failed");
                rest = rest.subspan(published);
                n += published;
                received += drain(subscriber);
            }
            continue;
        }
        publish(publisher, n, length_for(n, 160), &subscriber);
        ++n;
        received += drain(subscriber);
    }
    require(received == n && subscriber.lost() == 0, name + ": the subscriber missed records");
    require(tail_of(topic) >= 8 * topic.capacity(), name + ": fewer than 8 laps");
    require(census(topic).wraps >= 1, name + ": no WRAP frame in the ring");
}

void make_overwritten(const fs::path& dir, const std::string& name, bool timestamps) {
    shmbus::create_topic(dir, name, options(1024, 100, shmbus::Policy::kOverwrite, timestamps));
    const shmbus::Topic topic = shmbus::Topic::open(dir, name);
    const ring::TopicView& view = topic.view();
    shmbus::Publisher publisher(topic);
    // Until the tail is laps in and the oldest intact record lies strictly inside the lap that
    // tail - capacity is in: the case where falling back to that lap's end loses records.
    for (std::uint64_t n = 0;; ++n) {
        require(n < 20000, name + ": never reached the shape wanted");
        publish(publisher, n, length_for(n, 100));
        const std::uint64_t tail = tail_of(topic);
        if (tail < 20 * view.capacity) continue;
        const std::uint64_t from = tail - view.capacity;
        const std::uint64_t lap_end = from + view.room_in_lap(from);
        const std::uint64_t oldest = ring::oldest_intact_position(view, tail);
        if (oldest > from && oldest + 256 < lap_end) break;
    }
    require(view.records->commit_floor == 0, name + ": something moved the commit floor");
}

void make_padded(const fs::path& dir, const std::string& name, bool timestamps) {
    shmbus::create_topic(dir, name, options(4096, 200, shmbus::Policy::kBlock, timestamps));
    const shmbus::Topic topic = shmbus::Topic::open(dir, name);
    shmbus::Publisher publisher(topic);
    std::uint64_t n = 0;
    for (int i = 0; i < 3; ++i, ++n)
        publish(publisher, n, 10 + 11 * n);
    {
        shmbus::Claim claim = publisher.try_claim(50);
        require(static_cast<bool>(claim), name + ": a claim failed");
        std::memset(claim.payload().data(), 0x5a, 50);
        claim.abort();
    }
    for (int i = 0; i < 2; ++i, ++n)
        publish(publisher, n, 7 * n);
    {
        const std::array<std::uint32_t, 3> lengths{10, 0, 33};
        shmbus::BatchClaim batch = publisher.try_claim_batch(lengths);
        require(batch && batch.size() == lengths.size(), name + ": a batch claim failed");
        for (std::size_t i = 0; i < batch.size(); ++i) {
            const auto payload = payload_for(n + i, lengths[i]);
            if (!payload.empty()) std::memcpy(batch.payload(i).data(), payload.data(), lengths[i]);
        }
        require(batch.commit() == Status::kOk, name + ": a batch commit failed");
        n += lengths.size();
    }
    {
        const std::array<std::uint32_t, 4> lengths{20, 21, 22, 23};
        shmbus::BatchClaim batch = publisher.try_claim_batch(lengths);
        require(batch && batch.size() == lengths.size(), name + ": a batch claim failed");
        for (std::size_t i = 0; i < batch.size(); ++i) {
            std::memset(batch.payload(i).data(), 0xa5, lengths[i]);
        }
        batch.abort();
    }
    publish(publisher, n++, 0);
    {
        shmbus::Claim claim = publisher.try_claim(0);  // padding with nothing after its header
        require(static_cast<bool>(claim), name + ": a claim failed");
        claim.abort();
    }
    for (int i = 0; i < 2; ++i, ++n)
        publish(publisher, n, 40 + n);
    require(tail_of(topic) <= topic.capacity(), name + ": the first lap should hold it all");
    require(topic.view().records->aborted_claims == 3, name + ": expected 3 aborted claims");
    const Census counted = census(topic);
    require(counted.paddings == 6 && counted.records == n, name + ": not the frames expected");
}

/// Forks a publisher that claims `length` bytes, writes half of them, says where, and waits to
/// be killed. Returns its pid and the claim's position.
std::pair<pid_t, std::uint64_t> claim_in_child(const fs::path& dir, const std::string& name,
                                               std::size_t length) {
    int fds[2];
    require(::pipe(fds) == 0, "pipe");
    const pid_t child = ::fork();
    require(child >= 0, "fork");
    if (child == 0) {
        ::close(fds[0]);
        try {
            const shmbus::Topic topic = shmbus::Topic::open(dir, name);
            shmbus::Publisher publisher(topic);
            shmbus::Claim claim = publisher.try_claim(length);
            if (!claim) ::_exit(2);
            std::memset(claim.payload().data(), 0x77, length / 2);
            const std::uint64_t position = claim.position();
            if (::write(fds[1], &position, sizeof position) != sizeof position) ::_exit(3);
            for (;;)
                ::pause();  // holding the claim until SIGKILL
        } catch (...) {
            ::_exit(4);
        }
    }
    ::close(fds[1]);
    pollfd ready{fds[0], POLLIN, 0};
    std::uint64_t position = 0;
    const bool told = ::poll(&ready, 1, 10'000) == 1 &&
                      ::read(fds[0], &position, sizeof position) == sizeof position;
    ::close(fds[0]);
    if (!told) {
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
        throw std::runtime_error(name + ": the claiming child did not report its claim");
    }
    return {child, position};
}

void make_repaired(const fs::path& dir, const std::string& name, bool timestamps) {
    shmbus::create_topic(dir, name, options(4096, 200, shmbus::Policy::kBlock, timestamps));
    const shmbus::Topic topic = shmbus::Topic::open(dir, name);
    const ring::TopicView& view = topic.view();
    shmbus::Publisher publisher(topic);
    std::uint64_t n = 0;
    for (; tail_of(topic) < 3000; ++n)
        publish(publisher, n, length_for(n, 60));

    const auto [child, dead_claim] = claim_in_child(dir, name, 40);
    ++n;  // the dead claim took a sequence number
    for (int i = 0; i < 5; ++i, ++n)
        publish(publisher, n, length_for(n, 60));
    ::kill(child, SIGKILL);
    int status = 0;
    require(::waitpid(child, &status, 0) == child && WIFSIGNALED(status),
            name + ": the claiming child did not die by SIGKILL");

    const ring::RepairReport report = ring::repair_at_floor(view, topic.locks_fd());
    require(report.outcome == ring::RepairOutcome::kRepaired && report.had_header &&
                report.position == dead_claim,
            name + ": the dead claim was not repaired");
    require(
        ring::repair_at_floor(view, topic.locks_fd()).outcome == ring::RepairOutcome::kNothingStuck,
        name + ": something else is stuck");
    for (; tail_of(topic) < view.capacity + 600; ++n)
        publish(publisher, n, length_for(n, 60));

    const std::uint64_t tail = tail_of(topic);
    const std::uint64_t floor = view.records->commit_floor;
    require(view.records->unblocked_claims == 1, name + ": expected one unblocked claim");
    require(ring::inspect_frame(view, dead_claim).kind == ring::FrameKind::kPadding,
            name + ": the dead claim is not padding");
    require(dead_claim >= tail - view.capacity, name + ": the padding left the ring");
    require(floor >= tail - view.capacity && floor < tail,
            name + ": the commit floor should lie in the last lap");
    require(census(topic).paddings == 1, name + ": expected one padding frame");
}

void make_edited(const fs::path& dir, const std::string& name, bool timestamps) {
    constexpr std::uint32_t kMaxRecord = 256;
    shmbus::create_topic(dir, name, options(4096, kMaxRecord, shmbus::Policy::kBlock, timestamps));
    const shmbus::Topic topic = shmbus::Topic::open(dir, name);
    const ring::TopicView& view = topic.view();
    std::vector<std::uint64_t> positions;
    {
        shmbus::Publisher publisher(topic);
        for (std::uint64_t n = 0; n < 24; ++n)
            positions.push_back(publish(publisher, n, 20 + n));
    }
    const std::uint64_t tail = tail_of(topic);
    require(tail + view.frame_size(kMaxRecord) <= view.capacity, name + ": too long for the lap");
    const std::set<std::uint64_t> boundaries(positions.begin(), positions.end());

    // Plain stores into the mapping: no publisher is attached any more.
    format::FrameHeader& odd = view.header(positions[3]);
    odd.reserved = 0xBEEF;
    odd.publisher = 600;  // max publishers is 4
    view.header(positions[7]).length = kMaxRecord + 1;
    // A length that runs into the next frames and ends where no frame starts.
    format::FrameHeader& longer = view.header(positions[12]);
    std::uint32_t length = longer.length + 40;
    while (boundaries.count(positions[12] + view.frame_size(length)) != 0)
        length += 8;
    require(positions[12] + view.frame_size(length) < tail, name + ": the edit ran too far");
    longer.length = length;
    // The last record's frame ends past the tail.
    view.header(positions.back()).length = kMaxRecord;
}

/// A topic whose records header says something this version does not read.
void make_refused(const fs::path& dir, const std::string& name, std::size_t offset,
                  std::uint32_t value) {
    shmbus::create_topic(dir, name, options(1024, 100, shmbus::Policy::kBlock, true));
    {
        const shmbus::Topic topic = shmbus::Topic::open(dir, name);
        shmbus::Publisher publisher(topic);
        for (std::uint64_t n = 0; n < 3; ++n)
            publish(publisher, n, 10);
    }
    const fs::path records = dir / name / "records";
    const int fd = ::open(records.c_str(), O_RDWR | O_CLOEXEC);
    require(fd >= 0, "opening " + records.string());
    const bool written = ::pwrite(fd, &value, sizeof value, static_cast<off_t>(offset)) ==
                         static_cast<ssize_t>(sizeof value);
    ::close(fd);
    require(written, "editing " + records.string());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s BUS_DIRECTORY\n", argv[0]);
        return 2;
    }
    const fs::path dir = argv[1];
    try {
        for (const bool timestamps : {true, false}) {
            const std::string variant = timestamps ? "_ts" : "_plain";
            make_wrapped(dir, "wrapped" + variant, timestamps);
            std::printf("wrapped%s 0 8\n", variant.c_str());
            make_overwritten(dir, "overwritten" + variant, timestamps);
            std::printf("overwritten%s 0 8\n", variant.c_str());
            make_padded(dir, "padded" + variant, timestamps);
            std::printf("padded%s 0 8\n", variant.c_str());
            make_repaired(dir, "repaired" + variant, timestamps);
            std::printf("repaired%s 0 8\n", variant.c_str());
            make_edited(dir, "edited" + variant, timestamps);
            std::printf("edited%s 4 8\n", variant.c_str());
        }
        make_refused(dir, "refused_version", 8, 4);  // format version 4
        std::printf("refused_version 2 5\n");
        make_refused(dir, "refused_flags", 64, 5);  // flag bit 2
        std::printf("refused_flags 2 5\n");
    } catch (const std::exception& error) {
        std::fprintf(stderr, "make_topics: %s\n", error.what());
        return 1;
    }
    return 0;
}
