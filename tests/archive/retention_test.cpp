// Retention: the oldest segments removed whole by size or age, never the last; the writer
// applying it as it rolls; what a crash between removing a segment and its index leaves; and a
// reader in the middle of an archive whose segments are removed under it.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <shmbus/archive/archive_inspect.hpp>
#include <shmbus/archive/archive_reader.hpp>
#include <shmbus/archive/archive_writer.hpp>
#include <shmbus/archive/retention.hpp>
#include <thread>
#include <vector>

#include "archive/archive_helpers.hpp"
#include "support/bus_directory.hpp"

namespace {

using namespace std::chrono_literals;
namespace ar = shmbus::archive;
using namespace shmbus::test::archive;
using shmbus::test::BusDirectory;

std::vector<Entry> records(std::uint64_t first, std::uint64_t end, std::size_t size) {
    std::vector<Entry> out;
    for (std::uint64_t s = first; s < end; ++s)
        out.push_back(record(s, size));
    return out;
}

/// Writes records [0, count) of `size` bytes into an archive of `segment_bytes` segments,
/// flushing every 16 records, and returns its segments.
std::vector<ar::SegmentFile> write_archive(const std::filesystem::path& dir, std::uint64_t count,
                                           std::size_t size, std::uint64_t segment_bytes) {
    ar::ArchiveWriter writer(dir, kTopicName, topic_id(), {.segment_bytes = segment_bytes});
    for (std::uint64_t s = 0; s < count; ++s) {
        append(writer, record(s, size));
        if (s % 16 == 15) writer.flush();
    }
    writer.flush();
    return ar::list_segments(dir);
}

std::uint64_t archive_bytes(const std::filesystem::path& dir) {
    std::uint64_t total = 0;
    for (const ar::SegmentFile& segment : ar::list_segments(dir)) {
        total += size_of_file(segment.path);
        if (std::filesystem::exists(index_path(dir, segment.first_sequence))) {
            total += size_of_file(index_path(dir, segment.first_sequence));
        }
    }
    return total;
}

std::uint64_t segment_and_index_bytes(const std::filesystem::path& dir, std::uint64_t first) {
    return size_of_file(segment_path(dir, first)) + size_of_file(index_path(dir, first));
}

constexpr std::uint64_t kSecond = 1'000'000'000;

}  // namespace

TEST_CASE("retention by bytes removes the oldest segments whole, until the archive fits") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    const std::vector<ar::SegmentFile> before = write_archive(dir, 600, 100, 4096);
    REQUIRE(before.size() >= 10);
    const std::uint64_t total = archive_bytes(dir);
    std::vector<std::uint64_t> sizes;
    for (const ar::SegmentFile& s : before)
        sizes.push_back(segment_and_index_bytes(dir, s.first_sequence));

    // The limit: half the archive. Expected: the shortest prefix whose removal gets there.
    const std::uint64_t limit = total / 2;
    std::uint64_t left = total;
    std::size_t expect_removed = 0;
    while (left > limit)
        left -= sizes[expect_removed++];

    const ar::RetentionResult result =
        ar::apply_retention(dir, {.max_bytes = limit}, timestamp_for(0));
    REQUIRE(result.removed.size() == expect_removed);
    for (std::size_t i = 0; i < expect_removed; ++i) {
        CHECK(result.removed[i].first_sequence == before[i].first_sequence);
        CHECK(result.removed[i].bytes == sizes[i]);
        CHECK(result.removed[i].reason == ar::RemovalReason::kBytes);
        CHECK_FALSE(std::filesystem::exists(before[i].path));
        CHECK_FALSE(std::filesystem::exists(index_path(dir, before[i].first_sequence)));
    }
    CHECK(result.bytes_left == left);
    CHECK(result.bytes_left == archive_bytes(dir));
    CHECK(result.bytes_left <= limit);
    REQUIRE(result.first_sequence_left == before[expect_removed].first_sequence);
    CHECK(result.orphan_indexes.empty());

    // What is left reads as it was written, and a read from 0 says where the archive now starts.
    const ReadResult read = read_all(dir, 0);
    check_entries(read.entries, records(*result.first_sequence_left, 600, 100));
    CHECK(read.summary.trimmed_to == result.first_sequence_left);
    CHECK(read.summary.damage.empty());
    CHECK(ar::inspect_archive(dir, true).clean());

    // Within the limit already: nothing goes.
    CHECK(ar::apply_retention(dir, {.max_bytes = limit}, timestamp_for(0)).removed.empty());
}

