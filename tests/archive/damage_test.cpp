// Damaged and hostile segments: a torn tail (what a recorder that died leaves), flipped bytes
// (what a bad disk leaves), and headers and entries no writer made. Every one is reported, or
// refused with the right error, and never read past, crashed on or allocated for.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <shmbus/archive/archive_inspect.hpp>
#include <shmbus/archive/archive_reader.hpp>
#include <shmbus/archive/archive_writer.hpp>
#include <shmbus/archive/segment_format.hpp>
#include <shmbus/archive/segment_reader.hpp>
#include <shmbus/error.hpp>
#include <string>
#include <vector>

#include "archive/archive_helpers.hpp"
#include "support/bus_directory.hpp"

namespace {

namespace ar = shmbus::archive;
using namespace shmbus::test::archive;
using shmbus::ErrorCode;
using shmbus::test::BusDirectory;

void cut(const std::filesystem::path& path, std::uint64_t size) {
    REQUIRE(::truncate(path.c_str(), static_cast<off_t>(size)) == 0);
}

std::vector<Entry> records(std::uint64_t first, std::size_t count, std::size_t size) {
    std::vector<Entry> out;
    for (std::uint64_t s = first; s < first + count; ++s)
        out.push_back(record(s, size));
    return out;
}

std::vector<Entry> write_archive(const std::filesystem::path& dir, const std::vector<Entry>& want,
                                 std::uint64_t segment_bytes) {
    // A flush after each append: segments roll at the first flush after they are full.
    ar::ArchiveWriter writer(dir, kTopicName, topic_id(), {.segment_bytes = segment_bytes});
    for (const Entry& e : want) {
        append(writer, e);
        writer.flush();
    }
    return want;
}

/// The entries of `all` with sequences in [from, to).
std::vector<Entry> between(const std::vector<Entry>& all, std::uint64_t from, std::uint64_t to) {
    std::vector<Entry> out;
    for (const Entry& e : all) {
        if (e.sequence >= from && e.sequence < to) out.push_back(e);
    }
    return out;
}

std::vector<Entry> concat(std::vector<Entry> a, const std::vector<Entry>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

/// A segment named for `first_sequence` made by hand: a good header, then `entries` as given
/// (their checksums computed unless `keep_checksum`).
struct RawEntry {
    ar::EntryHeader header{};
    std::vector<std::byte> payload;
    bool keep_checksum = false;
};

std::vector<std::byte> raw_header(std::uint64_t first_sequence) {
    ar::SegmentHeader header{};
    header.magic = ar::kSegmentMagic;
    header.version = ar::kArchiveVersion;
    header.header_size = ar::kSegmentHeaderSize;
    std::memcpy(header.topic_id, kTopicId.data(), 16);
    header.first_sequence = first_sequence;
    header.created_ns = 1;
    std::memcpy(header.topic_name, kTopicName, std::strlen(kTopicName));
    std::vector<std::byte> bytes(sizeof header);
    std::memcpy(bytes.data(), &header, sizeof header);
    return bytes;
}

void append_raw(std::vector<std::byte>& bytes, RawEntry entry) {
    if (!entry.keep_checksum) {
        entry.header.checksum = ar::entry_checksum(entry.header, entry.payload);
    }
    const std::size_t at = bytes.size();
    bytes.resize(at + sizeof entry.header + (entry.payload.size() + 7) / 8 * 8);
    std::memcpy(bytes.data() + at, &entry.header, sizeof entry.header);
    if (!entry.payload.empty()) {
        std::memcpy(bytes.data() + at + sizeof entry.header, entry.payload.data(),
                    entry.payload.size());
    }
}

RawEntry raw_record(std::uint64_t sequence, std::size_t size) {
    RawEntry e;
    e.header.length = static_cast<std::uint32_t>(size);
    e.header.kind = static_cast<std::uint16_t>(ar::EntryKind::kRecord);
    e.header.publisher = 1;
    e.header.sequence = sequence;
    e.header.timestamp_ns = timestamp_for(sequence);
    e.payload = payload_for(sequence, size);
    return e;
}

/// The first index point of `segment` past `offset`.
ar::IndexEntry index_point_after(const std::filesystem::path& segment, std::uint64_t offset) {
    ar::SegmentReader reader(segment);
    for (const ar::IndexEntry& e : reader.read_index()) {
        if (e.offset > offset) return e;
    }
    FAIL("no index point after offset " << offset << " in " << segment);
    return {};
}

}  // namespace

TEST_CASE("a torn tail: verify reports it and stays clean, the next writer cuts it and goes on") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    const std::vector<Entry> want = write_archive(dir, records(100, 40, 300), 4096);
    const std::vector<ar::SegmentFile> segments = ar::list_segments(dir);
    REQUIRE(segments.size() >= 3);
    const std::filesystem::path last = segments.back().path;
    const std::vector<std::uint64_t> offsets = entry_offsets(last);
    REQUIRE(offsets.size() >= 2);
    const std::uint64_t torn_at = offsets.back();
    REQUIRE(size_of_file(last) == torn_at + ar::entry_size(300));
    const std::uint64_t torn_sequence = want.back().sequence;

