// The archive writer's rules: one writer per directory, one topic per archive, sequences that
// only go forward, what a crash while creating a segment leaves, and a flush that runs out of
// space (which must leave the segment ending at its last whole entry).
#include <doctest/doctest.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdint>
#include <filesystem>
#include <shmbus/archive/archive_inspect.hpp>
#include <shmbus/archive/archive_reader.hpp>
#include <shmbus/archive/archive_writer.hpp>
#include <shmbus/archive/segment_format.hpp>
#include <shmbus/error.hpp>
#include <string>
#include <vector>

#include "archive/archive_helpers.hpp"
#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/skip.hpp"

namespace {

using namespace std::chrono_literals;
namespace ar = shmbus::archive;
using namespace shmbus::test::archive;
using shmbus::ErrorCode;
using shmbus::test::BusDirectory;
using shmbus::test::deadline_in;

std::vector<Entry> records(std::uint64_t first, std::size_t count, std::size_t size) {
    std::vector<Entry> out;
    for (std::uint64_t s = first; s < first + count; ++s)
        out.push_back(record(s, size));
    return out;
}

std::vector<Entry> concat(std::vector<Entry> a, const std::vector<Entry>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

}  // namespace

TEST_CASE("a second writer on an archive is kBusy while the first lives") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    {
        ar::ArchiveWriter first(dir, kTopicName, topic_id());
        append(first, record(0, 4));
        const auto busy = error_of([&] { ar::ArchiveWriter second(dir, kTopicName, topic_id()); });
        REQUIRE(busy.has_value());
        CHECK(busy->code() == ErrorCode::kBusy);
        CHECK(std::string(busy->what()).find(dir.string()) != std::string::npos);
        // The refused writer touched nothing: the first goes on.
        append(first, record(1, 4));
    }
    ar::ArchiveWriter after(dir, kTopicName, topic_id());
    CHECK(after.next_sequence() == 2);
    check_entries(read_all(dir).entries, records(0, 2, 4));
}

TEST_CASE(
    "a writer for another topic id is refused on an existing archive, saying the id differs") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id());
        append(writer, record(0, 4));
    }
    std::array<std::uint8_t, 16> other = kTopicId;
    other[15] ^= 0xff;
    const auto error = error_of([&] {
        ar::ArchiveWriter writer(dir, kTopicName, std::span<const std::uint8_t, 16>(other));
    });
    REQUIRE(error.has_value());
    CHECK(error->code() == ErrorCode::kInvalidArgument);
    const std::string message = error->what();
    CAPTURE(message);
    CHECK(message.find("id") != std::string::npos);
    CHECK(message.find("102132435465768798a9bacbdcedfe0f") != std::string::npos);
    CHECK(message.find("102132435465768798a9bacbdcedfef0") != std::string::npos);
    // The archive is untouched and still opens for its own topic.
    ar::ArchiveWriter writer(dir, kTopicName, topic_id());
    CHECK(writer.next_sequence() == 1);
}

TEST_CASE("options a writer cannot honour are kInvalidArgument") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    const auto long_name = error_of(
        [&] { ar::ArchiveWriter writer(dir, std::string(ar::kTopicNameField, 't'), topic_id()); });
    REQUIRE(long_name.has_value());
    CHECK(long_name->code() == ErrorCode::kInvalidArgument);
    const auto tiny = error_of(
        [&] { ar::ArchiveWriter writer(dir, kTopicName, topic_id(), {.segment_bytes = 100}); });
    REQUIRE(tiny.has_value());
    CHECK(tiny->code() == ErrorCode::kInvalidArgument);
    // The longest name that fits is kept whole.
    const std::string longest(ar::kTopicNameField - 1, 'n');
    {
        ar::ArchiveWriter writer(dir, longest, topic_id());
        append(writer, record(0, 1));
    }
    ar::SegmentReader reader(segment_path(dir, 0));
    CHECK(std::string(reader.header().topic_name) == longest);
}

TEST_CASE("sequences only go forward: a lower one is kInvalidArgument, before and after reopen") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    std::vector<Entry> want;
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id());
        append(writer, record(10, 8));
        append(writer, gap(11, 4));
        CHECK(writer.next_sequence() == 15);
        for (const std::uint64_t lower : {0, 10, 14}) {
            CAPTURE(lower);
            const auto as_record = error_of([&] { append(writer, record(lower, 8)); });
            REQUIRE(as_record.has_value());
            CHECK(as_record->code() == ErrorCode::kInvalidArgument);
            const auto as_gap = error_of([&] { append(writer, gap(lower, 2)); });
            REQUIRE(as_gap.has_value());
            CHECK(as_gap->code() == ErrorCode::kInvalidArgument);
        }
        CHECK(writer.next_sequence() == 15);
        append(writer, record(15, 8));  // the next one is fine
        append(writer, record(20, 8));  // and so is a jump forward
        CHECK(writer.next_sequence() == 21);
        writer.append_gap(21, 0, 1);  // a gap of nothing is no entry
        CHECK(writer.next_sequence() == 21);
        want = {record(10, 8), gap(11, 4), record(15, 8), record(20, 8)};
    }
    ar::ArchiveWriter writer(dir, kTopicName, topic_id());
    CHECK(writer.next_sequence() == 21);
    const auto lower = error_of([&] { append(writer, record(20, 8)); });
    REQUIRE(lower.has_value());
    CHECK(lower->code() == ErrorCode::kInvalidArgument);
    append(writer, record(21, 8));
    writer.flush();
    check_entries(read_all(dir).entries, concat(want, {record(21, 8)}));
    // Appending after a reopen goes on in the same segment.
    CHECK(ar::list_segments(dir).size() == 1);
}