TEST_CASE("retention never removes the last segment, even with limits of zero") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    const std::vector<ar::SegmentFile> before = write_archive(dir, 300, 100, 4096);
    REQUIRE(before.size() >= 3);
    const ar::RetentionResult result = ar::apply_retention(
        dir, {.max_bytes = 0, .max_age = std::chrono::seconds(0)}, timestamp_for(1000) + kSecond);
    CHECK(result.removed.size() == before.size() - 1);
    const std::vector<ar::SegmentFile> after = ar::list_segments(dir);
    REQUIRE(after.size() == 1);
    CHECK(after[0].first_sequence == before.back().first_sequence);
    CHECK(result.first_sequence_left == before.back().first_sequence);

    // Again, on the one segment left: nothing.
    const ar::RetentionResult again = ar::apply_retention(
        dir, {.max_bytes = 0, .max_age = std::chrono::seconds(0)}, timestamp_for(1000) + kSecond);
    CHECK(again.removed.empty());
    CHECK(ar::list_segments(dir).size() == 1);
    check_entries(read_all(dir, before.back().first_sequence).entries,
                  records(before.back().first_sequence, 300, 100));
}

TEST_CASE("retention by age goes by each segment's newest entry, and removes only a prefix") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    const std::vector<ar::SegmentFile> before = write_archive(dir, 600, 100, 4096);
    REQUIRE(before.size() >= 10);

    // Entries before sequence 300 are older than the cutoff (timestamp_for increases with the
    // sequence): the segments that end before 300 go, for their age.
    const std::uint64_t now = timestamp_for(300) + 60 * kSecond;
    std::size_t expect_removed = 0;
    while (before[expect_removed + 1].first_sequence <= 300)
        ++expect_removed;
    REQUIRE(expect_removed >= 2);
    const ar::RetentionResult result =
        ar::apply_retention(dir, {.max_age = std::chrono::seconds(60)}, now);
    REQUIRE(result.removed.size() == expect_removed);
    for (std::size_t i = 0; i < expect_removed; ++i) {
        CHECK(result.removed[i].first_sequence == before[i].first_sequence);
        CHECK(result.removed[i].reason == ar::RemovalReason::kAge);
    }
    CHECK(result.first_sequence_left == before[expect_removed].first_sequence);
    check_entries(read_all(dir, 0).entries,
                  records(before[expect_removed].first_sequence, 600, 100));
}

TEST_CASE("a segment with one recent entry past its index points is young, and stops the trim") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    // Three segments of old entries, but the second holds one recent entry in its middle (not
    // an index point: the index has one entry per 64 KiB), and the third is old again.
    const std::uint64_t old_ts = 1'000 * kSecond;
    const std::uint64_t now = 1'000'000 * kSecond;
    std::vector<std::uint64_t> firsts;
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id(), {.segment_bytes = 4096});
        for (std::uint64_t s = 0; s < 200; ++s) {
            Entry e = record(s, 100);
            e.timestamp_ns = old_ts + s;
            append(writer, e);
            writer.flush();
        }
        for (const ar::SegmentFile& segment : ar::list_segments(dir))
            firsts.push_back(segment.first_sequence);
        REQUIRE(firsts.size() >= 4);
    }
    // Rewrite: the same, with the recent entry in the second segment.
    std::filesystem::remove_all(dir);
    const std::uint64_t young = firsts[1] + 5;
    REQUIRE(young < firsts[2]);
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id(), {.segment_bytes = 4096});
        for (std::uint64_t s = 0; s < 200; ++s) {
            Entry e = record(s, 100);
            e.timestamp_ns = s == young ? now - kSecond : old_ts + s;
            append(writer, e);
            writer.flush();
        }
    }
    REQUIRE(ar::SegmentReader(segment_path(dir, firsts[1])).read_index().size() == 1);

    const ar::RetentionResult result =
        ar::apply_retention(dir, {.max_age = std::chrono::seconds(3600)}, now);
    REQUIRE(result.removed.size() == 1);
    CHECK(result.removed[0].first_sequence == firsts[0]);
    CHECK(result.first_sequence_left == firsts[1]);
    // The third segment is old, but behind a young one: it stays.
    CHECK(std::filesystem::exists(segment_path(dir, firsts[2])));
}

