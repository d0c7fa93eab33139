// Replay that joins live: a HistorySubscriber reads the archive, then the ring, and every
// sequence arrives once, in order. The switch is tested where it is hard: with the ring lapping
// the archive's end while it switches, deterministically (one process, the ring lapped on
// purpose) and under load (a publisher at full rate and a recorder in their own processes).
// Also the time lookup that --since uses.
#include <doctest/doctest.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "archive_helpers.hpp"
#include "archive_stream.hpp"
#include "shmbus/archive/history_subscriber.hpp"
#include "shmbus/archive/recorder.hpp"
#include "shmbus/archive/time_lookup.hpp"
#include "shmbus/shmbus.hpp"
#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/payload.hpp"
#include "support/shared_block.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::StartAt;
using shmbus::Status;
using shmbus::archive::HistorySubscriber;
using shmbus::test::BusDirectory;
using shmbus::test::Child;
using shmbus::test::ChildLink;
using shmbus::test::Clock;
using shmbus::test::deadline_in;

constexpr std::uint32_t kMaxRecord = 256;

std::span<const std::uint8_t, 16> id_of(const shmbus::Topic& topic) {
    return std::span<const std::uint8_t, 16>(topic.view().records->topic_id);
}

/// The test stream: record n is counter n of publisher slot 0, as support/payload.hpp makes it.
std::vector<std::byte> stream_record(std::uint64_t n) {
    std::vector<std::byte> bytes(shmbus::test::record_length(0, n, kMaxRecord));
    shmbus::test::fill_record(bytes, 0, n);
    return bytes;
}

/// Checks what a history subscriber hands over: consecutive sequences from `next`, each record
/// the stream's own. The first problem is kept.
struct StreamCheck {
    std::uint64_t next = 0;
    std::uint64_t records = 0;
    std::string wrong;
    std::vector<std::byte> expected;  // scratch: the record due

    void operator()(const shmbus::Record& record) {
        ++records;
        if (!wrong.empty()) return;
        if (record.sequence != next) {
            wrong = "sequence " + std::to_string(record.sequence) + " where " +
                    std::to_string(next) + " was due";
            return;
        }
        expected.resize(shmbus::test::record_length(0, record.sequence, kMaxRecord));
        shmbus::test::fill_record(expected, 0, record.sequence);
        if (!std::equal(expected.begin(), expected.end(), record.payload.begin(),
                        record.payload.end())) {
            wrong = "record " + std::to_string(record.sequence) + " is not its own";
        }
        next = record.sequence + 1;
    }
};

void publish_stream(shmbus::Publisher& publisher, std::uint64_t from, std::uint64_t to) {
    for (std::uint64_t n = from; n < to; ++n) {
        REQUIRE(publisher.try_offer(stream_record(n)) == Status::kOk);
    }
}

void archive_stream(shmbus::archive::ArchiveWriter& writer, std::uint64_t from, std::uint64_t to) {
    for (std::uint64_t n = from; n < to; ++n) {
        writer.append_record(n, 1'700'000'000'000'000'000ULL + n, 0, stream_record(n));
    }
    writer.flush();
}

/// Polls until `done` holds or nothing comes for a while; returns whether `done` held.
template <typename Done>
bool poll_until(HistorySubscriber& history, StreamCheck& check, Done&& done) {
    const auto deadline = deadline_in(60s);
    while (!done() && Clock::now() < deadline) {
        if (history.poll(std::ref(check), 1024).records == 0) (void)history.wait(10ms);
    }
    return done();
}

}  // namespace

TEST_CASE(
    "a history subscriber whose ring lapped the archive's end goes back to the archive while a "
    "recorder holds it, and joins the ring with no gap and no duplicate") {
    BusDirectory bus;
    // A block topic with no subscriber: publishers lap it freely, as they lap a recorder that
    // has read further than it has written.
    shmbus::create_topic(bus.path(), "t", {.capacity = 4096, .max_record_size = kMaxRecord});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    shmbus::Publisher publisher(topic);
    publish_stream(publisher, 0, 1000);  // the ring holds only the last few dozen

    const std::filesystem::path archive = bus.path() / "archive";
    auto writer = std::make_unique<shmbus::archive::ArchiveWriter>(archive, "t", id_of(topic));
    archive_stream(*writer, 0, 500);

    HistorySubscriber history(topic, archive, StartAt::sequence(0));
    StreamCheck check;
    // The archive ends at 500, the ring starts far later: while the writer holds the archive
    // the subscriber waits for it, delivering nothing it cannot vouch for.
    REQUIRE(poll_until(history, check, [&] { return check.records == 500; }));
    for (int attempt = 0; attempt < 3; ++attempt) {
        CHECK(history.poll(std::ref(check), 1024).records == 0);
    }
    CHECK(history.rejoins() >= 1);
    CHECK_FALSE(history.live());
    CHECK(history.lost() == 0);

    // The recorder catches up, up to what the ring holds: the rest comes from the archive,
    // then the ring.
    archive_stream(*writer, 500, 995);
    REQUIRE(poll_until(history, check, [&] { return check.records == 1000; }));
    CHECK_MESSAGE(check.wrong.empty(), check.wrong);
    CHECK(history.live());
    CHECK(history.from_archive() == 995);
    CHECK(history.lost() == 0);
    // Live on a block topic: the subscriber now holds publishers back like any other.
    for (std::uint64_t n = 1000; n < 1200; n += 5) {
        publish_stream(publisher, n, n + 5);
        REQUIRE(poll_until(history, check, [&] { return check.records == n + 5; }));
    }
    CHECK_MESSAGE(check.wrong.empty(), check.wrong);
    CHECK(history.lost() == 0);
}

