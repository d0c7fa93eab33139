// The archive's segments read back as written: records of any size and gaps, from any
// sequence, across segment rolls, and through the sparse index (which may be short, missing
// or garbage without changing what a read returns).
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <shmbus/archive/archive_inspect.hpp>
#include <shmbus/archive/archive_reader.hpp>
#include <shmbus/archive/archive_writer.hpp>
#include <shmbus/archive/segment_format.hpp>
#include <shmbus/archive/segment_reader.hpp>
#include <shmbus/error.hpp>
#include <vector>

#include "archive/archive_helpers.hpp"
#include "support/bus_directory.hpp"

namespace {

namespace ar = shmbus::archive;
using namespace shmbus::test::archive;
using shmbus::test::BusDirectory;

std::uint64_t spans(const Entry& e) {
    return e.kind == ar::EntryKind::kGap ? e.gap_count : 1;
}

/// The entries a read from `from` must deliver: those holding a sequence at or after it.
std::vector<Entry> from_sequence(const std::vector<Entry>& all, std::uint64_t from) {
    std::vector<Entry> out;
    for (const Entry& e : all) {
        if (e.sequence + spans(e) > from) out.push_back(e);
    }
    return out;
}

std::uint64_t bytes_of(const std::vector<Entry>& entries) {
    std::uint64_t total = 0;
    for (const Entry& e : entries) {
        total += ar::entry_size(e.kind == ar::EntryKind::kGap ? 8 : e.payload.size());
    }
    return total;
}

/// The index a segment holding `entries` (from its header on) must have.
std::vector<ar::IndexEntry> expected_index(const std::vector<Entry>& entries) {
    std::vector<ar::IndexEntry> index;
    std::uint64_t offset = ar::kSegmentHeaderSize;
    std::uint64_t stride = 0;  // the next stride boundary to index an entry for
    for (const Entry& e : entries) {
        if (index.empty() || offset >= stride) {
            index.push_back({e.sequence, offset, e.timestamp_ns});
            stride = (offset / ar::kIndexStride + 1) * ar::kIndexStride;
        }
        offset += ar::entry_size(e.kind == ar::EntryKind::kGap ? 8 : e.payload.size());
    }
    return index;
}

void check_index(const std::vector<ar::IndexEntry>& got, const std::vector<ar::IndexEntry>& want) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        CAPTURE(i);
        CHECK(got[i].sequence == want[i].sequence);
        CHECK(got[i].offset == want[i].offset);
        CHECK(got[i].timestamp_ns == want[i].timestamp_ns);
    }
}

/// Records from `first` with sizes cycling over many values, big enough to span several
/// index strides, with one record longer than a stride and one gap.
std::vector<Entry> multi_stride_entries(std::uint64_t first, std::size_t count) {
    std::vector<Entry> entries;
    std::uint64_t sequence = first;
    for (std::size_t i = 0; i < count; ++i) {
        if (i == count / 3) {
            entries.push_back(gap(sequence, 25));
            sequence += 25;
        }
        const std::size_t size = i == count / 2 ? 150'000 : 500 + (i * 37) % 1500;
        entries.push_back(record(sequence++, size));
    }
    return entries;
}

}  // namespace