    std::uint64_t cut_to = 0;
    SUBCASE("the file ends inside the last entry's payload") {
        cut_to = torn_at + ar::kEntryHeaderSize + 100;
    }
    SUBCASE("the file ends inside the last entry's header") {
        cut_to = torn_at + 12;
    }
    SUBCASE("the file ends one byte short of the last entry's end") {
        cut_to = torn_at + ar::entry_size(300) - 1;
    }
    CAPTURE(cut_to);
    cut(last, cut_to);

    const ar::ArchiveReport torn = ar::inspect_archive(dir, true);
    REQUIRE(torn.segments.size() == segments.size());
    CHECK(torn.segments.back().torn_tail);
    CHECK(torn.segments.back().damage.empty());
    CHECK(torn.segments.back().next_sequence == torn_sequence);
    for (std::size_t i = 0; i + 1 < torn.segments.size(); ++i) {
        CHECK_FALSE(torn.segments[i].torn_tail);
    }
    CHECK(torn.clean());

    // A reader ends before the torn entry, as beside a recorder writing it.
    const ReadResult before = read_all(dir);
    check_entries(before.entries, between(want, 0, torn_sequence));
    CHECK(before.summary.damage.empty());

    std::vector<Entry> more = records(torn_sequence, 6, 50);
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id(), {.segment_bytes = 4096});
        CHECK(writer.truncated_bytes() == cut_to - torn_at);
        CHECK_FALSE(writer.truncation_reason().empty());
        CHECK(writer.truncation_reason().find(last.filename().string()) != std::string::npos);
        REQUIRE(writer.next_sequence() == torn_sequence);
        CHECK(size_of_file(last) == torn_at);
        for (const Entry& e : more)
            append(writer, e);
        writer.flush();
    }
    const std::vector<Entry> after_want = concat(between(want, 0, torn_sequence), more);
    const ReadResult after = read_all(dir);
    check_entries(after.entries, after_want);
    CHECK(after.summary.damage.empty());
    for (std::size_t i = 1; i < after.entries.size(); ++i) {
        CHECK(after.entries[i].sequence == after.entries[i - 1].sequence + 1);
    }
    const ar::ArchiveReport report = ar::inspect_archive(dir, true);
    CHECK(report.clean());
    CHECK_FALSE(report.segments.back().torn_tail);
    CHECK(report.segments.back().next_sequence == torn_sequence + 6);

    // Opening again finds nothing to cut.
    ar::ArchiveWriter again(dir, kTopicName, topic_id(), {.segment_bytes = 4096});
    CHECK(again.truncated_bytes() == 0);
    CHECK(again.truncation_reason().empty());
    CHECK(again.next_sequence() == torn_sequence + 6);
}

TEST_CASE("a torn entry in a segment other than the last is damage, and the read goes on") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    const std::vector<Entry> want = write_archive(dir, records(0, 40, 300), 4096);
    const std::vector<ar::SegmentFile> segments = ar::list_segments(dir);
    REQUIRE(segments.size() >= 3);
    const std::vector<std::uint64_t> offsets = entry_offsets(segments[0].path);
    const std::uint64_t lost = segments[1].first_sequence - 1;  // segment 0's last entry
    cut(segments[0].path, offsets.back() + 40);

    const ar::ArchiveReport report = ar::inspect_archive(dir, true);
    CHECK_FALSE(report.clean());
    CHECK_FALSE(report.segments[0].torn_tail);
    REQUIRE(report.segments[0].damage.size() == 1);
    CHECK(report.segments[0].damage[0].offset == offsets.back());

    const ReadResult read = read_all(dir);
    check_entries(read.entries, concat(between(want, 0, lost), between(want, lost + 1, 1000)));
    REQUIRE(read.summary.damage.size() == 1);
    CHECK(read.summary.damage[0].segment == segments[0].path);
    CHECK(read.summary.damage[0].offset == offsets.back());
    CHECK(read.summary.damage[0].skipped_bytes == 40);
}