TEST_CASE("with no recorder at work, a hole between the archive and the ring is counted lost") {
    BusDirectory bus;
    shmbus::create_topic(bus.path(), "t", {.capacity = 4096, .max_record_size = kMaxRecord});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    shmbus::Publisher publisher(topic);
    publish_stream(publisher, 0, 1000);
    const std::filesystem::path archive = bus.path() / "archive";
    {
        shmbus::archive::ArchiveWriter writer(archive, "t", id_of(topic));
        archive_stream(writer, 0, 300);
    }
    HistorySubscriber history(topic, archive, StartAt::sequence(100));
    std::vector<std::uint64_t> sequences;
    const auto deadline = deadline_in(30s);
    while ((sequences.empty() || sequences.back() != 999) && Clock::now() < deadline) {
        (void)history.poll([&](const shmbus::Record& r) { sequences.push_back(r.sequence); });
    }
    REQUIRE_FALSE(sequences.empty());
    REQUIRE(sequences.back() == 999);
    CHECK(sequences.front() == 100);
    // 100..299 from the archive, then the ring's oldest record on, the hole between counted.
    REQUIRE(sequences.size() > 200);
    CHECK(sequences[199] == 299);
    const std::uint64_t rejoined_at = sequences[200];
    CHECK(rejoined_at > 300);
    CHECK(history.lost() == rejoined_at - 300);
    CHECK(history.live());
    for (std::size_t i = 201; i < sequences.size(); ++i) {
        REQUIRE(sequences[i] == sequences[i - 1] + 1);
    }
}

TEST_CASE("a history subscriber starts at the archive's first record, or in the ring") {
    BusDirectory bus;
    shmbus::create_topic(bus.path(), "t", {.capacity = 1 << 16, .max_record_size = kMaxRecord});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    shmbus::Publisher publisher(topic);
    publish_stream(publisher, 0, 50);
    const std::filesystem::path archive = bus.path() / "archive";
    { shmbus::archive::ArchiveWriter writer(archive, "t", id_of(topic)); }
    // An empty archive: earliest is the ring's oldest record.
    HistorySubscriber empty(topic, archive, StartAt::earliest());
    StreamCheck from_ring;
    REQUIRE(poll_until(empty, from_ring, [&] { return from_ring.records == 50; }));
    CHECK_MESSAGE(from_ring.wrong.empty(), from_ring.wrong);
    CHECK(empty.from_archive() == 0);

    {
        shmbus::archive::ArchiveWriter writer(archive, "t", id_of(topic));
        archive_stream(writer, 0, 20);
    }
    HistorySubscriber both(topic, archive, StartAt::earliest());
    StreamCheck check;
    REQUIRE(poll_until(both, check, [&] { return check.records == 50; }));
    CHECK_MESSAGE(check.wrong.empty(), check.wrong);
    CHECK(both.from_archive() == 20);
    CHECK(both.lost() == 0);

    // Another topic's archive is refused, by its id.
    shmbus::create_topic(bus.path(), "other", {.capacity = 4096, .max_record_size = kMaxRecord});
    const shmbus::Topic other = shmbus::Topic::open(bus.path(), "other");
    try {
        HistorySubscriber wrong(other, archive, StartAt::earliest());
        FAIL("an archive of another topic was accepted");
    } catch (const shmbus::Error& error) {
        CHECK(error.code() == shmbus::ErrorCode::kIncompatible);
    }
    try {
        HistorySubscriber missing(topic, bus.path() / "nowhere", StartAt::earliest());
        FAIL("a missing archive was accepted");
    } catch (const shmbus::Error& error) {
        CHECK(error.code() == shmbus::ErrorCode::kNotFound);
    }
}