TEST_CASE("records of any size and a gap read back exactly, from the start or any sequence") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    std::vector<Entry> want;
    std::uint64_t sequence = 5;
    for (const std::size_t size : {0, 1, 7, 8, 9, 13, 16, 100, 1000, 4097}) {
        want.push_back(record(sequence++, size));
    }
    const std::uint64_t gap_first = sequence;
    want.push_back(gap(gap_first, 6));
    sequence += 6;
    for (const std::size_t size : {3, 0, 64})
        want.push_back(record(sequence++, size));

    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id());
        CHECK_FALSE(writer.next_sequence().has_value());
        for (const Entry& e : want)
            append(writer, e);
        CHECK(writer.next_sequence() == sequence);
        CHECK(writer.pending_bytes() == bytes_of(want));
        // Nothing reaches the file before flush.
        CHECK(read_all(dir).entries.empty());
        writer.flush();
        CHECK(writer.pending_bytes() == 0);
        // Readable beside the live writer.
        const ReadResult live = read_all(dir);
        check_entries(live.entries, want);
    }
    const std::vector<ar::SegmentFile> segments = ar::list_segments(dir);
    REQUIRE(segments.size() == 1);
    CHECK(segments[0].first_sequence == 5);
    CHECK(segments[0].path == segment_path(dir, 5));
    CHECK(size_of_file(segments[0].path) == ar::kSegmentHeaderSize + bytes_of(want));

    const ReadResult all = read_all(dir);
    check_entries(all.entries, want);
    CHECK(all.summary.entries == want.size());
    CHECK(all.summary.damage.empty());

    // From every sequence, before the first, inside the gap and past the end.
    for (std::uint64_t from = 0; from <= sequence + 2; ++from) {
        CAPTURE(from);
        const ReadResult part = read_all(dir, from);
        check_entries(part.entries, from_sequence(want, from));
        CHECK(part.summary.damage.empty());
    }
    // A read from inside the gap starts with the gap.
    const ReadResult in_gap = read_all(dir, gap_first + 3);
    REQUIRE_FALSE(in_gap.entries.empty());
    CHECK(in_gap.entries.front().kind == ar::EntryKind::kGap);
    CHECK(in_gap.entries.front().sequence == gap_first);
    CHECK(in_gap.entries.front().gap_count == 6);
    CHECK(in_gap.entries.front().payload.empty());

    // A handler that returns false ends the read there.
    const ReadResult three = read_all(dir, 0, 3);
    CHECK(three.entries.size() == 3);
    CHECK(three.summary.entries == 3);
}

TEST_CASE("an entry's bytes on disk are the documented layout, padded with zeros to 8") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    const Entry first = record(42, 13);
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id());
        append(writer, first);
        append(writer, gap(43, 9));
    }  // the destructor flushes
    const std::vector<std::byte> bytes = read_file(segment_path(dir, 42));
    REQUIRE(bytes.size() == ar::kSegmentHeaderSize + 32 + 16 + 32 + 8);

    ar::SegmentHeader header{};
    std::memcpy(&header, bytes.data(), sizeof header);
    CHECK(header.magic == ar::kSegmentMagic);
    CHECK(std::memcmp(bytes.data(), "SHMBUSAS", 8) == 0);
    CHECK(header.version == 1);
    CHECK(header.header_size == 128);
    CHECK(std::memcmp(header.topic_id, kTopicId.data(), 16) == 0);
    CHECK(header.first_sequence == 42);
    CHECK(header.created_ns > 0);
    CHECK(std::string(header.topic_name) == kTopicName);

    ar::EntryHeader entry{};
    std::memcpy(&entry, bytes.data() + 128, sizeof entry);
    CHECK(entry.length == 13);
    CHECK(entry.kind == 1);
    CHECK(entry.publisher == first.publisher);
    CHECK(entry.sequence == 42);
    CHECK(entry.timestamp_ns == first.timestamp_ns);
    CHECK(entry.checksum == ar::entry_checksum(entry, first.payload));
    CHECK(std::memcmp(bytes.data() + 160, first.payload.data(), 13) == 0);
    for (std::size_t i = 160 + 13; i < 160 + 16; ++i)
        CHECK(bytes[i] == std::byte{0});

    ar::EntryHeader gap_header{};
    std::memcpy(&gap_header, bytes.data() + 176, sizeof gap_header);
    CHECK(gap_header.length == 8);
    CHECK(gap_header.kind == 2);
    CHECK(gap_header.sequence == 43);
    std::uint64_t count = 0;
    std::memcpy(&count, bytes.data() + 208, sizeof count);
    CHECK(count == 9);
}

TEST_CASE("an archive directory without segments reads as empty; a missing one is kNotFound") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    { ar::ArchiveWriter writer(dir, kTopicName, topic_id()); }
    CHECK(ar::list_segments(dir).empty());
    const ReadResult nothing = read_all(dir);
    CHECK(nothing.entries.empty());
    CHECK(nothing.summary.damage.empty());

    const auto missing = error_of([&] { (void)ar::list_segments(bus.path() / "absent"); });
    REQUIRE(missing.has_value());
    CHECK(missing->code() == shmbus::ErrorCode::kNotFound);
    const auto missing_read = error_of([&] { (void)read_all(bus.path() / "absent"); });
    REQUIRE(missing_read.has_value());
    CHECK(missing_read->code() == shmbus::ErrorCode::kNotFound);
}