TEST_CASE(
    "a flipped payload byte mid-segment fails verify, and the read resumes at the next "
    "index point") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    std::uint64_t segment_bytes = 0;
    SUBCASE("in the last segment") {
        segment_bytes = std::uint64_t{16} << 20;
    }
    SUBCASE("in a segment before the last") {
        segment_bytes = 300'000;
    }
    CAPTURE(segment_bytes);
    const std::vector<Entry> want = write_archive(dir, records(0, 400, 1000), segment_bytes);
    const std::filesystem::path segment = segment_path(dir, 0);
    const std::uint64_t damaged = 100;  // between the index points of strides 1 and 2
    const std::uint64_t at = ar::kSegmentHeaderSize + damaged * ar::entry_size(1000);
    REQUIRE(entry_offsets(segment).at(damaged) == at);
    const ar::IndexEntry resume = index_point_after(segment, at);
    REQUIRE(resume.sequence > damaged);
    REQUIRE(resume.sequence < 200);
    flip_byte(segment, at + ar::kEntryHeaderSize + 500);

    const ar::ArchiveReport report = ar::inspect_archive(dir, true);
    CHECK_FALSE(report.clean());
    REQUIRE(report.segments.at(0).damage.size() == 1);
    const ar::Damage& found = report.segments[0].damage[0];
    CHECK(found.offset == at);
    CHECK(found.skipped_bytes == resume.offset - at);
    CHECK(found.problem.find("checksum") != std::string::npos);
    for (std::size_t i = 1; i < report.segments.size(); ++i) {
        CHECK(report.segments[i].damage.empty());
    }

    const std::vector<Entry> around =
        concat(between(want, 0, damaged), between(want, resume.sequence, 1000));
    const ReadResult read = read_all(dir);
    check_entries(read.entries, around);
    CHECK(read.summary.entries == around.size());
    REQUIRE(read.summary.damage.size() == 1);
    CHECK(read.summary.damage[0].segment == segment);
    CHECK(read.summary.damage[0].offset == at);
    CHECK(read.summary.damage[0].skipped_bytes == resume.offset - at);
    CHECK(read.summary.damage[0].problem.find("checksum") != std::string::npos);

    // A read from just before the damage meets it; one from the resume point does not.
    const ReadResult near = read_all(dir, damaged - 3);
    check_entries(near.entries, concat(between(want, damaged - 3, damaged),
                                       between(want, resume.sequence, 1000)));
    CHECK(near.summary.damage.size() == 1);
    const ReadResult past = read_all(dir, resume.sequence);
    check_entries(past.entries, between(want, resume.sequence, 1000));
    CHECK(past.summary.damage.empty());
}

TEST_CASE("a flipped byte in an entry's header fails its checksum too") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    const std::vector<Entry> want = write_archive(dir, records(0, 200, 1000), 16 << 20);
    const std::filesystem::path segment = segment_path(dir, 0);
    const std::uint64_t at = ar::kSegmentHeaderSize + 100 * ar::entry_size(1000);
    std::uint64_t field = 0;
    SUBCASE("publisher") {
        field = 6;
    }
    SUBCASE("sequence") {
        field = 8;
    }
    SUBCASE("timestamp") {
        field = 20;
    }
    SUBCASE("checksum") {
        field = 27;
    }
    CAPTURE(field);
    flip_byte(segment, at + field, 0x01);
    const ar::IndexEntry resume = index_point_after(segment, at);
    const ReadResult read = read_all(dir);
    check_entries(read.entries,
                  concat(between(want, 0, 100), between(want, resume.sequence, 1000)));
    REQUIRE(read.summary.damage.size() == 1);
    CHECK(read.summary.damage[0].problem.find("checksum") != std::string::npos);
    CHECK_FALSE(ar::inspect_archive(dir, true).clean());
}