TEST_CASE("a time lookup finds the first record stamped at or after the time, in any segment") {
    BusDirectory bus;
    const std::filesystem::path archive = bus.path() / "archive";
    namespace ta = shmbus::test::archive;
    {
        shmbus::archive::ArchiveWriter writer(archive, ta::kTopicName, ta::kTopicId,
                                              {.segment_bytes = 64 * 1024});
        for (std::uint64_t n = 0; n < 20'000; ++n) {
            if (n == 7000) {
                ta::append(writer, ta::gap(7000, 10));
                n += 9;
                continue;
            }
            ta::append(writer, ta::record(n, 40));
            if (n % 1000 == 0) writer.flush();
        }
        writer.flush();
    }
    REQUIRE(shmbus::archive::list_segments(archive).size() > 5);
    using shmbus::archive::sequence_at_time;
    CHECK(sequence_at_time(archive, ta::timestamp_for(12'345)) == 12'345);
    CHECK(sequence_at_time(archive, ta::timestamp_for(12'345) - 1) == 12'345);
    CHECK(sequence_at_time(archive, ta::timestamp_for(12'345) + 1) == 12'346);
    CHECK(sequence_at_time(archive, 0) == 0);
    CHECK(sequence_at_time(archive, ta::timestamp_for(7003)) == 7010);  // inside the gap
    CHECK(sequence_at_time(archive, ta::timestamp_for(19'999)) == 19'999);
    CHECK_FALSE(sequence_at_time(archive, ta::timestamp_for(19'999) + 1).has_value());
}

namespace {

Child start_recorder(const BusDirectory& bus, const std::filesystem::path& archive) {
    return Child::fork("recorder", [&bus, archive](ChildLink&) {
        const shmbus::Topic topic =
            shmbus::Topic::open(bus.path(), "t", {.access = shmbus::Access::kSubscribe});
        shmbus::archive::ArchiveWriter writer(archive, "t", id_of(topic));
        shmbus::archive::Recorder recorder(topic, writer);
        for (;;) {
            const shmbus::PollResult step = recorder.step();
            if (step.status != Status::kOk) return 3;
            if (step.records == 0) (void)recorder.subscriber().wait(50ms);
        }
    });
}

}  // namespace

TEST_CASE(
    "history subscribers started at full rate join the ring with every record exactly once, the "
    "ring lapping the archive's end during the switch") {
    BusDirectory bus;
    shmbus::create_topic(bus.path(), "t", {.capacity = 64 * 1024, .max_record_size = kMaxRecord});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    const std::filesystem::path archive = bus.path() / "archive";
    { shmbus::archive::ArchiveWriter writer(archive, "t", id_of(topic)); }
    Child recorder = start_recorder(bus, archive);
    const auto attached = deadline_in(10s);
    while (shmbus::collect_stats(topic).subscribers.empty() && Clock::now() < attached) {
        const timespec poll_interval{0, 1'000'000};
        ::nanosleep(&poll_interval, nullptr);  // only how often it looks; the loop waits for it
    }
    REQUIRE_FALSE(shmbus::collect_stats(topic).subscribers.empty());
    // Bursts at full rate, with a millisecond between them. A history subscriber catches up
    // with the live stream only if it reads faster than the stream grows, as any replay must;
    // the pauses leave it that room under sanitizers too, while each burst still laps the
    // 64 KiB ring many times over.
    shmbus::test::SharedBlock<shmbus::test::StreamControl> control;
    Child publisher =
        shmbus::test::start_stream_publisher(bus.path(), "t", kMaxRecord, *control, 4096);

    std::uint64_t rejoins = 0;
    std::uint64_t from_archive = 0;
    for (int round = 0; round < 4; ++round) {
        CAPTURE(round);
        // Start where the archive has records and the ring no longer does.
        const auto archived = deadline_in(30s);
        std::uint64_t start = 0;
        while (Clock::now() < archived) {
            std::uint64_t last = 0;
            shmbus::archive::read_archive(archive, 0, [&](const shmbus::archive::ArchivedEntry& e) {
                last = e.sequence;
                return true;
            });
            if (last > 50'000 * static_cast<std::uint64_t>(round + 1)) {
                start = last / 2;
                break;
            }
            const timespec pause{0, 5'000'000};
            ::nanosleep(&pause, nullptr);  // only how often it looks
        }
        REQUIRE(start > 0);
        HistorySubscriber history(topic, archive, StartAt::sequence(start));
        StreamCheck check;
        check.next = start;
        // Read until live, and well past the switch: 200 000 records after the publisher's count
        // at the start.
        const std::uint64_t until = control->published.load(std::memory_order_relaxed) + 200'000;
        REQUIRE(poll_until(history, check, [&] {
            return (history.live() && check.next >= until) || !check.wrong.empty();
        }));
        CHECK_MESSAGE(check.wrong.empty(), check.wrong);
        CHECK(history.live());
        CHECK(history.lost() == 0);
        rejoins += history.rejoins();
        from_archive += history.from_archive();
    }
    control->stop.store(true, std::memory_order_relaxed);
    const auto published = publisher.wait_until(deadline_in(60s));
    REQUIRE(published);
    CHECK_MESSAGE(published->ok(), "the publisher " << published->describe());
    recorder.kill_and_reap();
    MESSAGE(control->published.load() << " records published; 4 history subscribers read "
                                      << from_archive << " from the archive and went back to it "
                                      << rejoins << " times when the ring had lapped its end");
    CHECK(from_archive > 0);
}
