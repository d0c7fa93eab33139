// shmbus sub on several topics and on globs: every record arrives once, named by its topic, and
// a glob follows the topics created while sub runs. Every wait is bounded, and none stands in for
// a condition: sub is known to be subscribed because `stat` shows its subscriber.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

#include "json_value.hpp"
#include "support/bus_directory.hpp"
#include "support/skip.hpp"
#include "tool.hpp"

namespace shmbus::test::cli {
namespace {

constexpr TopicOptions kSmall{.capacity = 64 * 1024, .max_record_size = 1024};

std::string dir_of(const BusDirectory& bus) {
    return bus.path().string();
}

/// Creates topics a, b and c with two records each, "a1", "a2", ..., and runs
/// `sub a b c --from earliest --prefix --count N` on them.
ToolResult sub_abc_from_earliest(const BusDirectory& bus, int count) {
    for (const std::string name : {"a", "b", "c"}) {
        create_topic(bus.path(), name, kSmall);
        publish(bus.path(), name, {name + "1", name + "2"});
    }
    return run_tool({"sub", "--dir", dir_of(bus), "a", "b", "c", "--from", "earliest", "--prefix",
                     "--count", std::to_string(count)});
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1)
        lines.push_back(text.substr(start, end - start));
    CHECK_MESSAGE(start == text.size(), "output ends in an unterminated line: " << text);
    return lines;
}

/// Waits for `process` to exit by `deadline` and returns its whole stdout.
std::string finish(Process& process, ProcessExit& exit, Clock::time_point deadline) {
    std::string out;
    const auto ended = process.finish(deadline, out);
    REQUIRE_MESSAGE(ended.has_value(), "still running; stderr: " << process.error_output());
    REQUIRE_MESSAGE(ended->exited, ended->describe());
    exit = *ended;
    return out;
}

/// Starts `sub 'orders.*' --prefix --count N` on a bus where topic orders.a exists, and waits
/// until it reads orders.a: from then on the directory is watched (sub watches it before it lists
/// it), so a topic created after this returns is one that appeared while sub ran.
Process start_orders_glob(const BusDirectory& bus, int count) {
    if (!std::filesystem::exists(bus.path() / "orders.a")) {
        create_topic(bus.path(), "orders.a", kSmall);
    }
    Process sub = Process::start_tool(
        {"sub", "--dir", dir_of(bus), "orders.*", "--prefix", "--count", std::to_string(count)});
    wait_for_live_subscribers(bus.path(), "orders.a", 1, Clock::now() + 20s);
    return sub;
}

/// Payloads per topic, in the order they were printed, from lines "topic: payload".
std::map<std::string, std::vector<std::string>> by_prefix(const std::vector<std::string>& lines) {
    std::map<std::string, std::vector<std::string>> topics;
    for (const std::string& line : lines) {
        const std::size_t colon = line.find(": ");
        REQUIRE_MESSAGE(colon != std::string::npos, "no prefix: '" << line << "'");
        topics[line.substr(0, colon)].push_back(line.substr(colon + 2));
    }
    return topics;
}

}  // namespace

TEST_CASE("sub on three topics prints every record once, and json names each record's topic") {
    BusDirectory bus;
    for (const char* name : {"orders", "trades", "quotes"})
        create_topic(bus.path(), name, kSmall);
    Process sub = Process::start_tool({"sub", "--dir", dir_of(bus), "orders", "trades", "quotes",
                                       "--format", "json", "--count", "9"});
    for (const char* name : {"orders", "trades", "quotes"})
        wait_for_live_subscribers(bus.path(), name, 1, Clock::now() + 20s);
    for (const std::string name : {"orders", "trades", "quotes"})
        publish(bus.path(), name, {name + " 1", name + " 2", name + " 3"});

    ProcessExit exit;
    const std::vector<std::string> lines = lines_of(finish(sub, exit, Clock::now() + 20s));
    CHECK_MESSAGE(exit.code == 0, sub.error_output());
    REQUIRE(lines.size() == 9);
    std::map<std::string, std::vector<std::string>> topics;
    for (const std::string& line : lines) {
        const JsonValue record = parse_json(line);
        CHECK(line.starts_with("{\"topic\":"));  // first, before the record's own fields
        const std::string payload = decode_base64(record["payload_base64"].string());
        CHECK(payload.starts_with(record["topic"].string() + " "));
        topics[record["topic"].string()].push_back(payload);
    }
    // Each topic's records in its own order; the topics interleave as they may.
    for (const std::string name : {"orders", "trades", "quotes"})
        CHECK(topics[name] == std::vector<std::string>{name + " 1", name + " 2", name + " 3"});
}

