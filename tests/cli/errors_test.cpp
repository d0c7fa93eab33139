// Bad input: every case gets its documented exit status and a message that names the problem.
#include <doctest/doctest.h>

#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

#include "support/bus_directory.hpp"
#include "tool.hpp"

namespace shmbus::test::cli {
namespace {

constexpr int kUsage = 2;
constexpr int kNotFound = 3;
constexpr int kExists = 10;

struct BadInput {
    std::string what;
    std::vector<std::string> args;  // after "--dir <bus>"
    int status;
    std::string message;  // must appear in stderr
    std::string input = {};
};

void check(const BusDirectory& bus, const BadInput& bad) {
    CAPTURE(bad.what);
    std::vector<std::string> args{"--dir", bus.path().string()};
    args.insert(args.end(), bad.args.begin(), bad.args.end());
    const ToolResult result = run_tool(args, {.input = bad.input});
    CHECK_MESSAGE(result.status() == bad.status, "stderr: " << result.err);
    CHECK_MESSAGE(result.err.find(bad.message) != std::string::npos,
                  "stderr lacks '" << bad.message << "': " << result.err);
    CHECK(result.err.starts_with("shmbus: "));
}

}  // namespace

TEST_CASE("invalid topic names are refused with status 2, naming what is wrong with them") {
    BusDirectory bus;
    const std::string too_long(64, 'x');
    for (const BadInput& bad : std::vector<BadInput>{
             {"a path",
              {"pub", "../etc/passwd", "x"},
              kUsage,
              "topic name '../etc/passwd' contains '/'"},
             {"empty", {"sub", ""}, kUsage, "topic name is empty"},
             {"hidden", {"stat", ".hidden"}, kUsage, "topic name '.hidden' starts with '.'"},
             {"too long", {"create", too_long}, kUsage, "is 64 characters; the limit is 63"},
             {"odd characters", {"create", "a b"}, kUsage, "outside [A-Za-z0-9._-]"},
         }) {
        check(bus, bad);
    }
}

TEST_CASE("a missing topic or bus directory exits with status 3 and names it") {
    BusDirectory bus;
    check(bus, {"sub of a missing topic",
                {"sub", "nothing"},
                kNotFound,
                "topic 'nothing' in " + bus.path().string() + " does not exist"});
    check(bus, {"pub to a missing topic",
                {"pub", "nothing", "x"},
                kNotFound,
                "create it with 'shmbus create nothing'"});
    const std::string missing = (bus.path() / "no-such-dir").string();
    const ToolResult list = run_tool({"--dir", missing, "list"});
    CHECK(list.status() == kNotFound);
    CHECK(list.err.find("bus directory " + missing + " (from --dir) does not exist") !=
          std::string::npos);
    const ToolResult env = run_tool({"list"}, {.environment = {"SHMBUS_DIR=" + missing}});
    CHECK(env.status() == kNotFound);
    CHECK(env.err.find("(from SHMBUS_DIR)") != std::string::npos);
}

TEST_CASE("bad option values are refused with status 2, naming the option and the value") {
    BusDirectory bus;
    create_topic(bus.path(), "t", {.capacity = 64 * 1024, .max_record_size = 1024});
    for (const BadInput& bad : std::vector<BadInput>{
             {"--from", {"sub", "t", "--from", "sideways"}, kUsage, "--from: 'sideways' is not"},
             {"--from position", {"sub", "t", "--from", "12"}, kUsage, "position 12"},
             {"--format", {"sub", "t", "--format", "xml"}, kUsage, "--format: 'xml' is not"},
             {"--count", {"sub", "t", "--count", "ten"}, kUsage, "--count: 'ten' is not"},
             {"--count negative", {"sub", "t", "--count", "-1"}, kUsage, "--count"},
             {"--timeout", {"sub", "t", "--timeout", "soon"}, kUsage, "--timeout: 'soon' is not"},
             {"pub --timeout", {"pub", "t", "--timeout", "-1", "x"}, kUsage, "--timeout"},
             {"capacity text",
              {"create", "c", "--capacity", "banana"},
              kUsage,
              "--capacity: 'banana' is not a size"},
             {"capacity suffix",
              {"create", "c", "--capacity", "4X"},
              kUsage,
              "--capacity: '4X' is not a size"},
             {"capacity zero",
              {"create", "c", "--capacity", "0"},
              kUsage,
              "capacity 0 is not a power of two"},
             {"capacity not a power of two",
              {"create", "c", "--capacity", "3000"},
              kUsage,
              "capacity 3000 is not a power of two"},
             {"capacity overflow",
              {"create", "c", "--capacity", "99999999999999999999K"},
              kUsage,
              "--capacity"},
             {"max record too large",
              {"create", "c", "--capacity", "4K", "--max-record", "64K"},
              kUsage,
              "max record size 65536 is too large for capacity 4096"},
             {"policy", {"create", "c", "--policy", "drop"}, kUsage, "--policy: 'drop' is not"},
             {"publishers",
              {"create", "c", "--max-publishers", "0"},
              kUsage,
              "max publishers 0 is not between"},
             {"unknown command", {"frobnicate"}, kUsage, "unknown command 'frobnicate'"},
             {"unknown option", {"sub", "t", "--bogus"}, kUsage, "--bogus"},
             {"no command", {}, kUsage, "no command given; the commands are "},
             {"missing topic argument", {"sub"}, kUsage, "TOPIC is required"},
         }) {
        check(bus, bad);
    }
    // None of the refused creations left a topic behind.
    CHECK(list_topics(bus.path()) == std::vector<std::string>{"t"});
}

TEST_CASE("a line longer than the topic's max record size stops pub with status 2 naming it") {
    BusDirectory bus;
    create_topic(bus.path(), "t", {.capacity = 64 * 1024, .max_record_size = 100});
    const std::string input =
        "short\n" + std::string(100, 'a') + "\n" + std::string(101, 'b') + "\nnever published\n";
    check(bus, {"line too long",
                {"pub", "t"},
                kUsage,
                "line 3 of standard input is too long: topic 't' takes records of at most 100 "
                "bytes",
                input});
    // A line far longer than any buffer is refused the same way, without reading it whole.
    check(bus, {"huge line",
                {"pub", "t"},
                kUsage,
                "line 1 of standard input is too long",
                std::string(3 << 20, 'c')});
    check(bus, {"message too long",
                {"pub", "t", "ok", std::string(101, 'm')},
                kUsage,
                "message 2 is 101 bytes, too long"});

    // The lines before the long one were published, and nothing after it.
    const ToolResult sub = run_tool(
        {"--dir", bus.path().string(), "sub", "t", "--from", "earliest", "--timeout", "0.2"});
    CHECK(sub.status() == 8);
    CHECK(sub.out == "short\n" + std::string(100, 'a') + "\nok\n");
}

TEST_CASE("creating a topic that exists exits with status 10") {
    BusDirectory bus;
    create_topic(bus.path(), "t");
    check(bus, {"exists", {"create", "t"}, kExists, "already exists"});
}

TEST_CASE("--help and --version succeed and say what they should") {
    const ToolResult help = run_tool({"--help"});
    CHECK(help.status() == 0);
    for (const char* text : {"pub", "sub", "stat", "list", "create", "Exit status", "SHMBUS_DIR"}) {
        CHECK_MESSAGE(help.out.find(text) != std::string::npos, "--help lacks " << text);
    }
    for (const char* command : {"pub", "sub", "stat", "list", "create"}) {
        const ToolResult sub_help = run_tool({command, "--help"});
        CHECK(sub_help.status() == 0);
        CHECK_MESSAGE(sub_help.out.find(command) != std::string::npos, sub_help.out);
    }
    const ToolResult sub_help = run_tool({"sub", "--help"});
    CHECK(sub_help.out.find("status 8") != std::string::npos);
    const ToolResult version = run_tool({"--version"});
    CHECK(version.status() == 0);
    CHECK(version.out.starts_with("shmbus " SHMBUS_VERSION));
}

}  // namespace shmbus::test::cli
