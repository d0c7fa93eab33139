// shmbus pub and shmbus sub, end to end: records in, records out, and how sub ends.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <shmbus/detail/util/unique_fd.hpp>
#include <shmbus/shmbus.hpp>
#include <string>
#include <thread>
#include <vector>

#include "json_value.hpp"
#include "support/bus_directory.hpp"
#include "support/page_cache.hpp"
#include "support/skip.hpp"
#include "tool.hpp"

namespace shmbus::test::cli {
namespace {

std::string dir_of(const BusDirectory& bus) {
    return bus.path().string();
}

}  // namespace

TEST_CASE("a record published with shmbus pub is printed by shmbus sub --from earliest") {
    BusDirectory bus;
    create_topic(bus.path(), "t", {.capacity = 64 * 1024, .max_record_size = 1024});
    const ToolResult pub = run_tool({"pub", "--dir", dir_of(bus), "t", "hello"});
    REQUIRE_MESSAGE(pub.status() == 0, pub.err);

    const ToolResult sub =
        run_tool({"sub", "--dir", dir_of(bus), "t", "--from", "earliest", "--count", "1"});
    CHECK_MESSAGE(sub.status() == 0, sub.err);
    CHECK(sub.out == "hello\n");
}

TEST_CASE("pub --flush leaves the records written back to the file, and they read back") {
    BusDirectory bus;
    create_topic(bus.path(), "t", {.capacity = 64 * 1024, .max_record_size = 1024});
    const ToolResult pub =
        run_tool({"pub", "--dir", dir_of(bus), "--flush", "t", "first", "second"});
    REQUIRE_MESSAGE(pub.status() == 0, pub.err);
    const ToolResult sub =
        run_tool({"sub", "--dir", dir_of(bus), "t", "--from", "earliest", "--count", "2"});
    CHECK_MESSAGE(sub.status() == 0, sub.err);
    CHECK(sub.out == "first\nsecond\n");

    if (on_tmpfs(bus.path())) return skip("the written-back half: the bus directory is a tmpfs");
    // The ring only: pub's publisher detaches after its flush, which writes its slot again.
    const Topic topic = Topic::open(bus.path(), "t", {.access = Access::kSubscribe});
    const auto ring_offset =
        static_cast<std::uint64_t>(reinterpret_cast<const std::byte*>(topic.view().ring) -
                                   reinterpret_cast<const std::byte*>(topic.view().records));
    const auto records = bus.path() / "t" / "records";
    util::UniqueFd fd(::open(records.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(fd);
    const auto pages = cached_pages(fd.get(), ring_offset, topic.capacity());
    if (!pages) return skip("the written-back half: the kernel has no cachestat(2)");
    CHECK(pages->dirty == 0);
    CHECK(pages->writeback == 0);
}

TEST_CASE("each line of standard input becomes one record, a last line without newline too") {
    BusDirectory bus;
    create_topic(bus.path(), "t", {.capacity = 64 * 1024, .max_record_size = 1024});
    const ToolResult pub =
        run_tool({"pub", "--dir", dir_of(bus), "t"}, {.input = "a\n\n b \nlast"});
    REQUIRE_MESSAGE(pub.status() == 0, pub.err);

    const ToolResult sub = run_tool({"sub", "--dir", dir_of(bus), "t", "--from", "earliest",
                                     "--count", "4", "--format", "json"});
    REQUIRE_MESSAGE(sub.status() == 0, sub.err);
    std::vector<std::string> payloads;
    std::size_t start = 0;
    while (start < sub.out.size()) {
        const std::size_t end = sub.out.find('\n', start);
        REQUIRE(end != std::string::npos);
        payloads.push_back(decode_base64(
            parse_json(sub.out.substr(start, end - start))["payload_base64"].string()));
        start = end + 1;
    }
    CHECK(payloads == std::vector<std::string>{"a", "", " b ", "last"});
}

TEST_CASE("a million lines piped through shmbus pub reach shmbus sub intact and in order") {
    constexpr std::uint64_t kLines = 1'000'000;
    BusDirectory bus;
    create_topic(bus.path(), "t", {.capacity = 16 << 20, .max_record_size = 1024});
    Process sub =
        Process::start_tool({"sub", "--dir", dir_of(bus), "t", "--count", std::to_string(kLines)});
    const auto deadline = Clock::now() + 90s;
    // The subscriber starts at the tail: it must be attached before the first record.
    wait_for_live_subscribers(bus.path(), "t", 1, Clock::now() + 20s);

    const std::string script =
        "seq " + std::to_string(kLines) + " | exec \"$0\" pub --dir \"$1\" t";
    Process pub = Process::start({"/bin/sh", "-c", script, tool_path(), dir_of(bus)});

    // Compare as the output streams in: line n must be the decimal text of n.
    std::uint64_t expected = 1;
    std::string pending;
    bool mismatch = false;
    while (expected <= kLines && !mismatch) {
        const auto chunk = sub.read_output(deadline);
        REQUIRE_MESSAGE(chunk.has_value(), "stalled after "
                                               << expected - 1
                                               << " lines; sub stderr: " << sub.error_output());
        if (chunk->empty()) break;  // end of output
        pending += *chunk;
        std::size_t start = 0;
        for (std::size_t end; (end = pending.find('\n', start)) != std::string::npos;
             start = end + 1) {
            char text[24];
            const auto [stop, error] = std::to_chars(text, text + sizeof text, expected);
            REQUIRE(error == std::errc{});
            const std::string_view line(pending.data() + start, end - start);
            if (line != std::string_view(text, static_cast<std::size_t>(stop - text))) {
                FAIL_CHECK("line " << expected << " is '" << line << "'");
                mismatch = true;
                break;
            }
            ++expected;
        }
        pending.erase(0, start);
    }
    CHECK(expected == kLines + 1);
    std::string rest;
    const auto sub_exit = sub.finish(deadline, rest);
    REQUIRE(sub_exit.has_value());
    CHECK_MESSAGE(sub_exit->exited, sub_exit->describe());
    CHECK_MESSAGE(sub_exit->code == 0, sub.error_output());
    CHECK(pending.empty());
    CHECK(rest.empty());
    const auto pub_exit = pub.wait_until(deadline);
    REQUIRE(pub_exit.has_value());
    CHECK_MESSAGE((pub_exit->exited && pub_exit->code == 0), pub.error_output());
}

TEST_CASE("sub --format hex prints each payload in lowercase hex") {
    BusDirectory bus;
    create_topic(bus.path(), "t", {.capacity = 64 * 1024, .max_record_size = 1024});
    publish(bus.path(), "t",
            {std::string("\x00\xff"
                         "Az",
                         4),
             ""});
    const ToolResult sub = run_tool({"sub", "--dir", dir_of(bus), "t", "--from", "earliest",
                                     "--count", "2", "--format", "hex"});
    CHECK_MESSAGE(sub.status() == 0, sub.err);
    CHECK(sub.out == "00ff417a\n\n");
}

TEST_CASE("sub --format json carries a binary payload and the record's metadata losslessly") {
    BusDirectory bus;
    create_topic(bus.path(), "t", {.capacity = 64 * 1024, .max_record_size = 1024});
    std::string payload;
    for (int byte = 0; byte < 256; ++byte)
        payload += static_cast<char>(byte);
    payload += std::string("\0\n\"\\", 4);
    publish(bus.path(), "t", {"first", payload});

    const ToolResult sub = run_tool({"sub", "--dir", dir_of(bus), "t", "--from", "earliest",
                                     "--count", "2", "--format", "json"});
    REQUIRE_MESSAGE(sub.status() == 0, sub.err);
    const std::size_t first_end = sub.out.find('\n');
    REQUIRE(first_end != std::string::npos);
    REQUIRE(sub.out.back() == '\n');
    const JsonValue first = parse_json(sub.out.substr(0, first_end));
    const JsonValue second = parse_json(sub.out.substr(first_end + 1));
    CHECK(decode_base64(first["payload_base64"].string()) == "first");
    CHECK(decode_base64(second["payload_base64"].string()) == payload);
    CHECK(second["length"].uint() == payload.size());
    CHECK(first["sequence"].uint() == 0);
    CHECK(second["sequence"].uint() == 1);
    CHECK(first["position"].uint() == 0);
    CHECK(second["position"].uint() == first["next_position"].uint());
    CHECK(second["timestamp_ns"].uint() >= first["timestamp_ns"].uint());
    CHECK(first["timestamp_ns"].uint() > 0);
    CHECK(first["publisher"].is(JsonValue::Kind::kNumber));
}

TEST_CASE("sub --from a record's next_position resumes right after that record") {
    BusDirectory bus;
    create_topic(bus.path(), "t", {.capacity = 64 * 1024, .max_record_size = 1024});
    publish(bus.path(), "t", {"one", "two", "three"});
    const ToolResult first = run_tool({"sub", "--dir", dir_of(bus), "t", "--from", "earliest",
                                       "--count", "1", "--format", "json"});
    REQUIRE_MESSAGE(first.status() == 0, first.err);
    const std::uint64_t next = parse_json(first.out)["next_position"].uint();

    const ToolResult rest = run_tool(
        {"sub", "--dir", dir_of(bus), "t", "--from", std::to_string(next), "--count", "2"});
    CHECK_MESSAGE(rest.status() == 0, rest.err);
    CHECK(rest.out == "two\nthree\n");
}

TEST_CASE("sub --timeout on an idle topic exits with status 8 once that time has passed") {
    BusDirectory bus;
    create_topic(bus.path(), "t", {.capacity = 64 * 1024, .max_record_size = 1024});
    const auto start = Clock::now();
    const ToolResult sub =
        run_tool({"sub", "--dir", dir_of(bus), "t", "--timeout", "1"}, {.limit = 15s});
    const auto took = Clock::now() - start;
    CHECK(sub.status() == 8);
    CHECK(sub.err.find("no record on topic 't' for 1 s") != std::string::npos);
    CHECK(took >= 1s);
    CHECK(sub.out.empty());
}

TEST_CASE("sub stops cleanly on SIGTERM and SIGINT: status 128+N and its slot freed") {
    BusDirectory bus;
    create_topic(bus.path(), "t", {.capacity = 64 * 1024, .max_record_size = 1024});
    for (const int signal : {SIGTERM, SIGINT}) {
        CAPTURE(signal);
        Process sub = Process::start_tool({"sub", "--dir", dir_of(bus), "t"});
        wait_for_live_subscribers(bus.path(), "t", 1, Clock::now() + 20s);
        publish(bus.path(), "t", {"before the signal"});
        const auto line = sub.read_output(Clock::now() + 20s);
        REQUIRE(line.has_value());
        CHECK(*line == "before the signal\n");

        sub.signal(signal);
        const auto exit = sub.wait_until(Clock::now() + 20s);
        REQUIRE(exit.has_value());
        CHECK_MESSAGE(exit->exited, exit->describe());
        CHECK(exit->code == 128 + signal);
        // Detached on the way out, not left for a reclaim: the slot is free.
        const Topic topic = Topic::open(bus.path(), "t", {.access = Access::kSubscribe});
        CHECK(collect_stats(topic).subscribers.empty());
    }
}

TEST_CASE("sub exits with status 0 when the reader of its output goes away") {
    BusDirectory bus;
    create_topic(bus.path(), "t", {.capacity = 64 * 1024, .max_record_size = 1024});
    Process sub = Process::start_tool({"sub", "--dir", dir_of(bus), "t"});
    wait_for_live_subscribers(bus.path(), "t", 1, Clock::now() + 20s);
    sub.close_output();
    publish(bus.path(), "t", {"nobody reads this"});
    const auto exit = sub.wait_until(Clock::now() + 20s);
    REQUIRE(exit.has_value());
    CHECK_MESSAGE(exit->exited, exit->describe());
    CHECK_MESSAGE(exit->code == 0, sub.error_output());
}

TEST_CASE("sub reports on stderr the records an overwrite topic lost before it read them") {
    BusDirectory bus;
    create_topic(bus.path(), "t",
                 {.capacity = 4096, .max_record_size = 64, .policy = Policy::kOverwrite});
    Process sub = Process::start_tool({"sub", "--dir", dir_of(bus), "t", "--count", "1"});
    wait_for_live_subscribers(bus.path(), "t", 1, Clock::now() + 20s);
    // Frozen, it cannot read while publishers lap it many times over.
    sub.signal(SIGSTOP);
    std::vector<std::string> records;
    for (int i = 0; i < 1000; ++i)
        records.push_back("record " + std::to_string(i));
    publish(bus.path(), "t", records);
    sub.signal(SIGCONT);

    std::string out;
    const auto exit = sub.finish(Clock::now() + 20s, out);
    REQUIRE(exit.has_value());
    CHECK_MESSAGE(exit->code == 0, sub.error_output());
    CHECK(out.starts_with("record "));
    CHECK(out != "record 0\n");
    CHECK(sub.error_output().find("topic 't': lost ") != std::string::npos);
}

TEST_CASE("an evicted subscriber says so and exits with status 9") {
    BusDirectory bus;
    create_topic(bus.path(), "t", {.capacity = 64 * 1024, .max_record_size = 1024});
    Process sub = Process::start_tool({"sub", "--dir", dir_of(bus), "t"});
    wait_for_live_subscribers(bus.path(), "t", 1, Clock::now() + 20s);
    evict_the_subscriber(bus.path(), "t");

    const auto exit = sub.wait_until(Clock::now() + 20s);
    REQUIRE(exit.has_value());
    CHECK_MESSAGE(exit->exited, exit->describe());
    CHECK(exit->code == 9);
    CHECK(sub.error_output().find("evicted") != std::string::npos);
}

/// The pid of the one publisher attached to topic `name`, once there is one.
std::uint32_t wait_for_publisher(const std::filesystem::path& dir, const std::string& name) {
    // Publish access: a publisher's liveness is probed through the locks file.
    const Topic topic = Topic::open(dir, name, {.access = Access::kPublish});
    const auto deadline = Clock::now() + 20s;
    for (;;) {
        const TopicStats stats = collect_stats(topic);
        if (stats.publishers.size() == 1 && stats.publishers[0].alive == true) {
            return stats.publishers[0].pid;
        }
        REQUIRE_MESSAGE(Clock::now() < deadline, "no publisher attached to '" << name << "'");
        std::this_thread::sleep_for(2ms);  // polling pace only
    }
}

TEST_CASE("pub stops cleanly on SIGTERM, whether waiting for input or busy with endless input") {
    BusDirectory bus;
    create_topic(bus.path(), "t",
                 {.capacity = 64 * 1024, .max_record_size = 1024, .policy = Policy::kOverwrite});
    SUBCASE("blocked reading an idle pipe") {
        int input[2];
        REQUIRE(::pipe(input) == 0);
        Process pub = Process::start({tool_path(), "pub", "--dir", dir_of(bus), "t"}, {}, input[0]);
        ::close(input[0]);
        const std::uint32_t pid = wait_for_publisher(bus.path(), "t");
        CHECK(pid == static_cast<std::uint32_t>(pub.pid()));
        pub.signal(SIGTERM);
        const auto exit = pub.wait_until(Clock::now() + 20s);
        ::close(input[1]);
        REQUIRE(exit.has_value());
        CHECK_MESSAGE(exit->exited, exit->describe());
        CHECK(exit->code == 128 + SIGTERM);
    }
    SUBCASE("reading from yes, which never ends") {
        Process pipeline = Process::start(
            {"/bin/sh", "-c", "yes | \"$0\" pub --dir \"$1\" t", tool_path(), dir_of(bus)});
        const std::uint32_t pid = wait_for_publisher(bus.path(), "t");
        REQUIRE(::kill(static_cast<pid_t>(pid), SIGTERM) == 0);
        const auto exit = pipeline.wait_until(Clock::now() + 20s);
        REQUIRE(exit.has_value());
        CHECK(exit->code == 128 + SIGTERM);  // the pipeline's status is pub's
    }
    // Either way the publisher detached on its way out.
    const Topic topic = Topic::open(bus.path(), "t", {.access = Access::kSubscribe});
    CHECK(collect_stats(topic).publishers.empty());
}

TEST_CASE("pub --timeout gives up with status 8 while a subscriber holds a block topic back") {
    BusDirectory bus;
    create_topic(bus.path(), "t", {.capacity = 4096, .max_record_size = 64});
    const Topic topic = Topic::open(bus.path(), "t");
    Subscriber stalled(topic);  // never polls: after a ring's worth, publishers must wait
    std::string input;
    for (int i = 0; i < 1000; ++i)
        input += "0123456789012345678901234567890\n";
    const auto start = Clock::now();
    const ToolResult pub =
        run_tool({"pub", "--dir", dir_of(bus), "t", "--timeout", "0.2"}, {.input = input});
    CHECK(Clock::now() - start >= 200ms);
    CHECK(pub.status() == 8);
    CHECK(pub.err.find("timed out after 0.2 s") != std::string::npos);
    CHECK(pub.err.find("line ") != std::string::npos);
}

TEST_CASE(
    "sub whose output fails mid-poll exits 6 naming the error, and counts as consumed exactly the "
    "records it was handed") {
    // 2000 records of 1000 bytes overflow sub's 1 MiB output buffer inside a poll, so the failing
    // write is thrown from the poll handler: the records handed over before it, and the one it
    // failed on, are consumed; none is delivered twice, and the topic's counters say so.
    constexpr int kRecords = 2000;
    BusDirectory bus;
    create_topic(bus.path(), "t", {.capacity = 4 * 1024 * 1024, .max_record_size = 2048});
    publish(bus.path(), "t", std::vector<std::string>(kRecords, std::string(999, 'x')));
    Process sub = Process::start({"/bin/sh", "-c",
                                  "exec \"$0\" sub --dir \"$1\" t --from earliest --count 2000 "
                                  ">/dev/full",
                                  tool_path(), dir_of(bus)});
    std::string out;
    const auto exit = sub.finish(Clock::now() + 20s, out);
    REQUIRE(exit.has_value());
    CHECK_MESSAGE(exit->code == 6, exit->describe() << ": " << sub.error_output());
    CHECK(sub.error_output().find("writing to standard output") != std::string::npos);
    CHECK(sub.error_output().find("No space left on device") != std::string::npos);

    const Topic topic = Topic::open(bus.path(), "t", {.access = Access::kSubscribe});
    const TopicStats stats = collect_stats(topic);
    CHECK(stats.subscribers.empty());
    // The buffer holds 1048 lines of 1000 bytes; the record whose line overflows it is the one
    // whose write fails, inside the handler, and it counts as consumed.
    CHECK(stats.consumed == 1049);
    // The topic is whole: a new subscriber reads every record.
    const ToolResult again =
        run_tool({"sub", "--dir", dir_of(bus), "t", "--from", "earliest", "--count", "2000"});
    CHECK_MESSAGE(again.status() == 0, again.err);
    CHECK(std::count(again.out.begin(), again.out.end(), '\n') == kRecords);
}

}  // namespace shmbus::test::cli