TEST_CASE("a small segment size rolls the archive into segments named by their first sequence") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    constexpr std::uint64_t kSegmentBytes = 4096;
    std::vector<Entry> want;
    std::uint64_t sequence = 1000;
    for (std::size_t i = 0; i < 120; ++i) {
        if (i == 50) {
            want.push_back(gap(sequence, 10));
            sequence += 10;
        }
        want.push_back(record(sequence++, 200 + (i * 53) % 250));
    }
    std::uint64_t largest_entry = 0;
    for (const Entry& e : want) {
        largest_entry = std::max(largest_entry, ar::entry_size(e.payload.size()));
    }
    // A segment is full once it reaches the segment size, counting what is buffered; the
    // entries appended after that go to the next segment, which a flush starts. So a segment
    // ends within what one flush wrote past the segment size (ARCHIVE.md, *Appending*).
    std::size_t flush_every = 1;
    SUBCASE("flushed after every append") {
        flush_every = 1;
    }
    SUBCASE("flushed every 7 appends") {
        flush_every = 7;
    }
    SUBCASE("flushed once, at the end") {
        flush_every = SIZE_MAX;
    }
    CAPTURE(flush_every);
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id(), {.segment_bytes = kSegmentBytes});
        for (std::size_t i = 0; i < want.size(); ++i) {
            append(writer, want[i]);
            if ((i + 1) % flush_every == 0) writer.flush();
        }
        writer.flush();
        CHECK(writer.next_sequence() == sequence);
        CHECK(writer.pending_bytes() == 0);
    }

    const std::vector<ar::SegmentFile> segments = ar::list_segments(dir);
    REQUIRE(segments.size() >= (flush_every == SIZE_MAX ? 1 : 8));
    CHECK(segments.front().first_sequence == 1000);
    std::size_t at = 0;  // the index in `want` of the first entry of the segment
    for (std::size_t i = 0; i < segments.size(); ++i) {
        const ar::SegmentFile& segment = segments[i];
        CAPTURE(segment.path);
        if (i > 0) CHECK(segment.first_sequence > segments[i - 1].first_sequence);
        CHECK(segment.path == segment_path(dir, segment.first_sequence));
        CHECK(std::filesystem::exists(index_path(dir, segment.first_sequence)));
        ar::SegmentReader reader(segment.path);
        CHECK(reader.header().first_sequence == segment.first_sequence);
        CHECK(std::string(reader.header().topic_name) == kTopicName);
        CHECK(std::memcmp(reader.header().topic_id, kTopicId.data(), 16) == 0);
        // The segment holds the entries that follow the previous segment's, the first
        // carrying the sequence the file is named after.
        const std::vector<std::uint64_t> offsets = entry_offsets(segment.path);
        REQUIRE_FALSE(offsets.empty());
        REQUIRE(at < want.size());
        CHECK(want[at].sequence == segment.first_sequence);
        at += offsets.size();
        // Closed once it passed the segment size, at an entry boundary.
        const std::uint64_t size = size_of_file(segment.path);
        CHECK(size < kSegmentBytes + std::min(flush_every, want.size()) * largest_entry);
        if (i + 1 < segments.size()) CHECK(size >= kSegmentBytes);
    }
    CHECK(at == want.size());

    check_entries(read_all(dir).entries, want);
    // Reads that start at, just before and just after each segment's first sequence.
    for (const ar::SegmentFile& segment : segments) {
        for (const std::uint64_t from :
             {segment.first_sequence - 1, segment.first_sequence, segment.first_sequence + 1}) {
            CAPTURE(from);
            check_entries(read_all(dir, from).entries, from_sequence(want, from));
        }
    }

    const ar::ArchiveReport report = ar::inspect_archive(dir, true);
    CHECK(report.clean());
    CHECK(report.problems.empty());
    REQUIRE(report.segments.size() == segments.size());
    std::uint64_t records = 0;
    std::uint64_t gaps = 0;
    std::uint64_t gap_records = 0;
    for (std::size_t i = 0; i < report.segments.size(); ++i) {
        const ar::SegmentReport& s = report.segments[i];
        CAPTURE(s.path);
        CHECK(s.error.empty());
        CHECK(s.damage.empty());
        CHECK(s.index_problem.empty());
        CHECK_FALSE(s.torn_tail);
        CHECK(s.bytes == size_of_file(s.path));
        if (i + 1 < report.segments.size()) {
            CHECK(s.next_sequence == report.segments[i + 1].first_sequence);
        }
        records += s.records;
        gaps += s.gaps;
        gap_records += s.gap_records;
    }
    CHECK(report.segments.back().next_sequence == sequence);
    CHECK(records == 120);
    CHECK(gaps == 1);
    CHECK(gap_records == 10);
    CHECK(report.segments.front().first_timestamp_ns == timestamp_for(1000));
    CHECK(report.segments.back().last_timestamp_ns == want.back().timestamp_ns);

    // The quick look (ls) agrees on the ranges.
    const ar::ArchiveReport quick = ar::inspect_archive(dir, false);
    REQUIRE(quick.segments.size() == segments.size());
    CHECK(quick.clean());
    for (std::size_t i = 0; i < quick.segments.size(); ++i) {
        CHECK(quick.segments[i].first_sequence == report.segments[i].first_sequence);
        CHECK(quick.segments[i].next_sequence == report.segments[i].next_sequence);
        CHECK(quick.segments[i].bytes == report.segments[i].bytes);
    }
}