TEST_CASE("an entry length flipped to something huge is corrupt, not a crash or an allocation") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    std::uint64_t segment_bytes = 0;
    SUBCASE("in the last segment") {
        segment_bytes = std::uint64_t{16} << 20;
    }
    SUBCASE("in a segment before the last") {
        segment_bytes = 300'000;
    }
    CAPTURE(segment_bytes);
    // Past the 2^30 limit: impossible wherever it is.
    for (const std::uint32_t length : {0xffff'ffffU, 0x4000'0001U, 0x8000'0000U}) {
        CAPTURE(length);
        std::filesystem::remove_all(dir);
        const std::vector<Entry> want = write_archive(dir, records(0, 400, 1000), segment_bytes);
        const std::filesystem::path segment = segment_path(dir, 0);
        const std::uint64_t at = ar::kSegmentHeaderSize + 100 * ar::entry_size(1000);
        overwrite_value(segment, at, length);
        const ar::IndexEntry resume = index_point_after(segment, at);

        ar::SegmentReader reader(segment);
        const ar::ScannedEntry entry = reader.read(at);
        CHECK(entry.status == ar::EntryStatus::kCorrupt);
        CHECK(entry.problem.find("impossible") != std::string::npos);

        const ar::ArchiveReport report = ar::inspect_archive(dir, true);
        CHECK_FALSE(report.clean());
        CHECK_FALSE(report.segments.at(0).torn_tail);
        CHECK(report.segments.at(0).damage.size() == 1);

        const ReadResult read = read_all(dir);
        check_entries(read.entries,
                      concat(between(want, 0, 100), between(want, resume.sequence, 1000)));
        CHECK(read.summary.damage.size() == 1);
        if (!read.summary.damage.empty()) CHECK(read.summary.damage[0].offset == at);
    }
}

TEST_CASE(
    "an entry length flipped past the end of its file reads as torn, and is damage wherever an "
    "index point lies past it") {
    // ARCHIVE.md, *Reading a segment*: the kind and length are checked before the end of the
    // file, so a length that passes them (at most 2^30) but runs past the end is "torn". It is
    // the end of the segment being written only where no index point lies past it; here one
    // does, in the last segment as in any other. Nothing is allocated for it, nothing crashes.
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    bool last = false;
    std::uint64_t segment_bytes = 0;
    SUBCASE("in the last segment") {
        last = true;
        segment_bytes = std::uint64_t{16} << 20;
    }
    SUBCASE("in a segment before the last") {
        last = false;
        segment_bytes = 300'000;
    }
    CAPTURE(segment_bytes);
    for (const std::uint32_t length : {0x4000'0000U, 0x0100'03e8U}) {
        CAPTURE(length);
        std::filesystem::remove_all(dir);
        const std::vector<Entry> want = write_archive(dir, records(0, 400, 1000), segment_bytes);
        const std::filesystem::path segment = segment_path(dir, 0);
        const std::uint64_t at = ar::kSegmentHeaderSize + 100 * ar::entry_size(1000);
        overwrite_value(segment, at, length);
        const ar::IndexEntry resume = index_point_after(segment, at);

        ar::SegmentReader reader(segment);
        const ar::ScannedEntry entry = reader.read(at);
        CHECK(entry.status == ar::EntryStatus::kTorn);
        CHECK(entry.payload.empty());

        const ar::ArchiveReport report = ar::inspect_archive(dir, true);
        const ReadResult read = read_all(dir);
        // An index point lies past it, so it is not the end of the file being written, in the
        // last segment as in any other: damage, skipped to that index point.
        (void)last;
        CHECK_FALSE(report.clean());
        CHECK_FALSE(report.segments.at(0).torn_tail);
        CHECK(report.segments.at(0).damage.size() == 1);
        check_entries(read.entries,
                      concat(between(want, 0, 100), between(want, resume.sequence, 1000)));
        CHECK(read.summary.damage.size() == 1);
        if (!read.summary.damage.empty()) CHECK(read.summary.damage[0].offset == at);
    }
}