TEST_CASE("a writer with a retention policy keeps the archive within it as it rolls segments") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    constexpr std::uint64_t kSegment = 4096;
    constexpr std::uint64_t kLimit = 5 * kSegment;
    std::uint64_t removed = 0;
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id(),
                                 {.segment_bytes = kSegment, .retention = {.max_bytes = kLimit}});
        for (std::uint64_t s = 0; s < 2000; ++s) {
            append(writer, record(s, 100));
            if (s % 16 == 15) {
                writer.flush();
                // Within the limit, give or take the segment being written (which is never
                // removed) and the flush that went past its size.
                CHECK(archive_bytes(dir) <= kLimit + 2 * kSegment);
            }
        }
        writer.flush();
        removed = writer.segments_removed();
        CHECK(writer.bytes_removed() > 0);
    }
    CHECK(removed > 10);
    const std::vector<ar::SegmentFile> left = ar::list_segments(dir);
    REQUIRE_FALSE(left.empty());
    // What is left is whole, in order, and ends with the last record written.
    const ReadResult read = read_all(dir, 0);
    CHECK(read.summary.trimmed_to == left.front().first_sequence);
    check_entries(read.entries, records(left.front().first_sequence, 2000, 100));
    CHECK(ar::inspect_archive(dir, true).clean());
}

TEST_CASE("a writer with an age limit removes every closed segment of old records as it rolls") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    {
        // timestamp_for gives times in 2023: older than a day by now.
        ar::ArchiveWriter writer(
            dir, kTopicName, topic_id(),
            {.segment_bytes = 4096, .retention = {.max_age = std::chrono::hours(24)}});
        for (std::uint64_t s = 0; s < 500; ++s) {
            append(writer, record(s, 100));
            if (s % 16 == 15) writer.flush();
        }
        writer.flush();
        CHECK(writer.segments_removed() > 5);
    }
    // The segment being written when the writer last rolled stays, with what came after it.
    const std::vector<ar::SegmentFile> left = ar::list_segments(dir);
    REQUIRE(left.size() == 1);
    check_entries(read_all(dir, left[0].first_sequence).entries,
                  records(left[0].first_sequence, 500, 100));
}

TEST_CASE(
    "a trim stopped between a segment and its index leaves an archive readers and writers "
    "accept") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    const std::vector<ar::SegmentFile> before = write_archive(dir, 300, 100, 4096);
    REQUIRE(before.size() >= 4);
    const std::uint64_t second = before[1].first_sequence;

    SUBCASE("the segment removed, its index left (the order retention removes them in)") {
        std::filesystem::remove(before[0].path);
        REQUIRE(std::filesystem::exists(index_path(dir, 0)));
        const ReadResult read = read_all(dir, 0);
        CHECK(read.summary.damage.empty());
        CHECK(read.summary.trimmed_to == second);
        check_entries(read.entries, records(second, 300, 100));
        CHECK(ar::inspect_archive(dir, true).clean());
        {
            ar::ArchiveWriter writer(dir, kTopicName, topic_id(), {.segment_bytes = 4096});
            CHECK(writer.next_sequence() == 300);
            append(writer, record(300, 100));
        }
        check_entries(read_all(dir, 0).entries, records(second, 301, 100));
        // The next trim removes the index left behind, and nothing else.
        const ar::RetentionResult result =
            ar::apply_retention(dir, {.max_bytes = UINT64_MAX}, timestamp_for(0));
        CHECK(result.removed.empty());
        REQUIRE(result.orphan_indexes.size() == 1);
        CHECK(result.orphan_indexes[0] == index_path(dir, 0));
        CHECK_FALSE(std::filesystem::exists(index_path(dir, 0)));
    }
    SUBCASE("the index removed, its segment left (the other order)") {
        std::filesystem::remove(index_path(dir, 0));
        const ReadResult read = read_all(dir, 0);
        CHECK(read.summary.damage.empty());
        CHECK_FALSE(read.summary.trimmed_to.has_value());
        check_entries(read.entries, records(0, 300, 100));
        {
            ar::ArchiveWriter writer(dir, kTopicName, topic_id(), {.segment_bytes = 4096});
            CHECK(writer.next_sequence() == 300);
        }
        // The segment still counts, and is the next to go.
        const std::uint64_t total = archive_bytes(dir);
        const std::uint64_t first_bytes = size_of_file(before[0].path);
        const ar::RetentionResult result =
            ar::apply_retention(dir, {.max_bytes = total - 1}, timestamp_for(0));
        REQUIRE(result.removed.size() == 1);
        CHECK(result.removed[0].first_sequence == 0);
        CHECK(result.removed[0].bytes == first_bytes);
        CHECK_FALSE(std::filesystem::exists(before[0].path));
        check_entries(read_all(dir, 0).entries, records(second, 300, 100));
    }
}