TEST_CASE("sub --format json names the topic with one topic too: one shape for every reader") {
    BusDirectory bus;
    create_topic(bus.path(), "t", kSmall);
    publish(bus.path(), "t", {"only"});
    const ToolResult sub = run_tool({"sub", "--dir", dir_of(bus), "t", "--from", "earliest",
                                     "--count", "1", "--format", "json"});
    REQUIRE_MESSAGE(sub.status() == 0, sub.err);
    CHECK(sub.out.starts_with("{\"topic\":\"t\",\"sequence\":0,"));
    CHECK(parse_json(sub.out)["topic"].string() == "t");
}

TEST_CASE("sub --prefix starts each text line with its topic; without it lines are bare") {
    BusDirectory bus;
    const ToolResult prefixed = sub_abc_from_earliest(bus, 6);
    REQUIRE_MESSAGE(prefixed.status() == 0, prefixed.err);
    const auto topics = by_prefix(lines_of(prefixed.out));
    CHECK(topics == std::map<std::string, std::vector<std::string>>{
                        {"a", {"a1", "a2"}}, {"b", {"b1", "b2"}}, {"c", {"c1", "c2"}}});

    const ToolResult bare =
        run_tool({"sub", "--dir", dir_of(bus), "a", "--from", "earliest", "--count", "2"});
    CHECK(bare.out == "a1\na2\n");
    const ToolResult hex = run_tool({"sub", "--dir", dir_of(bus), "b", "--from", "earliest",
                                     "--count", "1", "--format", "hex", "--prefix"});
    CHECK(hex.out == "b: 6231\n");
}

TEST_CASE("sub --count counts records across topics") {
    BusDirectory bus;
    const ToolResult sub = sub_abc_from_earliest(bus, 5);
    CHECK_MESSAGE(sub.status() == 0, sub.err);
    const std::vector<std::string> lines = lines_of(sub.out);
    CHECK(lines.size() == 5);
    // Every record printed is one that was published, none twice.
    std::vector<std::string> sorted = lines;
    std::sort(sorted.begin(), sorted.end());
    CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
    for (const std::string& line : lines)
        CHECK(line.size() == 5);  // "a: a1"
}

TEST_CASE("sub --timeout ends when no topic has had a record for that long, and names them") {
    BusDirectory bus;
    create_topic(bus.path(), "a", kSmall);
    create_topic(bus.path(), "b", kSmall);
    publish(bus.path(), "b", {"early"});
    const auto start = Clock::now();
    const ToolResult sub =
        run_tool({"sub", "--dir", dir_of(bus), "a", "b", "--from", "earliest", "--timeout", "0.5"},
                 {.limit = 15s});
    CHECK(Clock::now() - start >= 500ms);
    CHECK_MESSAGE(sub.status() == 8, sub.err);
    CHECK(sub.out == "early\n");
    CHECK(sub.err.find("no record on topics 'a', 'b' for 0.5 s (--timeout)") != std::string::npos);
}

TEST_CASE("a glob subscribes to every existing topic it matches, and a topic matched twice once") {
    BusDirectory bus;
    for (const std::string name : {"orders.eu", "orders.us", "trades", "orders"}) {
        create_topic(bus.path(), name, kSmall);
        publish(bus.path(), name, {name + " record"});
    }
    const ToolResult sub = run_tool({"sub", "--dir", dir_of(bus), "orders.*", "orders.eu", "--from",
                                     "earliest", "--prefix", "--timeout", "0.3"},
                                    {.limit = 15s});
    CHECK_MESSAGE(sub.status() == 8, sub.err);
    CHECK(by_prefix(lines_of(sub.out)) ==
          std::map<std::string, std::vector<std::string>>{{"orders.eu", {"orders.eu record"}},
                                                          {"orders.us", {"orders.us record"}}});
    CHECK(sub.err.find("no record on topics 'orders.*', 'orders.eu'") != std::string::npos);
}