TEST_CASE("the writer cuts a last segment at a damaged entry past its last index point") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    const std::vector<Entry> want = write_archive(dir, records(0, 100, 1000), 16 << 20);
    const std::filesystem::path segment = segment_path(dir, 0);
    const std::uint64_t at = ar::kSegmentHeaderSize + 97 * ar::entry_size(1000);
    {
        ar::SegmentReader reader(segment);
        REQUIRE(reader.read_index().back().offset < at);
    }
    const std::uint64_t size = size_of_file(segment);
    flip_byte(segment, at + ar::kEntryHeaderSize + 1);

    ar::ArchiveWriter writer(dir, kTopicName, topic_id(), {.segment_bytes = 16 << 20});
    CHECK(writer.truncated_bytes() == size - at);
    CHECK(writer.truncation_reason().find("checksum") != std::string::npos);
    CHECK(writer.next_sequence() == 97);
    CHECK(size_of_file(segment) == at);
    append(writer, record(97, 3));
    writer.flush();
    check_entries(read_all(dir).entries, concat(between(want, 0, 97), {record(97, 3)}));
    CHECK(ar::inspect_archive(dir, true).clean());
}

TEST_CASE("an index point that is wrong makes the writer rescan, and never cut good entries") {
    // segment_format.hpp: "The index is derived from its segment and rebuilt from it when it
    // is short or wrong." Its points are not checksummed: one that is plausible (aligned,
    // inside the file, in order) but wrong must not make the writer's recovery cut the whole
    // entries after it as if they were damage.
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    const std::vector<Entry> want = write_archive(dir, records(0, 200, 1000), 16 << 20);
    const std::filesystem::path index = index_path(dir, 0);
    std::vector<ar::IndexEntry> points;
    {
        ar::SegmentReader reader(segment_path(dir, 0));
        points = reader.read_index();
    }
    REQUIRE(points.size() >= 3);
    const std::uint64_t last = ar::kIndexHeaderSize + 24 * (points.size() - 1);
    ar::IndexEntry wrong = points.back();
    SUBCASE("its offset is inside an entry") {
        wrong.offset += 8;
    }
    SUBCASE("its sequence is too high") {
        wrong.sequence += 5;
    }
    CAPTURE(wrong.offset);
    CAPTURE(wrong.sequence);
    overwrite_value(index, last, wrong);
    {
        ar::SegmentReader reader(segment_path(dir, 0));
        REQUIRE(reader.read_index().size() == points.size());  // plausible: read_index keeps it
    }
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id(), {.segment_bytes = 16 << 20});
        CHECK(writer.truncated_bytes() == 0);
        CHECK_MESSAGE(writer.truncation_reason().empty(), writer.truncation_reason());
        CHECK(writer.next_sequence() == 200);
        // What it appends next follows the last whole entry.
        if (writer.next_sequence()) append(writer, record(*writer.next_sequence(), 10));
    }
    const ReadResult read = read_all(dir);
    check_entries(read.entries, concat(want, {record(200, 10)}));
    CHECK(read.summary.damage.empty());
    const ar::ArchiveReport report = ar::inspect_archive(dir, true);
    CHECK(report.clean());
    CHECK(report.segments.at(0).damage.empty());
}

TEST_CASE("segments with hostile headers are refused with the right error, naming the file") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path();
    const std::vector<std::byte> good = raw_header(0);
    ar::SegmentHeader header{};
    std::memcpy(&header, good.data(), sizeof header);

    std::vector<std::byte> bytes = good;
    ErrorCode code = ErrorCode::kFormat;
    std::string name = ar::segment_file_name(0);
    std::string says;
    SUBCASE("bad magic") {
        bytes[0] = std::byte{'X'};
        says = "magic";
    }
    SUBCASE("another format version") {
        ar::SegmentHeader h = header;
        h.version = 2;
        std::memcpy(bytes.data(), &h, sizeof h);
        code = ErrorCode::kIncompatible;
        says = "version 2";
    }
    SUBCASE("another header size") {
        ar::SegmentHeader h = header;
        h.header_size = 64;
        std::memcpy(bytes.data(), &h, sizeof h);
        says = "header size";
    }
    SUBCASE("shorter than a header") {
        bytes.resize(127);
        says = "shorter";
    }
    SUBCASE("empty") {
        bytes.clear();
        says = "shorter";
    }
    SUBCASE("a first sequence that is not the file's name") {
        name = ar::segment_file_name(17);
        says = "first sequence";
    }
    CAPTURE(says);
    const std::filesystem::path path = dir / name;
    write_file(path, bytes);
    const auto error = error_of([&] { ar::SegmentReader reader(path); });
    REQUIRE(error.has_value());
    CHECK(error->code() == code);
    const std::string message = error->what();
    CAPTURE(message);
    CHECK(message.find(path.string()) != std::string::npos);
    CHECK(message.find(says) != std::string::npos);

    // verify reports the segment unreadable; a read of it fails the same way, or reports it
    // as damage, and delivers nothing from it either way.
    const ar::ArchiveReport report = ar::inspect_archive(dir, true);
    REQUIRE(report.segments.size() == 1);
    CHECK_FALSE(report.segments[0].error.empty());
    CHECK_FALSE(report.clean());
    ReadResult read;
    const auto read_error = error_of([&] { read = read_all(dir); });
    if (read_error) {
        CHECK(read_error->code() == code);
    } else {
        REQUIRE(read.summary.damage.size() == 1);
        CHECK(read.summary.damage[0].segment == path);
    }
    CHECK(read.entries.empty());
}