TEST_CASE("a quick inspection (ls) gives each segment's range, size and times") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    std::vector<Entry> want;
    for (std::uint64_t s = 3; s < 300; ++s)
        want.push_back(record(s, 900));
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id(), {.segment_bytes = 100'000});
        for (const Entry& e : want) {
            append(writer, e);
            writer.flush();
        }
        append(writer, gap(300, 7));
    }
    const ar::ArchiveReport quick = ar::inspect_archive(dir, false);
    const ar::ArchiveReport full = ar::inspect_archive(dir, true);
    REQUIRE(quick.segments.size() >= 2);
    REQUIRE(quick.segments.size() == full.segments.size());
    CHECK(quick.clean());
    CHECK(quick.segments.front().first_timestamp_ns == timestamp_for(3));
    CHECK(quick.segments.back().next_sequence == 307);
    CHECK(quick.segments.back().last_timestamp_ns == timestamp_for(300));
    for (std::size_t i = 0; i < quick.segments.size(); ++i) {
        CAPTURE(i);
        CHECK(quick.segments[i].first_sequence == full.segments[i].first_sequence);
        CHECK(quick.segments[i].next_sequence == full.segments[i].next_sequence);
        CHECK(quick.segments[i].bytes == full.segments[i].bytes);
        CHECK(quick.segments[i].first_timestamp_ns == full.segments[i].first_timestamp_ns);
        CHECK(quick.segments[i].last_timestamp_ns == full.segments[i].last_timestamp_ns);
    }
}

TEST_CASE("the index holds the first entry and the first at or after each 64 KiB of segment") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    const std::vector<Entry> want = multi_stride_entries(7, 600);
    REQUIRE(bytes_of(want) > 8 * ar::kIndexStride);
    bool flush_each = false;
    SUBCASE("flushed once") {
        flush_each = false;
    }
    SUBCASE("flushed after every append") {
        flush_each = true;
    }
    CAPTURE(flush_each);
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id(),
                                 {.segment_bytes = std::uint64_t{16} << 20});
        for (const Entry& e : want) {
            append(writer, e);
            if (flush_each) writer.flush();
        }
        writer.flush();
    }
    REQUIRE(ar::list_segments(dir).size() == 1);
    const std::filesystem::path segment = segment_path(dir, 7);
    const std::vector<ar::IndexEntry> expected = expected_index(want);
    REQUIRE(expected.size() >= 9);
    ar::SegmentReader reader(segment);
    check_index(reader.read_index(), expected);
    CHECK(size_of_file(index_path(dir, 7)) == ar::kIndexHeaderSize + 24 * expected.size());
    CHECK(ar::inspect_archive(dir, true).clean());

    // Lookups from late sequences, from each index point and around it.
    const std::uint64_t last = want.back().sequence;
    check_entries(read_all(dir, last - 2).entries, from_sequence(want, last - 2));
    check_entries(read_all(dir, last).entries, {want.back()});
    CHECK(read_all(dir, last + 1).entries.empty());
    for (const ar::IndexEntry& point : expected) {
        for (const std::uint64_t from : {point.sequence - 1, point.sequence, point.sequence + 1}) {
            CAPTURE(from);
            const ReadResult part = read_all(dir, from, 5);
            const std::vector<Entry> rest = from_sequence(want, from);
            const std::size_t n = std::min<std::size_t>(5, rest.size());
            check_entries(part.entries, std::vector<Entry>(rest.begin(), rest.begin() + n));
        }
    }
}