TEST_CASE("a glob that matches nothing yet is no error: sub waits for topics to appear") {
    BusDirectory bus;
    create_topic(bus.path(), "trades", kSmall);
    const ToolResult sub =
        run_tool({"sub", "--dir", dir_of(bus), "orders.*", "--timeout", "0.3"}, {.limit = 15s});
    CHECK(sub.status() == 8);
    CHECK(sub.out.empty());
    CHECK(sub.err == "shmbus: no record on topics 'orders.*' for 0.3 s (--timeout)\n");
}

TEST_CASE("a glob takes a topic created while sub runs from its earliest record, others not") {
    BusDirectory bus;
    Process sub = start_orders_glob(bus, 3);

    SUBCASE("created with the API, published to at once") {
        create_topic(bus.path(), "orders.b", kSmall);
        create_topic(bus.path(), "trades", kSmall);
        // Published before sub can have opened it: read all the same, from the earliest record.
        publish(bus.path(), "orders.b", {"b1", "b2"});
        publish(bus.path(), "trades", {"not matched"});
    }
    SUBCASE("created with shmbus create, published to with shmbus pub") {
        for (const std::string name : {"orders.b", "trades"}) {
            const ToolResult create = run_tool({"create", "--dir", dir_of(bus), name});
            REQUIRE_MESSAGE(create.status() == 0, create.err);
        }
        REQUIRE(run_tool({"pub", "--dir", dir_of(bus), "orders.b", "b1", "b2"}).status() == 0);
        REQUIRE(run_tool({"pub", "--dir", dir_of(bus), "trades", "not matched"}).status() == 0);
    }
    // The new topic is read: once its records are out, one on the old topic ends sub.
    wait_for_live_subscribers(bus.path(), "orders.b", 1, Clock::now() + 20s);
    publish(bus.path(), "orders.a", {"a1"});

    ProcessExit exit;
    const auto topics = by_prefix(lines_of(finish(sub, exit, Clock::now() + 20s)));
    CHECK_MESSAGE(exit.code == 0, sub.error_output());
    CHECK(topics == std::map<std::string, std::vector<std::string>>{{"orders.a", {"a1"}},
                                                                    {"orders.b", {"b1", "b2"}}});
    const Topic trades = Topic::open(bus.path(), "trades", {.access = Access::kSubscribe});
    CHECK(collect_stats(trades).subscribers.empty());
}

TEST_CASE("a glob takes a topic directory made in place once its files are all there") {
    BusDirectory bus;
    create_topic(bus.path(), "orders.a", kSmall);
    // Built aside (a hidden name: never a topic), then moved in file by file, as a copy would.
    const std::filesystem::path aside = bus.path() / ".aside";
    std::filesystem::create_directory(aside);
    create_topic(aside, "orders.b", kSmall);
    publish(aside, "orders.b", {"made in place"});

    Process sub = start_orders_glob(bus, 1);
    std::filesystem::create_directory(bus.path() / "orders.b");
    for (const char* file : {"records", "state", "locks", "wake"}) {
        std::filesystem::rename(aside / "orders.b" / file, bus.path() / "orders.b" / file);
    }

    ProcessExit exit;
    const std::string out = finish(sub, exit, Clock::now() + 20s);
    CHECK_MESSAGE(exit.code == 0, sub.error_output());
    CHECK(out == "orders.b: made in place\n");
    CHECK(sub.error_output().empty());
}

TEST_CASE("a topic removed and created again under a glob is let go, and the new one read") {
    BusDirectory bus;
    Process sub = start_orders_glob(bus, 2);
    publish(bus.path(), "orders.a", {"old"});
    const auto line = sub.read_output(Clock::now() + 20s);
    REQUIRE(line.has_value());
    CHECK(*line == "orders.a: old\n");

    REQUIRE(remove_topic(bus.path(), "orders.a"));
    create_topic(bus.path(), "orders.a", kSmall);
    publish(bus.path(), "orders.a", {"new"});

    ProcessExit exit;
    CHECK(finish(sub, exit, Clock::now() + 20s) == "orders.a: new\n");
    CHECK_MESSAGE(exit.code == 0, sub.error_output());
    CHECK(sub.error_output().find("topic 'orders.a' was removed") != std::string::npos);
}