TEST_CASE("a segment that does not exist is kNotFound") {
    BusDirectory bus;
    const std::filesystem::path path = segment_path(bus.path(), 0);
    const auto error = error_of([&] { ar::SegmentReader reader(path); });
    REQUIRE(error.has_value());
    CHECK(error->code() == ErrorCode::kNotFound);
    CHECK(std::string(error->what()).find(path.string()) != std::string::npos);
}

TEST_CASE("a topic name without its NUL is cut at the field's end") {
    BusDirectory bus;
    std::vector<std::byte> bytes = raw_header(0);
    std::memset(bytes.data() + offsetof(ar::SegmentHeader, topic_name), 'n', ar::kTopicNameField);
    const std::filesystem::path path = segment_path(bus.path(), 0);
    write_file(path, bytes);
    ar::SegmentReader reader(path);
    CHECK(std::string(reader.header().topic_name) == std::string(ar::kTopicNameField - 1, 'n'));
}

TEST_CASE("SegmentReader::read: what the bytes at an offset are, for entries no writer made") {
    BusDirectory bus;
    const std::filesystem::path path = segment_path(bus.path(), 10);
    std::vector<std::byte> bytes = raw_header(10);
    std::vector<std::uint64_t> offsets;
    const auto add = [&](RawEntry e) {
        offsets.push_back(bytes.size());
        append_raw(bytes, std::move(e));
    };
    add(raw_record(10, 5));  // 0: good
    RawEntry unknown = raw_record(11, 8);
    unknown.header.kind = 3;
    add(unknown);  // 1: unknown kind, checksum good
    RawEntry long_gap = raw_record(12, 16);
    long_gap.header.kind = static_cast<std::uint16_t>(ar::EntryKind::kGap);
    add(long_gap);  // 2: a gap whose payload is not one u64
    RawEntry bad_sum = raw_record(13, 24);
    bad_sum.header.checksum = 12345;
    bad_sum.keep_checksum = true;
    add(bad_sum);            // 3: checksum mismatch
    add(raw_record(14, 0));  // 4: good, empty
    write_file(path, bytes);

    ar::SegmentReader reader(path);
    CHECK(reader.file_size() == bytes.size());
    const ar::ScannedEntry first = reader.read(offsets[0]);
    REQUIRE(first.status == ar::EntryStatus::kEntry);
    CHECK(first.size == ar::entry_size(5));
    CHECK(first.header.sequence == 10);
    CHECK(std::vector<std::byte>(first.payload.begin(), first.payload.end()) == payload_for(10, 5));

    const ar::ScannedEntry unknown_kind = reader.read(offsets[1]);
    CHECK(unknown_kind.status == ar::EntryStatus::kCorrupt);
    CHECK(unknown_kind.problem.find("kind") != std::string::npos);
    CHECK(reader.read(offsets[2]).status == ar::EntryStatus::kCorrupt);
    const ar::ScannedEntry mismatch = reader.read(offsets[3]);
    CHECK(mismatch.status == ar::EntryStatus::kCorrupt);
    CHECK(mismatch.problem == "checksum mismatch");
    CHECK(mismatch.payload.empty());
    const ar::ScannedEntry empty = reader.read(offsets[4]);
    REQUIRE(empty.status == ar::EntryStatus::kEntry);
    CHECK(empty.payload.empty());
    CHECK(reader.read(bytes.size()).status == ar::EntryStatus::kEnd);

    // Offsets that are not entry boundaries.
    CHECK(reader.read(0).status == ar::EntryStatus::kCorrupt);
    CHECK(reader.read(64).status == ar::EntryStatus::kCorrupt);
    CHECK(reader.read(offsets[0] + 4).status == ar::EntryStatus::kCorrupt);
    // Past the end of the file: not an entry, whatever it is called.
    CHECK(reader.read(bytes.size() + 8).status != ar::EntryStatus::kEntry);

    // The file grows by half an entry header: torn, until the rest arrives.
    std::vector<std::byte> grown = bytes;
    RawEntry next = raw_record(15, 40);
    append_raw(grown, next);
    write_file(path, std::span<const std::byte>(grown.data(), bytes.size() + 16));
    CHECK(reader.refresh_size() == bytes.size() + 16);
    CHECK(reader.read(bytes.size()).status == ar::EntryStatus::kTorn);
    write_file(path, std::span<const std::byte>(grown.data(), grown.size() - 8));
    CHECK(reader.refresh_size() == grown.size() - 8);
    CHECK(reader.read(bytes.size()).status == ar::EntryStatus::kTorn);
    write_file(path, grown);
    CHECK(reader.refresh_size() == grown.size());
    const ar::ScannedEntry arrived = reader.read(bytes.size());
    REQUIRE(arrived.status == ar::EntryStatus::kEntry);
    CHECK(arrived.header.sequence == 15);
    CHECK(std::vector<std::byte>(arrived.payload.begin(), arrived.payload.end()) ==
          payload_for(15, 40));
}

