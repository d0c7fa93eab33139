// shmbus replay, run as a user would: the recording's timing kept to within 5 %, scaled by
// --speed, replaced by --rate; gaps and damaged bytes passed over and counted; a signal stops
// it; bad arguments refused with a message and the documented status.
//
// The recordings are written with ArchiveWriter and chosen timestamps, not recorded in real
// time. A subscriber in this process reads the replayed topic and stamps each arrival with
// CLOCK_MONOTONIC.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

#include "shmbus/archive/archive_reader.hpp"
#include "shmbus/archive/archive_writer.hpp"
#include "shmbus/detail/util/record_clock.hpp"
#include "support/bus_directory.hpp"
#include "tool.hpp"

namespace shmbus::test::cli {
namespace {

constexpr std::uint8_t kTopicId[16] = {0x52, 0x45, 0x50, 0x4c, 0x41, 0x59, 1, 2,
                                       3,    4,    5,    6,    7,    8,    9, 10};
// Where the recordings' wall clock starts: any time will do, none is compared with now.
constexpr std::uint64_t kRecordedAt = 1'700'000'000'000'000'000;
constexpr std::int64_t kMs = 1'000'000;

// The timing checks allow 5 % of each record's expected offset, and never less than this: on a
// 2-core machine shared with compilers (load average 6 when this was written), the replayer and
// this test are each woken from their sleeps up to 5 to 7 milliseconds late now and then,
// whatever the replayer's schedule. A schedule wrong by more than that (a wrong speed, rate or
// start, waits that add up) still fails: the recordings' offsets run to hundreds of ms.
constexpr std::int64_t kFloorNs = 10 * kMs;

std::string dir_of(const BusDirectory& bus) {
    return bus.path().string();
}

std::int64_t monotonic_ns() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

/// One entry to write into an archive: a record, or a gap of `gap` records.
struct Entry {
    std::uint64_t sequence = 0;
    std::uint64_t timestamp_ns = 0;
    std::string payload;
    std::uint64_t gap = 0;
};

/// Writes `entries` into a new archive in `dir`.
void write_archive(const std::filesystem::path& dir, const std::vector<Entry>& entries,
                   std::uint64_t segment_bytes = std::uint64_t{64} << 20) {
    shmbus::archive::ArchiveWriter writer(dir, "recorded",
                                          std::span<const std::uint8_t, 16>(kTopicId),
                                          {.segment_bytes = segment_bytes});
    for (const Entry& entry : entries) {
        if (entry.gap > 0) {
            writer.append_gap(entry.sequence, entry.gap, entry.timestamp_ns);
        } else {
            writer.append_record(entry.sequence, entry.timestamp_ns, 0,
                                 std::as_bytes(std::span(entry.payload)));
        }
        writer.flush();  // so that small segments end where they fill up
    }
}

/// `count` records, sequences from 1000 on, spread over `total_ns` at irregular intervals
/// (between 1 and 20 parts, and one pause of 150 parts): the same every run.
std::vector<Entry> irregular(std::size_t count, std::int64_t total_ns) {
    std::vector<std::uint64_t> parts(count, 0);
    std::uint64_t state = 12345;
    std::uint64_t sum = 0;
    for (std::size_t i = 1; i < count; ++i) {
        state = state * 6364136223846793005u + 1442695040888963407u;
        parts[i] = i == count / 3 ? 150 : 1 + (state >> 33) % 20;
        sum += parts[i];
    }
    std::vector<Entry> entries;
    std::uint64_t elapsed = 0;
    for (std::size_t i = 0; i < count; ++i) {
        elapsed += parts[i];
        entries.push_back({1000 + i,
                           kRecordedAt + elapsed * static_cast<std::uint64_t>(total_ns) / sum,
                           "record " + std::to_string(i), 0});
    }
    return entries;
}

/// What the subscriber saw of one record.
struct Arrival {
    std::string payload;
    std::int64_t at_ns = 0;  // CLOCK_MONOTONIC when this process read it
    std::uint64_t sequence = 0;
    std::uint64_t timestamp_ns = 0;
};

/// Reads `count` records, stamping each as it arrives; fails the test if they are not all there
/// within `limit`.
std::vector<Arrival> receive(Subscriber& subscriber, std::size_t count, Clock::duration limit) {
    const auto deadline = Clock::now() + limit;
    std::vector<Arrival> got;
    while (got.size() < count) {
        REQUIRE_MESSAGE(Clock::now() < deadline,
                        "only " << got.size() << " of " << count << " records arrived");
        const PollResult polled = subscriber.poll([&](const Record& record) {
            got.push_back({std::string(reinterpret_cast<const char*>(record.payload.data()),
                                       record.payload.size()),
                           monotonic_ns(), record.sequence, record.timestamp_ns});
        });
        REQUIRE(polled.status == Status::kOk);
        if (polled.records == 0) (void)subscriber.wait(std::chrono::milliseconds(50));
    }
    return got;
}

std::vector<std::string> payloads_of(const std::vector<Entry>& entries) {
    std::vector<std::string> out;
    for (const Entry& entry : entries) {
        if (entry.gap == 0) out.push_back(entry.payload);
    }
    return out;
}

std::vector<std::string> payloads_of(const std::vector<Arrival>& arrivals) {
    std::vector<std::string> out;
    for (const Arrival& arrival : arrivals)
        out.push_back(arrival.payload);
    return out;
}

/// Nanoseconds as milliseconds, for messages.
double ms(std::int64_t ns) {
    return static_cast<double>(ns) / 1e6;
}

bool within(std::int64_t actual, std::int64_t expected) {
    return std::abs(actual - expected) <= std::max(expected / 20, kFloorNs);
}

/// When replay published a record: the topic's timestamp, which its publisher (the replay) took
/// at the claim. Judging that rather than when this process read the record leaves out this
/// process's own scheduling, on a machine whose two CPUs the test shares.
std::int64_t published_ns(const Arrival& arrival) {
    return static_cast<std::int64_t>(arrival.timestamp_ns);
}

/// What is wrong with the timing (empty: nothing): every record i must have been published `expected[i]` after the replay started, within 5 % of
/// `expected[i]` or kFloorNs, and that the whole replay took `expected.back()` likewise; prints
/// the figures. When the replay started (its first record went out) is not seen from here:
/// it is taken as the median of arrival − expected over all records, so that one record this
/// test was woken late for (the first, say) shifts no other.
[[nodiscard]] std::vector<std::string> timing_problems(const std::vector<Arrival>& got,
                                                       const std::vector<std::int64_t>& expected,
                                                       const std::string& what) {
    REQUIRE(got.size() == expected.size());
    std::vector<std::string> problems;
    std::vector<std::int64_t> lateness;
    for (std::size_t i = 0; i < got.size(); ++i)
        lateness.push_back(published_ns(got[i]) - expected[i]);
    std::vector<std::int64_t> sorted = lateness;
    std::nth_element(sorted.begin(),
                     sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2), sorted.end());
    const std::int64_t start = sorted[sorted.size() / 2];
    std::int64_t worst_offset = 0;
    std::int64_t worst_interval = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const std::int64_t offset = published_ns(got[i]) - start;
        worst_offset = std::max(worst_offset, std::abs(offset - expected[i]));
        if (!within(offset, expected[i])) {
            problems.push_back(what + ": record " + std::to_string(i) + " arrived " +
                               std::to_string(ms(offset)) + " ms after the start, due " +
                               std::to_string(ms(expected[i])) + " ms");
        }
        if (i > 0) {
            const std::int64_t interval = published_ns(got[i]) - published_ns(got[i - 1]);
            worst_interval =
                std::max(worst_interval, std::abs(interval - (expected[i] - expected[i - 1])));
        }
    }
    const std::int64_t total = published_ns(got.back()) - published_ns(got.front());
    if (!within(total, expected.back())) {
        problems.push_back(what + ": took " + std::to_string(ms(total)) + " ms, due " +
                           std::to_string(ms(expected.back())) + " ms");
    }
    std::printf(
        "%s: %zu records in %.1f ms (due %.1f ms); worst offset error %.2f ms, worst interval "
        "error %.2f ms, first record %.2f ms late\n",
        what.c_str(), got.size(), ms(total), ms(expected.back()), ms(worst_offset),
        ms(worst_interval), ms(lateness[0] - start));
    return problems;
}