TEST_CASE(
    "a reader finishes the segment it is in while retention removes it and those ahead, "
    "then says where the archive goes on") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    // Segments of about 3 MiB, more than the reader's 1 MiB read-ahead, so that most of the
    // segment the reader is in is read after it was removed.
    constexpr std::size_t kSize = 1000;
    constexpr std::uint64_t kCount = 16'000;
    const std::vector<ar::SegmentFile> before = write_archive(dir, kCount, kSize, 3u << 20);
    REQUIRE(before.size() >= 5);
    const std::uint64_t pause_at = before[1].first_sequence;  // the first entry of segment 1
    const std::uint64_t last_first = before.back().first_sequence;

    std::mutex mutex;
    std::condition_variable changed;
    bool paused = false;
    bool released = false;
    std::vector<Entry> got;
    ar::ReadSummary summary;
    std::thread reader([&] {
        summary = ar::read_archive(dir, 0, [&](const ar::ArchivedEntry& e) {
            got.push_back({e.kind, e.sequence, e.timestamp_ns, e.publisher, e.gap_count,
                           std::vector<std::byte>(e.payload.begin(), e.payload.end())});
            if (e.sequence == pause_at) {
                std::unique_lock lock(mutex);
                paused = true;
                changed.notify_all();
                // Bounded: a test that hangs fails instead.
                changed.wait_for(lock, 60s, [&] { return released; });
            }
            return true;
        });
    });
    bool reached = false;
    {
        std::unique_lock lock(mutex);
        reached = changed.wait_for(lock, 60s, [&] { return paused; });
    }
    ar::RetentionResult result;
    if (reached) {
        // Everything but the last segment: the one the reader is in, and those ahead of it.
        result = ar::apply_retention(dir, {.max_bytes = 0}, timestamp_for(0));
    }
    {
        std::lock_guard lock(mutex);
        released = true;
        changed.notify_all();
    }
    reader.join();
    REQUIRE(reached);
    CHECK(result.removed.size() == before.size() - 1);
    CHECK_FALSE(std::filesystem::exists(before[1].path));

    // It finished segment 1, then found 2 .. n-2 gone and went on with the last.
    CHECK(summary.damage.empty());
    REQUIRE(summary.trimmed_to.has_value());
    CHECK(*summary.trimmed_to == last_first);
    std::vector<std::filesystem::path> gone;
    for (std::size_t i = 2; i + 1 < before.size(); ++i)
        gone.push_back(before[i].path);
    CHECK(summary.trimmed_segments == gone);
    std::vector<Entry> want = records(0, before[2].first_sequence, kSize);
    const std::vector<Entry> tail = records(last_first, kCount, kSize);
    want.insert(want.end(), tail.begin(), tail.end());
    check_entries(got, want);
    CHECK(summary.entries == want.size());
}

TEST_CASE("a read from a sequence whose segment was removed goes on at the first one left") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    const std::vector<ar::SegmentFile> before = write_archive(dir, 300, 100, 4096);
    REQUIRE(before.size() >= 4);
    (void)ar::apply_retention(dir, {.max_bytes = archive_bytes(dir) - 1}, timestamp_for(0));
    REQUIRE_FALSE(std::filesystem::exists(before[0].path));
    const std::uint64_t inside = before[1].first_sequence - 1;  // was in the removed segment
    const ReadResult read = read_all(dir, inside);
    CHECK(read.summary.trimmed_to == before[1].first_sequence);
    check_entries(read.entries, records(before[1].first_sequence, 300, 100));
    // From a sequence the archive holds: no trim to report.
    const ReadResult held = read_all(dir, before[1].first_sequence + 1);
    CHECK_FALSE(held.summary.trimmed_to.has_value());
    check_entries(held.entries, records(before[1].first_sequence + 1, 300, 100));
}