TEST_CASE("a last segment shorter than its header (a crash while creating it) goes at open") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    const std::vector<Entry> first = records(0, 10, 20);
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id());
        for (const Entry& e : first)
            append(writer, e);
    }
    const std::filesystem::path stub = segment_path(dir, 10);
    write_file(stub, std::vector<std::byte>(10, std::byte{0}));
    write_file(index_path(dir, 10), std::vector<std::byte>(5, std::byte{0}));

    // Readers meet it as a segment they cannot read.
    CHECK_FALSE(ar::inspect_archive(dir, true).clean());

    const std::vector<Entry> more = records(10, 5, 20);
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id(), {.segment_bytes = 16 << 20});
        CHECK_FALSE(std::filesystem::exists(stub));
        CHECK_FALSE(std::filesystem::exists(index_path(dir, 10)));
        CHECK(writer.truncated_bytes() == 0);
        CHECK(writer.next_sequence() == 10);
        for (const Entry& e : more)
            append(writer, e);
        writer.flush();
    }
    check_entries(read_all(dir).entries, concat(first, more));
    CHECK(ar::inspect_archive(dir, true).clean());
}

TEST_CASE("a stub segment as the only one goes too, leaving an empty archive") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    std::filesystem::create_directories(dir);
    write_file(segment_path(dir, 7), std::vector<std::byte>(100, std::byte{0x11}));
    ar::ArchiveWriter writer(dir, kTopicName, topic_id());
    CHECK_FALSE(writer.next_sequence().has_value());
    CHECK(ar::list_segments(dir).empty());
    append(writer, record(3, 3));
    writer.flush();
    check_entries(read_all(dir).entries, {record(3, 3)});
}

TEST_CASE("a writer refuses a last segment of another format version, and reads no other") {
    // ARCHIVE.md, *Opening an archive for writing*: the last segment's header is checked;
    // "Earlier segments are not read."
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id(), {.segment_bytes = 4096});
        for (const Entry& e : records(0, 40, 300)) {
            append(writer, e);
            writer.flush();
        }
    }
    const std::vector<ar::SegmentFile> segments = ar::list_segments(dir);
    REQUIRE(segments.size() >= 2);
    overwrite_value(segments.back().path, offsetof(ar::SegmentHeader, version), std::uint32_t{2});
    const auto error = error_of([&] { ar::ArchiveWriter writer(dir, kTopicName, topic_id()); });
    REQUIRE(error.has_value());
    CHECK(error->code() == ErrorCode::kIncompatible);
    CHECK(std::string(error->what()).find(segments.back().path.string()) != std::string::npos);

    overwrite_value(segments.back().path, offsetof(ar::SegmentHeader, version), std::uint32_t{1});
    overwrite_value(segments.front().path, offsetof(ar::SegmentHeader, magic), std::uint64_t{0});
    ar::ArchiveWriter writer(dir, kTopicName, topic_id());
    CHECK(writer.next_sequence() == 40);
}

TEST_CASE("every flush synced (SyncPolicy::kEveryFlush) reads back the same") {
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    const std::vector<Entry> want = records(0, 60, 100);
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id(),
                                 {.segment_bytes = 2048, .sync = ar::SyncPolicy::kEveryFlush});
        for (const Entry& e : want) {
            append(writer, e);
            writer.flush();
        }
    }
    CHECK(ar::list_segments(dir).size() > 2);
    check_entries(read_all(dir).entries, want);
    CHECK(ar::inspect_archive(dir, true).clean());
}