/// The offsets from the first record at which `entries` are due at `speed`.
std::vector<std::int64_t> recorded_offsets(const std::vector<Entry>& entries, double speed) {
    std::vector<std::int64_t> out;
    for (const Entry& entry : entries) {
        out.push_back(static_cast<std::int64_t>(
            static_cast<double>(entry.timestamp_ns - entries.front().timestamp_ns) / speed));
    }
    return out;
}

/// A bus with topic "t" (block, 1 KiB records at most) and an archive directory path.
struct Setup {
    Setup() { create_topic(bus.path(), "t", {.capacity = 1 << 20, .max_record_size = 1024}); }
    BusDirectory bus;
    std::filesystem::path archive = bus.path() / "archive";
    Topic topic() const { return Topic::open(bus.path(), "t"); }
};

/// Replays `archive` into "t" with `options` while a subscriber reads `count` records.
std::vector<Arrival> replay_and_receive(const Setup& setup, std::vector<std::string> options,
                                        std::size_t count, std::string& err) {
    const Topic topic = setup.topic();
    Subscriber subscriber(topic, {.start = StartAt::latest()});  // attached before replay starts
    std::vector<std::string> args{
        "--dir", dir_of(setup.bus), "replay", setup.archive.string(), "--to", "t"};
    args.insert(args.end(), options.begin(), options.end());
    Process replay = Process::start_tool(args);
    std::vector<Arrival> got = receive(subscriber, count, 20s);
    const auto exit = replay.wait_until(Clock::now() + 10s);
    REQUIRE(exit.has_value());
    err = replay.error_output();
    CHECK_MESSAGE(exit->exited, err);
    CHECK_MESSAGE(exit->code == 0, err);
    return got;
}

