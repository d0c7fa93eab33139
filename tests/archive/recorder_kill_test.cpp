// The recorder killed at random during a full-rate stream on a block topic: every sequence is in
// the archive exactly once, as a whole record or inside a gap entry, in order, never twice; and
// an overwrite topic's losses become gap entries with the exact count.
//
// While a recorder is dead, its subscriber slot no longer holds a block topic's publishers back,
// so what the ring laps meanwhile becomes a gap entry. shmbusd's bookmark closes those gaps for
// the recorders it runs (docs/ARCHIVE.md, "Recording from shmbusd";
// tests/daemon/recorder_supervision_test.cpp).
#include <doctest/doctest.h>
#include <signal.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "archive_stream.hpp"
#include "shmbus/archive/archive_inspect.hpp"
#include "shmbus/archive/archive_reader.hpp"
#include "shmbus/archive/archive_writer.hpp"
#include "shmbus/archive/recorder.hpp"
#include "shmbus/shmbus.hpp"
#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/payload.hpp"
#include "support/shared_block.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::Status;
using shmbus::test::ArchiveContents;
using shmbus::test::BusDirectory;
using shmbus::test::Child;
using shmbus::test::ChildLink;
using shmbus::test::Clock;
using shmbus::test::deadline_in;
using shmbus::test::StreamControl;

constexpr std::uint32_t kMaxRecord = 256;

std::span<const std::uint8_t, 16> id_of(const shmbus::Topic& topic) {
    return std::span<const std::uint8_t, 16>(topic.view().records->topic_id);
}

Child start_publisher(const BusDirectory& bus, StreamControl& control) {
    return shmbus::test::start_stream_publisher(bus.path(), "t", kMaxRecord, control);
}

/// A recorder process that records until the archive holds `until` sequences, or for ever.
Child start_recorder(const BusDirectory& bus, const std::filesystem::path& archive,
                     std::uint64_t until) {
    return Child::fork("recorder", [&bus, archive, until](ChildLink&) {
        const shmbus::Topic topic =
            shmbus::Topic::open(bus.path(), "t", {.access = shmbus::Access::kSubscribe});
        shmbus::archive::ArchiveWriter writer(archive, "t", id_of(topic));
        shmbus::archive::Recorder recorder(topic, writer);
        while (writer.next_sequence().value_or(0) < until) {
            const shmbus::PollResult step = recorder.step();
            if (step.status != Status::kOk) return 3;
            if (step.records == 0) (void)recorder.subscriber().wait(50ms);
        }
        return 0;
    });
}

ArchiveContents read_back(const std::filesystem::path& archive) {
    return shmbus::test::read_stream_archive(archive, kMaxRecord);
}

}  // namespace

TEST_CASE(
    "a recorder killed 20 times during a full-rate stream on a block topic leaves every sequence "
    "in the archive exactly once, as a record or in a gap entry") {
    BusDirectory bus;
    constexpr std::uint64_t kForever = UINT64_MAX;
    shmbus::create_topic(bus.path(), "t", {.capacity = 64 * 1024, .max_record_size = kMaxRecord});
    const std::filesystem::path archive = bus.path() / "archive";
    // The archive holds the topic before the publisher starts, so a block topic holds it back
    // from the first record.
    {
        const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
        shmbus::archive::ArchiveWriter writer(archive, "t", id_of(topic));
    }
    Child first = start_recorder(bus, archive, kForever);
    // Wait until the first recorder is attached: its subscriber holds the publisher back.
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    const auto attached = deadline_in(10s);
    while (shmbus::collect_stats(topic).subscribers.empty() && Clock::now() < attached) {
        const timespec poll_interval{0, 1'000'000};
        ::nanosleep(&poll_interval, nullptr);  // only how often it looks; the loop waits for it
    }
    REQUIRE_FALSE(shmbus::collect_stats(topic).subscribers.empty());
    shmbus::test::SharedBlock<StreamControl> control;
    Child publisher = start_publisher(bus, *control);

    std::mt19937 random(20261207);
    std::uniform_int_distribution<long> pause_us(2'000, 40'000);
    Child recorder = std::move(first);
    for (int round = 0; round < 20; ++round) {
        const timespec pause{0, pause_us(random) * 1000};
        ::nanosleep(&pause, nullptr);
        const auto killed = recorder.kill_and_reap();
        CAPTURE(round);
        REQUIRE_MESSAGE(!killed.ok(), "the recorder ended before it was killed");
        recorder = start_recorder(bus, archive, kForever);
    }
    // The publisher stops; a last recorder records up to its last record and ends.
    control->stop.store(true, std::memory_order_relaxed);
    const auto published = publisher.wait_until(deadline_in(60s));
    REQUIRE(published);
    CHECK_MESSAGE(published->ok(), "the publisher " << published->describe());
    const std::uint64_t records = control->published.load(std::memory_order_relaxed);
    recorder.kill_and_reap();
    recorder = start_recorder(bus, archive, records);
    const auto recorded = recorder.wait_until(deadline_in(120s));
    REQUIRE_MESSAGE(recorded, "the last recorder did not finish");
    CHECK_MESSAGE(recorded->ok(), "the last recorder " << recorded->describe());
    const ArchiveContents contents = read_back(archive);
    MESSAGE(records << " records published, the recorder killed 21 times: " << contents.records
                    << " records archived, " << contents.gaps << " gaps of " << contents.gap_records
                    << " records lapped while a recorder was dead");

    CHECK_MESSAGE(contents.wrong.empty(), contents.wrong);
    CHECK(contents.records + contents.gap_records == records);
    CHECK(contents.records > 0);
    CHECK(shmbus::archive::inspect_archive(archive, true).clean());
}

TEST_CASE(
    "on an overwrite topic, what the ring overwrote becomes a gap entry with the exact count") {
    BusDirectory bus;
    shmbus::create_topic(
        bus.path(), "t",
        {.capacity = 4096, .max_record_size = kMaxRecord, .policy = shmbus::Policy::kOverwrite});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    const std::filesystem::path archive = bus.path() / "archive";
    shmbus::archive::ArchiveWriter writer(archive, "t", id_of(topic));
    shmbus::archive::Recorder recorder(topic, writer, shmbus::StartAt::earliest());
    shmbus::Publisher publisher(topic);
    std::vector<std::byte> buffer(kMaxRecord);
    const auto publish = [&](std::uint64_t from, std::uint64_t to) {
        for (std::uint64_t i = from; i < to; ++i) {
            const std::uint32_t length = shmbus::test::record_length(0, i, kMaxRecord);
            shmbus::test::fill_record(std::span(buffer).first(length), 0, i);
            REQUIRE(publisher.try_offer(std::span(buffer).first(length)) == Status::kOk);
        }
    };
    publish(0, 10);
    recorder.step();
    REQUIRE(writer.next_sequence() == 10u);
    // A few laps of a 4 KiB ring while the recorder does not read.
    publish(10, 400);
    recorder.step();
    const std::uint64_t lost = recorder.subscriber().lost();
    REQUIRE(lost > 0);
    publish(400, 410);
    recorder.step();

    const ArchiveContents contents = read_back(archive);
    CHECK_MESSAGE(contents.wrong.empty(), contents.wrong);
    CHECK(contents.gaps == 1);
    CHECK(contents.gap_records == lost);
    CHECK(contents.records + contents.gap_records == 410);
    CHECK(recorder.counts().gap_records == lost);
}