TEST_CASE("when the directory watch overflows, sub lists the directory and misses no topic") {
    std::ifstream limit_file("/proc/sys/fs/inotify/max_queued_events");
    long limit = 0;
    if (!(limit_file >> limit) || limit <= 0 || limit > 1'000'000) {
        return skip("cannot read a usable /proc/sys/fs/inotify/max_queued_events");
    }
    BusDirectory bus;
    Process sub = start_orders_glob(bus, 1);
    // Stopped, sub reads no event while more than the kernel queues arrive: hidden directories
    // made and removed (never topics), then the topic whose own event is dropped.
    sub.signal(SIGSTOP);
    for (long i = 0; i < limit / 2 + 16; ++i) {
        const std::filesystem::path hidden = bus.path() / (".churn." + std::to_string(i));
        REQUIRE(::mkdir(hidden.c_str(), 0700) == 0);
        REQUIRE(::rmdir(hidden.c_str()) == 0);
    }
    create_topic(bus.path(), "orders.b", kSmall);
    publish(bus.path(), "orders.b", {"after the overflow"});
    sub.signal(SIGCONT);

    ProcessExit exit;
    CHECK(finish(sub, exit, Clock::now() + 30s) == "orders.b: after the overflow\n");
    CHECK_MESSAGE(exit.code == 0, sub.error_output());
}

TEST_CASE("a topic named literally must exist, with other topics and globs too: status 3") {
    BusDirectory bus;
    create_topic(bus.path(), "a", kSmall);
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"a", "nothing"}, {"orders.*", "nothing"}, {"nothing", "a"}}) {
        std::vector<std::string> command{"sub", "--dir", dir_of(bus)};
        command.insert(command.end(), args.begin(), args.end());
        const ToolResult sub = run_tool(command);
        CHECK(sub.status() == 3);
        CHECK(sub.err.find("topic 'nothing' in " + dir_of(bus) + " does not exist") !=
              std::string::npos);
    }
    // It left no subscriber behind on the topic it had opened.
    const Topic topic = Topic::open(bus.path(), "a", {.access = Access::kSubscribe});
    CHECK(collect_stats(topic).subscribers.empty());
}

TEST_CASE("options that make no sense with several topics are refused with status 2") {
    BusDirectory bus;
    create_topic(bus.path(), "a", kSmall);
    create_topic(bus.path(), "b", kSmall);
    struct Refused {
        std::vector<std::string> args;
        std::string message;
    };
    for (const Refused& refused : std::vector<Refused>{
             {{"a", "b", "--from", "0"}, "--from: a position is a place in one topic"},
             {{"a*", "--from", "0"}, "--from: a position is a place in one topic"},
             {{"a", "--format", "json", "--prefix"}, "--prefix: json records name their topic"},
             {{"x/*"}, "glob 'x/*' contains '/'"},
             {{"a", "b c"}, "outside [A-Za-z0-9._-]"},
         }) {
        std::vector<std::string> command{"sub", "--dir", dir_of(bus)};
        command.insert(command.end(), refused.args.begin(), refused.args.end());
        const ToolResult sub = run_tool(command);
        CAPTURE(refused.message);
        CHECK(sub.status() == 2);
        CHECK_MESSAGE(sub.err.find(refused.message) != std::string::npos, sub.err);
    }
}

TEST_CASE("an evicted topic is reported and the others read on; sub then exits with status 9") {
    BusDirectory bus;
    create_topic(bus.path(), "a", kSmall);
    create_topic(bus.path(), "b", kSmall);
    Process sub =
        Process::start_tool({"sub", "--dir", dir_of(bus), "a", "b", "--prefix", "--count", "1"});
    wait_for_live_subscribers(bus.path(), "a", 1, Clock::now() + 20s);
    wait_for_live_subscribers(bus.path(), "b", 1, Clock::now() + 20s);
    evict_the_subscriber(bus.path(), "a");
    // Its subscriber on 'a' is gone once the eviction was seen; 'b' is still read.
    wait_for_live_subscribers(bus.path(), "a", 0, Clock::now() + 20s);
    publish(bus.path(), "b", {"still read"});

    ProcessExit exit;
    CHECK(finish(sub, exit, Clock::now() + 20s) == "b: still read\n");
    CHECK(exit.code == 9);
    CHECK(sub.error_output().find("topic 'a': this subscriber was evicted for holding back "
                                  "publishers, after 0 records; reading the other topics on") !=
          std::string::npos);
}

}  // namespace shmbus::test::cli