/// replay_and_receive, checking that the records arrived on the schedule `expected`. A run off
/// schedule is tried again, twice at most, with its problems printed: a compiler that held both CPUs for
/// tens of milliseconds is no fault of replay's, but a wrong schedule is wrong every time.
std::vector<Arrival> replay_on_time(const Setup& setup, const std::vector<std::string>& options,
                                    const std::vector<std::int64_t>& expected,
                                    const std::string& what, std::string& err) {
    std::vector<Arrival> got;
    std::vector<std::string> problems;
    for (int attempt = 1; attempt <= 3; ++attempt) {
        got = replay_and_receive(setup, options, expected.size(), err);
        problems = timing_problems(got, expected, what);
        if (problems.empty()) return got;
        std::printf("%s: attempt %d off schedule, %zu record(s), first: %s\n", what.c_str(),
                    attempt, problems.size(), problems.front().c_str());
    }
    for (const std::string& problem : problems)
        FAIL_CHECK(problem);
    return got;
}

}  // namespace

TEST_CASE("replay keeps the recording's timing: 200 records over 2 s, each offset within 5 %") {
    Setup setup;
    const std::vector<Entry> recording = irregular(200, 2000 * kMs);
    write_archive(setup.archive, recording);
    const std::uint64_t before = util::realtime_ns();
    std::string err;
    const std::vector<Arrival> got =
        replay_on_time(setup, {}, recorded_offsets(recording, 1.0), "--speed 1", err);
    CHECK(payloads_of(got) == payloads_of(recording));
    // New records of the target topic: its own sequences from 0 and its own timestamps.
    for (std::size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].sequence == got[0].sequence + i);
        CHECK(got[i].timestamp_ns >= before);
    }
    CHECK(contains(err, "replayed 200 records of " + setup.archive.string() +
                            " into 't'; skipped 0 gap(s) (0 records missing) and 0 damaged "
                            "bytes"));
}

TEST_CASE("--speed 2x halves the recording's offsets") {
    Setup setup;
    const std::vector<Entry> recording = irregular(120, 1600 * kMs);
    write_archive(setup.archive, recording);
    std::string err;
    const std::vector<Arrival> got = replay_on_time(
        setup, {"--speed", "2x"}, recorded_offsets(recording, 2.0), "--speed 2x", err);
    CHECK(payloads_of(got) == payloads_of(recording));
}