TEST_CASE("a short, garbage or missing index changes no read, and the writer rebuilds it") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    const std::vector<Entry> want = multi_stride_entries(0, 400);
    const std::vector<ar::IndexEntry> expected = expected_index(want);
    REQUIRE(expected.size() >= 5);
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id(),
                                 {.segment_bytes = std::uint64_t{16} << 20});
        for (const Entry& e : want)
            append(writer, e);
    }
    const std::filesystem::path index = index_path(dir, 0);
    const std::uint64_t index_size = size_of_file(index);
    REQUIRE(index_size == ar::kIndexHeaderSize + 24 * expected.size());

    std::size_t usable = 0;  // the entries of the damaged index read_index may still use
    SUBCASE("cut in the middle of an entry") {
        std::filesystem::resize_file(index, ar::kIndexHeaderSize + 24 * 2 + 10);
        usable = 2;
    }
    SUBCASE("cut inside its header") {
        std::filesystem::resize_file(index, 20);
    }
    SUBCASE("overwritten with garbage") {
        std::vector<std::byte> garbage(index_size);
        for (std::size_t i = 0; i < garbage.size(); ++i) {
            garbage[i] = static_cast<std::byte>((i * 97 + 13) & 0xff);
        }
        write_file(index, garbage);
    }
    SUBCASE("entries past the header overwritten with garbage") {
        std::vector<std::byte> garbage(index_size - ar::kIndexHeaderSize - 24 * 3, std::byte{0xab});
        overwrite(index, ar::kIndexHeaderSize + 24 * 3, garbage);
        usable = 3;
    }
    SUBCASE("missing") {
        std::filesystem::remove(index);
    }
    SUBCASE("naming another segment") {
        ar::IndexHeader header{};
        const std::vector<std::byte> bytes = read_file(index);
        std::memcpy(&header, bytes.data(), sizeof header);
        header.first_sequence = 1;
        overwrite_value(index, 0, header);
    }
    {
        ar::SegmentReader reader(segment_path(dir, 0));
        const std::vector<ar::IndexEntry> damaged = reader.read_index();
        check_index(damaged,
                    std::vector<ar::IndexEntry>(
                        expected.begin(), expected.begin() + static_cast<std::ptrdiff_t>(usable)));
    }
    // Reads are the same without the index, only slower.
    check_entries(read_all(dir).entries, want);
    const std::uint64_t late = want[want.size() - 10].sequence;
    check_entries(read_all(dir, late).entries, from_sequence(want, late));
    const ReadResult middle = read_all(dir, want[want.size() / 2].sequence);
    check_entries(middle.entries, from_sequence(want, want[want.size() / 2].sequence));
    CHECK(middle.summary.damage.empty());
    // verify notices an index that does not match its segment (the last segment's may lag, so a
    // good prefix is not a problem).
    const ar::ArchiveReport before = ar::inspect_archive(dir, true);
    CHECK(before.segments.at(0).damage.empty());

    // The writer rebuilds the last segment's index when it opens the archive.
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id(),
                                 {.segment_bytes = std::uint64_t{16} << 20});
        CHECK(writer.truncated_bytes() == 0);
        CHECK(writer.truncation_reason().empty());
        CHECK(writer.next_sequence() == want.back().sequence + 1);
    }
    ar::SegmentReader reader(segment_path(dir, 0));
    check_index(reader.read_index(), expected);
    CHECK(ar::inspect_archive(dir, true).clean());
    check_entries(read_all(dir).entries, want);
}

TEST_CASE("a damaged index of a segment other than the last changes no read; verify names it") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    std::vector<Entry> want;
    for (std::uint64_t s = 0; s < 300; ++s)
        want.push_back(record(s, 1000));
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id(), {.segment_bytes = 200'000});
        for (const Entry& e : want) {
            append(writer, e);
            writer.flush();
        }
    }
    const std::vector<ar::SegmentFile> segments = ar::list_segments(dir);
    REQUIRE(segments.size() == 2);
    std::filesystem::resize_file(index_path(dir, 0), ar::kIndexHeaderSize + 24 + 5);

    check_entries(read_all(dir).entries, want);
    check_entries(read_all(dir, 150).entries, from_sequence(want, 150));
    const ar::ArchiveReport report = ar::inspect_archive(dir, true);
    CHECK_FALSE(report.clean());
    CHECK_FALSE(report.segments.at(0).index_problem.empty());
    CHECK(report.segments.at(0).damage.empty());
    CHECK(report.segments.at(1).index_problem.empty());
}
