// The tool's helpers on their own: option parsing, encoders, line reading, JSON text.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <limits>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "exit_status.hpp"
#include "json_writer.hpp"
#include "line_reader.hpp"
#include "record_format.hpp"
#include "replay_schedule.hpp"
#include "shmbus/detail/util/topic_name.hpp"
#include "text_table.hpp"

namespace shmbus::cli {
namespace {

std::string base64(std::string_view text) {
    std::string out(base64_size(text.size()), '?');
    encode_base64(std::as_bytes(std::span(text.data(), text.size())), out.data());
    return out;
}

/// A descriptor that reads back `text`.
int stream_of(const std::string& text) {
    const int fd = ::memfd_create("line-reader-test", MFD_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    REQUIRE(::lseek(fd, 0, SEEK_SET) == 0);
    return fd;
}

std::vector<std::string> read_lines(const std::string& text, std::size_t max_line) {
    const int fd = stream_of(text);
    LineReader reader(fd, max_line, "limit");
    std::vector<std::string> lines;
    try {
        while (const auto line = reader.next())
            lines.emplace_back(*line);
    } catch (...) {
        ::close(fd);
        throw;
    }
    ::close(fd);
    return lines;
}

ExitStatus status_of_failure(auto&& call) {
    try {
        call();
    } catch (const Failure& failure) {
        return failure.status();
    }
    return ExitStatus::kOk;
}

}  // namespace

TEST_CASE("sizes take K, M, G and T as powers of 1024, and refuse anything else") {
    CHECK(parse_size("--capacity", "4096") == 4096);
    CHECK(parse_size("--capacity", "64K") == 64 * 1024);
    CHECK(parse_size("--capacity", "64k") == 64 * 1024);
    CHECK(parse_size("--capacity", "1M") == 1 << 20);
    CHECK(parse_size("--capacity", "2MiB") == 2 << 20);
    CHECK(parse_size("--capacity", "1G") == std::uint64_t{1} << 30);
    CHECK(parse_size("--capacity", "1T") == std::uint64_t{1} << 40);
    for (const char* bad : {"", "K", "-1", "1.5M", "1KB2", "1X", " 1", "1 K", "16777216T"}) {
        CAPTURE(bad);
        CHECK(status_of_failure([&] { (void)parse_size("--capacity", bad); }) ==
              ExitStatus::kUsage);
    }
    CHECK_THROWS_WITH_AS((void)parse_size("--capacity", "banana"),
                         "--capacity: 'banana' is not a size (bytes, or a number with K, M, G "
                         "or T)",
                         Failure);
}

TEST_CASE("durations take s, m, h and d, seconds alone, and refuse anything else") {
    CHECK(parse_duration("--retain-age", "90") == std::chrono::seconds(90));
    CHECK(parse_duration("--retain-age", "30s") == std::chrono::seconds(30));
    CHECK(parse_duration("--retain-age", "10m") == std::chrono::minutes(10));
    CHECK(parse_duration("--retain-age", "2h") == std::chrono::hours(2));
    CHECK(parse_duration("--retain-age", "7d") == std::chrono::hours(7 * 24));
    CHECK(parse_duration("--retain-age", "0") == std::chrono::seconds(0));
    for (const char* bad : {"", "d", "-1d", "1.5h", "1w", "1 d", "10M", "1dd", "9999999999999d"}) {
        CAPTURE(bad);
        CHECK(status_of_failure([&] { (void)parse_duration("--retain-age", bad); }) ==
              ExitStatus::kUsage);
    }
    CHECK_THROWS_WITH_AS((void)parse_duration("--retain-age", "week"),
                         "--retain-age: 'week' is not a duration (a number with s, m, h or d, "
                         "such as 10m)",
                         Failure);
}

TEST_CASE("counts, seconds, start positions and policies parse or say what they expected") {
    CHECK(parse_count("--count", "0") == 0);
    CHECK(parse_count("--count", "18446744073709551615") == UINT64_MAX);
    CHECK_THROWS_WITH_AS((void)parse_count("--count", "18446744073709551616"),
                         "--count: '18446744073709551616' is too large", Failure);
    CHECK_THROWS_WITH_AS((void)parse_count("--count", "ten"),
                         "--count: 'ten' is not a non-negative integer", Failure);
    CHECK_THROWS_AS((void)parse_count32("--max-publishers", "4294967296"), Failure);

    CHECK(parse_seconds("--timeout", "1") == std::chrono::seconds(1));
    CHECK(parse_seconds("--timeout", "0.25") == std::chrono::milliseconds(250));
    CHECK(parse_seconds("--timeout", "0") == std::chrono::nanoseconds(0));
    for (const char* bad : {"", "-1", "1s", "nan", "inf", "1e3", "abc", "1e100"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS((void)parse_seconds("--timeout", bad), Failure);
    }

    CHECK(parse_start("--from", "earliest").kind() == StartAt::Kind::kEarliest);
    CHECK(parse_start("--from", "latest").kind() == StartAt::Kind::kLatest);
    const StartAt at = parse_start("--from", "4096");
    CHECK(at.kind() == StartAt::Kind::kPosition);
    CHECK(at.saved_position() == 4096);
    CHECK_THROWS_AS((void)parse_start("--from", "first"), Failure);
    CHECK_THROWS_WITH_AS((void)parse_start("--from", "\x01"),
                         "--from: '\\x01' is not 'earliest', 'latest' or a position (a "
                         "non-negative integer)",
                         Failure);

    CHECK(parse_policy("--policy", "block") == Policy::kBlock);
    CHECK(parse_policy("--policy", "overwrite") == Policy::kOverwrite);
    CHECK_THROWS_AS((void)parse_policy("--policy", "Block"), Failure);
    CHECK_THROWS_AS((void)parse_record_format("--format", "JSON"), Failure);
}

TEST_CASE("replay speeds and rates parse; 0 and max mean no waiting") {
    CHECK(parse_speed("--speed", "1").kind == Pace::Kind::kRecorded);
    CHECK(parse_speed("--speed", "1").factor == 1.0);
    CHECK(parse_speed("--speed", "2x").factor == 2.0);
    CHECK(parse_speed("--speed", "0.5x").factor == 0.5);
    CHECK(parse_speed("--speed", "0").kind == Pace::Kind::kAtOnce);
    CHECK(parse_speed("--speed", "max").kind == Pace::Kind::kAtOnce);
    CHECK(parse_speed("--speed", "0x").kind == Pace::Kind::kAtOnce);
    for (const char* bad : {"", "x", "-1", "2xx", "two", "nan", "inf", "1e3", " 1", "maxx"}) {
        CHECK_THROWS_AS((void)parse_speed("--speed", bad), Failure);
    }
    CHECK_THROWS_WITH_AS((void)parse_speed("--speed", "fast"),
                         "--speed: 'fast' is not a speed (such as 1, 2x or 0.5x; 0 or max: no "
                         "waiting)",
                         Failure);

    CHECK(parse_rate("--rate", "100/s").kind == Pace::Kind::kRate);
    CHECK(parse_rate("--rate", "100/s").factor == 100.0);
    CHECK(parse_rate("--rate", "2.5").factor == 2.5);
    CHECK(parse_rate("--rate", "0").kind == Pace::Kind::kAtOnce);
    CHECK(parse_rate("--rate", "max").kind == Pace::Kind::kAtOnce);
    for (const char* bad : {"", "/s", "5/m", "-3/s", "5x", "5/s/s"}) {
        CHECK_THROWS_AS((void)parse_rate("--rate", bad), Failure);
    }
}

TEST_CASE("a replay schedule scales recorded offsets, ignores backward steps, or keeps a rate") {
    using std::chrono::nanoseconds;
    constexpr std::uint64_t t0 = 1'700'000'000'000'000'000;
    ReplaySchedule recorded({Pace::Kind::kRecorded, 2.0});
    CHECK(recorded.next(t0) == nanoseconds(0));
    CHECK(recorded.next(t0 + 1000) == nanoseconds(500));
    CHECK(recorded.next(t0 + 400) == nanoseconds(500));   // backwards: the largest so far
    CHECK(recorded.next(t0 - 5000) == nanoseconds(500));  // before the first one too
    CHECK(recorded.next(t0 + 3000) == nanoseconds(1500));

    ReplaySchedule slow({Pace::Kind::kRecorded, 1e-30});
    CHECK(slow.next(t0) == nanoseconds(0));
    CHECK(slow.next(t0 + 1) == ReplaySchedule::kMaxOffset);  // capped, not overflowed

    ReplaySchedule rate({Pace::Kind::kRate, 4.0});
    CHECK(rate.next(t0 + 999) == nanoseconds(0));
    CHECK(rate.next(t0) == nanoseconds(250'000'000));
    CHECK(rate.next(t0 + 7) == nanoseconds(500'000'000));

    ReplaySchedule at_once({Pace::Kind::kAtOnce, 0});
    CHECK(at_once.next(t0) == nanoseconds(0));
    CHECK(at_once.next(t0 + 1'000'000'000) == nanoseconds(0));
}

TEST_CASE("base64 matches the RFC 4648 test vectors and hex is lowercase") {
    CHECK(base64("") == "");
    CHECK(base64("f") == "Zg==");
    CHECK(base64("fo") == "Zm8=");
    CHECK(base64("foo") == "Zm9v");
    CHECK(base64("foob") == "Zm9vYg==");
    CHECK(base64("fooba") == "Zm9vYmE=");
    CHECK(base64("foobar") == "Zm9vYmFy");
    CHECK(base64(std::string("\0\xff\xfe", 3)) == "AP/+");

    const std::string bytes("\x00\x0f\xab\xff", 4);
    std::string hex(hex_size(bytes.size()), '?');
    encode_hex(std::as_bytes(std::span(bytes.data(), bytes.size())), hex.data());
    CHECK(hex == "000fabff");
}

TEST_CASE("a payload larger than the output buffer's pieces is encoded whole") {
    const int fd = ::memfd_create("format-test", MFD_CLOEXEC);
    REQUIRE(fd >= 0);
    std::string payload;
    for (int i = 0; i < 200'000; ++i)
        payload += static_cast<char>(i * 7);
    {
        OutputBuffer out(fd, 64 * 1024);
        Record record;
        record.payload = std::as_bytes(std::span(payload.data(), payload.size()));
        write_record(out, record, "t", {.format = RecordFormat::kHex});
        write_record(out, record, "t", {.format = RecordFormat::kText});
        out.flush();
    }
    std::string expected(hex_size(payload.size()), '?');
    encode_hex(std::as_bytes(std::span(payload.data(), payload.size())), expected.data());
    expected += '\n' + payload + '\n';
    const auto size = ::lseek(fd, 0, SEEK_END);
    REQUIRE(size == static_cast<off_t>(expected.size()));
    std::string written(expected.size(), '\0');
    REQUIRE(::pread(fd, written.data(), written.size(), 0) == size);
    CHECK(written == expected);
    ::close(fd);
}

/// What write_record prints for `record` of topic `topic` in `style`.
std::string printed(const Record& record, std::string_view topic, RecordStyle style) {
    const int fd = ::memfd_create("format-test", MFD_CLOEXEC);
    REQUIRE(fd >= 0);
    {
        OutputBuffer out(fd);
        write_record(out, record, topic, style);
        out.flush();
    }
    std::string written(static_cast<std::size_t>(::lseek(fd, 0, SEEK_END)), '\0');
    REQUIRE(::pread(fd, written.data(), written.size(), 0) == static_cast<ssize_t>(written.size()));
    ::close(fd);
    return written;
}

TEST_CASE("json names the record's topic first; --prefix puts it before text and hex lines") {
    const std::string payload = "hi";
    Record record;
    record.payload = std::as_bytes(std::span(payload.data(), payload.size()));
    record.sequence = 7;
    record.position = 448;
    record.next_position = 488;
    record.timestamp_ns = 1700000000000000000;
    record.publisher = 3;
    const std::string longest(kMaxTopicName, 'n');
    CHECK(printed(record, "orders", {.format = RecordFormat::kJson}) ==
          "{\"topic\":\"orders\",\"sequence\":7,\"position\":448,\"next_position\":488,"
          "\"timestamp_ns\":1700000000000000000,\"publisher\":3,\"length\":2,"
          "\"payload_base64\":\"aGk=\"}\n");
    CHECK(printed(record, longest, {.format = RecordFormat::kJson})
              .starts_with("{\"topic\":\"" + longest + "\",\"sequence\":7,"));
    // --prefix changes nothing in json: the object names the topic already.
    CHECK(printed(record, "orders", {.format = RecordFormat::kJson, .prefix = true}) ==
          printed(record, "orders", {.format = RecordFormat::kJson}));
    CHECK(printed(record, "orders", {.format = RecordFormat::kText}) == "hi\n");
    CHECK(printed(record, "orders", {.format = RecordFormat::kText, .prefix = true}) ==
          "orders: hi\n");
    CHECK(printed(record, "a.b", {.format = RecordFormat::kHex, .prefix = true}) == "a.b: 6869\n");
}

TEST_CASE("lines come back without their newline, empty ones and a final unterminated one too") {
    CHECK(read_lines("", 10).empty());
    CHECK(read_lines("\n", 10) == std::vector<std::string>{""});
    CHECK(read_lines("a\nbb\n\nccc", 10) == std::vector<std::string>{"a", "bb", "", "ccc"});
    CHECK(read_lines("crlf\r\n", 10) == std::vector<std::string>{"crlf\r"});
    CHECK(read_lines("1234567890\n", 10) == std::vector<std::string>{"1234567890"});
}

TEST_CASE("lines that straddle read chunks, and lines longer than a chunk, come back whole") {
    std::string text;
    std::vector<std::string> expected;
    for (int i = 0; i < 300'000; ++i) {
        expected.push_back(std::to_string(i * 37));
        text += expected.back() + '\n';
    }
    expected.push_back(std::string(3 * LineReader::kChunk, 'x'));
    text += expected.back();
    CHECK(read_lines(text, 4 * LineReader::kChunk) == expected);
}

TEST_CASE("a line over the limit is refused with its line number, terminated or not") {
    CHECK_THROWS_WITH_AS(read_lines("ok\n12345678901\n", 10),
                         "line 2 of standard input is too long: limit", Failure);
    CHECK_THROWS_WITH_AS(read_lines("ok\nfine\n" + std::string(5 * LineReader::kChunk, 'y'), 10),
                         "line 3 of standard input is too long: limit", Failure);
}

TEST_CASE("JSON text escapes quotes, controls and bytes that are not UTF-8") {
    std::string out;
    append_json_string(out, std::string("a\"b\\c\n\x01\xc3\xa9\xff", 10));
    CHECK(out == "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\\u00ff\"");

    JsonWriter json;
    json.begin_object();
    json.field("name", "t");
    json.field("count", std::uint32_t{3});
    json.field("alive", true);
    json.key("list");
    json.begin_array();
    json.value(std::uint64_t{1});
    json.value(std::uint64_t{2});
    json.end_array();
    json.key("empty");
    json.begin_object();
    json.end_object();
    json.end_object();
    CHECK(json.text() == R"({"name":"t","count":3,"alive":true,"list":[1,2],"empty":{}})");
}

TEST_CASE("JSON text in the spaced layout, with signed integers, doubles to six digits and null") {
    JsonWriter json(JsonLayout::kSpaced);
    json.begin_object();
    json.field("delta", std::int64_t{-3}).field("share", 0.125).field("rate", 1234567.0);
    json.field("unknown", std::numeric_limits<double>::infinity());
    json.field("not_a_number", std::numeric_limits<double>::quiet_NaN());
    json.key("list");
    json.begin_array();
    json.value(-1);
    json.value(false);
    json.null_value();
    json.end_array();
    json.end_object();
    CHECK(json.text() == R"({"delta": -3, "share": 0.125, "rate": 1.23457e+06, "unknown": null, )"
                         R"("not_a_number": null, "list": [-1, false, null]})");
}

TEST_CASE("tables align columns and sizes name their unit") {
    TextTable table;
    table.add({"A", "BB", "C"});
    table.add({"long", "x", ""});
    CHECK(table.render("  ") == "  A     BB  C\n  long  x\n");
    CHECK(describe_size(1048576) == "1048576 bytes (1 MiB)");
    CHECK(describe_size(1536) == "1536 bytes");
    CHECK(describe_size(0) == "0 bytes");
}

TEST_CASE("every library error code maps to its documented exit status") {
    CHECK(exit_status_for(ErrorCode::kInvalidArgument) == ExitStatus::kUsage);
    CHECK(exit_status_for(ErrorCode::kNotFound) == ExitStatus::kNotFound);
    CHECK(exit_status_for(ErrorCode::kPermission) == ExitStatus::kPermission);
    CHECK(exit_status_for(ErrorCode::kFormat) == ExitStatus::kBadFile);
    CHECK(exit_status_for(ErrorCode::kIncompatible) == ExitStatus::kBadFile);
    CHECK(exit_status_for(ErrorCode::kNoSpace) == ExitStatus::kNoSpace);
    CHECK(exit_status_for(ErrorCode::kNoSlot) == ExitStatus::kBusy);
    CHECK(exit_status_for(ErrorCode::kBusy) == ExitStatus::kBusy);
    CHECK(exit_status_for(ErrorCode::kExists) == ExitStatus::kExists);
    CHECK(exit_status_for(ErrorCode::kSystem) == ExitStatus::kFailure);
    CHECK(exit_status_for(Status::kTimedOut) == ExitStatus::kTimedOut);
    CHECK(exit_status_for(Status::kEvicted) == ExitStatus::kEvicted);
}

}  // namespace shmbus::cli