TEST_CASE("--rate publishes at a fixed rate whatever the timestamps say") {
    Setup setup;
    // Spread over 30 s as recorded; at 50 records a second, 40 records take 780 ms.
    const std::vector<Entry> recording = irregular(40, 30'000 * kMs);
    write_archive(setup.archive, recording);
    std::vector<std::int64_t> expected;
    for (std::size_t i = 0; i < recording.size(); ++i)
        expected.push_back(static_cast<std::int64_t>(i) * 20 * kMs);
    std::string err;
    const std::vector<Arrival> got =
        replay_on_time(setup, {"--rate", "50/s"}, expected, "--rate 50/s", err);
    CHECK(payloads_of(got) == payloads_of(recording));
}

TEST_CASE("timestamps that go backwards do not make replay wait: they count as the largest") {
    Setup setup;
    // Two publishers' clocks interleaved: 0, 200, 100 (late), 250, 50 (late), 400 ms.
    const std::int64_t recorded_ms[] = {0, 200, 100, 250, 50, 400};
    std::vector<Entry> recording;
    for (std::size_t i = 0; i < std::size(recorded_ms); ++i) {
        recording.push_back({i, kRecordedAt + static_cast<std::uint64_t>(recorded_ms[i] * kMs),
                             "r" + std::to_string(i), 0});
    }
    write_archive(setup.archive, recording);
    std::string err;
    const std::vector<Arrival> got = replay_on_time(
        setup, {}, {0, 200 * kMs, 200 * kMs, 250 * kMs, 250 * kMs, 400 * kMs}, "backwards", err);
    CHECK(payloads_of(got) == payloads_of(recording));
}

TEST_CASE(
    "replay passes over gaps and damaged bytes, counts them, and honours --from-sequence "
    "and -n") {
    Setup setup;
    // Records 0..29, a gap of 5, records 35..99; about 14 entries to a 1 KiB segment.
    std::vector<Entry> recording;
    for (std::uint64_t s = 0; s < 100; ++s) {
        if (s >= 30 && s < 35) continue;
        if (s == 35) recording.push_back({30, kRecordedAt + 30 * kMs, "", 5});
        recording.push_back({s, kRecordedAt + s * kMs, "payload " + std::to_string(s), 0});
    }
    write_archive(setup.archive, recording, 1024);

    SUBCASE("gaps") {
        std::string err;
        const std::vector<Arrival> got = replay_and_receive(setup, {"--speed", "max"}, 95, err);
        CHECK(payloads_of(got) == payloads_of(recording));
        CHECK(contains(err, "replayed 95 records"));
        CHECK(contains(err, "skipped 1 gap(s) (5 records missing) and 0 damaged bytes"));
    }
    SUBCASE("--from-sequence and -n") {
        std::string err;
        const std::vector<Arrival> got =
            replay_and_receive(setup, {"--speed", "0", "--from-sequence", "32", "-n", "3"}, 3, err);
        CHECK(payloads_of(got) ==
              std::vector<std::string>{"payload 35", "payload 36", "payload 37"});
        CHECK(contains(err, "replayed 3 records"));
        CHECK(contains(err, "skipped 1 gap(s)"));
        const ToolResult again =
            run_tool({"--dir", dir_of(setup.bus), "replay", setup.archive.string(), "--to", "t",
                      "--rate", "max", "--from-sequence", "98"});
        CHECK(again.status() == 0);
        CHECK(contains(again.err, "replayed 2 records"));
    }
    SUBCASE("damage") {
        // A flipped payload byte in the second segment's first entry: the rest of that segment
        // cannot be trusted (no index point past it) and is skipped; the others are replayed.
        const auto segments = shmbus::archive::list_segments(setup.archive);
        REQUIRE(segments.size() >= 3);
        const int fd = ::open(segments[1].path.c_str(), O_RDWR | O_CLOEXEC);
        REQUIRE(fd >= 0);
        char byte = 0;
        REQUIRE(::pread(fd, &byte, 1, 128 + 32 + 1) == 1);
        byte = static_cast<char>(byte ^ 0x40);
        REQUIRE(::pwrite(fd, &byte, 1, 128 + 32 + 1) == 1);
        ::close(fd);
        const std::uint64_t size = std::filesystem::file_size(segments[1].path);
        std::vector<Entry> kept;
        for (const Entry& entry : recording) {
            if (entry.sequence < segments[1].first_sequence ||
                entry.sequence >= segments[2].first_sequence) {
                kept.push_back(entry);
            }
        }
        const std::size_t expected = payloads_of(kept).size();
        std::string err;
        const std::vector<Arrival> got =
            replay_and_receive(setup, {"--speed", "max"}, expected, err);
        CHECK(payloads_of(got) == payloads_of(kept));
        CHECK(contains(err, segments[1].path.filename().string() +
                                ": checksum mismatch at offset 128; " + std::to_string(size - 128) +
                                " bytes skipped"));
        CHECK(contains(err, "replayed " + std::to_string(expected) + " records"));
        CHECK(contains(err, "and " + std::to_string(size - 128) + " damaged bytes"));
    }
}

TEST_CASE("SIGINT stops a replay that waits for its next record") {
    Setup setup;
    write_archive(setup.archive, {{0, kRecordedAt, "now", 0},
                                  {1, kRecordedAt + 600'000 * kMs, "in ten minutes", 0}});
    const Topic topic = setup.topic();
    Subscriber subscriber(topic, {.start = StartAt::earliest()});
    Process replay = Process::start_tool(
        {"--dir", dir_of(setup.bus), "replay", setup.archive.string(), "--to", "t"});
    REQUIRE(receive(subscriber, 1, 10s).front().payload == "now");
    const auto signalled = Clock::now();
    replay.signal(SIGINT);
    const auto exit = replay.wait_until(Clock::now() + 5s);
    REQUIRE(exit.has_value());
    CHECK(Clock::now() - signalled < 2s);
    CHECK(exit->code == 128 + SIGINT);
    CHECK(contains(replay.error_output(), "replayed 1 records"));
}

TEST_CASE("replay refuses bad arguments, a missing archive or topic, and records too long") {
    Setup setup;
    write_archive(setup.archive, {{0, kRecordedAt, std::string(2000, 'x'), 0}});
    const std::string dir = dir_of(setup.bus);
    const std::string archive = setup.archive.string();
    const auto replay = [&](std::vector<std::string> extra) {
        std::vector<std::string> args{"--dir", dir, "replay"};
        args.insert(args.end(), extra.begin(), extra.end());
        return run_tool(args);
    };

    const ToolResult both = replay({archive, "--to", "t", "--speed", "2", "--rate", "10"});
    CHECK(both.status() == 2);
    CHECK(contains(both.err, "--speed and --rate exclude each other"));
    for (const char* speed : {"-1", "fast", "x", "2xx", "nan", "1e3"}) {
        const ToolResult bad = replay({archive, "--to", "t", "--speed", speed});
        CHECK_MESSAGE(bad.status() == 2, speed);
        CHECK_MESSAGE(contains(bad.err, std::string("--speed: '") + speed + "' is not a speed"),
                      bad.err);
    }
    const ToolResult bad_rate = replay({archive, "--to", "t", "--rate", "5/m"});
    CHECK(bad_rate.status() == 2);
    CHECK(contains(bad_rate.err, "--rate: '5/m' is not a rate"));
    const ToolResult bad_from = replay({archive, "--to", "t", "--from-sequence", "first"});
    CHECK(bad_from.status() == 2);
    CHECK(contains(bad_from.err, "--from-sequence: 'first'"));
    const ToolResult no_to = replay({archive});
    CHECK(no_to.status() == 2);
    CHECK(contains(no_to.err, "--to"));

    const ToolResult no_archive = replay({archive + "-missing", "--to", "t"});
    CHECK(no_archive.status() == 3);
    CHECK(contains(no_archive.err, "archive directory " + archive + "-missing does not exist"));
    const ToolResult no_topic = replay({archive, "--to", "missing"});
    CHECK(no_topic.status() == 3);

    // The topic takes 1 KiB records; the archive holds one of 2000 bytes.
    const ToolResult too_long = replay({archive, "--to", "t"});
    CHECK(too_long.status() == 2);
    CHECK(contains(too_long.err, "record 0 of " + archive +
                                     " is 2000 bytes, too long: topic 't' takes records of at "
                                     "most 1024 bytes"));
    CHECK(collect_stats(setup.topic()).tail_sequence == 0);
}

}  // namespace shmbus::test::cli