TEST_CASE("an entry whose sequence goes backwards is damage to verify, and cut by the writer") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    const std::vector<Entry> want = write_archive(dir, records(0, 5, 16), 1 << 20);
    const std::filesystem::path segment = segment_path(dir, 0);
    std::vector<std::byte> bytes = read_file(segment);
    const std::uint64_t at = bytes.size();
    append_raw(bytes, raw_record(2, 16));  // a whole entry, checksum good, sequence 2 after 4
    write_file(segment, bytes);

    const ar::ArchiveReport report = ar::inspect_archive(dir, true);
    CHECK_FALSE(report.clean());
    REQUIRE(report.segments.at(0).damage.size() == 1);
    CHECK(report.segments[0].damage[0].offset == at);
    CHECK(report.segments[0].damage[0].problem.find("sequence 2") != std::string::npos);

    ar::ArchiveWriter writer(dir, kTopicName, topic_id());
    CHECK(writer.truncated_bytes() == ar::entry_size(16));
    CHECK(writer.next_sequence() == 5);
    CHECK(size_of_file(segment) == at);
}

TEST_CASE(
    "a first entry that is not the segment's first sequence, or a gap of nothing, is "
    "corruption") {
    // ARCHIVE.md, *Sequences*: "The first entry's sequence equals the segment's first
    // sequence", and "A gap counts at least one record".
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    std::filesystem::create_directories(dir);
    std::vector<std::byte> bytes = raw_header(10);
    SUBCASE("a first entry after the segment's name") {
        append_raw(bytes, raw_record(12, 8));
        append_raw(bytes, raw_record(13, 8));
    }
    SUBCASE("a gap of 0 records") {
        append_raw(bytes, raw_record(10, 8));
        RawEntry empty_gap;
        empty_gap.header.kind = static_cast<std::uint16_t>(ar::EntryKind::kGap);
        empty_gap.header.length = 8;
        empty_gap.header.sequence = 11;
        empty_gap.payload.resize(8);  // a count of 0
        append_raw(bytes, empty_gap);
        append_raw(bytes, raw_record(11, 8));
    }
    write_file(segment_path(dir, 10), bytes);
    const ar::ArchiveReport report = ar::inspect_archive(dir, true);
    CHECK_FALSE(report.clean());
    REQUIRE(report.segments.size() == 1);
    CHECK(report.segments[0].damage.size() == 1);
    const ReadResult read = read_all(dir);
    CHECK(read.summary.damage.size() == 1);
}