TEST_CASE(
    "a flush past the file size limit throws kNoSpace, leaves the last whole entry, and a "
    "later flush writes what stayed buffered") {
    rlimit limit{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &limit) == 0);
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < (std::uint64_t{1} << 20)) {
        return shmbus::test::skip("RLIMIT_FSIZE's hard limit is too low to lift again");
    }
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    const std::filesystem::path segment = segment_path(dir, 0);
    const std::vector<Entry> first = records(0, 10, 1000);
    const std::vector<Entry> second = records(10, 10, 1000);

    // In a child: the limit is per process, and the SIGXFSZ it raises is ignored there only.
    auto child = shmbus::test::Child::fork("archive writer", [&](shmbus::test::ChildLink& link) {
        (void)std::signal(SIGXFSZ, SIG_IGN);
        ar::ArchiveWriter writer(dir, kTopicName, topic_id(), {.segment_bytes = 1 << 20});
        for (const Entry& e : first)
            append(writer, e);
        writer.flush();
        const std::uint64_t whole = size_of_file(segment);
        rlimit tight = limit;
        tight.rlim_cur = whole + 2500;  // room for two of the next ten entries and a half
        if (::setrlimit(RLIMIT_FSIZE, &tight) != 0) return 2;
        for (const Entry& e : second)
            append(writer, e);
        const std::uint64_t pending = writer.pending_bytes();
        try {
            writer.flush();
            link.send("flushed");
            return 3;
        } catch (const shmbus::Error& error) {
            link.send(std::to_string(static_cast<int>(error.code())) + " " +
                      std::to_string(error.system_errno()) + " " + std::to_string(whole) + " " +
                      std::to_string(size_of_file(segment)) + " " + std::to_string(pending) + " " +
                      std::to_string(writer.pending_bytes()));
        }
        link.wait_for_parent();  // while the test looks at the files
        if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return 4;
        writer.flush();
        link.send("retried " + std::to_string(writer.pending_bytes()));
        return 0;
    });

    const auto report = child.receive_line(deadline_in(30s));
    REQUIRE(report.has_value());
    CAPTURE(*report);
    REQUIRE(*report != "flushed");
    int code = -1;
    int error_number = -1;
    unsigned long long whole = 0, size = 0, pending = 0, pending_after = 0;
    REQUIRE(std::sscanf(report->c_str(), "%d %d %llu %llu %llu %llu", &code, &error_number, &whole,
                        &size, &pending, &pending_after) == 6);
    CHECK(code == static_cast<int>(ErrorCode::kNoSpace));
    CHECK(error_number == EFBIG);
    CHECK(pending == 10 * ar::entry_size(1000));
    CHECK(pending_after == pending);  // the entries stay buffered
    CHECK(size == whole);             // the file ends at its last whole entry
    CHECK(size_of_file(segment) == whole);
    const ar::ArchiveReport failed = ar::inspect_archive(dir, true);
    CHECK(failed.clean());
    REQUIRE(failed.segments.size() == 1);
    CHECK_FALSE(failed.segments[0].torn_tail);
    CHECK(failed.segments[0].next_sequence == 10);
    check_entries(read_all(dir).entries, first);

    child.send("go on");
    const auto retried = child.receive_line(deadline_in(30s));
    CHECK(retried == std::optional<std::string>("retried 0"));
    const auto exit = child.wait_until(deadline_in(30s));
    REQUIRE(exit.has_value());
    CHECK_MESSAGE(exit->ok(), exit->describe());
    check_entries(read_all(dir).entries, concat(first, second));
    CHECK(ar::inspect_archive(dir, true).clean());
}

TEST_CASE("a last segment holding only its header does not name the next entry wrongly") {
    // ARCHIVE.md, *Sequences*: "The first entry's sequence equals the segment's first
    // sequence: the writer names each segment after its first entry". A writer that died
    // between creating a segment and writing its first entry leaves a segment of a header only,
    // named for an entry that never came; the next writer may start at another sequence.
    BusDirectory bus;
    const std::filesystem::path dir = bus.path() / "archive";
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id());
        for (const Entry& e : records(0, 10, 20))
            append(writer, e);
    }
    {
        ar::SegmentReader reader(segment_path(dir, 0));
        ar::SegmentHeader header = reader.header();
        header.first_sequence = 10;
        write_file(segment_path(dir, 10),
                   std::as_bytes(std::span<const ar::SegmentHeader, 1>(&header, 1)));
    }
    {
        ar::ArchiveWriter writer(dir, kTopicName, topic_id(), {.segment_bytes = 4096});
        CHECK(writer.truncated_bytes() == 0);
        CHECK(writer.next_sequence() == 10);
        append(writer, record(12, 20));  // 10 and 11 never were records
        append(writer, record(13, 20));
        writer.flush();
    }
    for (const ar::SegmentFile& segment : ar::list_segments(dir)) {
        CAPTURE(segment.path);
        const std::vector<std::uint64_t> offsets = entry_offsets(segment.path);
        REQUIRE_FALSE(offsets.empty());
        ar::SegmentReader reader(segment.path);
        CHECK(reader.read(offsets[0]).header.sequence == segment.first_sequence);
    }
    check_entries(read_all(dir).entries,
                  concat(records(0, 10, 20), {record(12, 20), record(13, 20)}));
    CHECK(ar::inspect_archive(dir, true).clean());
}
